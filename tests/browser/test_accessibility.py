"""Every main page, staff and public, in a real Chromium: axe-core (WCAG 2.0/2.1 A and AA) finds
nothing serious or critical, every form field has a label, the headings go down in order from a
single h1, and nothing scrolls sideways in a phone's 375 px; the forms are checked with their
errors shown too. Two pages also run as a phone (375 px, touch). The screenshots of the README
are taken here (docs/screenshots/ with VIVIER_SCREENSHOTS=1), numbered in the order a reader
meets the pages; 01-login is test_browser_basics.py's.

The demo's Afrique des Grands-Lacs call and its candidates are only read here; the journeys and
the careers tests use other calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.wiring import Container
from tests.browser.support import (
    AIBF_HR,
    AIBF_RECRUITER,
    Logins,
    Screenshots,
    assert_accessible,
    assert_headings_in_order,
    assert_labelled,
    assert_no_sideways_scroll,
)
from workflow.models import Application, Candidate, Posting

CALL = "Coordinateur·trice bénévole — Afrique des Grands-Lacs"
ACCEPTED = "chantal.uwimana@example.net"  # interviewed, feedback given, accepted
INTERVIEW_AHEAD = "jb.habimana@example.org"  # an interview still to come
PHONE_SIZE = {"width": 375, "height": 812}


@pytest.fixture(scope="module")
def logins() -> Logins:
    return Logins()


def posting_id(container: Container) -> int:
    with container.workflow.sessions() as session:
        return session.scalars(select(Posting.id).where(Posting.title == CALL)).one()


def application_of(container: Container, email: str) -> Application:
    with container.workflow.sessions() as session:
        query = select(Application).join(Candidate).where(Candidate.email == email)
        return session.scalars(query).one()


def fill_nothing_and_save(page: Page) -> None:
    """The posting form sent without its required fields and with a salary range upside down."""
    page.get_by_label("From (whole amount)").fill("5000")
    page.get_by_label("To (whole amount)").fill("4000")
    page.locator("#save").click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#salary_max-error")).to_be_visible()  # beside its field
    expect(page.get_by_label("From (whole amount)")).to_have_value("5000")  # kept


def send_the_empty_apply_form(page: Page) -> None:
    """The apply form sent empty, as a browser that does not check `required` would: every
    error is then shown beside its field."""
    page.locator("#apply-form").evaluate("form => { form.noValidate = true }")
    page.get_by_role("button", name="Send my application").click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#first_name-error")).to_be_visible()


@dataclass(frozen=True)
class Shot:
    """One of the README's screenshots: the whole page, or for a long one the window's worth
    from its top or from `scroll_to` (a selector)."""

    name: str
    whole: bool = True
    scroll_to: str = ""

    def take(self, page: Page, screenshot: Screenshots) -> None:
        if self.scroll_to:
            page.locator(self.scroll_to).evaluate("el => el.scrollIntoView({block: 'start'})")
        screenshot(page, self.name, full_page=self.whole)


@dataclass(frozen=True)
class Visit:
    name: str
    who: str | None  # a demo account, or None for a visitor
    url: Callable[[Container], str]
    shot: Shot | None = None
    then: Callable[[Page], None] | None = None  # what to do on the page before checking it


def the_posting(c: Container) -> str:
    return f"/app/postings/{posting_id(c)}"


def its_board(c: Container) -> str:
    return f"/app/postings/{posting_id(c)}/board"


def an_application(c: Container) -> str:
    return f"/app/applications/{application_of(c, ACCEPTED).id}"


def its_careers_page(c: Container) -> str:
    return f"/careers/aibf/{posting_id(c)}"


def a_status_page(c: Container) -> str:
    return f"/status/{application_of(c, INTERVIEW_AHEAD).status_token}"


def its_withdraw_page(c: Container) -> str:
    return a_status_page(c) + "/withdraw"


VISITS = [
    Visit("postings", AIBF_RECRUITER, lambda c: "/app/postings", Shot("02-postings")),
    Visit("posting", AIBF_RECRUITER, the_posting, Shot("03-posting", whole=False)),
    Visit("posting-form", AIBF_HR, lambda c: "/app/postings/new"),
    Visit("posting-form-errors", AIBF_HR, lambda c: "/app/postings/new",
          then=fill_nothing_and_save),
    Visit("board", AIBF_RECRUITER, its_board, Shot("04-board")),
    Visit("application", AIBF_RECRUITER, an_application, Shot("05-application")),
    Visit("dashboard", AIBF_HR, lambda c: "/app/dashboard", Shot("06-dashboard", whole=False)),
    Visit("applications", AIBF_HR, lambda c: "/app/applications?state=interview"),
    Visit("careers", None, lambda c: "/careers"),
    Visit("careers-org", None, lambda c: "/careers/aibf", Shot("07-careers-org")),
    Visit("careers-posting", None, its_careers_page,
          Shot("08-careers-posting", whole=False, scroll_to="#apply")),
    Visit("careers-posting-errors", None, its_careers_page, then=send_the_empty_apply_form),
    Visit("status", None, a_status_page, Shot("09-status")),
    Visit("status-withdraw", None, its_withdraw_page),
]  # fmt: skip


@pytest.mark.parametrize("visit", VISITS, ids=[visit.name for visit in VISITS])
def test_the_page_passes_axe_has_labels_and_fits_a_phone(
    visit: Visit,
    page: Page,
    logins: Logins,
    server_container: Container,
    screenshot: Screenshots,
) -> None:
    if visit.who:
        logins(page, visit.who)
    response = page.goto(visit.url(server_container))
    assert response is not None and response.ok, f"{visit.name}: {response and response.status}"
    if visit.then:
        visit.then(page)
    assert_accessible(page, visit.name)
    assert_labelled(page, visit.name)
    assert_headings_in_order(page, visit.name)
    if visit.shot:
        visit.shot.take(page, screenshot)
    page.set_viewport_size(PHONE_SIZE)
    assert_no_sideways_scroll(page, f"{visit.name} at 375 px")


@pytest.mark.parametrize(
    ("who", "path", "shot"),
    [
        pytest.param(AIBF_RECRUITER, "/app/postings/{id}/board", "10-board-phone", id="board"),
        pytest.param(None, "/careers/aibf/{id}", "", id="careers-posting"),
    ],
)
def test_on_a_phone(
    who: str | None,
    path: str,
    shot: str,
    phone_page: Page,
    logins: Logins,
    server_container: Container,
    screenshot: Screenshots,
) -> None:
    if who:
        logins(phone_page, who)
    phone_page.goto(path.format(id=posting_id(server_container)))
    assert_accessible(phone_page)
    assert_labelled(phone_page)
    assert_no_sideways_scroll(phone_page)
    if shot:
        screenshot(phone_page, shot)
