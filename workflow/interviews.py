"""Interviews and feedback: schedule, reschedule, cancel, and one feedback per interviewer.

An interview has no pipeline of its own; it belongs to an application. Its times are stored in
UTC, with the interview's time zone kept for display (and for the invitation). Its two reminders
are Deadline rows (entity `interview`, no event, so the sweeper publishes them as domain events):

- `interview_reminder`, `interview_hours` before the start, to the candidate and the interviewers;
- `feedback_reminder`, `feedback_hours` after the end (or an hour after the start when no end is
  given), to the interviewers who have not given their feedback yet.

A reminder whose time has already passed when the interview is scheduled is not created.
Rescheduling moves the pending reminders (never a second one of a kind) and raises the interview's
`sequence` (the invitation's iCalendar SEQUENCE); cancelling cancels them. Every change publishes
a domain event (`interview:scheduled`, `interview:rescheduled`, `interview:cancelled`,
`interview:feedback`) in the caller's transaction, so notifications can send the invitation.

Choices:
- An interview may be scheduled for an application in any state that is not final: a phone
  screen during `screening` is as common as the meeting of `interview`. A final application
  (rejected, withdrawn, hired...) refuses it, and its pending reminders become moot.
- The start may lie in the past (an interview recorded after it took place), within a year;
  at most two years ahead. An interview lasts at most a day.
- Feedback is given by an interviewer of the interview, once (a second is AlreadyExists), not
  before the interview has started and not on a cancelled one. Cancelled interviews' feedback does
  not count for the `has_feedback` guard.
- The caller commits; nothing here does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from config.settings import known_zone
from workflow.context import Actor
from workflow.deadlines import cancel_deadlines, upsert_deadline
from workflow.errors import (
    AlreadyExists,
    GuardFailed,
    InvalidInput,
    NotFound,
    TransitionNotAllowed,
)
from workflow.events import DomainEvent
from workflow.models import (
    Application,
    EntityType,
    Feedback,
    Interview,
    InterviewInterviewer,
    Posting,
    Recommendation,
    User,
)

if TYPE_CHECKING:
    from workflow.service import Workflow

INTERVIEW_REMINDER = "interview_reminder"
FEEDBACK_REMINDER = "feedback_reminder"
# The `state` of an interview's deadlines: interviews have no pipeline, and cancelling one
# cancels every pending deadline it scheduled under this name.
SCHEDULED = "scheduled"
DEFAULT_LENGTH = timedelta(hours=1)  # when no end is given, for the feedback reminder
MAX_LENGTH = timedelta(days=1)
MAX_PAST = timedelta(days=366)
MAX_AHEAD = timedelta(days=2 * 366)
MAX_INTERVIEWERS = 20
# The fields a reschedule may change; the interviewers stay (cancel and schedule anew to change).
SLOT_FIELDS = ("starts_at", "ends_at", "timezone", "location", "video_link")


@dataclass(frozen=True)
class ReminderHours:
    """How many hours before the start the interview reminder goes, and after the end the
    feedback reminder (the faces pass the settings' values: workflow reads no settings)."""

    interview: int
    feedback: int


@dataclass(frozen=True)
class Slot:
    """When and where: the part of an interview a reschedule may change."""

    starts_at: datetime
    ends_at: datetime | None
    timezone: str
    location: str
    video_link: str


# --- Schedule, reschedule, cancel ---------------------------------------------------------------


def schedule(
    session: Session,
    workflow: Workflow,
    application_id: int,
    *,
    starts_at: datetime,
    ends_at: datetime | None = None,
    timezone: str | None = None,
    location: str = "",
    video_link: str = "",
    interviewer_ids: list[int],
    actor: Actor,
    organisation_id: int,
    reminders: ReminderHours,
    now: datetime | None = None,
) -> Interview:
    """A new interview of the application with its interviewers and reminders. The time zone
    defaults to the posting's. InvalidInput names the field at fault; nothing is written then."""
    now = now or workflow.clock()
    application = _open_application(session, workflow, application_id, organisation_id)
    if timezone is None:
        timezone = _posting_zone(session, application)
    slot = _checked(Slot(starts_at, ends_at, timezone, location, video_link), now)
    interviewers = _checked_interviewers(session, organisation_id, interviewer_ids)
    interview = Interview(
        organisation_id=organisation_id,
        application_id=application_id,
        **vars(slot),
        created_at=now,
    )
    session.add(interview)
    session.flush()
    for user_id in interviewers:
        session.add(InterviewInterviewer(interview_id=interview.id, user_id=user_id))
    session.flush()
    _schedule_reminders(session, interview, reminders, now)
    _publish(session, workflow, interview, application, "scheduled", actor, now)
    return interview


def reschedule(
    session: Session,
    workflow: Workflow,
    interview_id: int,
    changes: Mapping[str, Any],
    *,
    actor: Actor,
    organisation_id: int,
    reminders: ReminderHours,
    now: datetime | None = None,
) -> Interview:
    """Change the time or place (the keys of `changes` among SLOT_FIELDS; ends_at may be None).
    A real change raises `sequence` by one and moves the pending reminders; no change, no-op."""
    now = now or workflow.clock()
    for name in changes:
        if name not in SLOT_FIELDS:
            raise InvalidInput(name, f"cannot be changed; only {', '.join(SLOT_FIELDS)}")
    for name in ("starts_at", "timezone"):
        if name in changes and changes[name] is None:
            raise InvalidInput(name, "may not be null; leave it out to keep it")
    interview = _lock(session, interview_id, organisation_id)
    if interview.cancelled_at is not None:
        raise TransitionNotAllowed("cancelled", "reschedule", [])
    application = _open_application(session, workflow, interview.application_id, organisation_id)
    current = Slot(**{name: getattr(interview, name) for name in SLOT_FIELDS})
    texts = {name: changes[name] or "" for name in ("location", "video_link") if name in changes}
    slot = _checked(Slot(**(vars(current) | dict(changes) | texts)), now)
    if slot == current:
        return interview
    for name, value in vars(slot).items():
        setattr(interview, name, value)
    interview.sequence += 1
    session.flush()
    _schedule_reminders(session, interview, reminders, now)
    _publish(session, workflow, interview, application, "rescheduled", actor, now)
    return interview


def cancel(
    session: Session,
    workflow: Workflow,
    interview_id: int,
    *,
    actor: Actor,
    organisation_id: int,
    reason: str | None = None,
    now: datetime | None = None,
) -> Interview:
    """Cancel the interview and its pending reminders. Cancelling it again changes nothing."""
    now = now or workflow.clock()
    interview = _lock(session, interview_id, organisation_id)
    if interview.cancelled_at is not None:
        return interview
    interview.cancelled_at = now
    interview.sequence += 1  # a cancelled invitation is a new version of the event
    session.flush()
    cancel_deadlines(session, EntityType.interview, interview_id, SCHEDULED, now)
    application = session.get_one(Application, interview.application_id)
    _publish(session, workflow, interview, application, "cancelled", actor, now, reason)
    return interview


def _lock(session: Session, interview_id: int, organisation_id: int) -> Interview:
    """The interview, locked against a concurrent change (FOR NO KEY UPDATE on PostgreSQL)."""
    interview = session.scalars(
        select(Interview)
        .where(Interview.id == interview_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).first()
    if interview is None or interview.organisation_id != organisation_id:
        raise NotFound("interview", interview_id)
    return interview


# --- Feedback -----------------------------------------------------------------------------------


def record_feedback(
    session: Session,
    workflow: Workflow,
    interview_id: int,
    interviewer_id: int,
    recommendation: Recommendation,
    notes: str = "",
    *,
    organisation_id: int,
    now: datetime | None = None,
) -> Feedback:
    """The interviewer's one feedback on the interview (a second is AlreadyExists)."""
    now = now or workflow.clock()
    interview = session.scalars(
        select(Interview)
        .where(Interview.id == interview_id)
        .with_for_update(read=True)  # FOR SHARE: a concurrent cancel waits, or we see it
        .execution_options(populate_existing=True)
    ).first()
    if interview is None or interview.organisation_id != organisation_id:
        raise NotFound("interview", interview_id)
    try:
        recommendation = Recommendation(recommendation)
    except ValueError:
        choices = ", ".join(r.value for r in Recommendation)
        raise InvalidInput(
            "recommendation", f"{recommendation!r} is not one of {choices}"
        ) from None
    if interviewer_id not in interviewer_ids(session, interview_id):
        raise InvalidInput(
            "interviewer_id", f"user {interviewer_id} is not an interviewer of this interview"
        )
    if interview.cancelled_at is not None:
        raise TransitionNotAllowed("cancelled", "feedback", [])
    if now < interview.starts_at:
        raise GuardFailed(
            "interview_started",
            f"the interview starts at {interview.starts_at.isoformat()}; "
            "feedback is given once it has started",
        )
    feedback = Feedback(
        organisation_id=organisation_id,
        interview_id=interview_id,
        interviewer_id=interviewer_id,
        recommendation=recommendation,
        notes=notes,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(feedback)
    except IntegrityError:  # (interview, interviewer) is unique: given already, maybe just now
        raise AlreadyExists(
            "feedback", f"user {interviewer_id} has already given feedback on interview "
            f"{interview_id}; feedback is given once",
        ) from None  # fmt: skip
    application = session.get_one(Application, interview.application_id)
    _publish(
        session, workflow, interview, application, "feedback", Actor.user(interviewer_id), now,
        extra={"interviewer_id": interviewer_id, "recommendation": feedback.recommendation.value},
    )  # fmt: skip
    return feedback


def interviewer_ids(session: Session, interview_id: int) -> list[int]:
    return list(
        session.scalars(
            select(InterviewInterviewer.user_id)
            .where(InterviewInterviewer.interview_id == interview_id)
            .order_by(InterviewInterviewer.user_id)
        )
    )


def waiting_for_feedback(session: Session, interview_id: int) -> list[int]:
    """The interviewers who have not given their feedback yet."""
    given = select(Feedback.interviewer_id).where(Feedback.interview_id == interview_id)
    return list(
        session.scalars(
            select(InterviewInterviewer.user_id)
            .where(
                InterviewInterviewer.interview_id == interview_id,
                InterviewInterviewer.user_id.not_in(given),
            )
            .order_by(InterviewInterviewer.user_id)
        )
    )


# --- Reminders ----------------------------------------------------------------------------------


def reminder_times(interview: Interview, reminders: ReminderHours) -> dict[str, datetime]:
    """When each reminder of the interview falls due."""
    ends_at = interview.ends_at or interview.starts_at + DEFAULT_LENGTH
    return {
        INTERVIEW_REMINDER: interview.starts_at - timedelta(hours=reminders.interview),
        FEEDBACK_REMINDER: ends_at + timedelta(hours=reminders.feedback),
    }


def _schedule_reminders(
    session: Session, interview: Interview, reminders: ReminderHours, now: datetime
) -> None:
    """Create or move each reminder; one whose time has passed is not sent (and a pending one
    of that kind, set for the old time, is cancelled)."""
    assert interview.id is not None
    for kind, due_at in reminder_times(interview, reminders).items():
        if due_at <= now:
            cancel_deadlines(session, EntityType.interview, interview.id, SCHEDULED, now, kind=kind)
            continue
        upsert_deadline(
            session, interview.organisation_id, EntityType.interview, interview.id, kind, due_at,
            event=None, state=SCHEDULED, now=now,
        )  # fmt: skip


@dataclass(frozen=True)
class Reminder:
    """What the sweeper publishes for one of an interview's reminders, or why it is moot."""

    pipeline: str
    payload: dict[str, Any]
    moot: str | None = None


def reminder(session: Session, workflow: Workflow, interview_id: int, kind: str) -> Reminder:
    """Who an interview's reminder of `kind` goes to, as the payload of its domain event:
    `recipients` = {"candidate_ids": [...], "user_ids": [...]}. Moot when the interview was
    cancelled, its application reached a final state, or (feedback) everyone has answered."""
    interview = session.get(Interview, interview_id, populate_existing=True)
    if interview is None:
        raise NotFound("interview", interview_id)
    application = session.get_one(Application, interview.application_id)
    if kind == INTERVIEW_REMINDER:
        recipients = {
            "candidate_ids": [application.candidate_id],
            "user_ids": interviewer_ids(session, interview_id),
        }
    elif kind == FEEDBACK_REMINDER:
        recipients = {"candidate_ids": [], "user_ids": waiting_for_feedback(session, interview_id)}
    else:
        raise ValueError(f"interview {interview_id}: unknown reminder kind {kind!r}")
    found = Reminder(
        application.pipeline, _facts(interview, application) | {"recipients": recipients}
    )
    if interview.cancelled_at is not None:
        return _moot(found, f"interview {interview_id} was cancelled")
    if workflow.pipelines[application.pipeline].is_final(application.state):
        return _moot(found, f"application {application.id} is {application.state}")
    if kind == FEEDBACK_REMINDER and not recipients["user_ids"]:
        return _moot(found, f"every interviewer of interview {interview_id} has given feedback")
    return found


def _moot(found: Reminder, why: str) -> Reminder:
    return Reminder(found.pipeline, found.payload, why)


# --- Checks -------------------------------------------------------------------------------------


def _open_application(
    session: Session, workflow: Workflow, application_id: int, organisation_id: int
) -> Application:
    application = session.get(Application, application_id)
    if application is None or application.organisation_id != organisation_id:
        raise NotFound("application", application_id)
    if workflow.pipelines[application.pipeline].is_final(application.state):
        raise GuardFailed(
            "application_open",
            f"application {application_id} is {application.state}: "
            "a closed application has no interviews scheduled or moved",
        )
    return application


def _posting_zone(session: Session, application: Application) -> str:
    return session.get_one(Posting, application.posting_id).timezone


def _checked(slot: Slot, now: datetime) -> Slot:
    """The slot with its times in UTC, or InvalidInput naming the field at fault."""
    try:
        zone = known_zone(slot.timezone)
    except ValueError as exc:
        raise InvalidInput("timezone", str(exc)) from None
    starts_at = _aware("starts_at", slot.starts_at)
    if not now - MAX_PAST <= starts_at <= now + MAX_AHEAD:
        raise InvalidInput(
            "starts_at", "must be within a year in the past and two years ahead of now"
        )
    ends_at = None if slot.ends_at is None else _aware("ends_at", slot.ends_at)
    if ends_at is not None and not starts_at < ends_at <= starts_at + MAX_LENGTH:
        raise InvalidInput("ends_at", "must be after starts_at, and at most a day after it")
    location = slot.location.strip()
    video_link = slot.video_link.strip()
    if video_link:
        _check_link(video_link)
    if not location and not video_link:
        raise InvalidInput("location", "give a location or a video link (or both)")
    return Slot(starts_at, ends_at, zone, location, video_link)


def _aware(field: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput(field, f"{value!r} is not a date and time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            field, "needs a time zone offset (like 2025-03-03T10:00:00+01:00 or ...Z)"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:  # the first or last hours of year 1 or 9999
        raise InvalidInput(field, "is out of range") from None


def _check_link(link: str) -> None:
    parts = urlsplit(link)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in link):
        raise InvalidInput(
            "video_link", "must be an http(s) address, like https://meet.example.org/x"
        )


def _checked_interviewers(session: Session, organisation_id: int, user_ids: list[int]) -> list[int]:
    """The ids, once each, each an active user of the organisation (any role may interview)."""
    unique = list(dict.fromkeys(user_ids))
    if not unique:
        raise InvalidInput("interviewer_ids", "name at least one interviewer")
    if len(unique) > MAX_INTERVIEWERS:
        raise InvalidInput("interviewer_ids", f"at most {MAX_INTERVIEWERS} interviewers")
    found = set(
        session.scalars(
            select(User.id).where(
                User.id.in_(unique),
                User.organisation_id == organisation_id,
                User.is_active.is_(True),
            )
        )
    )
    for user_id in unique:
        if user_id not in found:
            raise InvalidInput(
                "interviewer_ids", f"user {user_id} is not an active member of your organisation"
            )
    return unique


# --- Events -------------------------------------------------------------------------------------


def _facts(interview: Interview, application: Application) -> dict[str, Any]:
    """What every interview event and reminder says about the interview."""
    local = interview.starts_at.astimezone(ZoneInfo(interview.timezone))
    return {
        "interview_id": interview.id,
        "application_id": application.id,
        "candidate_id": application.candidate_id,
        "starts_at": interview.starts_at.isoformat(),
        "local_starts_at": local.isoformat(),
        "ends_at": interview.ends_at.isoformat() if interview.ends_at else None,
        "timezone": interview.timezone,
        "location": interview.location,
        "video_link": interview.video_link,
        "sequence": interview.sequence,
    }


def _publish(
    session: Session,
    workflow: Workflow,
    interview: Interview,
    application: Application,
    what: str,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    *,
    extra: dict[str, Any] | None = None,
) -> None:
    assert interview.id is not None
    payload = _facts(interview, application) | {
        "interviewer_ids": interviewer_ids(session, interview.id)
    }
    workflow.bus.publish(
        session,
        DomainEvent(
            name=f"interview:{what}",
            organisation_id=interview.organisation_id,
            entity_type=EntityType.interview,
            entity_id=interview.id,
            pipeline=application.pipeline,
            at=now,
            actor=actor,
            reason=reason,
            payload=payload | (extra or {}),
        ),
    )
