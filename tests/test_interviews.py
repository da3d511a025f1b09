"""Interviews in the domain (workflow/interviews.py) and their reminders in the sweeper.

Time is fixed with time-machine at NOW, nine days before Belgium moves to summer time (29 March
2026), so a Brussels interview's reminders are checked across the change. The sweeper is called
directly with the `now` it should see, limited to the test's organisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from tests.factories import STAFF, make_application, make_org, make_posting, make_user
from workflow import interviews
from workflow.errors import AlreadyExists, GuardFailed, InvalidInput, TransitionNotAllowed
from workflow.events import DomainEvent
from workflow.interviews import FEEDBACK_REMINDER, INTERVIEW_REMINDER, ReminderHours
from workflow.models import (
    Deadline,
    DeadlineStatus,
    EntityType,
    Feedback,
    Interview,
    Recommendation,
    Role,
    User,
)
from workflow.scheduler import SweepResult, sweep
from workflow.service import Workflow

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
HOURS = ReminderHours(interview=24, feedback=24)
# Monday 30 March 2026, 10:00 to 11:30 in Brussels: summer time (UTC+2) since the day before.
STARTS = datetime(2026, 3, 30, 10, 0, tzinfo=BRUSSELS)
ENDS = datetime(2026, 3, 30, 11, 30, tzinfo=BRUSSELS)


@pytest.fixture(autouse=True)
def fixed_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def seen(workflow: Workflow) -> list[DomainEvent]:
    """Every domain event the workflow publishes during the test."""
    events: list[DomainEvent] = []
    workflow.bus.subscribe(lambda _session, event: events.append(event))
    return events


class Setup:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.org = make_org(workflow)
        self.posting = make_posting(workflow, self.org)
        self.application = make_application(workflow, self.posting)
        for event in ("screen", "invite"):
            workflow.fire(EntityType.application, self.application.id, event, STAFF)
        self.interviewers = [make_user(workflow, self.org, Role.interviewer) for _ in range(2)]

    @property
    def interviewer_ids(self) -> list[int]:
        return sorted(u.id for u in self.interviewers)

    def schedule(self, **fields) -> Interview:
        arguments = {
            "starts_at": STARTS,
            "ends_at": ENDS,
            "timezone": "Europe/Brussels",
            "location": "Rue Berckmans 9, Bruxelles",
            "interviewer_ids": self.interviewer_ids,
        } | fields
        with self.workflow.sessions.begin() as session:
            return interviews.schedule(
                session, self.workflow, self.application.id, **arguments, actor=STAFF,
                organisation_id=self.org.id, reminders=HOURS,
            )  # fmt: skip

    def reschedule(self, interview: Interview, **changes) -> Interview:
        with self.workflow.sessions.begin() as session:
            return interviews.reschedule(
                session, self.workflow, interview.id, changes, actor=STAFF,
                organisation_id=self.org.id, reminders=HOURS,
            )  # fmt: skip

    def cancel(self, interview: Interview) -> Interview:
        with self.workflow.sessions.begin() as session:
            return interviews.cancel(
                session, self.workflow, interview.id, actor=STAFF, organisation_id=self.org.id
            )

    def feedback(self, interview: Interview, user: User, now: datetime | None = None) -> Feedback:
        with self.workflow.sessions.begin() as session:
            return interviews.record_feedback(
                session, self.workflow, interview.id, user.id, Recommendation.yes, "Clear, kind.",
                organisation_id=self.org.id, now=now or interview.starts_at,
            )  # fmt: skip

    def sweep(self, now: datetime) -> SweepResult:
        return sweep(self.workflow, now=now, organisation_id=self.org.id)


@pytest.fixture
def setup(workflow: Workflow) -> Setup:
    return Setup(workflow)


def deadline_rows(workflow: Workflow, interview: Interview) -> list[Deadline]:
    with workflow.sessions() as session:
        return list(
            session.scalars(
                select(Deadline)
                .where(
                    Deadline.entity_type == EntityType.interview,
                    Deadline.entity_id == interview.id,
                )
                .order_by(Deadline.id)
            )
        )


def reminders(
    workflow: Workflow, interview: Interview
) -> list[tuple[str, DeadlineStatus, datetime]]:
    return [(d.kind, d.status, d.due_at) for d in deadline_rows(workflow, interview)]


def pending(workflow: Workflow, interview: Interview) -> dict[str, datetime]:
    found = [(k, due) for k, status, due in reminders(workflow, interview) if status == "pending"]
    assert len(found) == len(dict(found)), found  # never two pending of a kind
    return dict(found)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- Scheduling ---------------------------------------------------------------------------------


def test_scheduling_stores_utc_keeps_the_zone_and_sets_both_reminders(setup, seen):
    interview = setup.schedule()

    with setup.workflow.sessions() as session:
        stored = session.get_one(Interview, interview.id)
        assert (stored.starts_at, stored.ends_at) == (utc(2026, 3, 30, 8), utc(2026, 3, 30, 9, 30))
        assert (stored.timezone, stored.sequence, stored.cancelled_at) == (
            "Europe/Brussels",
            0,
            None,
        )
    assert interviews_of(setup) == [interview.id]
    # 24 hours before: 10:00 on Sunday in Brussels, the clocks having moved that night.
    # Feedback: 24 hours after the end.
    assert pending(setup.workflow, interview) == {
        INTERVIEW_REMINDER: utc(2026, 3, 29, 8),
        FEEDBACK_REMINDER: utc(2026, 3, 31, 9, 30),
    }
    [event] = [e for e in seen if e.name.startswith("interview:")]
    assert (event.name, event.entity_type, event.entity_id) == (
        "interview:scheduled", EntityType.interview, interview.id,
    )  # fmt: skip
    assert event.payload["interviewer_ids"] == setup.interviewer_ids
    assert event.payload["local_starts_at"] == "2026-03-30T10:00:00+02:00"


def interviews_of(setup: Setup) -> list[int]:
    with setup.workflow.sessions() as session:
        return list(
            session.scalars(
                select(Interview.id).where(Interview.application_id == setup.application.id)
            )
        )


def test_without_an_end_the_feedback_reminder_counts_an_hour_of_interview(setup):
    interview = setup.schedule(
        ends_at=None, timezone=None, location="", video_link="https://x.org/r"
    )
    assert pending(setup.workflow, interview)[FEEDBACK_REMINDER] == utc(2026, 3, 31, 9)
    assert interview.timezone == setup.posting.timezone  # the posting's zone by default


def test_a_reminder_whose_time_has_passed_is_not_created(setup):
    soon = setup.schedule(starts_at=NOW + timedelta(hours=5), ends_at=None)
    assert pending(setup.workflow, soon) == {FEEDBACK_REMINDER: NOW + timedelta(hours=30)}
    # An interview recorded after it took place: nobody is reminded of anything.
    past = setup.schedule(starts_at=NOW - timedelta(days=3), ends_at=None)
    assert reminders(setup.workflow, past) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"starts_at": datetime(2026, 3, 30, 10, 0)}, "starts_at"),  # naive: whose 10:00?
        ({"ends_at": datetime(2026, 3, 30, 9, 0, tzinfo=BRUSSELS)}, "ends_at"),
        ({"ends_at": STARTS}, "ends_at"),
        ({"ends_at": STARTS + timedelta(days=2)}, "ends_at"),
        ({"starts_at": NOW + timedelta(days=3 * 365)}, "starts_at"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"location": "  ", "video_link": ""}, "location"),
        ({"video_link": "javascript:alert(1)"}, "video_link"),
        ({"interviewer_ids": []}, "interviewer_ids"),
        ({"interviewer_ids": [2**31 - 1]}, "interviewer_ids"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(setup, fields, field):
    with pytest.raises(InvalidInput) as refused:
        setup.schedule(**fields)
    assert refused.value.field == field
    assert interviews_of(setup) == []


def test_interviewers_are_active_members_of_the_organisation(setup):
    stranger = make_user(setup.workflow, make_org(setup.workflow), Role.interviewer)
    left = make_user(setup.workflow, setup.org, Role.interviewer)
    with setup.workflow.sessions.begin() as session:
        session.get_one(User, left.id).is_active = False
    for user in (stranger, left):
        with pytest.raises(InvalidInput, match=f"user {user.id} is not an active member"):
            setup.schedule(interviewer_ids=[setup.interviewers[0].id, user.id])
    assert interviews_of(setup) == []
    # Any role may interview; a repeated id counts once.
    hr = make_user(setup.workflow, setup.org, Role.hr)
    interview = setup.schedule(interviewer_ids=[hr.id, hr.id])
    with setup.workflow.sessions() as session:
        assert interviews.interviewer_ids(session, interview.id) == [hr.id]


def test_a_closed_application_gets_no_interview(setup):
    setup.workflow.fire(EntityType.application, setup.application.id, "withdraw", STAFF)
    with pytest.raises(GuardFailed) as refused:
        setup.schedule()
    assert refused.value.guard == "application_open"
    assert interviews_of(setup) == []


# --- Reschedule and cancel ----------------------------------------------------------------------


def test_rescheduling_moves_the_reminders_and_raises_the_sequence(setup, seen):
    interview = setup.schedule()
    # Thursday 2 April, 14:00 in Brussels, no end given now.
    moved = setup.reschedule(
        interview, starts_at=datetime(2026, 4, 2, 14, tzinfo=BRUSSELS), ends_at=None
    )
    assert (moved.starts_at, moved.ends_at, moved.sequence) == (utc(2026, 4, 2, 12), None, 1)
    assert pending(setup.workflow, interview) == {
        INTERVIEW_REMINDER: utc(2026, 4, 1, 12),
        FEEDBACK_REMINDER: utc(2026, 4, 3, 13),
    }
    # Moved, not added: still two rows, none cancelled.
    assert len(reminders(setup.workflow, interview)) == 2
    assert [e.name for e in seen if e.name.startswith("interview:")][-1] == "interview:rescheduled"

    # Only the place changes: a new version for the invitation, the reminders stay.
    setup.reschedule(interview, location="", video_link="https://meet.example.org/abc")
    assert setup.reschedule(interview, location="").sequence == 2  # no change: no new version
    assert pending(setup.workflow, interview)[INTERVIEW_REMINDER] == utc(2026, 4, 1, 12)

    # Moved to this afternoon: the reminder before it can no longer be sent, and is cancelled.
    setup.reschedule(interview, starts_at=NOW + timedelta(hours=6))
    assert pending(setup.workflow, interview) == {FEEDBACK_REMINDER: NOW + timedelta(hours=31)}


def test_rescheduling_checks_like_scheduling_and_changes_nothing_when_refused(setup):
    interview = setup.schedule()
    with pytest.raises(InvalidInput) as refused:
        setup.reschedule(interview, ends_at=datetime(2026, 3, 30, 9, tzinfo=BRUSSELS))
    assert refused.value.field == "ends_at"
    with pytest.raises(InvalidInput) as refused:
        setup.reschedule(interview, starts_at=None)
    assert refused.value.field == "starts_at"
    with setup.workflow.sessions() as session:
        stored = session.get_one(Interview, interview.id)
        assert (stored.ends_at, stored.sequence) == (utc(2026, 3, 30, 9, 30), 0)


def test_cancelling_cancels_the_reminders_and_the_sweeper_has_nothing_to_send(setup, seen):
    interview = setup.schedule()
    cancelled = setup.cancel(interview)
    assert cancelled.cancelled_at == NOW
    assert {(kind, status) for kind, status, _ in reminders(setup.workflow, interview)} == {
        (INTERVIEW_REMINDER, DeadlineStatus.cancelled),
        (FEEDBACK_REMINDER, DeadlineStatus.cancelled),
    }
    assert setup.cancel(interview).cancelled_at == NOW  # again: no change
    with pytest.raises(TransitionNotAllowed):
        setup.reschedule(interview, location="Elsewhere")
    with pytest.raises(TransitionNotAllowed):
        setup.feedback(interview, setup.interviewers[0])
    assert setup.sweep(utc(2026, 4, 5)) == SweepResult()  # after both reminders' times
    assert not [e for e in seen if e.name.startswith("reminder:")]


# --- Feedback -----------------------------------------------------------------------------------


def test_each_interviewer_gives_feedback_once_and_then_the_candidate_can_be_accepted(setup):
    interview = setup.schedule()
    first, second = setup.interviewers
    with pytest.raises(GuardFailed) as early:
        setup.feedback(interview, first, now=interview.starts_at - timedelta(minutes=1))
    assert early.value.guard == "interview_started"
    setup.feedback(interview, first)
    with pytest.raises(AlreadyExists):
        setup.feedback(interview, first)
    outsider = make_user(setup.workflow, setup.org, Role.interviewer)
    with pytest.raises(InvalidInput) as refused:
        setup.feedback(interview, outsider)
    assert refused.value.field == "interviewer_id"
    setup.feedback(interview, second)
    with setup.workflow.sessions() as session:
        assert session.scalar(
            select(func.count()).where(Feedback.interview_id == interview.id)
        ) == 2  # fmt: skip

    # The pipeline's has_feedback guard counts it.
    result = setup.workflow.fire(EntityType.application, setup.application.id, "accept", STAFF)
    assert result.to_state == "accepted"


# --- The sweeper --------------------------------------------------------------------------------


def test_the_interview_reminder_goes_to_the_candidate_and_the_interviewers(setup, seen):
    interview = setup.schedule()
    due = pending(setup.workflow, interview)[INTERVIEW_REMINDER]
    assert setup.sweep(due - timedelta(seconds=1)) == SweepResult()

    assert setup.sweep(due) == SweepResult(done=1)

    [event] = [e for e in seen if e.name.startswith("reminder:")]
    assert (event.name, event.entity_type, event.entity_id, event.pipeline, event.at) == (
        "reminder:interview_reminder", EntityType.interview, interview.id, "volunteer", due,
    )  # fmt: skip
    assert event.payload["recipients"] == {
        "candidate_ids": [setup.application.candidate_id],
        "user_ids": setup.interviewer_ids,
    }
    assert event.payload["local_starts_at"] == "2026-03-30T10:00:00+02:00"
    statuses = {k: s for k, s, _ in reminders(setup.workflow, interview)}
    assert statuses == {
        INTERVIEW_REMINDER: DeadlineStatus.done,
        FEEDBACK_REMINDER: DeadlineStatus.pending,
    }


def test_the_feedback_reminder_names_only_those_who_have_not_answered(setup, seen):
    interview = setup.schedule()
    first, second = setup.interviewers
    setup.feedback(interview, first)
    due = pending(setup.workflow, interview)[FEEDBACK_REMINDER]

    assert setup.sweep(due) == SweepResult(done=2)  # the interview reminder was due before

    event = next(e for e in seen if e.name == "reminder:feedback_reminder")
    assert event.payload["recipients"] == {"candidate_ids": [], "user_ids": [second.id]}


def test_the_feedback_reminder_is_skipped_when_everyone_has_answered(setup, seen):
    interview = setup.schedule(starts_at=NOW - timedelta(hours=2), ends_at=None)
    for user in setup.interviewers:
        setup.feedback(interview, user)
    due = pending(setup.workflow, interview)[FEEDBACK_REMINDER]

    assert setup.sweep(due) == SweepResult(skipped=1)

    assert not [e for e in seen if e.name.startswith("reminder:")]
    [deadline] = deadline_rows(setup.workflow, interview)
    assert deadline.status is DeadlineStatus.skipped
    assert "every interviewer" in deadline.last_error


def test_a_withdrawn_candidate_is_not_reminded_of_the_interview(setup, seen):
    interview = setup.schedule()
    setup.workflow.fire(EntityType.application, setup.application.id, "withdraw", STAFF)
    due = pending(setup.workflow, interview)[INTERVIEW_REMINDER]

    assert setup.sweep(due) == SweepResult(skipped=1)

    assert not [e for e in seen if e.name.startswith("reminder:")]
    [(status, error)] = [
        (d.status, d.last_error)
        for d in deadline_rows(setup.workflow, interview)
        if d.kind == INTERVIEW_REMINDER
    ]
    assert status is DeadlineStatus.skipped and "is withdrawn" in error
