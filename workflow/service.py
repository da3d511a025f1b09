"""The transition service: the one way any caller (API, CLI, scheduler, demo) changes a state.

`fire()` is one database transaction: lock the row, check the event is allowed from the current
state, run the guards, update state + version + state_entered_at, append the TransitionRecord,
run the effects, move the counts and the deadlines, publish the domain event to subscribers (who may
add rows in the same transaction), commit once. `fire_in()` does the same inside a transaction the
caller owns, for callers that compose several changes in one unit of work.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from workflow.clock import Clock, system_clock
from workflow.context import Actor, TransitionContext
from workflow.counts import move_count
from workflow.dates import as_instant, closing_instant
from workflow.deadlines import cancel_state_deadlines, schedule_state_deadlines
from workflow.effects import DEFAULT_COMMITMENT_MONTHS, run_effects
from workflow.errors import (
    AlreadyExists,
    GuardFailed,
    InvalidInput,
    NotFound,
    StaleVersion,
    TransitionNotAllowed,
    UnknownEvent,
)
from workflow.events import DomainEvent, EventBus
from workflow.guards import GUARDS
from workflow.models import (
    Application,
    Candidate,
    CandidateCreate,
    EntityType,
    Organisation,
    Posting,
    PostingCreate,
    PostingKind,
    PostingUpdate,
    TransitionRecord,
)
from workflow.pipeline import HISTORY, Pipeline

POSTING_PIPELINE = "posting"
EDITABLE_POSTING_STATES = ("draft", "published")
HISTORY_TABLE = TransitionRecord.__table__
MODELS: dict[EntityType, type[Application] | type[Posting]] = {
    EntityType.application: Application,
    EntityType.posting: Posting,
}


@dataclass(frozen=True)
class FireResult:
    organisation_id: int
    entity_type: EntityType
    entity_id: int
    event: str
    from_state: str
    to_state: str
    version: int
    record_id: int
    at: datetime


@dataclass(frozen=True)
class EventOption:
    """An event the pipeline declares from the current state, and the guard blocking it, if any."""

    event: str
    dest: str
    blocked_by: GuardFailed | None


def check_salary_range(minimum: int | None, maximum: int | None) -> None:
    """A salary range whose maximum is below its minimum is a typing mistake: refuse it."""
    if minimum is not None and maximum is not None and minimum > maximum:
        raise InvalidInput("salary_max", f"the maximum {maximum} is below the minimum {minimum}")


def normalise_email(email: str) -> str:
    """The key duplicates are found by: trimmed and lower-cased."""
    return email.strip().lower()


class Workflow:
    """The pipelines, the clock and the event bus, with the operations that change states."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        pipelines: dict[str, Pipeline],
        *,
        clock: Clock = system_clock,
        bus: EventBus | None = None,
        storage_dir: Path | None = None,
    ) -> None:
        self.sessions = sessions
        self.pipelines = pipelines
        self.clock = clock
        self.bus = bus or EventBus()
        # Where documents' files live (workflow/documents.py): retention deletes them there.
        self.storage_dir = storage_dir

    # --- Transitions --------------------------------------------------------------------------

    def fire(
        self,
        entity_type: EntityType,
        entity_id: int,
        event: str,
        actor: Actor,
        *,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
        expected_version: int | None = None,
        organisation_id: int | None = None,
    ) -> FireResult:
        """Fire `event` on the entity in a transaction of its own; nothing is written on error."""
        with self.sessions.begin() as session:
            return self.fire_in(
                session,
                entity_type,
                entity_id,
                event,
                actor,
                reason=reason,
                payload=payload,
                expected_version=expected_version,
                organisation_id=organisation_id,
            )

    def fire_in(
        self,
        session: Session,
        entity_type: EntityType,
        entity_id: int,
        event: str,
        actor: Actor,
        *,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
        expected_version: int | None = None,
        organisation_id: int | None = None,
        now: datetime | None = None,
    ) -> FireResult:
        """Fire `event` inside the caller's transaction (the caller commits or rolls back)."""
        now = now or self.clock()
        entity = self._lock(session, entity_type, entity_id, organisation_id)
        pipeline = self.pipeline_of(entity)
        if event not in pipeline.events:
            raise UnknownEvent(pipeline.name, event, pipeline.events)
        if expected_version is not None and expected_version != entity.version:
            raise StaleVersion(entity_type.value, entity_id, expected_version, entity.version)
        transition = pipeline.transition(entity.state, event)
        if transition is None:
            raise TransitionNotAllowed(entity.state, event, pipeline.allowed_events(entity.state))
        ctx = TransitionContext(
            session=session,
            workflow=self,
            pipeline=pipeline,
            entity_type=entity_type,
            entity=entity,
            event=event,
            actor=actor,
            now=now,
            reason=reason,
            payload=dict(payload or {}),
            transition=transition,
        )
        self._check_guards(ctx, transition.guards)
        source = entity.state
        dest = self._history_dest(session, ctx) if transition.dest == HISTORY else transition.dest
        run_effects(ctx, transition.effects)
        _move(session, entity, dest, now if dest != source else entity.state_entered_at)
        return self._entered(ctx, source, dest)

    def options_in(
        self,
        session: Session,
        entity_type: EntityType,
        entity_id: int,
        actor: Actor,
        *,
        organisation_id: int | None = None,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> list[EventOption]:
        """Each event declared from the current state, with the guard that blocks it now."""
        entity = self._get(session, entity_type, entity_id, organisation_id)
        pipeline = self.pipeline_of(entity)
        base = TransitionContext(
            session, self, pipeline, entity_type, entity, "", actor, self.clock(), reason,
            dict(payload or {}),
        )  # fmt: skip
        options = []
        for event in pipeline.allowed_events(entity.state):
            transition = pipeline.transition(entity.state, event)
            assert transition is not None
            ctx = replace(base, event=event, transition=transition)
            try:
                self._check_guards(ctx, transition.guards)
                blocked = None
            except GuardFailed as failure:
                blocked = failure
            options.append(EventOption(event, transition.dest, blocked))
        return options

    # --- Creation -----------------------------------------------------------------------------

    def create_posting_in(
        self,
        session: Session,
        organisation_id: int,
        data: PostingCreate,
        actor: Actor,
        *,
        owner_id: int | None = None,
        now: datetime | None = None,
    ) -> Posting:
        """A new posting in its pipeline's initial state, with its history's first row."""
        now = now or self.clock()
        if session.get(Organisation, organisation_id) is None:
            raise NotFound("organisation", organisation_id)
        application_pipeline = self.pipelines.get(data.pipeline)
        if (
            application_pipeline is None
            or application_pipeline.entity is not EntityType.application
        ):
            names = sorted(
                n for n, p in self.pipelines.items() if p.entity is EntityType.application
            )
            raise InvalidInput("pipeline", f"unknown pipeline {data.pipeline!r}; one of {names}")
        if data.closes_at is not None and data.closes_on is not None:
            raise InvalidInput("closes_on", "give closes_at or closes_on, not both")
        check_salary_range(data.salary_min, data.salary_max)
        closing = data.closes_at or data.closes_on
        fields = data.model_dump(exclude={"opens_at", "closes_at", "closes_on"})
        if data.kind is PostingKind.volunteer and data.commitment_months is None:
            fields["commitment_months"] = DEFAULT_COMMITMENT_MONTHS
        lifecycle = self.pipelines[POSTING_PIPELINE]
        posting = Posting(
            **fields,
            organisation_id=organisation_id,
            owner_id=owner_id,
            opens_at=as_instant(data.opens_at, data.timezone) if data.opens_at else None,
            closes_at=closing_instant(closing, data.timezone) if closing else None,
            state=lifecycle.initial,
            version=1,
            state_entered_at=now,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(posting)
        except IntegrityError:
            raise AlreadyExists(
                "posting", f"the organisation already has a posting with the reference {data.ref!r}"
            ) from None
        ctx = TransitionContext(
            session, self, lifecycle, EntityType.posting, posting, "create", actor, now
        )
        self._entered(ctx, None, posting.state)
        return posting

    def update_posting_in(
        self,
        session: Session,
        posting_id: int,
        changes: PostingUpdate,
        actor: Actor,
        *,
        organisation_id: int | None = None,
        now: datetime | None = None,
    ) -> Posting:
        """Change a draft or published posting's fields. A new closing date of a published
        posting must be in the future, and moves its pending deadlines."""
        now = now or self.clock()
        posting = self._lock(session, EntityType.posting, posting_id, organisation_id)
        if posting.state not in EDITABLE_POSTING_STATES:
            raise InvalidInput(
                "state",
                f"a {posting.state} posting cannot be edited; only a draft or published one",
            )
        fields = changes.model_dump(exclude_unset=True, exclude={"closes_at", "closes_on"})
        for name, value in fields.items():
            if value is None and not Posting.__table__.c[name].nullable:
                raise InvalidInput(name, "may not be null; leave it out to keep it")
        zone = fields.get("timezone", posting.timezone)
        if changes.closes_at is not None and changes.closes_on is not None:
            raise InvalidInput("closes_on", "give closes_at or closes_on, not both")
        closing = changes.closes_at or changes.closes_on
        if closing is not None:
            fields["closes_at"] = closing_instant(closing, zone)
            if posting.state != "draft" and fields["closes_at"] <= now:
                raise InvalidInput(
                    "closes_at", "the new closing date of a published posting has passed"
                )
        if fields.get("opens_at") is not None:
            fields["opens_at"] = as_instant(fields["opens_at"], zone)
        for name, value in fields.items():
            setattr(posting, name, value)
        check_salary_range(posting.salary_min, posting.salary_max)
        lifecycle = self.pipelines[POSTING_PIPELINE]
        ctx = TransitionContext(
            session, self, lifecycle, EntityType.posting, posting, "edit", actor, now
        )
        schedule_state_deadlines(ctx, lifecycle.states[posting.state])
        session.flush()
        return posting

    def apply_in(
        self,
        session: Session,
        posting_id: int,
        person: CandidateCreate,
        actor: Actor | None = None,
        *,
        source: str = "",
        organisation_id: int | None = None,
        now: datetime | None = None,
    ) -> Application:
        """A candidate applies: one candidate per normalised e-mail, one application per posting.

        The posting row is share-locked so that a concurrent cancel or fill, whose cascade
        answers every open application, cannot miss this one.
        """
        now = now or self.clock()
        posting = self._lock(session, EntityType.posting, posting_id, organisation_id, share=True)
        pipeline = self.pipelines[posting.pipeline]
        candidate = self._candidate(session, posting.organisation_id, person, now)
        application = Application(
            organisation_id=posting.organisation_id,
            posting_id=posting.id,
            candidate_id=candidate.id,
            pipeline=pipeline.name,
            state=pipeline.initial,
            version=1,
            state_entered_at=now,
            source=source,
            # The candidate's private status link, there before the `created` event, whose
            # acknowledgement e-mail gives it.
            status_token=secrets.token_urlsafe(32),
            created_at=now,
        )
        ctx = TransitionContext(
            session,
            self,
            pipeline,
            EntityType.application,
            application,
            "create",
            actor or Actor.candidate(candidate.id),
            now,
        )
        self._check_guards(ctx, pipeline.create_guards)
        try:
            with session.begin_nested():
                session.add(application)
        except IntegrityError:
            raise AlreadyExists(
                "application", f"{person.email} has already applied to posting {posting.id}"
            ) from None
        self._entered(ctx, None, application.state)
        return application

    def _candidate(
        self, session: Session, organisation_id: int, person: CandidateCreate, now: datetime
    ) -> Candidate:
        key = normalise_email(person.email)
        query = select(Candidate).where(
            Candidate.organisation_id == organisation_id, Candidate.email_normalised == key
        )
        # FOR SHARE: a retention anonymising this person waits for the application, or this
        # waits for it and then no longer finds the (changed) e-mail, and a new candidate is made.
        existing = session.scalars(query.with_for_update(read=True)).first()
        if existing is not None:
            return existing
        candidate = Candidate(
            **person.model_dump(),
            organisation_id=organisation_id,
            email_normalised=key,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(candidate)
        except IntegrityError:  # the same person applied at the same moment elsewhere
            return session.scalars(query).one()
        return candidate

    # --- Shared steps -------------------------------------------------------------------------

    def pipeline_of(self, entity: Application | Posting) -> Pipeline:
        name = POSTING_PIPELINE if isinstance(entity, Posting) else entity.pipeline
        return self.pipelines[name]

    def _get(
        self,
        session: Session,
        entity_type: EntityType,
        entity_id: int,
        organisation_id: int | None,
    ) -> Application | Posting:
        entity = session.get(MODELS[entity_type], entity_id, populate_existing=True)
        if entity is None or organisation_id not in (None, entity.organisation_id):
            raise NotFound(entity_type.value, entity_id)
        return entity

    def _lock(
        self,
        session: Session,
        entity_type: EntityType,
        entity_id: int,
        organisation_id: int | None,
        *,
        share: bool = False,
    ) -> Any:
        """Read the row with a lock held to the end of the transaction. PostgreSQL: FOR NO KEY
        UPDATE, since a transition never changes a key; a plain FOR UPDATE would also block the
        KEY SHARE lock that inserting a row referencing it takes (a first pipeline_count row of a
        posting), and a posting's fill cascade would deadlock with a recruiter's move. `share`
        (FOR SHARE) still conflicts with it. SQLite: BEGIN IMMEDIATE already holds the database."""
        entity = session.scalars(_lock_query(entity_type, share), {"id": entity_id}).first()
        if entity is None or organisation_id not in (None, entity.organisation_id):
            raise NotFound(entity_type.value, entity_id)
        return entity

    @staticmethod
    def _check_guards(ctx: TransitionContext, guards: tuple[str, ...]) -> None:
        for name in guards:
            message = GUARDS[name](ctx)
            if message is not None:
                raise GuardFailed(name, message)

    @staticmethod
    def _history_dest(session: Session, ctx: TransitionContext) -> str:
        """The state the entity left when it entered the one it is in now."""
        left = session.scalar(
            select(TransitionRecord.from_state)
            .where(
                TransitionRecord.entity_type == ctx.entity_type,
                TransitionRecord.entity_id == ctx.entity.id,
                TransitionRecord.to_state == ctx.entity.state,
            )
            .order_by(TransitionRecord.id.desc())
            .limit(1)
        )
        if left is None:
            raise GuardFailed(
                "history", f"the history does not say which stage led to {ctx.entity.state!r}"
            )
        return left

    def _entered(self, ctx: TransitionContext, source: str | None, dest: str) -> FireResult:
        """What follows every change of state, creation included: history first (so a cascade's
        rows come after it), then effects, deadlines and counts, then the domain event."""
        session, entity = ctx.session, ctx.entity
        payload = _jsonable(ctx.payload)
        record_id = session.execute(
            _history_insert(),
            dict(
                organisation_id=entity.organisation_id,
                entity_type=ctx.entity_type,
                entity_id=entity.id,
                pipeline=ctx.pipeline.name,
                event=ctx.event,
                from_state=source,
                to_state=dest,
                actor_kind=ctx.actor.kind,
                actor_id=ctx.actor.id,
                reason=ctx.reason,
                payload=payload,
                at=ctx.now,
            ),
        ).scalar_one()
        if source != dest:
            state = ctx.pipeline.states[dest]
            run_effects(ctx, state.on_enter)
            if source is not None:
                cancel_state_deadlines(ctx, source)
            schedule_state_deadlines(ctx, state)
            if ctx.entity_type is EntityType.application:
                move_count(session, entity.posting_id, source, dest)
        session.flush()
        self.bus.publish(
            session,
            DomainEvent(
                name="created" if source is None else "transitioned",
                organisation_id=entity.organisation_id,
                entity_type=ctx.entity_type,
                entity_id=entity.id,
                pipeline=ctx.pipeline.name,
                at=ctx.now,
                actor=ctx.actor,
                event=ctx.event,
                from_state=source,
                to_state=dest,
                reason=ctx.reason,
                payload=payload,
                record_id=record_id,
            ),
        )
        return FireResult(
            organisation_id=entity.organisation_id,
            entity_type=ctx.entity_type,
            entity_id=entity.id,
            event=ctx.event,
            from_state=source or "",
            to_state=dest,
            version=entity.version,
            record_id=record_id,
            at=ctx.now,
        )


@cache
def _lock_query(entity_type: EntityType, share: bool) -> Any:
    """Built once: on the hot path, building a statement costs as much as running it."""
    model = MODELS[entity_type]
    return (
        select(model)
        .where(model.id == bindparam("id"))
        .with_for_update(read=share, key_share=not share)
        .execution_options(populate_existing=True)
    )


def _move(
    session: Session, entity: Application | Posting, state: str, entered_at: datetime
) -> None:
    """Write the state columns with one prebuilt UPDATE and tell the ORM they are stored, so the
    flush only writes what effects changed (the unit of work costs more than the UPDATE)."""
    version = entity.version + 1
    session.execute(
        _move_update(type(entity)),
        {"of_id": entity.id, "to_state": state, "to_version": version, "entered": entered_at},
    )
    for name, value in (("state", state), ("version", version), ("state_entered_at", entered_at)):
        set_committed_value(entity, name, value)


@cache
def _move_update(model: type[Application] | type[Posting]) -> Any:
    table = model.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("of_id"))
        .values(
            state=bindparam("to_state"),
            version=bindparam("to_version"),
            state_entered_at=bindparam("entered"),
        )
    )


@cache
def _history_insert() -> Any:
    columns = HISTORY_TABLE.c
    return insert(HISTORY_TABLE).returning(columns.id)


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as stored in the history: dates and other values as their ISO/text form."""
    return {
        key: value
        if isinstance(value, str | int | float | bool | None | list | dict)
        else str(value)
        for key, value in payload.items()
    }
