"""The public careers pages (issue 7, item 5): the organisations with open calls, one
organisation's calls and their Atom feed, a call's page with the API's JSON-LD (the seeds' values),
and the apply form: a PDF makes an application and shows its status link; each refusal is shown
beside its field, with what was typed kept and nothing created."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from tests.api_support import Api
from tests.factories import make_posting, now
from tests.test_api_public import PDF, stored_files
from tests.test_api_uploads import ELF
from workflow.demo import load_demo
from workflow.models import Application, Candidate, Document, Organisation, Posting
from workflow.service import Workflow

BRUSSELS = ZoneInfo("Europe/Brussels")
ATOM = "{http://www.w3.org/2005/Atom}"
EN = {"Accept-Language": "en"}
TYPED = {
    "first_name": "Amina",
    "last_name": "Diallo",
    "email": "amina.diallo@example.org",
    "phone": "+32 470 12 34 56",
    "language": "en",
    "source": "Newsletter",
    "consent_privacy": "true",
}


def _slug(api: Api, posting: Posting) -> str:
    with api.workflow.sessions() as session:
        return session.get_one(Organisation, posting.organisation_id).slug


def _url(api: Api, posting: Posting) -> str:
    return f"/careers/{_slug(api, posting)}/{posting.id}"


def _send(api: Api, posting: Posting, files: dict[str, Any] | None = None, **fields: Any) -> Any:
    """The apply form as a browser sends it: the typed fields, with `fields` changing some
    (None leaves a field out, as an unticked box is), and the CV unless `files` says otherwise."""
    data = {k: v for k, v in (TYPED | fields).items() if v is not None}
    files = {"cv": ("cv.pdf", PDF, "application/pdf")} if files is None else files
    return api.client.post(_url(api, posting), data=data, files=files, headers=EN)


def _count(api: Api, model: Any, organisation_id: int) -> int:
    with api.workflow.sessions() as session:
        where = model.organisation_id == organisation_id
        return session.scalar(select(func.count()).select_from(model).where(where))


def _jsonld(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/ld\+json" id="jobposting">(.*?)</script>', html)
    assert found, "no JSON-LD on the page"
    return json.loads(found.group(1))


def _postings_by_ref(api: Api) -> dict[str, Posting]:
    with api.workflow.sessions() as session:
        orgs = select(Organisation.id).where(Organisation.slug.in_(["aibf", "omct"]))
        rows = session.scalars(select(Posting).where(Posting.organisation_id.in_(orgs)))
        return {posting.ref: posting for posting in rows}


# --- The listings -------------------------------------------------------------------------------


def test_only_published_calls_still_open_are_listed(api: Api) -> None:
    org = api.org(name="Ligue des droits humains")
    shown = make_posting(api.workflow, org, title="Accueil des nouveaux membres")
    draft = make_posting(api.workflow, org, title="Brouillon interne", publish=False)
    closing = make_posting(
        api.workflow, org, title="Appel presque clos", closes_on=date.today() + timedelta(days=3)
    )
    quiet = api.org(name="Organisation sans appel")
    make_posting(api.workflow, quiet, title="Rien de publié", publish=False)

    with time_machine.travel(now() + timedelta(days=5)):  # `closing` has passed its date
        index = api.client.get("/careers", headers=EN)
        page = api.client.get(f"/careers/{org.slug}", headers=EN)
        closed = api.client.get(_url(api, closing), headers=EN)
    assert index.status_code == 200
    assert f'href="/careers/{org.slug}"' in index.text and "1 open call" in index.text
    assert "Organisation sans appel" not in index.text
    assert page.status_code == 200 and f'href="{_url(api, shown)}"' in page.text
    assert "Accueil des nouveaux membres" in page.text
    for hidden in ("Brouillon interne", "Appel presque clos"):
        assert hidden not in page.text
    # A call past its date still has its page (old links), closed, with no form and no JSON-LD.
    assert closed.status_code == 200 and 'id="closed"' in closed.text
    assert 'id="apply-form"' not in closed.text and "application/ld+json" not in closed.text
    assert api.client.get(_url(api, draft)).status_code == 404
    assert api.client.get(f"/careers/{quiet.slug}/{shown.id}").status_code == 404  # not theirs
    missing = api.client.get("/careers/nobody-at-all", headers=EN)
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "not (or no longer) published here" in missing.text


def test_the_call_page_carries_the_apis_json_ld_with_the_seeds_values(api: Api) -> None:
    load_demo(api.workflow)
    postings = _postings_by_ref(api)
    director = postings["omct-director"]
    page = api.client.get(f"/careers/omct/{director.id}", headers=EN)
    assert page.status_code == 200
    data = _jsonld(page.text)
    assert data == api.client.get(f"/public/postings/{director.id}/jsonld").json()  # same code
    assert data["@type"] == "JobPosting" and data["title"] == director.title
    assert data["description"] == director.description and data["datePosted"]
    assert data["hiringOrganization"]["name"].startswith("OMCT")
    assert data["jobLocation"]["address"]["addressLocality"] == "Bruxelles"
    assert data["employmentType"] == "FULL_TIME"
    assert data["baseSalary"] == {
        "@type": "MonetaryAmount",
        "currency": "EUR",
        "value": {
            "@type": "QuantitativeValue", "minValue": 4300, "maxValue": 5100, "unitText": "MONTH",
        },
    }  # fmt: skip
    valid = datetime.fromisoformat(data["validThrough"])
    closing_day = director.closes_at.astimezone(BRUSSELS).date()
    assert valid == datetime.combine(closing_day, time(23, 59, 59), tzinfo=BRUSSELS)
    assert valid.utcoffset() == valid.astimezone(BRUSSELS).utcoffset()  # Brussels' own offset
    assert data["url"] == f"{api.settings.public_base_url}/careers/omct/{director.id}"
    assert "€4,300 \N{EN DASH} €5,100 per month" in page.text
    for ref in ("aibf-usa", "aibf-grandlacs", "aibf-mexique"):
        volunteer = _jsonld(api.client.get(f"/careers/aibf/{postings[ref].id}").text)
        assert volunteer["employmentType"] == "VOLUNTEER" and "baseSalary" not in volunteer


def test_the_feed_is_atom_with_every_open_call_and_absolute_links(api: Api) -> None:
    org = api.org(name="Ligue & Co")
    first = make_posting(api.workflow, org, title="Accueil <bénévole>")
    second = make_posting(
        api.workflow, org, pipeline="staff", title="Juriste", description="Texte\x0ccollé."
    )
    make_posting(api.workflow, org, title="Brouillon", publish=False)
    response = api.client.get(f"/careers/{org.slug}/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(response.content)  # well-formed, whatever the calls' texts hold
    assert feed.tag == f"{ATOM}feed"
    base = f"{api.settings.public_base_url}/careers/{org.slug}"
    assert feed.findtext(f"{ATOM}id") == base
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == f"{base}/feed.xml"
    entries = {e.findtext(f"{ATOM}title"): e for e in feed.findall(f"{ATOM}entry")}
    assert set(entries) == {"Accueil <bénévole>", "Juriste"}
    for title, posting in (("Accueil <bénévole>", first), ("Juriste", second)):
        link = entries[title].find(f"{ATOM}link").get("href")
        assert link == f"{base}/{posting.id}"
        assert datetime.fromisoformat(entries[title].findtext(f"{ATOM}updated")).tzinfo
    assert entries["Juriste"].findtext(f"{ATOM}content") == "Textecollé."
    page = api.client.get(f"/careers/{org.slug}")
    assert f'type="application/atom+xml" href="/careers/{org.slug}/feed.xml"' in page.text


# --- Applying -----------------------------------------------------------------------------------


def test_applying_with_a_pdf_makes_the_application_and_shows_the_status_link(api: Api) -> None:
    posting = make_posting(api.workflow, api.org(), title="Accueil des nouveaux membres")
    form = api.client.get(_url(api, posting), headers=EN)
    for field in ("first_name", "last_name", "email", "phone", "language", "cv", "cover_letter"):
        assert f'<label for="{field}">' in form.text, field
    response = _send(api, posting, consent_talent_pool="true")
    assert response.status_code == 201, response.text
    with api.workflow.sessions() as session:
        application = session.scalars(
            select(Application).where(Application.posting_id == posting.id)
        ).one()
        candidate = session.get_one(Candidate, application.candidate_id)
        (document,) = session.scalars(select(Document)).all()
    link = api.settings.status_url(application.status_token)
    assert f'id="status-link">{link}</a>' in response.text
    assert (candidate.first_name, candidate.email, candidate.phone, candidate.language) == (
        "Amina", "amina.diallo@example.org", "+32 470 12 34 56", "en",
    )  # fmt: skip
    assert [c["kind"] for c in candidate.consents] == ["privacy", "talent_pool"]
    assert application.source == "Newsletter" and document.kind == "cv"
    assert stored_files(api) == [document.storage_name]
    follow = api.client.get(link.removeprefix(api.settings.public_base_url))
    assert follow.status_code == 200 and "Application received" in follow.text


BAD_EMAIL = {"email": "amina.diallo(at)example"}
NO_CONSENT = {"consent_privacy": None}
WRONG_TYPE = {"files": {"cv": ("cv.pdf", ELF, "application/pdf")}}


@pytest.mark.parametrize(
    ("change", "status", "field", "says"),
    [
        pytest.param(BAD_EMAIL, 422, "email", "Enter an e-mail address", id="bad-email"),
        pytest.param(NO_CONSENT, 422, "consent_privacy", "please accept", id="no-consent"),
        pytest.param(WRONG_TYPE, 415, "cv", "not a PDF, DOCX or ODT", id="wrong-type"),
        pytest.param({"files": {}}, 422, "cv", "Please attach your CV", id="no-cv"),
        pytest.param({"first_name": "  "}, 422, "first_name", "Please fill", id="no-name"),
    ],
)
def test_a_refused_form_says_why_beside_the_field_keeps_the_typing_and_creates_nothing(
    api: Api, change: dict[str, Any], status: int, field: str, says: str
) -> None:
    posting = make_posting(api.workflow, api.org())
    response = _send(api, posting, **change)
    assert response.status_code == status
    _assert_returned(response.text, field, says)
    _assert_typing_kept(response.text, skip=set(change))
    assert _count(api, Application, posting.organisation_id) == 0
    assert _count(api, Candidate, posting.organisation_id) == 0 and stored_files(api) == []


def test_every_problem_is_shown_at_once(api: Api) -> None:
    posting = make_posting(api.workflow, api.org(), pipeline="staff")
    response = _send(api, posting, files={}, email="nope", consent_privacy=None)
    assert response.status_code == 422
    for field, says in (
        ("email", "Enter an e-mail address"),
        ("cv", "Please attach your CV"),
        ("cover_letter", "asks for a cover letter"),
        ("consent_privacy", "please accept"),
    ):
        _assert_returned(response.text, field, says)
    assert _count(api, Application, posting.organisation_id) == 0


def test_a_file_too_large_is_refused_beside_its_field(workflow: Workflow, tmp_path: Path) -> None:
    api = Api(workflow, tmp_path, upload_max_bytes=len(PDF) + 100)
    posting = make_posting(api.workflow, api.org(), pipeline="staff")
    big = PDF + b"%" + bytes(200)
    files = {
        "cv": ("cv.pdf", PDF, "application/pdf"),
        "cover_letter": ("letter.pdf", big, "application/pdf"),
    }
    response = _send(api, posting, files=files)
    assert response.status_code == 413
    _assert_returned(response.text, "cover_letter", "larger than")
    _assert_typing_kept(response.text)
    assert _count(api, Application, posting.organisation_id) == 0 and stored_files(api) == []


def test_applying_twice_says_so_beside_the_email_and_keeps_the_first(api: Api) -> None:
    posting = make_posting(api.workflow, api.org())
    assert _send(api, posting).status_code == 201
    again = _send(api, posting, first_name="Aminata")
    assert again.status_code == 409
    _assert_returned(again.text, "email", "already applied to this call")
    assert 'value="Aminata"' in again.text
    assert _count(api, Application, posting.organisation_id) == 1
    assert _count(api, Document, posting.organisation_id) == 1 and len(stored_files(api)) == 1


def test_a_call_closed_since_the_page_was_shown_refuses_the_form(api: Api) -> None:
    posting = make_posting(api.workflow, api.org(), closes_on=date.today() + timedelta(days=3))
    with time_machine.travel(now() + timedelta(days=5)):
        response = _send(api, posting)
    assert response.status_code == 409
    assert 'id="closed"' in response.text and "no longer takes applications" in response.text
    assert _count(api, Application, posting.organisation_id) == 0 and stored_files(api) == []


def test_the_pages_speak_the_visitors_language(api: Api) -> None:
    posting = make_posting(api.workflow, api.org(), pipeline="staff")
    french = api.client.get(_url(api, posting), headers={"Accept-Language": "fr-BE,fr"})
    assert '<html lang="fr">' in french.text
    assert "Envoyer ma candidature" in french.text and "Lettre de motivation" in french.text
    assert "Poste salarié" in french.text
    english = api.client.get(_url(api, posting), headers={"Cookie": "vivier_lang=en"})
    assert '<html lang="en">' in english.text
    assert "Send my application" in english.text and "Paid position" in english.text
    refused = _send(api, posting, email="nope")  # EN headers: the errors in English
    assert "Enter an e-mail address" in refused.text
    french_error = api.client.post(
        _url(api, posting), data=TYPED | {"email": "nope"}, headers={"Accept-Language": "fr"}
    )
    assert "Saisissez une adresse e-mail" in french_error.text


def _assert_returned(html: str, field: str, says: str) -> None:
    """The field's error is beside it (linked to it for screen readers) and in the summary."""
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error and says in error.group(1).replace("&#39;", "'"), (field, error)
    control = re.search(rf'<(input|select) id="{field}"[^>]*>', html)
    assert (
        control
        and f"{field}-error" in control.group(0)
        and 'aria-invalid="true"' in (control.group(0))
    )
    assert f'<a href="#{field}">' in html


def _assert_typing_kept(html: str, skip: set[str] = frozenset()) -> None:
    for field in ("first_name", "last_name", "email", "phone", "source"):
        if field not in skip:
            assert f'id="{field}" name="{field}" type' in html
            assert f'value="{TYPED[field]}"' in html, field
    assert '<option value="en" lang="en" selected>' in html
    if "consent_privacy" not in skip:
        assert re.search(r'id="consent_privacy"[^>]* checked', html)
    assert "choose your file again" in html  # files cannot be put back: the form says so
