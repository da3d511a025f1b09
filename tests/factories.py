"""Factories for test data, all going through the transition service like any other caller."""

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from workflow.context import Actor
from workflow.models import (
    Application,
    CandidateCreate,
    EntityType,
    Feedback,
    Interview,
    InterviewInterviewer,
    Organisation,
    Posting,
    PostingCreate,
    Recommendation,
    Role,
    User,
)
from workflow.service import Workflow

_serial = itertools.count(1)
STAFF = Actor.user(1)


def now() -> datetime:
    return datetime.now(UTC)


def make_org(workflow: Workflow, **fields: Any) -> Organisation:
    n = next(_serial)
    with workflow.sessions.begin() as session:
        org = Organisation(
            slug=f"org-{n}-{now().timestamp():.0f}", name=f"Organisation {n}", created_at=now()
        )
        for key, value in fields.items():
            setattr(org, key, value)
        session.add(org)
    return org


def make_user(workflow: Workflow, org: Organisation, role: Role = Role.recruiter) -> User:
    n = next(_serial)
    with workflow.sessions.begin() as session:
        user = User(
            organisation_id=org.id,
            email=f"user{n}@example.org",
            name=f"User {n}",
            role=role,
            created_at=now(),
        )
        session.add(user)
    return user


def make_posting(
    workflow: Workflow,
    org: Organisation,
    *,
    pipeline: str = "volunteer",
    publish: bool = True,
    owner_id: int | None = None,
    **fields: Any,
) -> Posting:
    """A posting of the given pipeline, published unless publish=False."""
    n = next(_serial)
    data = {
        "ref": f"call-{n}",
        "kind": "volunteer" if pipeline == "volunteer" else "staff",
        "title": f"Call {n}",
        "pipeline": pipeline,
        "closes_on": date.today() + timedelta(days=60),
    } | fields
    with workflow.sessions.begin() as session:
        posting = workflow.create_posting_in(
            session, org.id, PostingCreate(**data), STAFF, owner_id=owner_id
        )
    if publish:
        workflow.fire(EntityType.posting, posting.id, "publish", STAFF)
    return posting


def make_application(
    workflow: Workflow, posting: Posting, *, email: str | None = None, language: str = "fr"
) -> Application:
    n = next(_serial)
    person = CandidateCreate(
        first_name=f"Prénom{n}",
        last_name=f"Nom{n}",
        email=email or f"candidate{n}@example.org",
        language=language,
    )
    with workflow.sessions.begin() as session:
        return workflow.apply_in(session, posting.id, person)


def add_feedback(
    workflow: Workflow,
    application: Application,
    interviewer: User,
    recommendation: Recommendation = Recommendation.yes,
) -> Feedback:
    """An interview of the application with one interviewer's feedback."""
    with workflow.sessions.begin() as session:
        interview = Interview(
            organisation_id=application.organisation_id,
            application_id=application.id,
            starts_at=now(),
            created_at=now(),
        )
        session.add(interview)
        session.flush()
        session.add(InterviewInterviewer(interview_id=interview.id, user_id=interviewer.id))
        feedback = Feedback(
            organisation_id=application.organisation_id,
            interview_id=interview.id,
            interviewer_id=interviewer.id,
            recommendation=recommendation,
            created_at=now(),
        )
        session.add(feedback)
    return feedback
