"""Retention: personal data is not kept longer than its purpose needs (issue 5).

The pipeline files declare a `retention` deadline on the final states that end a candidacy
(rejected, withdrawn, offer declined): 6 months after entering the state, 24 for a candidate who
consented to the talent pool. The sweeper then runs the action `anonymise` here, as `system`, in
the deadline's own transaction:

- the application's documents: rows deleted, files removed from the storage folder (before the
  commit: a rollback leaves rows whose files are gone, and the retry finishes the job, whereas
  removing them after would leave personal files behind after a crash);
- its notes' bodies become REMOVED_NOTE (author and time stay), its interviews' feedback notes
  are blanked (the recommendation stays), its screening assessment is cleared and its status
  link revoked;
- the candidate (name, e-mail, phone, consents) is anonymised only when none of their other
  applications still needs them: one still open, one waiting for its own retention deadline, or
  one that ended in a state without retention (hired, completed, ended early: a personnel file,
  kept under another regime). Otherwise the candidate is kept, and the deadline says why.

The history (transition_record) is never touched, nor the application's state or the counts:
the facts stay, so the reports count the same before and after. A domain event `anonymised` is
published in the same transaction, for the parts that hold copies (notifications: the outbox's
bodies and recipients, the `.eml` files) to scrub their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlmodel import Session

from workflow.context import Actor
from workflow.documents import delete_files
from workflow.events import DomainEvent
from workflow.models import (
    Application,
    Candidate,
    Deadline,
    DeadlineStatus,
    Document,
    EntityType,
    Feedback,
    Interview,
    Note,
)

if TYPE_CHECKING:
    from workflow.pipeline import Pipeline
    from workflow.service import Workflow

ANONYMISE = "anonymise"
ANONYMISED_EVENT = "anonymised"
REMOVED_NOTE = "[removed: retention]"
TALENT_POOL = "talent_pool"


class Busy(Exception):
    """A row the action needs is held by a change under way: leave the deadline for later."""


@dataclass(frozen=True)
class Anonymised:
    candidate_id: int
    candidate_anonymised: bool
    documents_deleted: int
    candidate_kept_because: str | None  # None when the candidate was anonymised


def in_talent_pool(session: Session, candidate_id: int) -> bool:
    """Whether the candidate consented to be kept in the talent pool."""
    candidate = session.get(Candidate, candidate_id)
    return candidate is not None and any(
        consent.get("kind") == TALENT_POOL for consent in candidate.consents
    )


def has_retention(pipeline: Pipeline, state: str) -> bool:
    """Whether entering `state` schedules an anonymisation."""
    return any(spec.action == ANONYMISE for spec in pipeline.states[state].deadlines)


def anonymise_application(
    session: Session,
    workflow: Workflow,
    application_id: int,
    now: datetime,
    *,
    reason: str = "retention",
) -> Anonymised:
    """Scrub the application's personal data (and its candidate's, when no other application
    needs them) in the caller's transaction; the caller has locked the application. Raises Busy
    when the candidate row is held by another transaction."""
    application = session.get(Application, application_id, populate_existing=True)
    if application is None:
        raise LookupError(f"application {application_id} not found")
    candidate = session.scalars(
        select(Candidate)
        .where(Candidate.id == application.candidate_id)
        .with_for_update(skip_locked=True)  # two retentions of one candidate: one at a time
        .execution_options(populate_existing=True)
    ).first()
    if candidate is None:
        raise Busy(f"candidate {application.candidate_id} is being changed")
    storage_names = session.scalars(
        select(Document.storage_name).where(Document.application_id == application_id)
    ).all()
    if storage_names and workflow.storage_dir is None:
        raise RuntimeError("documents to delete, but the workflow has no storage folder")
    documents = _scrub_application(session, application)
    kept_because = _needed_elsewhere(session, workflow, application)
    if kept_because is None:
        _anonymise_candidate(candidate, now)
    session.flush()
    result = Anonymised(candidate.id, kept_because is None, documents, kept_because)
    workflow.bus.publish(session, _event(application, result, reason, now))
    if storage_names:
        assert workflow.storage_dir is not None
        delete_files(workflow.storage_dir, storage_names)
    return result


def _scrub_application(session: Session, application: Application) -> int:
    """The application's own personal data; returns how many documents were deleted."""
    documents = session.execute(
        delete(Document).where(Document.application_id == application.id)
    ).rowcount
    session.execute(
        update(Note).where(Note.application_id == application.id).values(body=REMOVED_NOTE)
    )
    interviews = select(Interview.id).where(Interview.application_id == application.id)
    session.execute(update(Feedback).where(Feedback.interview_id.in_(interviews)).values(notes=""))
    application.assessment = {}
    application.status_token = None
    return documents


def _needed_elsewhere(session: Session, workflow: Workflow, application: Application) -> str | None:
    """Why another application of the same candidate still needs their personal data, or None."""
    others = session.execute(
        select(Application.id, Application.pipeline, Application.state)
        .where(
            Application.candidate_id == application.candidate_id,
            Application.id != application.id,
        )
        .order_by(Application.id)
    ).all()
    if not others:
        return None
    waiting = set(
        session.scalars(
            select(Deadline.entity_id).where(
                Deadline.entity_type == EntityType.application,
                Deadline.entity_id.in_([other.id for other in others]),
                Deadline.status == DeadlineStatus.pending,
                Deadline.action == ANONYMISE,
            )
        )
    )
    for other in others:
        pipeline = workflow.pipelines[other.pipeline]
        if not pipeline.is_final(other.state):
            return f"application {other.id} is still open ({other.state})"
        if other.id in waiting:
            return f"application {other.id} ({other.state}) waits for its own retention deadline"
        if not has_retention(pipeline, other.state):
            return f"application {other.id} ended {other.state}, whose data is kept"
    return None


def _anonymise_candidate(candidate: Candidate, now: datetime) -> None:
    placeholder = f"anonymised-{candidate.id}@invalid"
    candidate.first_name = ""
    candidate.last_name = ""
    candidate.email = placeholder
    candidate.email_normalised = placeholder
    candidate.phone = ""
    candidate.consents = []
    candidate.anonymised_at = candidate.anonymised_at or now


def _event(application: Application, result: Anonymised, reason: str, now: datetime) -> DomainEvent:
    assert application.id is not None
    return DomainEvent(
        name=ANONYMISED_EVENT,
        organisation_id=application.organisation_id,
        entity_type=EntityType.application,
        entity_id=application.id,
        pipeline=application.pipeline,
        at=now,
        actor=Actor.system(),
        reason=reason,
        payload={
            "candidate_id": result.candidate_id,
            "candidate_anonymised": result.candidate_anonymised,
            "documents_deleted": result.documents_deleted,
        },
    )


# --- Deadline actions -----------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineAction:
    """A named domain action a deadline may run (`action = NAME` in a pipeline file), on
    entities of one type. `run` gets the claimed deadline row and returns a note to keep on it."""

    entity: EntityType
    run: Callable[[Session, Workflow, Any, datetime], str | None]


def _anonymise_deadline(
    session: Session, workflow: Workflow, row: Any, now: datetime
) -> str | None:
    result = anonymise_application(
        session, workflow, row.entity_id, now, reason=f"deadline {row.kind}"
    )
    if result.candidate_kept_because is None:
        return None
    return f"candidate {result.candidate_id} kept: {result.candidate_kept_because}"


ACTIONS: dict[str, DeadlineAction] = {
    ANONYMISE: DeadlineAction(EntityType.application, _anonymise_deadline),
}
