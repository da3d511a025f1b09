"""Effects: named actions a pipeline file runs on a transition (`effects`) or on entering a state
(`on_enter`), with parameters given in the file. Deadlines are declared per state, not here."""

import inspect
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from workflow.context import TransitionContext
from workflow.dates import add_months
from workflow.errors import InvalidInput
from workflow.models import Application, EntityType

Effect = Callable[..., None]
EFFECTS: dict[str, Effect] = {}
DEFAULT_COMMITMENT_MONTHS = 24
REASON_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def effect(fn: Effect) -> Effect:
    """Register `fn` under its own name; its keyword parameters are the file's parameters."""
    EFFECTS[fn.__name__] = fn
    return fn


def effect_parameters(name: str) -> tuple[set[str], set[str]]:
    """(required, optional) parameter names of effect `name`, for validating pipeline files."""
    params = list(inspect.signature(EFFECTS[name]).parameters.values())[1:]
    required = {p.name for p in params if p.default is inspect.Parameter.empty}
    return required, {p.name for p in params} - required


@effect
def record_commitment(ctx: TransitionContext) -> None:
    """Entering the commitment: start from the payload (or kept), end = start + the posting's months."""
    application = ctx.entity
    start = ctx.payload_date("commitment_start") or application.commitment_start
    months = ctx.posting.commitment_months or DEFAULT_COMMITMENT_MONTHS
    application.commitment_start = start
    application.commitment_end = add_months(start, months)


@effect
def record_rejection_reason(ctx: TransitionContext) -> None:
    """Keep the rejection's reason code (e.g. not_qualified): e-mails pick their text by it."""
    code = ctx.payload.get("rejection_reason", "other")
    if not isinstance(code, str) or not REASON_CODE.match(code):
        raise InvalidInput(
            "payload.rejection_reason", f"{code!r} is not a reason code like 'not_qualified'"
        )
    ctx.entity.rejection_reason = code


@effect
def clear_rejection_reason(ctx: TransitionContext) -> None:
    ctx.entity.rejection_reason = None


@effect
def set_closing_date(ctx: TransitionContext) -> None:
    posting = ctx.posting
    posting.closes_at = ctx.payload_instant("closes_at", posting.timezone)


@effect
def reject_open_applications(ctx: TransitionContext, reason: str) -> None:
    """No candidate is left without an answer when a posting is filled or cancelled: every
    application still open (not final, nobody placed) is rejected by a normal transition."""
    posting = ctx.posting
    pipeline = ctx.workflow.pipelines[posting.pipeline]
    leave_alone = pipeline.final | pipeline.placed
    # Lock them all, in id order, before the first move takes any count row: a recruiter's
    # concurrent move of one of them then waits here instead of deadlocking on the counts.
    open_ids = ctx.session.scalars(
        select(Application.id)
        .where(Application.posting_id == posting.id, Application.state.not_in(leave_alone))
        .order_by(Application.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE, as Workflow._lock
    ).all()
    for application_id in open_ids:
        ctx.workflow.fire_in(
            ctx.session,
            EntityType.application,
            application_id,
            "reject",
            ctx.actor,
            reason=reason,
            payload={"rejection_reason": reason},
            now=ctx.now,
        )


def run_effects(ctx: TransitionContext, effects: tuple[Any, ...]) -> None:
    for spec in effects:
        EFFECTS[spec.do](ctx, **spec.params)
