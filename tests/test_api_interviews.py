"""Interviews and feedback over HTTP: scheduling, who sees and gives what, bad input."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tests.api_support import Api, Staff, problem
from tests.factories import make_application, make_posting, now
from workflow.models import Deadline, DeadlineStatus, EntityType, Interview

BRUSSELS = ZoneInfo("Europe/Brussels")


class Scene:
    """An organisation with a recruiter's volunteer posting, one application in `interview`,
    two interviewers, and HR."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.org = api.org()
        self.recruiter = api.staff(self.org, "recruiter")
        self.hr = api.staff(self.org, "hr")
        self.interviewers = [api.staff(self.org, "interviewer") for _ in range(2)]
        self.posting = make_posting(api.workflow, self.org, owner_id=self.recruiter.id)
        self.application = make_application(api.workflow, self.posting)
        for event in ("screen", "invite"):
            self.fire(event)

    def fire(self, event: str, staff: Staff | None = None) -> Any:
        return self.api.client.post(
            f"/applications/{self.application.id}/events/{event}",
            headers=(staff or self.recruiter).headers,
        )

    def schedule(self, staff: Staff | None = None, **fields: Any) -> Any:
        starts = (now() - timedelta(hours=1)).astimezone(BRUSSELS)
        body = {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=45)).isoformat(),
            "timezone": "Europe/Brussels",
            "location": "Rue Berckmans 9, Bruxelles",
            "interviewer_ids": [i.id for i in self.interviewers],
        } | fields
        return self.api.client.post(
            f"/applications/{self.application.id}/interviews",
            json=body,
            headers=(staff or self.recruiter).headers,
        )

    def interview(self, staff: Staff | None = None, **fields: Any) -> dict[str, Any]:
        response = self.schedule(staff, **fields)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, interview_id: int, staff: Staff) -> Any:
        return self.api.client.get(f"/interviews/{interview_id}", headers=staff.headers)

    def listed(self, staff: Staff) -> Any:
        return self.api.client.get(
            f"/applications/{self.application.id}/interviews", headers=staff.headers
        )

    def feedback(self, interview_id: int, staff: Staff, recommendation: str = "yes") -> Any:
        return self.api.client.put(
            f"/interviews/{interview_id}/feedback",
            json={"recommendation": recommendation, "notes": f"notes of {staff.id}"},
            headers=staff.headers,
        )

    def stored(self) -> tuple[int, int]:
        """(interviews of the application, their deadlines)."""
        with self.api.workflow.sessions() as session:
            ids = select(Interview.id).where(Interview.application_id == self.application.id)
            interviews = session.scalar(select(func.count()).select_from(ids.subquery()))
            deadlines = session.scalar(
                select(func.count()).where(
                    Deadline.entity_type == EntityType.interview, Deadline.entity_id.in_(ids)
                )
            )
        return interviews, deadlines


def test_two_interviewers_give_feedback_and_the_volunteer_is_accepted(api: Api) -> None:
    scene = Scene(api)
    first, second = scene.interviewers
    interview = scene.interview()
    assert interview["sequence"] == 0 and interview["cancelled_at"] is None
    assert interview["timezone"] == "Europe/Brussels"
    assert datetime.fromisoformat(interview["local_starts_at"]).utcoffset() in (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    assert [(i["id"], i["feedback_given"]) for i in interview["interviewers"]] == [
        (first.id, False),
        (second.id, False),
    ]
    body = problem(scene.fire("accept"), 409)
    assert body["guard"] == "has_feedback"

    for staff, recommendation in ((first, "strong_yes"), (second, "no")):
        response = scene.feedback(interview["id"], staff, recommendation)
        assert response.status_code == 201, response.text
        assert response.json()["recommendation"] == recommendation

    # Each interviewer reads their own feedback only; the recruiter and HR read both.
    mine = scene.get(interview["id"], first).json()
    assert [f["interviewer_id"] for f in mine["feedback"]] == [first.id]
    assert all(i["feedback_given"] for i in mine["interviewers"])
    for staff in (scene.recruiter, scene.hr):
        [listed] = scene.listed(staff).json()
        assert {f["recommendation"] for f in listed["feedback"]} == {"strong_yes", "no"}

    response = scene.fire("accept")
    assert response.status_code == 200, response.text
    assert response.json()["to_state"] == "accepted"


def test_feedback_is_given_once_and_only_by_the_interviewers(api: Api) -> None:
    scene = Scene(api)
    first, _ = scene.interviewers
    interview = scene.interview()
    assert scene.feedback(interview["id"], first).status_code == 201

    body = problem(scene.feedback(interview["id"], first, "strong_no"), 409)
    assert body["type"].endswith("/already-exists")
    [given] = scene.get(interview["id"], first).json()["feedback"]
    assert given["recommendation"] == "yes"  # the first stands

    # Those who see the interview but are not on it: 403. Those who do not: 404.
    for staff in (scene.recruiter, scene.hr):
        problem(scene.feedback(interview["id"], staff), 403)
    outsider = api.staff(scene.org, "interviewer")
    problem(scene.feedback(interview["id"], outsider), 404)
    body = problem(
        api.client.put(
            f"/interviews/{interview['id']}/feedback",
            json={"recommendation": "maybe"},
            headers=first.headers,
        ),
        422,
    )
    assert body["field"] == "recommendation"


def test_an_interviewer_sees_only_the_interviews_they_are_on(api: Api) -> None:
    scene = Scene(api)
    first, second = scene.interviewers
    theirs = scene.interview(interviewer_ids=[first.id])
    other = scene.interview(interviewer_ids=[second.id])

    assert [i["id"] for i in scene.listed(first).json()] == [theirs["id"]]
    problem(scene.get(other["id"], first), 404)
    problem(scene.feedback(other["id"], first), 404)
    assert [i["id"] for i in scene.listed(scene.recruiter).json()] == [theirs["id"], other["id"]]
    # Not on any interview of it: the application itself is not theirs.
    stranger = api.staff(scene.org, "interviewer")
    problem(scene.listed(stranger), 404)
    # Seeing it does not let an interviewer schedule, move or cancel.
    problem(scene.schedule(first), 403)
    problem(
        api.client.patch(
            f"/interviews/{theirs['id']}", json={"location": "x"}, headers=first.headers
        ),
        403,
    )
    problem(api.client.post(f"/interviews/{theirs['id']}/cancel", headers=first.headers), 403)


def test_another_organisations_interview_is_not_found(api: Api) -> None:
    scene = Scene(api)
    interview = scene.interview()
    other = api.org()
    for role in ("admin", "hr", "recruiter", "interviewer"):
        staff = api.staff(other, role)
        for response in (
            scene.get(interview["id"], staff),
            scene.listed(staff),
            scene.schedule(staff),
            scene.feedback(interview["id"], staff),
            api.client.patch(
                f"/interviews/{interview['id']}", json={"location": "x"}, headers=staff.headers
            ),
            api.client.post(f"/interviews/{interview['id']}/cancel", headers=staff.headers),
        ):
            body = problem(response, 404)
            assert "Berckmans" not in str(body)
    assert scene.stored() == (1, 1)  # only the feedback reminder: the start has passed


def test_bad_input_is_422_naming_the_field_and_writes_nothing(api: Api) -> None:
    scene = Scene(api)
    stranger = api.staff(api.org(), "interviewer")
    starts = now() + timedelta(days=3)
    cases = {
        "starts_at": {"starts_at": starts.replace(tzinfo=None).isoformat()},
        "ends_at": {
            "starts_at": starts.isoformat(),
            "ends_at": (starts - timedelta(hours=1)).isoformat(),
        },
        "interviewer_ids": {"interviewer_ids": [scene.interviewers[0].id, 2**31 - 1]},
        "timezone": {"timezone": "Mars/Olympus"},
        "location": {"location": " ", "video_link": ""},
    }
    for field, fields in cases.items():
        body = problem(scene.schedule(**fields), 422)
        assert body["field"] == field, body
    # Out of range once in UTC: refused, not a server error.
    body = problem(scene.schedule(starts_at="0001-01-01T00:00:00+05:00"), 422)
    assert body["field"] == "starts_at"
    body = problem(scene.schedule(interviewer_ids=[stranger.id]), 422)
    assert body["field"] == "interviewer_ids"
    assert f"user {stranger.id}" in body["detail"]
    assert scene.stored() == (0, 0)


def test_rescheduling_and_cancelling_over_http(api: Api) -> None:
    scene = Scene(api)
    starts = (now() + timedelta(days=5)).replace(microsecond=0)
    interview = scene.interview(starts_at=starts.isoformat(), ends_at=None)
    assert scene.stored() == (1, 2)
    later = starts + timedelta(days=2)

    response = api.client.patch(
        f"/interviews/{interview['id']}",
        json={"starts_at": later.isoformat(), "video_link": "https://meet.example.org/v"},
        headers=scene.recruiter.headers,
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["sequence"], moved["video_link"]) == (1, "https://meet.example.org/v")
    assert datetime.fromisoformat(moved["starts_at"]) == later
    assert _pending(api, interview["id"]) == {
        "interview_reminder": later - timedelta(hours=24),
        "feedback_reminder": later + timedelta(hours=25),
    }
    body = problem(
        api.client.patch(
            f"/interviews/{interview['id']}",
            json={"ends_at": (later - timedelta(minutes=5)).isoformat()},
            headers=scene.recruiter.headers,
        ),
        422,
    )
    assert body["field"] == "ends_at"
    body = problem(
        api.client.patch(
            f"/interviews/{interview['id']}",
            json={"location": None, "video_link": None},
            headers=scene.recruiter.headers,
        ),
        422,
    )
    assert body["field"] == "location"  # somewhere to meet is still needed

    response = api.client.post(
        f"/interviews/{interview['id']}/cancel",
        json={"reason": "the candidate asked"},
        headers=scene.hr.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["cancelled_at"] is not None
    assert _pending(api, interview["id"]) == {}
    body = problem(
        api.client.patch(
            f"/interviews/{interview['id']}",
            json={"location": "Elsewhere"},
            headers=scene.recruiter.headers,
        ),
        409,
    )
    assert body["state"] == "cancelled"


def _pending(api: Api, interview_id: int) -> dict[str, datetime]:
    with api.workflow.sessions() as session:
        rows = session.scalars(
            select(Deadline).where(
                Deadline.entity_type == EntityType.interview,
                Deadline.entity_id == interview_id,
                Deadline.status == DeadlineStatus.pending,
            )
        ).all()
        return {d.kind: d.due_at for d in rows}
