"""What was sent, to whom, and what failed: the outbox read for people (issue 6, History).

The API (api/routes/messages.py) and `vivier messages` show an application's messages, HR lists
the organisation's dead ones, and `resend` gives a dead message another round of attempts.
Callers check who may see what; these are plain queries in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from notifications.models import MessageStatus, OutboxMessage
from notifications.scrub import is_scrubbed
from workflow.errors import NotFound, WorkflowError


class NotResendable(WorkflowError):
    """Only a dead message, still holding its content, can be sent again."""


def of_application(session: Session, application_id: int) -> Sequence[OutboxMessage]:
    """Every message about the application, to the candidate and to staff, oldest first."""
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.application_id == application_id)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()


def in_status(
    session: Session,
    organisation_id: int,
    status: MessageStatus = MessageStatus.dead,
    *,
    limit: int = 100,
) -> Sequence[OutboxMessage]:
    """The organisation's messages in `status` (by default the dead ones), newest first."""
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.organisation_id == organisation_id, OutboxMessage.status == status)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    ).all()


def find(session: Session, message_id: int, organisation_id: int | None = None) -> OutboxMessage:
    """The message, locked for a change; NotFound for another organisation's, as for none."""
    query = select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    if organisation_id is not None:
        query = query.where(OutboxMessage.organisation_id == organisation_id)
    message = session.scalars(query).first()
    if message is None:
        raise NotFound("message", message_id)
    return message


def resend(
    session: Session, message_id: int, now: datetime, *, organisation_id: int | None = None
) -> OutboxMessage:
    """Put a dead message back in the queue, due now, with its attempts reset. The last error
    stays until the next attempt, so HR still sees why it had died."""
    message = find(session, message_id, organisation_id)
    if message.status is not MessageStatus.dead:
        raise NotResendable(
            f"message {message_id} is {message.status.value}; only dead ones are resent"
        )
    if is_scrubbed(message):
        raise NotResendable(f"message {message_id} was scrubbed by retention: nothing left to send")
    message.status = MessageStatus.queued
    message.attempts = 0
    message.next_attempt_at = now
    message.lease_until = None
    message.claimed_by = None
    session.flush()
    return message
