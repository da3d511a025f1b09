"""Retention reaches the outbox: when an application is anonymised (workflow/retention.py
publishes `anonymised` in its own transaction), the e-mails about it lose what they said.

Every message about the application is scrubbed — to the candidate, and to staff too, whose
"new application from ..." names the candidate: subject, bodies and attachments become SCRUBBED.
So does the posting's own mail sent since the candidate applied (the summary of a closed call
lists, by name, who was still waiting; it is scrubbed whole).
The candidate's own messages also lose their recipient (an `@invalid` placeholder, the one the
candidate row gets) and their last error (an SMTP refusal quotes the address). When the
candidate is anonymised, every message about any of their applications and every message to them
goes the same way. The status, template and times stay: HR still sees that a message was sent, and
when. A message still queued is cancelled instead (there is nothing left to send), and the
`.eml` copies the folder backend wrote are deleted.

The files go before the commit, as the documents' do: a rollback leaves rows whose copy is gone
(the retried deadline scrubs them again), never a personal file behind a committed scrub.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, and_, false, or_, select, update
from sqlmodel import Session

from config.settings import Settings
from notifications.models import MessageStatus, OutboxMessage, RecipientKind
from workflow.events import DomainEvent, EventBus
from workflow.models import Application, Deadline, EntityType, TransitionRecord
from workflow.retention import ANONYMISED_EVENT, REMOVED_NOTE

SCRUBBED = REMOVED_NOTE  # what a scrubbed subject and body say
NEVER_SENT = "scrubbed by retention before it was sent"


def subscribe(bus: EventBus, settings: Settings) -> None:
    """Scrub the outbox (and the .eml folder) whenever retention anonymises an application."""
    mail_dir = settings.effective_mail_dir

    def on_event(session: Session, event: DomainEvent) -> None:
        if event.name == ANONYMISED_EVENT:
            scrub_messages(
                session,
                event.organisation_id,
                event.entity_id,
                event.payload["candidate_id"],
                candidate_anonymised=bool(event.payload.get("candidate_anonymised")),
                mail_dir=mail_dir,
            )

    bus.subscribe(on_event)


def eml_path(mail_dir: Path, message_id: int) -> Path:
    """Where the folder backend writes a message: one file per outbox row."""
    return mail_dir / f"{message_id:08d}.eml"


def is_scrubbed(message: OutboxMessage) -> bool:
    return message.text_body == SCRUBBED


def candidate_address(candidate_id: int) -> str:
    """The placeholder workflow/retention.py gives an anonymised candidate's e-mail."""
    return f"anonymised-{candidate_id}@invalid"


def scrub_messages(
    session: Session,
    organisation_id: int,
    application_id: int,
    candidate_id: int,
    *,
    candidate_anonymised: bool,
    mail_dir: Path,
) -> list[int]:
    """Scrub the messages about the application (about all the candidate's when they are
    anonymised) in the caller's transaction; returns their ids."""
    about = _about(session, application_id, candidate_id, candidate_anonymised)
    ids = session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.organisation_id == organisation_id, about)
    ).all()
    if not ids:
        return []
    _blank(session, ids, candidate_id)
    delete_emls(mail_dir, ids)
    return list(ids)


def _about(
    session: Session, application_id: int, candidate_id: int, candidate_anonymised: bool
) -> ColumnElement[bool]:
    """The messages to scrub: about the application, or about any of the candidate's and to
    them; and their postings' own messages sent since they applied."""
    query = select(Application.id, Application.posting_id, Application.created_at)
    if candidate_anonymised:
        query = query.where(Application.candidate_id == candidate_id)
    else:
        query = query.where(Application.id == application_id)
    applications = session.execute(query).all()
    about = [OutboxMessage.application_id.in_([a.id for a in applications])]
    about += [_posting_messages(session, a.posting_id, a.created_at) for a in applications]
    if candidate_anonymised:
        about.append(
            and_(
                OutboxMessage.recipient_kind == RecipientKind.candidate,
                OutboxMessage.recipient_id == candidate_id,
            )
        )
    return or_(*about)


def _posting_messages(session: Session, posting_id: int, since: datetime) -> ColumnElement[bool]:
    """A posting's own messages since `since`: a closed call's summary to its owner names who
    was still waiting, and cannot be scrubbed of one name only, so it goes whole. They carry no
    application; their source is in the deduplication key (notifications/queue.py dedup_key):
    one of the posting's transition records, or deadlines."""
    of_posting = {"entity_type": EntityType.posting, "entity_id": posting_id}
    records = session.scalars(
        select(TransitionRecord.id).filter_by(**of_posting).where(TransitionRecord.at >= since)
    ).all()
    deadlines = session.scalars(
        select(Deadline.id).filter_by(**of_posting).where(Deadline.due_at >= since)
    ).all()
    sources = [f"transition:{r}:" for r in records] + [f"deadline:{d}:" for d in deadlines]
    if not sources:
        return false()
    return and_(
        OutboxMessage.application_id.is_(None),
        or_(*(OutboxMessage.dedup_key.startswith(source) for source in sources)),
    )


def _blank(session: Session, ids: Sequence[int], candidate_id: int) -> None:
    chosen = OutboxMessage.id.in_(ids)
    session.execute(
        update(OutboxMessage)
        .where(chosen)
        .values(subject=SCRUBBED, text_body=SCRUBBED, html_body=SCRUBBED, attachments=[])
    )
    session.execute(
        update(OutboxMessage)
        .where(chosen, OutboxMessage.recipient_kind == RecipientKind.candidate)
        .values(to_email=candidate_address(candidate_id), to_name="")
    )
    session.execute(
        update(OutboxMessage)
        .where(
            chosen,
            OutboxMessage.recipient_kind == RecipientKind.candidate,
            OutboxMessage.last_error.is_not(None),
        )
        .values(last_error=SCRUBBED)
    )
    session.execute(
        update(OutboxMessage)
        .where(chosen, OutboxMessage.status == MessageStatus.queued)
        .values(
            status=MessageStatus.cancelled, last_error=NEVER_SENT, lease_until=None, claimed_by=None
        )
    )


def delete_emls(mail_dir: Path, ids: Iterable[int]) -> int:
    """Remove the messages' .eml files; one never written (SMTP, not sent yet) is fine."""
    removed = 0
    for message_id in ids:
        try:
            eml_path(mail_dir, message_id).unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed
