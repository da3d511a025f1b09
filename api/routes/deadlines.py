"""What the scheduler will do, and what it could not: pending deadlines (soonest first) and
failed ones, each with the posting it concerns. The query is workflow/reports.py's `deadlines`,
the one `vivier deadlines` prints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.access import get_posting, manages
from api.deps import MAX_ID, ContainerDep, Manager
from workflow import reports
from workflow.models import DeadlineStatus, EntityType, Posting

router = APIRouter(prefix="/deadlines", tags=["deadlines"])


class DeadlineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entity_type: EntityType
    entity_id: int
    kind: str
    event: str | None = Field(description="The event it fires; null for a reminder.")
    action: str | None = Field(
        description="The named action it runs instead of an event (retention: anonymise)."
    )
    state: str = Field(description="The state that scheduled it (leaving it cancels it).")
    due_at: datetime
    status: DeadlineStatus
    attempts: int = Field(description="Failed attempts so far.")
    last_error: str | None
    posting_id: int | None = Field(description="The posting it concerns (an application's own).")
    posting_title: str | None


@router.get(
    "",
    summary="Upcoming and failed deadlines, soonest first.",
    description="Admin and HR: the organisation's; a recruiter: their postings'; interviewers: "
    "403. A posting's deadlines include its applications' and interviews'.",
)
def list_deadlines(
    user: Manager,
    container: ContainerDep,
    posting_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this posting's.")
    ] = None,
    status: Annotated[
        Literal["pending", "failed"] | None,
        Query(description="Only this status (default: both)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadlineOut]:
    statuses = (DeadlineStatus(status),) if status else reports.OUTSTANDING
    # A named posting replaces the recruiter's subquery: get_posting checked they may see it.
    postings: reports.PostingIds = (
        None if user.sees_everything else select(Posting.id).where(manages(user))
    )
    with container.workflow.sessions.begin() as session:
        if posting_id is not None:
            get_posting(session, user, posting_id)
            postings = [posting_id]
        found = reports.deadlines(
            session, user.organisation_id, statuses=statuses, posting_ids=postings, limit=limit
        )
    return [DeadlineOut.model_validate(d) for d in found]
