"""The public face over HTTP: published postings and their JSON-LD, applying with files, the
candidate's status link and withdrawing, the closing date and duplicate applications."""

from datetime import date, datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import func, select

from tests.api_support import Api, problem
from tests.factories import STAFF, make_posting, now
from workflow.models import (
    Application,
    Candidate,
    Document,
    EntityType,
    Note,
    Organisation,
    Posting,
    TransitionRecord,
)

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


def form(**fields: Any) -> dict[str, Any]:
    """The application form's text fields, with `fields` replacing or adding some."""
    return {
        "first_name": "Amina",
        "last_name": "Diallo",
        "email": "amina.diallo@example.org",
        "language": "fr",
        "consent_privacy": "true",
    } | fields


def submit(api: Api, posting_id: int, files: dict[str, Any] | None = None, **fields: Any) -> Any:
    files = files if files is not None else {"cv": ("cv.pdf", PDF, "application/pdf")}
    return api.client.post(
        f"/public/postings/{posting_id}/applications", data=form(**fields), files=files
    )


def stored_files(api: Api) -> list[str]:
    folder = api.settings.effective_storage_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_nothing_stored(api: Api, posting: Posting) -> None:
    """No application, candidate or document row of the posting's organisation, and no file."""
    with api.workflow.sessions.begin() as session:
        for model in (Application, Candidate, Document):
            count = session.scalar(
                select(func.count())
                .select_from(model)
                .where(model.organisation_id == posting.organisation_id)
            )
            assert count == 0, model.__name__
    assert stored_files(api) == []


def _token(receipt: dict[str, Any]) -> str:
    return receipt["status_url"].rsplit("/", 1)[1]


def test_a_candidate_applies_follows_and_withdraws(api: Api) -> None:
    org = api.org()
    posting = make_posting(api.workflow, org, title="Volontaire Droits humains")
    listed = api.client.get("/public/postings", params={"organisation": org.slug}).json()
    assert [p["id"] for p in listed] == [posting.id]

    response = submit(api, posting.id, source="website", consent_talent_pool="true")
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["status_url"].startswith("http://127.0.0.1:8000/status/")
    assert receipt["state_label"] == "Candidature reçue"

    status = api.client.get(f"/public/applications/{_token(receipt)}").json()
    assert status["posting_title"] == "Volontaire Droits humains"
    assert status["state_label"] == "Candidature reçue"
    assert status["message"].startswith("Nous avons bien reçu votre candidature")
    assert status["next_step"] and status["can_withdraw"] and not status["final"]
    english = api.client.get(f"/public/applications/{_token(receipt)}", params={"lang": "en"})
    assert english.json()["state_label"] == "Application received"

    with api.workflow.sessions.begin() as session:
        application = session.get_one(Application, receipt["application_id"])
        assert application.source == "website"
        candidate = session.get_one(Candidate, application.candidate_id)
        assert [c["kind"] for c in candidate.consents] == ["privacy", "talent_pool"]
        assert all(c["text_version"] and c["given_at"] for c in candidate.consents)
        (document,) = session.scalars(select(Document)).all()
        assert (document.kind, document.content_type, document.size) == (
            "cv", "application/pdf", len(PDF),
        )  # fmt: skip
    assert stored_files(api) == [document.storage_name]

    withdrawn = api.client.post(f"/public/applications/{_token(receipt)}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state_label"] == "Retirée"
    assert withdrawn.json()["final"] and not withdrawn.json()["can_withdraw"]
    with api.workflow.sessions.begin() as session:
        last = session.scalars(
            select(TransitionRecord)
            .where(TransitionRecord.entity_id == receipt["application_id"])
            .where(TransitionRecord.entity_type == EntityType.application)
            .order_by(TransitionRecord.id.desc())
        ).first()
        assert last is not None
        assert (last.event, last.actor_kind.value, last.actor_id) == (
            "withdraw", "candidate", candidate.id,
        )  # fmt: skip
    again = problem(api.client.post(f"/public/applications/{_token(receipt)}/withdraw"), 409)
    assert "Retirée" in again["detail"]


def test_unknown_status_links_and_unpublished_postings_answer_404(api: Api) -> None:
    org = api.org()
    draft = make_posting(api.workflow, org, publish=False)
    problem(api.client.get("/public/applications/not-a-real-token"), 404)
    problem(api.client.post("/public/applications/not-a-real-token/withdraw"), 404)
    for url in (f"/public/postings/{draft.id}", f"/public/postings/{draft.id}/jsonld"):
        problem(api.client.get(url), 404)
    problem(submit(api, draft.id), 404)
    assert api.client.get("/public/postings", params={"organisation": org.slug}).json() == []
    body = problem(api.client.get("/public/postings", params={"organisation": "nobody"}), 404)
    assert "organisation" in body["detail"]
    assert_nothing_stored(api, draft)


def test_public_postings_show_the_call_not_the_workflow(api: Api) -> None:
    org = api.org()
    owner = api.staff(org, "recruiter")
    posting = make_posting(api.workflow, org, pipeline="staff", owner_id=owner.id)
    shown = api.client.get(f"/public/postings/{posting.id}").json()
    assert shown["title"] == posting.title and shown["organisation"]["slug"] == org.slug
    assert shown["cover_letter_required"] is True
    for internal in ("owner_id", "organisation_id", "pipeline", "state", "version"):
        assert internal not in shown


def test_applying_after_the_closing_date_is_refused_without_the_scheduler(api: Api) -> None:
    posting = make_posting(api.workflow, api.org(), closes_on=date.today() + timedelta(days=3))
    with time_machine.travel(now() + timedelta(days=5)):
        body = problem(submit(api, posting.id), 409)
        listed = api.client.get("/public/postings", params={"organisation": _slug(api, posting)})
    assert body["guard"] == "posting_open"
    assert "closing date" in body["detail"]
    assert listed.json() == []  # still published (no scheduler ran) but no longer listed
    assert_nothing_stored(api, posting)


def _slug(api: Api, posting: Posting) -> str:
    with api.workflow.sessions.begin() as session:
        return session.get_one(Organisation, posting.organisation_id).slug


def test_applying_twice_with_the_same_email_is_409(api: Api) -> None:
    posting = make_posting(api.workflow, api.org())
    assert submit(api, posting.id).status_code == 201
    body = problem(submit(api, posting.id, email="  Amina.DIALLO@example.org "), 409)
    assert body["type"].endswith("/already-applied")
    assert body["detail"].startswith("you have already applied to this posting")
    with api.workflow.sessions.begin() as session:
        for model in (Application, Document):
            mine = model.organisation_id == posting.organisation_id
            assert session.scalar(select(func.count()).where(mine)) == 1, model.__name__
    assert len(stored_files(api)) == 1


def test_a_staff_posting_needs_a_cover_letter_and_consent_is_required(api: Api) -> None:
    posting = make_posting(api.workflow, api.org(), pipeline="staff")
    body = problem(submit(api, posting.id), 422)
    assert body["field"] == "cover_letter"
    body = problem(submit(api, posting.id, consent_privacy="false"), 422)
    assert body["field"] == "consent_privacy"
    assert_nothing_stored(api, posting)
    files = {
        "cv": ("cv.pdf", PDF, "application/pdf"),
        "cover_letter": ("letter.pdf", PDF, "application/pdf"),
    }
    assert submit(api, posting.id, files=files).status_code == 201
    assert len(stored_files(api)) == 2


def test_the_status_page_never_shows_the_rejection_reason_or_notes(api: Api) -> None:
    posting = make_posting(api.workflow, api.org())
    receipt = submit(api, posting.id, language="en").json()
    application_id = receipt["application_id"]
    api.workflow.fire(
        EntityType.application, application_id, "reject", STAFF,
        reason="Zyxwvut reason", payload={"rejection_reason": "not_qualified"},
    )  # fmt: skip
    author = api.staff(api.org(), "hr").user  # any staff row will do as the author
    with api.workflow.sessions.begin() as session:
        session.add(
            Note(
                organisation_id=posting.organisation_id, application_id=application_id,
                author_id=author.id, body="Zyxwvut note", created_at=now(),
            )
        )  # fmt: skip
    response = api.client.get(f"/public/applications/{_token(receipt)}")
    assert response.json()["state_label"] == "Not retained"
    assert response.json()["next_step"] is None
    assert "Zyxwvut" not in response.text and "not_qualified" not in response.text


def test_json_ld_describes_the_job_posting(api: Api) -> None:
    org = api.org(name="OMCT Brussels")
    posting = make_posting(
        api.workflow, org, pipeline="staff", title="Director of the HRD Programme",
        description="Lead the programme.", location="Bruxelles",
        salary_min=4500, salary_max=5200, salary_currency="EUR", salary_period="month",
        closes_on=date.today() + timedelta(days=30), timezone="Europe/Brussels",
    )  # fmt: skip
    response = api.client.get(f"/public/postings/{posting.id}/jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    data = response.json()
    with api.workflow.sessions.begin() as session:
        published_at = session.scalar(
            select(TransitionRecord.at).where(
                TransitionRecord.entity_type == EntityType.posting,
                TransitionRecord.entity_id == posting.id,
                TransitionRecord.to_state == "published",
            )
        )
    assert data["@context"] == "https://schema.org/" and data["@type"] == "JobPosting"
    assert data["title"] == "Director of the HRD Programme"
    assert data["description"] == "Lead the programme."
    assert data["employmentType"] == "FULL_TIME"
    assert data["hiringOrganization"] == {"@type": "Organization", "name": "OMCT Brussels"}
    assert data["jobLocation"]["address"]["addressLocality"] == "Bruxelles"
    assert datetime.fromisoformat(data["datePosted"]) == published_at
    closing = date.today() + timedelta(days=30)
    assert data["validThrough"].startswith(f"{closing.isoformat()}T23:59:59")
    assert data["baseSalary"] == {
        "@type": "MonetaryAmount",
        "currency": "EUR",
        "value": {
            "@type": "QuantitativeValue", "minValue": 4500, "maxValue": 5200, "unitText": "MONTH",
        },
    }  # fmt: skip
    volunteer = make_posting(api.workflow, org)
    data = api.client.get(f"/public/postings/{volunteer.id}/jsonld").json()
    assert data["employmentType"] == "VOLUNTEER" and "baseSalary" not in data
