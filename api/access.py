"""Who sees what, as SQL conditions: one place decides, every route and list uses it.

- admin, hr: everything of their organisation;
- recruiter: the postings they own or are assigned to, and those postings' applications, plus
  (read-only) the applications they interview and those applications' postings;
- interviewer: the applications they interview (and those applications' postings).
Anything outside answers 404, exactly as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlmodel import Session

from api.problems import forbidden, not_found
from api.security import Principal
from workflow.models import (
    Application,
    Interview,
    InterviewInterviewer,
    Posting,
    PostingAssignment,
    Role,
)


def _interviews_of(user: Principal) -> Any:
    return (
        select(Interview.application_id)
        .join(InterviewInterviewer, InterviewInterviewer.interview_id == Interview.id)
        .where(InterviewInterviewer.user_id == user.user_id)
    )


def _managed_postings(user: Principal) -> ColumnElement[bool]:
    assigned = exists().where(
        PostingAssignment.posting_id == Posting.id, PostingAssignment.user_id == user.user_id
    )
    return or_(Posting.owner_id == user.user_id, assigned)


def visible_postings(user: Principal) -> ColumnElement[bool]:
    mine = Posting.organisation_id == user.organisation_id
    if user.sees_everything:
        return mine
    interviewed = Posting.id.in_(
        select(Application.posting_id).where(Application.id.in_(_interviews_of(user)))
    )
    if user.role is Role.recruiter:  # a recruiter may also sit on another posting's panel
        return and_(mine, or_(_managed_postings(user), interviewed))
    return and_(mine, interviewed)


def visible_applications(user: Principal) -> ColumnElement[bool]:
    mine = Application.organisation_id == user.organisation_id
    if user.sees_everything:
        return mine
    interviewed = Application.id.in_(_interviews_of(user))
    if user.role is Role.recruiter:
        managed = select(Posting.id).where(manages(user))
        return and_(mine, or_(Application.posting_id.in_(managed), interviewed))
    return and_(mine, interviewed)


def manages(user: Principal) -> ColumnElement[bool]:
    """Postings this user may change (and whose applications they may move)."""
    if user.sees_everything:
        return Posting.organisation_id == user.organisation_id
    if user.role is Role.recruiter:
        return and_(Posting.organisation_id == user.organisation_id, _managed_postings(user))
    return ~true()


def get_posting(session: Session, user: Principal, posting_id: int) -> Posting:
    posting = session.scalars(
        select(Posting).where(Posting.id == posting_id, visible_postings(user))
    ).first()
    if posting is None:
        raise not_found("posting", posting_id)
    return posting


def get_application(session: Session, user: Principal, application_id: int) -> Application:
    application = session.scalars(
        select(Application).where(Application.id == application_id, visible_applications(user))
    ).first()
    if application is None:
        raise not_found("application", application_id)
    return application


def may_manage(session: Session, user: Principal, posting_id: int) -> bool:
    found = session.scalar(select(Posting.id).where(Posting.id == posting_id, manages(user)))
    return found is not None


def managed_posting(session: Session, user: Principal, posting_id: int) -> Posting:
    """A posting the user may change: 404 when they cannot see it, 403 when they only see it."""
    posting = get_posting(session, user, posting_id)
    if not may_manage(session, user, posting_id):
        raise forbidden("only admin, HR and the posting's recruiters change it")
    return posting


def managed_application(session: Session, user: Principal, application_id: int) -> Application:
    """An application the user may move: 404 when they cannot see it, 403 when they only see it."""
    application = get_application(session, user, application_id)
    if not may_manage(session, user, application.posting_id):
        raise forbidden("only admin, HR and the posting's recruiters move its applications")
    return application
