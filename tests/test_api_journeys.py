"""Whole journeys through the real app, as the people who make them: a volunteer from the public
form to the commitment, a staff candidate to an offer, hired or declined."""

from datetime import date, timedelta
from typing import Any

from tests.api_support import Api, Staff
from tests.factories import make_application, make_posting, now
from tests.test_api_public import PDF, form


def _move(api: Api, staff: Staff, application_id: int, event: str, **body: Any) -> dict:
    response = api.client.post(
        f"/applications/{application_id}/events/{event}", json=body or None, headers=staff.headers
    )
    assert response.status_code == 200, (event, response.text)
    return response.json()


def _interview_with_feedback(api: Api, recruiter: Staff, application_id: int, panel: list[Staff]):
    """An interview held an hour ago with `panel`, each of whom gives a feedback."""
    starts = (now() - timedelta(hours=1)).isoformat()
    scheduled = api.client.post(
        f"/applications/{application_id}/interviews",
        json={
            "starts_at": starts,
            "timezone": "Europe/Brussels",
            "location": "Secrétariat national, Bruxelles",
            "interviewer_ids": [member.id for member in panel],
        },
        headers=recruiter.headers,
    )
    assert scheduled.status_code == 201, scheduled.text
    interview_id = scheduled.json()["id"]
    for member, recommendation in zip(panel, ("strong_yes", "yes"), strict=False):
        given = api.client.put(
            f"/interviews/{interview_id}/feedback",
            json={"recommendation": recommendation, "notes": "Knows the region well."},
            headers=member.headers,
        )
        assert given.status_code == 201, given.text


def test_a_volunteer_from_the_form_to_the_commitment(api: Api) -> None:
    org = api.org()
    recruiter = api.staff(org, "recruiter")
    panel = [api.staff(org, "interviewer"), api.staff(org, "interviewer")]
    posting = make_posting(api.workflow, org, pipeline="volunteer", owner_id=recruiter.id)

    applied = api.client.post(
        f"/public/postings/{posting.id}/applications",
        data=form(email="awa.sow@example.org", language="en"),
        files={"cv": ("cv.pdf", PDF, "application/pdf")},
    )
    assert applied.status_code == 201, applied.text
    application_id = applied.json()["application_id"]
    status_url = "/public/applications/" + applied.json()["status_url"].rsplit("/", 1)[1]
    documents = api.client.get(
        f"/applications/{application_id}/documents", headers=recruiter.headers
    )
    assert [d["kind"] for d in documents.json()] == ["cv"]

    _move(api, recruiter, application_id, "screen")
    _move(api, recruiter, application_id, "invite")
    assert api.client.get(status_url).json()["state_label"] == "Interview"
    _interview_with_feedback(api, recruiter, application_id, panel)
    _move(api, recruiter, application_id, "accept")
    _move(api, recruiter, application_id, "start_training")
    start = date(2027, 1, 31)
    moved = _move(
        api, recruiter, application_id, "start_commitment",
        payload={"commitment_start": start.isoformat()},
    )  # fmt: skip
    assert moved["to_state"] == "commitment"

    detail = api.client.get(f"/applications/{application_id}", headers=recruiter.headers).json()
    assert (detail["commitment_start"], detail["commitment_end"]) == ("2027-01-31", "2029-01-31")
    events = [e["event"] for e in detail["timeline"] if e["kind"] == "transition"]
    assert events == ["create", "screen", "invite", "accept", "start_training", "start_commitment"]
    status = api.client.get(status_url).json()
    assert status["language"] == "en" and not status["final"]


def test_a_staff_candidate_is_hired_and_another_declines(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    panel = [api.staff(org, "interviewer"), api.staff(org, "interviewer")]
    posting = make_posting(api.workflow, org, pipeline="staff", vacancies=1)
    hired, declined = (make_application(api.workflow, posting) for _ in range(2))
    for application in (hired, declined):
        _move(api, hr, application.id, "screen")
        _move(api, hr, application.id, "invite")
        _move(api, hr, application.id, "next_round")  # a second round stays in `interview`
        _interview_with_feedback(api, hr, application.id, panel)
        _move(api, hr, application.id, "make_offer")
    assert _move(api, hr, declined.id, "decline_offer")["to_state"] == "offer_declined"
    assert _move(api, hr, hired.id, "hire")["to_state"] == "hired"

    report = api.client.get(f"/reports/pipeline?posting_id={posting.id}", headers=hr.headers)
    assert report.json()["totals"] == {"hired": 1, "offer_declined": 1}
