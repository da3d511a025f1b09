"""Applications: list with filters and a cursor, detail with its timeline and the events allowed
now, transitions (If-Match, Idempotency-Key), bulk transitions, and internal notes."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlmodel import Session

from api.access import get_application, managed_application, visible_applications
from api.deps import MAX_ID, ContainerDep, CurrentUser, IdPath, IdQuery
from api.problems import Problem, from_domain, invalid
from api.security import Principal
from api.transitions import EventIn, EventOut, fire_event, idempotent, parse_if_match, request_hash
from api.wiring import Container
from workflow.errors import WorkflowError
from workflow.models import (
    ActorKind,
    Application,
    ApplicationPublic,
    Candidate,
    EntityType,
    Note,
    Posting,
    TransitionRecord,
    User,
)
from workflow.reports import open_states

router = APIRouter(prefix="/applications", tags=["applications"])
MAX_BULK = 500


class ApplicationRow(ApplicationPublic):
    candidate_name: str
    candidate_email: str
    posting_title: str


class ApplicationPage(BaseModel):
    items: list[ApplicationRow]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class CandidateOut(BaseModel):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    language: str


class TimelineEntry(BaseModel):
    kind: str = Field(description="'transition' (the history) or 'note' (internal, staff only).")
    at: datetime
    actor: str = Field(description="'system', 'candidate' or the staff member's name.")
    event: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    payload: dict[str, Any] | None = None
    text: str | None = None


class AllowedEvent(BaseModel):
    event: str
    to_state: str
    allowed: bool
    blocked_by: str | None = Field(None, description="The guard that refuses it now, if any.")
    message: str | None = None


class ApplicationDetail(ApplicationPublic):
    candidate: CandidateOut
    posting_title: str
    timeline: list[TimelineEntry]
    events: list[AllowedEvent]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class NoteOut(BaseModel):
    id: int
    application_id: int
    author_id: int
    author_name: str
    text: str
    created_at: datetime


class BulkIn(EventIn):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=MAX_BULK)


class BulkItem(BaseModel):
    id: int
    status: int
    result: EventOut | None = None
    problem: dict[str, Any] | None = None


# --- List ---------------------------------------------------------------------------------------


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    kind, _, number = text.partition(":")
    if kind != "id" or not number.isdigit() or int(number) > MAX_ID:
        raise invalid("cursor", "not a cursor this API gave; start again without it")
    return int(number)


@router.get("", summary="The applications you can see, newest first, filtered.")
def list_applications(
    user: CurrentUser,
    container: ContainerDep,
    posting_id: IdQuery = None,
    state: Annotated[str | None, Query(max_length=64)] = None,
    idle_days: Annotated[
        int | None, Query(ge=0, le=3650, description="Unmoved for more than N days, not final.")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the candidate's name or e-mail.")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ApplicationPage:
    workflow = container.workflow
    query = (
        select(Application, Candidate, Posting.title)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .join(Posting, Posting.id == Application.posting_id)
        .where(visible_applications(user))
    )
    if posting_id is not None:
        query = query.where(Application.posting_id == posting_id)
    if state:
        query = query.where(Application.state == state)
    if idle_days is not None:
        since = workflow.clock() - timedelta(days=idle_days)
        waiting = open_states(workflow.pipelines.values())
        query = query.where(
            Application.state.in_(sorted(waiting)), Application.state_entered_at < since
        )
    if q:
        query = query.where(
            or_(
                (Candidate.first_name + " " + Candidate.last_name).icontains(q, autoescape=True),
                Candidate.email.icontains(q, autoescape=True),
            )
        )
    if cursor:
        query = query.where(Application.id < _decode_cursor(cursor))
    query = query.order_by(Application.id.desc()).limit(limit + 1)
    with workflow.sessions.begin() as session:
        rows = session.execute(query).all()
    items = [_row(application, candidate, title) for application, candidate, title in rows[:limit]]
    more = len(rows) > limit
    return ApplicationPage(items=items, next_cursor=_encode_cursor(items[-1].id) if more else None)


def _row(application: Application, candidate: Candidate, title: str) -> ApplicationRow:
    return ApplicationRow.model_validate(
        application,
        update={
            "candidate_name": f"{candidate.first_name} {candidate.last_name}".strip(),
            "candidate_email": candidate.email,
            "posting_title": title,
        },
    )


# --- Detail -------------------------------------------------------------------------------------


@router.get(
    "/{application_id}", summary="One application: candidate, timeline, events allowed now."
)
def read_application(
    application_id: IdPath, user: CurrentUser, container: ContainerDep, response: Response
) -> ApplicationDetail:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        application = get_application(session, user, application_id)
        candidate = session.get_one(Candidate, application.candidate_id)
        posting = session.get_one(Posting, application.posting_id)
        events = event_choices(session, container, user, application_id)
        timeline = _timeline(session, application)
    response.headers["ETag"] = f'"{application.version}"'
    return ApplicationDetail.model_validate(
        application,
        update={
            "candidate": CandidateOut.model_validate(candidate, from_attributes=True),
            "posting_title": posting.title,
            "timeline": timeline,
            "events": events,
        },
    )


def event_choices(
    session: Session, container: Container, user: Principal, application_id: int
) -> list[AllowedEvent]:
    """Each event the pipeline declares from the application's state, with the guard that
    blocks it now (the detail's `events`; the pages' buttons). The caller checked access."""
    options = container.workflow.options_in(
        session, EntityType.application, application_id, user.actor,
        organisation_id=user.organisation_id,
    )  # fmt: skip
    return [
        AllowedEvent(
            event=o.event,
            to_state=o.dest,
            allowed=o.blocked_by is None,
            blocked_by=o.blocked_by.guard if o.blocked_by else None,
            message=o.blocked_by.message if o.blocked_by else None,
        )
        for o in options
    ]


def _timeline(session: Session, application: Application) -> list[TimelineEntry]:
    """The history and the notes, in time order (a note at the same instant comes after)."""
    application_id = application.id
    staff = select(User.id, User.name).where(User.organisation_id == application.organisation_id)
    names = dict(session.execute(staff).all())
    history = session.scalars(
        select(TransitionRecord)
        .where(
            TransitionRecord.entity_type == EntityType.application,
            TransitionRecord.entity_id == application_id,
        )
        .order_by(TransitionRecord.id)
    ).all()
    entries = [
        TimelineEntry(
            kind="transition",
            at=record.at,
            actor=_actor_name(record.actor_kind, record.actor_id, names),
            event=record.event,
            from_state=record.from_state,
            to_state=record.to_state,
            reason=record.reason,
            payload=record.payload,
        )
        for record in history
    ]
    for note in session.scalars(
        select(Note).where(Note.application_id == application_id).order_by(Note.id)
    ):
        entries.append(
            TimelineEntry(kind="note", at=note.created_at, actor=names.get(note.author_id, ""),
                          text=note.body)
        )  # fmt: skip
    return sorted(entries, key=lambda e: (e.at, e.kind == "note"))


def _actor_name(kind: ActorKind, actor_id: int | None, names: dict[int, str]) -> str:
    if kind is ActorKind.user and actor_id is not None:
        return names.get(actor_id, f"user {actor_id}")
    return kind.value


# --- Transitions --------------------------------------------------------------------------------


@router.post(
    "/{application_id}/events/{event}",
    summary="Fire an event: move the application (If-Match, Idempotency-Key supported).",
    responses={409: {"description": "Not allowed now"}, 412: {"description": "Stale version"}},
)
def application_event(
    request: Request,
    application_id: IdPath,
    event: str,
    user: CurrentUser,
    container: ContainerDep,
    body: Annotated[EventIn | None, Body()] = None,
    if_match: Annotated[str | None, Header(description='The version read, like "3".')] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    body = body or EventIn()
    expected = parse_if_match(if_match)
    fingerprint = request_hash(
        "application-event", application_id, event, body.model_dump(), expected
    )

    def work(session: Session) -> EventOut:
        return move_application(session, container, user, application_id, event, body, expected)

    return idempotent(
        container,
        user,
        idempotency_key,
        fingerprint,
        work,
        etag="version",
        instance=request.url.path,
    )


def move_application(
    session: Session,
    container: Container,
    user: Principal,
    application_id: int,
    event: str,
    body: EventIn,
    expected_version: int | None = None,
) -> EventOut:
    """Fire `event` on an application the user may move (404 when they cannot see it, 403 when
    they only see it), in the caller's transaction: the API's single and bulk moves, the pages'."""
    managed_application(session, user, application_id)
    return fire_event(
        container, user, EntityType.application, application_id, event, body,
        expected_version=expected_version, session=session,
    )  # fmt: skip


@router.post(
    "/events/{event}",
    summary="Fire one event on many applications; each is done, or refused, on its own.",
)
def bulk_event(
    event: str, body: BulkIn, user: CurrentUser, container: ContainerDep
) -> list[BulkItem]:
    single = EventIn(reason=body.reason, payload=body.payload)
    return [_bulk_one(container, user, event, single, app_id) for app_id in dict.fromkeys(body.ids)]


def _bulk_one(
    container: Container, user: Principal, event: str, body: EventIn, application_id: int
) -> BulkItem:
    try:
        with container.workflow.sessions.begin() as session:
            result = move_application(session, container, user, application_id, event, body)
        return BulkItem(id=application_id, status=200, result=result)
    except (WorkflowError, Problem) as exc:
        problem = from_domain(exc) if isinstance(exc, WorkflowError) else exc
        return BulkItem(id=application_id, status=problem.status, problem=problem.body())


# --- Notes --------------------------------------------------------------------------------------


@router.post("/{application_id}/notes", status_code=201, summary="Add an internal note.")
def add_note(
    application_id: IdPath, body: NoteIn, user: CurrentUser, container: ContainerDep
) -> NoteOut:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        application = get_application(session, user, application_id)
        note = Note(
            organisation_id=application.organisation_id,
            application_id=application_id,
            author_id=user.user_id,
            body=body.text,
            created_at=workflow.clock(),
        )
        session.add(note)
        session.flush()
        return _note_out(note, user.name)


@router.get("/{application_id}/notes", summary="The internal notes, oldest first.")
def list_notes(application_id: IdPath, user: CurrentUser, container: ContainerDep) -> list[NoteOut]:
    with container.workflow.sessions.begin() as session:
        get_application(session, user, application_id)
        rows = session.execute(
            select(Note, User.name)
            .join(User, User.id == Note.author_id)
            .where(Note.application_id == application_id)
            .order_by(Note.id)
        ).all()
        return [_note_out(note, name) for note, name in rows]


def _note_out(note: Note, author_name: str) -> NoteOut:
    assert note.id is not None
    return NoteOut(
        id=note.id,
        application_id=note.application_id,
        author_id=note.author_id,
        author_name=author_name,
        text=note.body,
        created_at=note.created_at,
    )
