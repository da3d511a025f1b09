"""The public careers pages in a real Chromium: each call's schema.org JobPosting JSON-LD, read
from the page as a search engine would, parses and carries the seeds' values (VOLUNTEER for the
Amnesty volunteer calls; EUR 4,300-5,100 per MONTH, closing at 23:59:59 Brussels time, for the
OMCT's programme director), the same as the API's; and the apply form keeps what was typed when
it comes back with an error beside the field at fault, then takes the corrected application.

Uses the demo's Mexique call and the OMCT director's call; the other browser modules use other
calls and other candidates.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.wiring import Container
from tests.browser.support import Server, mail_text, pdf_file
from workflow.demo_data import OMCT_DIRECTOR_TITLE
from workflow.models import Posting

AIBF = "Amnesty International Belgique francophone"
OMCT = "OMCT (Organisation mondiale contre la torture), bureau de Bruxelles"
MEXICO_CALL = "Coordinateur·trice bénévole — Mexique"
BRUSSELS = ZoneInfo("Europe/Brussels")


def open_call(page: Page, org: str, title: str) -> None:
    """From /careers, by the links a visitor follows, to the call's own page."""
    page.goto("/careers")
    page.get_by_role("link", name=org).click()
    page.get_by_role("heading", name=title, exact=True).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def job_posting(page: Page) -> dict[str, Any]:
    """The page's JSON-LD as a search engine reads it: the script's text, parsed."""
    script = page.locator('script[type="application/ld+json"]')
    expect(script).to_have_count(1)
    data = json.loads(script.text_content() or "")
    assert data["@context"] == "https://schema.org/" and data["@type"] == "JobPosting"
    # One source: the API serves the very same JobPosting for the posting.
    posting_id = page.url.rstrip("/").rsplit("/", 1)[1]
    served = page.request.get(f"/public/postings/{posting_id}/jsonld")
    assert served.ok and served.json() == data
    return data


def stored(container: Container, title: str) -> Posting:
    with container.workflow.sessions() as session:
        return session.scalars(select(Posting).where(Posting.title == title)).one()


def assert_brussels_time(text: str) -> datetime:
    """An ISO time with the offset Brussels had at that moment (+01:00 or +02:00)."""
    when = datetime.fromisoformat(text)
    assert when.utcoffset() == when.astimezone(BRUSSELS).utcoffset(), text
    return when


def test_a_volunteer_calls_json_ld_says_volunteer(
    page: Page, server: Server, server_container: Container
) -> None:
    open_call(page, AIBF, MEXICO_CALL)
    data = job_posting(page)
    posting = stored(server_container, MEXICO_CALL)

    assert data["title"] == MEXICO_CALL
    assert data["description"] == posting.description
    assert data["employmentType"] == "VOLUNTEER"
    assert data["hiringOrganization"] == {"@type": "Organization", "name": AIBF}
    assert data["jobLocation"]["address"]["addressLocality"] == posting.location
    posted = assert_brussels_time(data["datePosted"])
    assert posted <= datetime.now(BRUSSELS)
    assert data["url"] == f"{server.url}/careers/aibf/{posting.id}" == page.url
    # The demo's Amnesty calls have no closing date (open until filled): no validThrough, and
    # the page says so. No salary either: a volunteer call has none.
    assert posting.closes_at is None and "validThrough" not in data
    expect(page.locator("#facts")).not_to_contain_text("Applications close")
    assert "baseSalary" not in data


def test_the_omct_directors_json_ld_has_the_seeds_salary_and_closing_time(
    page: Page, server_container: Container
) -> None:
    open_call(page, OMCT, OMCT_DIRECTOR_TITLE)
    data = job_posting(page)
    posting = stored(server_container, OMCT_DIRECTOR_TITLE)

    assert data["title"] == OMCT_DIRECTOR_TITLE
    assert data["employmentType"] == "FULL_TIME"  # 80 % programme + 20 % EU advocacy
    assert data["hiringOrganization"]["name"] == OMCT
    assert data["jobLocation"]["address"]["addressLocality"] == "Bruxelles"
    assert data["baseSalary"] == {
        "@type": "MonetaryAmount",
        "currency": "EUR",
        "value": {
            "@type": "QuantitativeValue", "minValue": 4300, "maxValue": 5100, "unitText": "MONTH",
        },
    }  # fmt: skip
    # The seed's closing date is a date: applications close at 23:59:59 that day, in Brussels.
    closes = assert_brussels_time(data["validThrough"])
    assert closes.time().isoformat() == "23:59:59"
    assert closes == posting.closes_at.astimezone(BRUSSELS)
    assert assert_brussels_time(data["datePosted"]) < closes
    # What the visitor reads says the same.
    expect(page.locator("#salary")).to_have_text(re.compile("4,300.*\u2013.*5,100.* per month"))
    day = f"{closes.day} {closes:%B %Y}"
    expect(page.locator("#closes-at")).to_contain_text(f"{day} at 23:59")


def test_the_apply_form_keeps_what_was_typed_beside_an_error_then_takes_the_application(
    page: Page, server: Server
) -> None:
    open_call(page, AIBF, MEXICO_CALL)
    form = page.locator("#apply-form")
    form.get_by_label("First name").fill("Bastien")
    form.get_by_label("Last name").fill("Lemaire")
    form.get_by_label("E-mail address").fill("bastien.lemaire@example.org")
    form.get_by_label("Phone (optional)", exact=True).fill("+32 470 12 34 56")
    form.get_by_label("Language we write to you in").select_option("fr")
    # A file named like a PDF that is not one (a text file renamed).
    not_a_pdf = {"name": "cv.pdf", "mimeType": "application/pdf", "buffer": b"just some text\n"}
    form.get_by_label("CV", exact=True).set_input_files(not_a_pdf)
    form.get_by_label(re.compile(r"^I agree that")).check()
    form.get_by_label(re.compile(r"^Optional: keep my details")).check()
    form.get_by_role("button", name="Send my application").click()

    # Back with the error beside the CV field, named in the summary, and everything kept.
    expect(page.locator("#form-errors")).to_have_attribute("role", "alert")
    cv = page.get_by_label("CV", exact=True)
    expect(page.locator("#cv-error")).to_contain_text("not a PDF, DOCX or ODT document")
    expect(cv).to_have_attribute("aria-invalid", "true")
    expect(cv).to_have_attribute("aria-describedby", re.compile(r"\bcv-error\b"))
    expect(page.locator("#form-errors a[href='#cv']")).to_be_visible()
    expect(page.locator("#cv-hint")).to_contain_text("Please choose your file again")
    expect(page.get_by_label("First name")).to_have_value("Bastien")
    expect(page.get_by_label("Last name")).to_have_value("Lemaire")
    expect(page.get_by_label("E-mail address")).to_have_value("bastien.lemaire@example.org")
    expect(page.get_by_label("Phone (optional)", exact=True)).to_have_value("+32 470 12 34 56")
    expect(page.get_by_label("Language we write to you in")).to_have_value("fr")
    expect(page.get_by_label(re.compile(r"^I agree that"))).to_be_checked()
    expect(page.get_by_label(re.compile(r"^Optional: keep my details"))).to_be_checked()
    expect(page.locator("#first_name-error")).to_have_count(0)  # only the field at fault

    # The real PDF this time: the application is taken, in the language chosen.
    cv.set_input_files(pdf_file())
    page.get_by_role("button", name="Send my application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Thank you, your application has been received"
    )
    link = page.locator("#status-link").inner_text()
    message = server.wait_for_mail(
        lambda m: "bastien.lemaire@example.org" in m["To"], "to bastien.lemaire@example.org"
    )
    assert link in mail_text(message)
    page.goto(link)
    expect(page.locator("html")).to_have_attribute("lang", "fr")  # his choice, not the browser's
    expect(page.locator("#state-label")).to_have_text("Candidature reçue")

    # Applying again with the same address: said beside the e-mail field, nothing else lost.
    open_call(page, AIBF, MEXICO_CALL)
    form = page.locator("#apply-form")
    form.get_by_label("First name").fill("Bastien")
    form.get_by_label("Last name").fill("Lemaire")
    form.get_by_label("E-mail address").fill("Bastien.Lemaire@example.org ")
    form.get_by_label("CV", exact=True).set_input_files(pdf_file())
    form.get_by_label(re.compile(r"^I agree that")).check()
    form.get_by_role("button", name="Send my application").click()
    expect(page.locator("#email-error")).to_contain_text("You have already applied to this call")
    expect(page.get_by_label("E-mail address")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Last name")).to_have_value("Lemaire")
