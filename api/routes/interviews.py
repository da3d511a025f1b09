"""Interviews and feedback: schedule, reschedule, cancel; each interviewer records one feedback.

Who sees what (on top of api/access.py):
- an interview is visible to whoever sees its application, except that a user with the
  `interviewer` role sees only the interviews they are on; anyone listed on an interview sees it;
- feedback: admin, HR and recruiters who see the application read every feedback; an
  interviewer (or anyone who sees the interview only by being on it) reads their own only;
- scheduling, moving and cancelling take a manager of the application's posting (403 for those
  who only see it); giving feedback takes being one of the interview's interviewers, any role
  (403 for others who see the interview).
Anything not visible answers 404, another organisation's interview included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlmodel import Session

from api.access import get_application, managed_application, may_manage, visible_applications
from api.deps import MAX_ID, ContainerDep, CurrentUser, IdPath
from api.problems import forbidden, not_found
from api.security import Principal
from api.wiring import Container
from workflow import interviews
from workflow.models import (
    Application,
    Feedback,
    Interview,
    InterviewInterviewer,
    Recommendation,
    Role,
    User,
)

router = APIRouter(tags=["interviews"])
NOTES_MAX = 10_000


class InterviewIn(BaseModel):
    starts_at: datetime = Field(description="With its offset, e.g. 2025-03-03T10:00:00+01:00.")
    ends_at: datetime | None = Field(None, description="Optional; after starts_at.")
    timezone: str | None = Field(
        None, max_length=64, description="IANA zone for display; default: the posting's."
    )
    location: str = Field("", max_length=255, description="The place (or a video link, or both).")
    video_link: str = Field("", max_length=1024, description="An http(s) address.")
    interviewer_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=interviews.MAX_INTERVIEWERS
    )


class InterviewChange(BaseModel):
    """The fields to change; the ones left out stay. `ends_at: null` removes the end."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = Field(None, max_length=64)
    location: str | None = Field(None, max_length=255)
    video_link: str | None = Field(None, max_length=1024)


class CancelIn(BaseModel):
    reason: str | None = Field(None, max_length=2000)


class FeedbackIn(BaseModel):
    recommendation: Recommendation
    notes: str = Field("", max_length=NOTES_MAX)


class InterviewerOut(BaseModel):
    id: int
    name: str
    feedback_given: bool


class FeedbackOut(BaseModel):
    id: int
    interview_id: int
    interviewer_id: int
    interviewer_name: str
    recommendation: Recommendation
    notes: str
    created_at: datetime


class InterviewOut(BaseModel):
    id: int
    application_id: int
    starts_at: datetime = Field(description="UTC.")
    ends_at: datetime | None
    timezone: str
    local_starts_at: datetime = Field(description="The start in the interview's time zone.")
    local_ends_at: datetime | None
    location: str
    video_link: str
    sequence: int = Field(description="Raised by each reschedule (the invitation's SEQUENCE).")
    cancelled_at: datetime | None
    created_at: datetime
    interviewers: list[InterviewerOut]
    feedback: list[FeedbackOut] = Field(
        description="Every feedback for admin, HR and recruiters; your own for interviewers."
    )


# --- Routes -------------------------------------------------------------------------------------


@router.post(
    "/applications/{application_id}/interviews",
    status_code=201,
    summary="Schedule an interview of the application.",
)
def schedule_interview(
    application_id: IdPath, body: InterviewIn, user: CurrentUser, container: ContainerDep
) -> InterviewOut:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        managed_application(session, user, application_id)
        interview = interviews.schedule(
            session, workflow, application_id,
            **body.model_dump(), actor=user.actor, organisation_id=user.organisation_id,
            reminders=_reminders(container),
        )  # fmt: skip
        return _out(session, user, interview)


@router.get(
    "/applications/{application_id}/interviews",
    summary="The application's interviews you can see, with interviewers and feedback.",
)
def list_interviews(
    application_id: IdPath, user: CurrentUser, container: ContainerDep
) -> list[InterviewOut]:
    with container.workflow.sessions.begin() as session:
        get_application(session, user, application_id)
        found = session.scalars(
            select(Interview)
            .where(Interview.application_id == application_id, _visible(user))
            .order_by(Interview.starts_at, Interview.id)
        ).all()
        return [_out(session, user, interview) for interview in found]


@router.get("/interviews/{interview_id}", summary="One interview.")
def read_interview(
    interview_id: IdPath, user: CurrentUser, container: ContainerDep
) -> InterviewOut:
    with container.workflow.sessions.begin() as session:
        return _out(session, user, _get(session, user, interview_id))


@router.patch(
    "/interviews/{interview_id}",
    summary="Reschedule: change the time or place (raises the sequence, moves the reminders).",
)
def reschedule_interview(
    interview_id: IdPath, body: InterviewChange, user: CurrentUser, container: ContainerDep
) -> InterviewOut:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        _managed(session, user, interview_id)
        interview = interviews.reschedule(
            session, workflow, interview_id, body.model_dump(exclude_unset=True),
            actor=user.actor, organisation_id=user.organisation_id,
            reminders=_reminders(container),
        )  # fmt: skip
        return _out(session, user, interview)


@router.post(
    "/interviews/{interview_id}/cancel",
    summary="Cancel the interview and its reminders (again: no change).",
)
def cancel_interview(
    interview_id: IdPath,
    user: CurrentUser,
    container: ContainerDep,
    body: Annotated[CancelIn | None, Body()] = None,
) -> InterviewOut:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        _managed(session, user, interview_id)
        interview = interviews.cancel(
            session, workflow, interview_id, actor=user.actor,
            organisation_id=user.organisation_id, reason=(body or CancelIn()).reason,
        )  # fmt: skip
        return _out(session, user, interview)


@router.put(
    "/interviews/{interview_id}/feedback",
    status_code=201,
    summary="Give your feedback on an interview you were on (once).",
    responses={
        409: {"description": "Given already, the interview is cancelled or has not started"}
    },
)
def give_feedback(
    interview_id: IdPath, body: FeedbackIn, user: CurrentUser, container: ContainerDep
) -> FeedbackOut:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        _get(session, user, interview_id)
        if user.user_id not in interviews.interviewer_ids(session, interview_id):
            raise forbidden("only the interview's interviewers give feedback on it")
        feedback = interviews.record_feedback(
            session, workflow, interview_id, user.user_id, body.recommendation, body.notes,
            organisation_id=user.organisation_id,
        )  # fmt: skip
        return _feedback_out(feedback, user.name)


# --- Visibility ---------------------------------------------------------------------------------


def _on_it(user: Principal) -> ColumnElement[bool]:
    return exists().where(
        InterviewInterviewer.interview_id == Interview.id,
        InterviewInterviewer.user_id == user.user_id,
    )


def _visible(user: Principal) -> ColumnElement[bool]:
    mine = Interview.organisation_id == user.organisation_id
    if user.sees_everything:
        return mine
    if user.role is Role.interviewer:
        return and_(mine, _on_it(user))
    seen = select(Application.id).where(visible_applications(user))
    return and_(mine, or_(_on_it(user), Interview.application_id.in_(seen)))


def _get(session: Session, user: Principal, interview_id: int) -> Interview:
    interview = session.scalars(
        select(Interview).where(Interview.id == interview_id, _visible(user))
    ).first()
    if interview is None:
        raise not_found("interview", interview_id)
    return interview


def _managed(session: Session, user: Principal, interview_id: int) -> Interview:
    """An interview the user may move or cancel: 404 when they cannot see it, 403 when they
    only see it (an interviewer, a recruiter of another posting)."""
    interview = _get(session, user, interview_id)
    application = session.get_one(Application, interview.application_id)
    if not may_manage(session, user, application.posting_id):
        raise forbidden("only admin, HR and the posting's recruiters schedule its interviews")
    return interview


def _sees_all_feedback(session: Session, user: Principal, application_id: int) -> bool:
    """Staff who see the application as its managers or HR; not interviewers."""
    if user.role is Role.interviewer:
        return False
    found = session.scalar(
        select(Application.id).where(Application.id == application_id, visible_applications(user))
    )
    return found is not None


# --- Answers ------------------------------------------------------------------------------------


def _reminders(container: Container) -> interviews.ReminderHours:
    settings = container.settings
    return interviews.ReminderHours(
        interview=settings.interview_reminder_hours, feedback=settings.feedback_reminder_hours
    )


def _out(session: Session, user: Principal, interview: Interview) -> InterviewOut:
    zone = ZoneInfo(interview.timezone)
    names = dict(
        session.execute(
            select(User.id, User.name)
            .join(InterviewInterviewer, InterviewInterviewer.user_id == User.id)
            .where(InterviewInterviewer.interview_id == interview.id)
        ).all()
    )
    feedback = session.scalars(
        select(Feedback).where(Feedback.interview_id == interview.id).order_by(Feedback.id)
    ).all()
    given = {f.interviewer_id for f in feedback}
    if not _sees_all_feedback(session, user, interview.application_id):
        feedback = [f for f in feedback if f.interviewer_id == user.user_id]
    return InterviewOut(
        **interview.model_dump(),
        local_starts_at=interview.starts_at.astimezone(zone),
        local_ends_at=interview.ends_at.astimezone(zone) if interview.ends_at else None,
        interviewers=[
            InterviewerOut(id=uid, name=name, feedback_given=uid in given)
            for uid, name in sorted(names.items())
        ],
        feedback=[_feedback_out(f, names.get(f.interviewer_id, "")) for f in feedback],
    )


def _feedback_out(feedback: Feedback, name: str) -> FeedbackOut:
    data: dict[str, Any] = feedback.model_dump(include=set(FeedbackOut.model_fields))
    return FeedbackOut(**data, interviewer_name=name)
