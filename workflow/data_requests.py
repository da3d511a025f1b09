"""A candidate asks for a copy of their personal data (GDPR art. 15) from the private status link
of one of their applications.

`request_copy` records it in the caller's transaction:
- one open request per candidate (a partial unique index): asking again while one is open
  returns that one, not new, and changes nothing;
- the answer is due one month later (GDPR art. 12(3): "within one month of receipt of the
  request"), on the calendar: 3 March -> 3 April, 31 January -> the end of February;
- a reminder deadline at that time, on the application whose link was used (so it shows with
  the application's deadlines). Its `state` is DATA_REQUEST, a name no pipeline state has, so no
  transition cancels it: a candidate who withdraws or is rejected is still owed the copy. The
  sweeper publishes `reminder:data_request` for notifications to remind HR, unless it was
  answered;
- the domain event `data_request` (about the application), for notifications to tell HR in the
  same transaction.

The export itself comes later. `answer` records that HR sent the copy (and cancels the
reminder), after which the candidate may ask again. The caller commits; nothing here does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from workflow.context import Actor
from workflow.deadlines import cancel_deadlines, upsert_deadline
from workflow.errors import NotFound
from workflow.events import DomainEvent
from workflow.models import Application, DataRequest, EntityType

if TYPE_CHECKING:
    from workflow.service import Workflow

# The domain event, the reminder deadline's kind, and its `state`.
DATA_REQUEST = "data_request"
ANSWER_WITHIN = relativedelta(months=1)


@dataclass(frozen=True)
class Requested:
    request: DataRequest
    new: bool  # False: an open request was already recorded, and is returned as it is


def open_request(session: Session, candidate_id: int) -> DataRequest | None:
    """The candidate's unanswered request, if any."""
    return session.scalars(
        select(DataRequest).where(
            DataRequest.candidate_id == candidate_id, DataRequest.answered_at.is_(None)
        )
    ).first()


def request_copy(
    session: Session, workflow: Workflow, application_id: int, now: datetime | None = None
) -> Requested:
    """Record the request of the application's candidate, set its deadline and tell HR; or
    return the candidate's open request, unchanged."""
    now = now or workflow.clock()
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound("application", application_id)
    existing = open_request(session, application.candidate_id)
    if existing is not None:
        return Requested(existing, new=False)
    request = DataRequest(
        organisation_id=application.organisation_id,
        candidate_id=application.candidate_id,
        application_id=application_id,
        requested_at=now,
        due_at=now + ANSWER_WITHIN,
    )
    try:
        with session.begin_nested():
            session.add(request)
    except IntegrityError:  # the same candidate asked at the same moment (another tab)
        found = open_request(session, application.candidate_id)
        assert found is not None
        return Requested(found, new=False)
    upsert_deadline(
        session, application.organisation_id, EntityType.application, application_id,
        DATA_REQUEST, request.due_at, event=None, state=DATA_REQUEST, now=now,
    )  # fmt: skip
    workflow.bus.publish(
        session,
        DomainEvent(
            name=DATA_REQUEST,
            organisation_id=application.organisation_id,
            entity_type=EntityType.application,
            entity_id=application_id,
            pipeline=application.pipeline,
            at=now,
            actor=Actor.candidate(application.candidate_id),
            payload=facts(request),
        ),
    )
    return Requested(request, new=True)


def of_candidate(session: Session, candidate_id: int) -> list[DataRequest]:
    """Every request the candidate made, newest first (what HR answers, and answered)."""
    query = select(DataRequest).where(DataRequest.candidate_id == candidate_id)
    return list(session.scalars(query.order_by(DataRequest.requested_at.desc())))


def answer(session: Session, request_id: int, organisation_id: int, now: datetime) -> DataRequest:
    """Record that HR has sent the copy: the reminder is cancelled, and the candidate may ask
    again. Answering an answered request keeps its first answer."""
    request = session.get(DataRequest, request_id)
    if request is None or request.organisation_id != organisation_id:
        raise NotFound("data request", request_id)
    if request.answered_at is None:
        request.answered_at = now
        cancel_deadlines(
            session, EntityType.application, request.application_id, DATA_REQUEST, now,
            kind=DATA_REQUEST,
        )  # fmt: skip
        session.flush()
    return request


def reminder(session: Session, application_id: int) -> tuple[str, dict[str, Any]] | None:
    """The pipeline and payload of the reminder of the open request made from this
    application; None when it has been answered (the reminder is moot)."""
    row = session.execute(
        select(DataRequest, Application.pipeline)
        .join(Application, Application.id == DataRequest.application_id)
        .where(DataRequest.application_id == application_id, DataRequest.answered_at.is_(None))
    ).first()
    if row is None:
        return None
    return row[1], facts(row[0])


def facts(request: DataRequest) -> dict[str, Any]:
    """What the domain events say about the request (notifications put it in the e-mail)."""
    return {
        "data_request_id": request.id,
        "requested_at": request.requested_at.isoformat(),
        "due_at": request.due_at.isoformat(),
    }
