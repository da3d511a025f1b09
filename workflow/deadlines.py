"""Deadlines as rows: each state of a pipeline declares the deadlines active while an entity is in
it. Entering the state schedules them (or moves the pending one of the same kind), leaving it
cancels them. The scheduler carries them out; the database is the source of truth."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from workflow.context import TransitionContext
from workflow.dates import as_instant
from workflow.models import Deadline, DeadlineStatus

if TYPE_CHECKING:
    from workflow.pipeline import StateDef


def cancel_state_deadlines(ctx: TransitionContext, left_state: str) -> None:
    """Deadlines belong to the state that scheduled them: leaving it cancels them."""
    ctx.session.execute(
        update(Deadline)
        .where(
            Deadline.entity_type == ctx.entity_type,
            Deadline.entity_id == ctx.entity.id,
            Deadline.state == left_state,
            Deadline.status == DeadlineStatus.pending,
        )
        .values(status=DeadlineStatus.cancelled, updated_at=ctx.now)
    )


def schedule_state_deadlines(ctx: TransitionContext, state: StateDef) -> None:
    """Create, or move, the pending deadline of each kind the new state declares."""
    timezone = ctx.posting.timezone
    for spec in state.deadlines:
        value = getattr(ctx.entity, spec.at)
        if value is None:
            continue
        due_at = as_instant(value, timezone) + spec.offset
        schedule_deadline(ctx, spec.kind, due_at, spec.event, state.name)


def schedule_deadline(
    ctx: TransitionContext, kind: str, due_at: datetime, event: str | None, state: str
) -> Deadline:
    """The pending deadline of `kind` for the entity, created or moved to `due_at`."""
    session = ctx.session
    pending = session.scalars(
        select(Deadline).where(
            Deadline.entity_type == ctx.entity_type,
            Deadline.entity_id == ctx.entity.id,
            Deadline.kind == kind,
            Deadline.status == DeadlineStatus.pending,
        )
    ).first()
    if pending is None:
        pending = Deadline(
            organisation_id=ctx.entity.organisation_id,
            entity_type=ctx.entity_type,
            entity_id=ctx.entity.id,
            kind=kind,
            created_at=ctx.now,
            due_at=due_at,
            state=state,
            updated_at=ctx.now,
        )
        session.add(pending)
    pending.due_at, pending.event, pending.state, pending.updated_at = due_at, event, state, ctx.now
    return pending
