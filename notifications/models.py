"""The outbox: one row per e-mail to send, queued in the transaction of what caused it.

The dispatcher claims rows, sends them and records the outcome; a row is never deleted, so HR can
always see what a candidate was told (retention blanks its bodies and recipient instead).
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, Text, text
from sqlmodel import Field, SQLModel

from workflow.models import _json, _utc


class MessageStatus(StrEnum):
    queued = "queued"  # waiting for its first send or a retry (next_attempt_at)
    sent = "sent"
    dead = "dead"  # failed too often: shown to HR, re-sendable
    # Never sent: retention removed what it said while it was still queued. Not a failure (HR
    # has nothing to fix) and not re-sendable (there is nothing left to send).
    cancelled = "cancelled"


class RecipientKind(StrEnum):
    candidate = "candidate"
    user = "user"  # a staff member (owner, recruiter, interviewer)
    contact = "contact"  # the posting's contact address


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_recipient", "to_email", "id"),
        # The dispatcher's "is an earlier message to this address still waiting?" reads only
        # queued rows, not an address's whole sent history.
        Index(
            "ix_outbox_queued_recipient",
            "to_email",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    application_id: int | None = Field(default=None, foreign_key="application.id", index=True)
    # Source record + recipient + template: a retried transition cannot queue the same twice.
    dedup_key: str = Field(max_length=255, unique=True)
    template: str = Field(max_length=64)
    language: str = Field(max_length=8)
    recipient_kind: RecipientKind
    recipient_id: int | None = None
    to_email: str = Field(max_length=320)
    to_name: str = Field(default="", max_length=255)
    subject: str = Field(max_length=255)
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    # [{"filename": "interview.ics", "content_type": "text/calendar; method=REQUEST", "text": ...}]
    attachments: list[dict[str, Any]] = _json()
    status: MessageStatus = MessageStatus.queued
    attempts: int = 0
    next_attempt_at: datetime = _utc()
    lease_until: datetime | None = _utc(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=128)
    last_error: str | None = None
    sent_at: datetime | None = _utc(nullable=True)
    message_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = _utc()
