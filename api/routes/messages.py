"""E-mails as people see them: what an application's candidate and staff were sent (anyone who
sees the application), and for admin and HR the messages that could not be delivered, with a way
to send one again. The queries are notifications/history.py's, which `vivier messages` prints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.access import get_application
from api.deps import ContainerDep, CurrentUser, HumanResources, IdPath
from api.problems import Problem, forbidden
from notifications import history
from notifications.models import MessageStatus, OutboxMessage, RecipientKind

router = APIRouter(tags=["messages"])


class MessageOut(BaseModel):
    id: int
    application_id: int | None
    template: str
    language: str
    recipient_kind: RecipientKind
    to_email: str
    to_name: str
    subject: str
    text_body: str = Field(description="The plain-text part, exactly as queued.")
    attachments: list[str] = Field(description="The attachments' file names (an interview's .ics).")
    status: MessageStatus
    attempts: int = Field(description="Failed sends so far.")
    created_at: datetime = Field(description="When it was queued.")
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    message_id: str | None = Field(description="The Message-ID header it was sent with.")

    @classmethod
    def of(cls, message: OutboxMessage) -> MessageOut:
        fields = message.model_dump(exclude={"attachments"})
        names = [str(a.get("filename", "")) for a in message.attachments]
        return cls.model_validate(fields | {"attachments": names})


@router.get(
    "/applications/{application_id}/messages",
    summary="The e-mails about an application, oldest first.",
    description="To the candidate and to staff: what they were told, when, and whether it "
    "arrived. Anyone who can see the application.",
)
def application_messages(
    application_id: IdPath, user: CurrentUser, container: ContainerDep
) -> list[MessageOut]:
    with container.workflow.sessions.begin() as session:
        get_application(session, user, application_id)
        return [MessageOut.of(m) for m in history.of_application(session, application_id)]


@router.get(
    "/messages",
    summary="The organisation's messages in one status (default: dead), newest first.",
    description="Admin and HR. A dead message failed every attempt: resend it once the cause "
    "(an address, the mail server) is fixed.",
)
def list_messages(
    user: HumanResources,
    container: ContainerDep,
    status: MessageStatus = MessageStatus.dead,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageOut]:
    with container.workflow.sessions.begin() as session:
        found = history.in_status(session, user.organisation_id, status, limit=limit)
        return [MessageOut.of(m) for m in found]


@router.post(
    "/messages/{message_id}/resend",
    summary="Queue a dead message again, due now, its attempts reset.",
    description="Admin and HR. 409 for a message that is not dead, or whose content retention "
    "removed.",
)
def resend_message(message_id: IdPath, user: CurrentUser, container: ContainerDep) -> MessageOut:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        # Another organisation's message is 404 whatever the role; one's own is 403 if not HR.
        history.find(session, message_id, user.organisation_id)
        if not user.sees_everything:
            raise forbidden("only admin and HR resend messages")
        try:
            message = history.resend(
                session, message_id, workflow.clock(), organisation_id=user.organisation_id
            )
        except history.NotResendable as exc:
            raise Problem(409, "not-resendable", "Cannot be resent", str(exc)) from None
        return MessageOut.of(message)
