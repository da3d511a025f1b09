"""Postings: create, read, update while draft or published, list with filters, and the
lifecycle events (publish, close, reopen with a new closing date, fill, cancel, archive)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import Field
from sqlalchemy import select

from api.access import get_posting, managed_posting, visible_postings
from api.deps import MAX_ID, ContainerDep, CurrentUser, IdPath, Manager
from api.problems import forbidden, invalid
from api.transitions import EventIn, EventOut, fire_event
from workflow.models import (
    EntityType,
    Posting,
    PostingAssignment,
    PostingCreate,
    PostingKind,
    PostingPublic,
    PostingUpdate,
    Role,
    User,
)

router = APIRouter(prefix="/postings", tags=["postings"])


class PostingIn(PostingCreate):
    owner_id: int | None = Field(
        default=None, ge=1, le=MAX_ID,
        description="The recruiter in charge; default: you. Admin and HR only.",
    )  # fmt: skip
    recruiter_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=100, description="Assigned recruiters."
    )


class PostingOut(PostingPublic):
    owner_id: int | None
    recruiter_ids: list[int]


def _out(session: Any, posting: Posting) -> PostingOut:
    assigned = session.scalars(
        select(PostingAssignment.user_id).where(PostingAssignment.posting_id == posting.id)
    ).all()
    return PostingOut.model_validate(posting, update={"recruiter_ids": sorted(assigned)})


def _check_staff(session: Any, organisation_id: int, user_ids: list[int], field: str) -> None:
    """Every id is an active recruiter-capable member of the organisation (422 naming the field)."""
    for user_id in user_ids:
        user = session.get(User, user_id)
        if user is None or user.organisation_id != organisation_id or user.role is Role.interviewer:
            raise invalid(
                field, f"user {user_id} is not a recruiter, HR or admin of your organisation"
            )


@router.post("", status_code=201, summary="Create a posting (a draft).")
def create_posting(body: PostingIn, user: Manager, container: ContainerDep) -> PostingOut:
    workflow = container.workflow
    owner_id = body.owner_id if body.owner_id is not None else user.user_id
    if owner_id != user.user_id and not user.sees_everything:
        raise forbidden("only admin and HR choose another owner")
    data = PostingCreate.model_validate(body.model_dump(exclude={"owner_id", "recruiter_ids"}))
    with workflow.sessions.begin() as session:
        _check_staff(session, user.organisation_id, [owner_id], "owner_id")
        _check_staff(session, user.organisation_id, body.recruiter_ids, "recruiter_ids")
        posting = workflow.create_posting_in(
            session, user.organisation_id, data, user.actor, owner_id=owner_id
        )
        for recruiter_id in sorted(set(body.recruiter_ids)):
            session.add(PostingAssignment(posting_id=posting.id, user_id=recruiter_id))
        session.flush()
        return _out(session, posting)


@router.get("", summary="The postings you can see, filtered.")
def list_postings(
    user: CurrentUser,
    container: ContainerDep,
    state: Annotated[str | None, Query(max_length=64)] = None,
    kind: PostingKind | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the title.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PostingOut]:
    query = select(Posting).where(visible_postings(user))
    if state:
        query = query.where(Posting.state == state)
    if kind:
        query = query.where(Posting.kind == kind)
    if q:
        query = query.where(Posting.title.icontains(q, autoescape=True))
    query = query.order_by(Posting.id.desc()).limit(limit).offset(offset)
    with container.workflow.sessions.begin() as session:
        return [_out(session, p) for p in session.scalars(query).all()]


@router.get("/{posting_id}", summary="One posting.")
def read_posting(posting_id: IdPath, user: CurrentUser, container: ContainerDep) -> PostingOut:
    with container.workflow.sessions.begin() as session:
        return _out(session, get_posting(session, user, posting_id))


@router.patch("/{posting_id}", summary="Change a draft or published posting's fields.")
def update_posting(
    posting_id: IdPath, body: PostingUpdate, user: CurrentUser, container: ContainerDep
) -> PostingOut:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        managed_posting(session, user, posting_id)
        posting = workflow.update_posting_in(
            session, posting_id, body, user.actor, organisation_id=user.organisation_id
        )
        return _out(session, posting)


@router.post("/{posting_id}/events/{event}", summary="Fire a lifecycle event of the posting.")
def posting_event(
    posting_id: IdPath,
    event: str,
    user: CurrentUser,
    container: ContainerDep,
    body: Annotated[EventIn | None, Body()] = None,
) -> EventOut:
    with container.workflow.sessions.begin() as session:
        managed_posting(session, user, posting_id)
        return fire_event(
            container, user, EntityType.posting, posting_id, event, body or EventIn(),
            session=session,
        )  # fmt: skip
