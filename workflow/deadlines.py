"""Deadlines as rows: each state of a pipeline declares the deadlines active while an entity is in
it. Entering the state schedules them (or moves the pending one of the same kind), leaving it
cancels them. The scheduler carries them out; the database is the source of truth.

These run inside every transition, so they are single Core statements, not ORM round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import bindparam, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from workflow.context import TransitionContext
from workflow.models import Application, Deadline, DeadlineStatus, EntityType
from workflow.retention import in_talent_pool

if TYPE_CHECKING:
    from workflow.pipeline import DeadlineSpec, StateDef

DEADLINES = Deadline.__table__


def cancel_state_deadlines(ctx: TransitionContext, left_state: str) -> None:
    """Deadlines belong to the state that scheduled them: leaving it cancels them."""
    cancel_deadlines(ctx.session, ctx.entity_type, ctx.entity.id, left_state, ctx.now)


def cancel_deadlines(
    session: Session,
    entity_type: EntityType,
    entity_id: int,
    state: str,
    now: datetime,
    *,
    kind: str | None = None,
) -> None:
    """Cancel the entity's pending deadlines scheduled by `state` (only the one of `kind`, if
    given). Also for entities without a pipeline (interviews), whose `state` is a fixed name."""
    values = {"of_type": entity_type, "of_id": entity_id, "left": state, "now": now}
    if kind is not None:
        values["of_kind"] = kind
    session.execute(_cancel(by_kind=kind is not None), values)


@cache
def _cancel(*, by_kind: bool) -> Any:
    """Built once, like the upsert below: building costs as much as running."""
    c = DEADLINES.c
    statement = update(DEADLINES).where(
        c.entity_type == bindparam("of_type"),
        c.entity_id == bindparam("of_id"),
        c.state == bindparam("left"),
        c.status == DeadlineStatus.pending,
    )
    if by_kind:
        statement = statement.where(c.kind == bindparam("of_kind"))
    return statement.values(status=DeadlineStatus.cancelled, updated_at=bindparam("now"))


def schedule_state_deadlines(ctx: TransitionContext, state: StateDef) -> None:
    """Create, or move, the pending deadline of each kind the new state declares."""
    for spec in state.deadlines:
        value = getattr(ctx.entity, spec.at)
        if value is None:
            continue
        due_at = _due(ctx, value, _offset(ctx, spec))
        if spec.if_future and due_at <= ctx.now:
            continue
        schedule_deadline(ctx, spec.kind, due_at, spec.event, state.name, action=spec.action)


def _offset(ctx: TransitionContext, spec: DeadlineSpec) -> relativedelta:
    """The spec's offset, or its talent-pool one when the candidate gave that consent (read now,
    on entering the state: a consent given or withdrawn later does not move the deadline)."""
    if (
        spec.talent_pool_offset is not None
        and isinstance(ctx.entity, Application)
        and in_talent_pool(ctx.session, ctx.entity.candidate_id)
    ):
        return spec.talent_pool_offset
    return spec.offset


def _due(ctx: TransitionContext, value: date | datetime, offset: relativedelta) -> datetime:
    """A datetime field plus the offset as elapsed time (UTC). A date field means the start of
    that day in the posting's time zone, and the offset moves the local calendar, so '3 months
    after 31 January' is 30 April at midnight there, whatever daylight saving did between."""
    if isinstance(value, datetime):
        return value + offset
    zone = ZoneInfo(ctx.posting.timezone)
    local = datetime.combine(value, time(0, 0), tzinfo=zone) + offset
    return datetime.combine(local.date(), local.time(), tzinfo=zone).astimezone(UTC)


@cache
def _upsert(dialect: str) -> Any:
    """Built once per dialect: an upsert on the partial unique index of pending deadlines."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = (
        "organisation_id", "entity_type", "entity_id", "kind", "event", "action", "state", "due_at",
    )  # fmt: skip
    statement = insert(DEADLINES).values(
        **{name: bindparam(name) for name in columns},
        status=DeadlineStatus.pending,
        attempts=0,
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[DEADLINES.c.entity_type, DEADLINES.c.entity_id, DEADLINES.c.kind],
        # Literal, as in the index: PostgreSQL cannot match a bound parameter to it.
        index_where=text("status = 'pending'"),
        set_={
            name: getattr(excluded, name)
            for name in ("due_at", "event", "action", "state", "updated_at")
        },
    )


def schedule_deadline(
    ctx: TransitionContext,
    kind: str,
    due_at: datetime,
    event: str | None,
    state: str,
    *,
    action: str | None = None,
) -> None:
    """The pending deadline of `kind` for the transition's entity, created or moved."""
    upsert_deadline(
        ctx.session, ctx.entity.organisation_id, ctx.entity_type, ctx.entity.id, kind, due_at,
        event=event, action=action, state=state, now=ctx.now,
    )  # fmt: skip


def upsert_deadline(
    session: Session,
    organisation_id: int,
    entity_type: EntityType,
    entity_id: int,
    kind: str,
    due_at: datetime,
    *,
    event: str | None,
    state: str,
    now: datetime,
    action: str | None = None,
) -> None:
    """The pending deadline of `kind` for the entity, created or moved to `due_at`: never a
    second one. Transitions reach it through `schedule_deadline`; interviews call it directly.
    It fires `event`, or runs `action` (workflow/retention.py ACTIONS), or, with neither, is a
    reminder."""
    session.execute(
        _upsert(session.get_bind().dialect.name),
        {
            "organisation_id": organisation_id,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "kind": kind,
            "event": event,
            "action": action,
            "state": state,
            "due_at": due_at,
            "now": now,
        },
    )
