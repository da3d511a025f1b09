"""Postings over HTTP: create, edit while draft or published, list, lifecycle events."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from tests.api_support import Api, problem
from tests.factories import make_application, make_posting
from workflow.models import Deadline, DeadlineStatus, EntityType

SEED_004 = {
    "ref": "OMCT-PD-2026",
    "kind": "staff",
    "title": "Programme Director",
    "pipeline": "staff",
    "languages": [{"code": "en", "level": "required"}, {"code": "fr", "level": "asset"}],
    "workload": [{"label": "programme", "percent": 80}, {"label": "management", "percent": 20}],
    "salary_min": 4300,
    "salary_max": 5100,
    "salary_currency": "EUR",
    "salary_period": "month",
    "salary_payments_per_year": 12,
    "start_asap": True,
    "closes_on": (date.today() + timedelta(days=21)).isoformat(),
}


def _pending_close(api: Api, posting_id: int) -> list[datetime]:
    with api.workflow.sessions.begin() as session:
        return list(
            session.scalars(
                select(Deadline.due_at).where(
                    Deadline.entity_type == EntityType.posting,
                    Deadline.entity_id == posting_id,
                    Deadline.kind == "close",
                    Deadline.status == DeadlineStatus.pending,
                )
            )
        )


def test_a_recruiter_creates_publishes_and_extends_a_posting(api: Api) -> None:
    org = api.org()
    recruiter = api.staff(org, "recruiter")
    created = api.client.post("/postings", json=SEED_004, headers=recruiter.headers)
    assert created.status_code == 201, created.text
    posting = created.json()
    assert posting["state"] == "draft" and posting["owner_id"] == recruiter.id
    assert posting["workload"][0]["percent"] == 80

    url = f"/postings/{posting['id']}"
    assert api.client.post(f"{url}/events/publish", headers=recruiter.headers).status_code == 200
    assert len(_pending_close(api, posting["id"])) == 1

    later = date.today() + timedelta(days=40)
    edited = api.client.patch(url, json={"closes_on": later.isoformat()}, headers=recruiter.headers)
    assert edited.status_code == 200, edited.text
    (due,) = _pending_close(api, posting["id"])  # moved, not a second one
    assert due.astimezone(UTC).date() == later


def test_only_drafts_and_published_postings_are_edited(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    posting = make_posting(api.workflow, org)
    api.client.post(f"/postings/{posting.id}/events/close", headers=hr.headers)
    body = problem(
        api.client.patch(f"/postings/{posting.id}", json={"title": "x"}, headers=hr.headers), 422
    )
    assert body["field"] == "state"
    past = problem(
        api.client.patch(
            f"/postings/{make_posting(api.workflow, org).id}",
            json={"closes_on": "2020-01-01"},
            headers=hr.headers,
        ),
        422,
    )
    assert past["field"] == "closes_at"


def test_reopening_needs_a_new_closing_date(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    posting = make_posting(api.workflow, org)
    events = f"/postings/{posting.id}/events"
    api.client.post(f"{events}/close", headers=hr.headers)
    assert problem(api.client.post(f"{events}/reopen", headers=hr.headers), 409)["guard"] == (
        "new_closing_date"
    )
    new_date = (date.today() + timedelta(days=30)).isoformat()
    reopened = api.client.post(
        f"{events}/reopen", json={"payload": {"closes_at": new_date}}, headers=hr.headers
    )
    assert reopened.status_code == 200 and reopened.json()["to_state"] == "published"


def test_cancel_answers_every_open_application(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    posting = make_posting(api.workflow, org)
    applications = [make_application(api.workflow, posting) for _ in range(2)]
    cancelled = api.client.post(
        f"/postings/{posting.id}/events/cancel", json={"reason": "budget cut"}, headers=hr.headers
    )
    assert cancelled.status_code == 200
    listed = api.client.get(f"/applications?posting_id={posting.id}", headers=hr.headers).json()
    assert {a["id"] for a in listed["items"]} == {a.id for a in applications}
    assert {a["rejection_reason"] for a in listed["items"]} == {"posting_cancelled"}


def test_recruiters_see_their_postings_only(api: Api) -> None:
    org = api.org()
    mine, theirs = api.staff(org, "recruiter"), api.staff(org, "recruiter")
    own = make_posting(api.workflow, org, owner_id=mine.id)
    other = make_posting(api.workflow, org, owner_id=theirs.id)
    assert [p["id"] for p in api.client.get("/postings", headers=mine.headers).json()] == [own.id]
    problem(api.client.get(f"/postings/{other.id}", headers=mine.headers), 404)
    hr = api.staff(org, "hr")
    assigned = api.client.post(
        "/postings", json=SEED_004 | {"ref": "shared", "recruiter_ids": [mine.id]},
        headers=hr.headers,
    )  # fmt: skip
    assert assigned.status_code == 201, assigned.text
    ids = {p["id"] for p in api.client.get("/postings", headers=mine.headers).json()}
    assert ids == {own.id, assigned.json()["id"]}


def test_interviewers_cannot_create_or_change_postings(api: Api) -> None:
    org = api.org()
    interviewer = api.staff(org, "interviewer")
    problem(api.client.post("/postings", json=SEED_004, headers=interviewer.headers), 403)
    posting = make_posting(api.workflow, org)
    # Not visible to them at all: 404, as for anything they cannot see.
    problem(api.client.patch(f"/postings/{posting.id}", json={"title": "x"},
                             headers=interviewer.headers), 404)  # fmt: skip


def test_bad_posting_input_names_the_field_and_creates_nothing(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    cases = [
        ({**SEED_004, "pipeline": "nope"}, "pipeline"),
        ({**SEED_004, "vacancies": 0}, "vacancies"),
        ({**SEED_004, "closes_at": "2030-01-01T10:00:00Z"}, "closes_on"),
        ({k: v for k, v in SEED_004.items() if k != "title"}, "title"),
        ({**SEED_004, "owner_id": 999999}, "owner_id"),
        ({**SEED_004, "timezone": "Mars/Olympus"}, "timezone"),
    ]
    for body, field in cases:
        assert (
            problem(api.client.post("/postings", json=body, headers=hr.headers), 422)["field"]
            == field
        ), field
    assert api.client.get("/postings", headers=hr.headers).json() == []


def test_unknown_routes_and_methods_are_problems_too(api: Api) -> None:
    problem(api.client.get("/nowhere"), 404)
    problem(api.client.delete("/health"), 405)


def test_a_nul_character_is_refused_naming_the_field(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    assert problem(api.client.get("/postings?q=%00", headers=hr.headers), 422)["field"] == "q"
    created = api.client.post("/postings", json=SEED_004 | {"title": "a\x00b"}, headers=hr.headers)
    assert problem(created, 422)["field"] == "title"
    assert api.client.get("/postings", headers=hr.headers).json() == []


def test_a_reference_is_used_once_per_organisation(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    assert api.client.post("/postings", json=SEED_004, headers=hr.headers).status_code == 201
    again = problem(api.client.post("/postings", json=SEED_004, headers=hr.headers), 409)
    assert "OMCT-PD-2026" in again["detail"]
    elsewhere = api.staff(api.org(), "hr")
    assert api.client.post("/postings", json=SEED_004, headers=elsewhere.headers).status_code == 201
