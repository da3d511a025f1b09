"""Guards: named checks a pipeline file lists on a transition. Each returns None to allow the move,
or a sentence saying why not (the service raises GuardFailed with the guard's name)."""

from collections.abc import Callable

from sqlalchemy import func, select

from workflow.context import TransitionContext
from workflow.models import Application, Feedback, Interview

Guard = Callable[[TransitionContext], str | None]
GUARDS: dict[str, Guard] = {}


def guard(fn: Guard) -> Guard:
    """Register `fn` under its own name, the name pipeline files use."""
    GUARDS[fn.__name__] = fn
    return fn


@guard
def reason_given(ctx: TransitionContext) -> str | None:
    if not (ctx.reason or "").strip():
        return f"'{ctx.event}' needs a reason, recorded in the history"
    return None


@guard
def posting_open(ctx: TransitionContext) -> str | None:
    """Applications are taken while the posting is published, from opens_at to closes_at."""
    posting = ctx.posting
    if posting.state != "published":
        return f"the posting is {posting.state}, not open for applications"
    now = ctx.now.replace(microsecond=0)
    if posting.opens_at is not None and now < posting.opens_at:
        return f"the posting opens for applications at {posting.opens_at.isoformat()}"
    if posting.closes_at is not None and now > posting.closes_at:
        return f"the closing date {posting.closes_at.isoformat()} has passed"
    return None


@guard
def has_feedback(ctx: TransitionContext) -> str | None:
    count = ctx.session.scalar(
        select(func.count(Feedback.id))
        .join(Interview, Interview.id == Feedback.interview_id)
        .where(Interview.application_id == ctx.entity.id, Interview.cancelled_at.is_(None))
    )
    if not count:
        return "no interviewer has recorded feedback on this application yet"
    return None


@guard
def commitment_start_given(ctx: TransitionContext) -> str | None:
    start = ctx.payload_date("commitment_start") or getattr(ctx.entity, "commitment_start", None)
    if start is None:
        return "a commitment start date is needed (payload field 'commitment_start', YYYY-MM-DD)"
    return None


@guard
def vacancies_filled(ctx: TransitionContext) -> str | None:
    """Filled means every vacancy has a person; forcing it takes `force` and a reason."""
    posting = ctx.posting
    placed_states = ctx.workflow.pipelines[posting.pipeline].placed
    placed = ctx.session.scalar(
        select(func.count(Application.id)).where(
            Application.posting_id == posting.id, Application.state.in_(placed_states)
        )
    )
    if placed >= posting.vacancies:
        return None
    if ctx.payload.get("force") is True and (ctx.reason or "").strip():
        return None
    return (
        f"{placed} of {posting.vacancies} vacancies have someone accepted, offered or hired; "
        "to mark it filled anyway give payload force=true and a reason"
    )


@guard
def closes_in_future(ctx: TransitionContext) -> str | None:
    posting = ctx.posting
    if posting.closes_at is not None and posting.closes_at <= ctx.now:
        return f"the closing date {posting.closes_at.isoformat()} has passed; set a later one first"
    return None


@guard
def new_closing_date(ctx: TransitionContext) -> str | None:
    closes_at = ctx.payload_instant("closes_at", ctx.posting.timezone)
    if closes_at is None:
        return "reopening needs a new closing date (payload field 'closes_at')"
    if closes_at <= ctx.now:
        return f"the new closing date {closes_at.isoformat()} is not in the future"
    return None
