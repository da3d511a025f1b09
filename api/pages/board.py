"""The recruiter's board of a posting: a column per state of its pipeline, a card per application
(name, time in stage, flags such as "idle 12 days" or "feedback missing") with the moves allowed
now; one application at a time, or many in bulk.

Everything goes through the API's own functions: the applications come from list_applications,
each card's moves from event_choices (which guard blocks which event now), a bulk move from
bulk_event (api/routes/applications.py); who sees and moves what is api/access.py's. A move
answers with the board again, which htmx swaps in place; a refused one with the board and the
refusal in words on the card and in the page's live region (the single move's route is on the
application page's module, which both pages post to).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from dateutil.relativedelta import relativedelta
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import exists, select
from sqlmodel import Session

from api.access import managed_posting, may_manage
from api.deps import IdPath, get_container
from api.pages.i18n import Translator
from api.pages.web import PageUser, check_csrf, is_htmx, render, translator
from api.problems import Problem
from api.routes.applications import (
    MAX_BULK,
    AllowedEvent,
    ApplicationRow,
    BulkIn,
    BulkItem,
    bulk_event,
    event_choices,
    list_applications,
)
from api.routes.postings import PostingOut, read_posting
from api.security import Principal
from notifications.render import TEMPLATES
from workflow.interviews import DEFAULT_LENGTH
from workflow.models import Application, Feedback, Interview, InterviewInterviewer
from workflow.pipeline import Pipeline

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])

# A board shows at most this many applications (read 200 at a time, as the API pages them).
BOARD_LIMIT = 1000
PAGE = 200
# Guards the move's own small form satisfies: a reason, a commitment start date. A move blocked
# only by one of these is offered with its form, not greyed out.
FORM_GUARDS = frozenset({"reason_given", "commitment_start_given"})
# The reason codes a person picks when rejecting: each has its own e-mail to the candidate
# (notifications/render.py TEMPLATES). posting_filled and posting_cancelled are the system's own,
# given when a posting ends.
REJECTION_REASONS = tuple(
    name.removeprefix("rejected_")
    for name in TEMPLATES
    if name.startswith("rejected_") and not name.startswith("rejected_posting_")
)


# --- What a card shows --------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One event offered on a card: a button, a small form asking what it needs, or greyed out
    with the reason why not now."""

    event: str
    label: str  # the button's words (i18n/events.toml), with the way back's destination
    asks_reason: bool
    asks_start: bool
    asks_rejection: bool
    blocked: str | None  # why not now, in words

    @property
    def has_form(self) -> bool:
        return self.asks_reason or self.asks_start or self.asks_rejection


@dataclass
class Card:
    id: int
    name: str
    state: str
    version: int
    entered_at: datetime
    days_in_stage: int
    idle_days: int | None  # set when the stage's idle reminder time has passed
    feedback_missing: bool
    moves: list[Move] = field(default_factory=list)
    error: str | None = None  # a refused move, in words


@dataclass
class Column:
    state: str
    label: str
    final: bool
    count: int
    cards: list[Card]
    shown: bool  # a way out's cards are shown on demand (?show=STATE)


@dataclass(frozen=True)
class Outcome:
    """What became of one move, told on its card and in the live region."""

    application_id: int
    ok: bool
    message: str


@dataclass(frozen=True)
class BulkLine:
    application_id: int
    name: str
    ok: bool
    message: str


def state_label(pipeline: Pipeline, state: str, lang: str) -> str:
    found = pipeline.states.get(state)
    return found.label[lang] if found else state


def guard_text(t: Translator, guard: str | None, message: str | None) -> str:
    """A guard's refusal in plain words (i18n/guards.toml), else the domain's own sentence."""
    key = f"guards.{guard}"
    return t(key) if key in t.words else (message or t("errors.guard-failed"))


def explain(t: Translator, problem: Problem, pipeline: Pipeline | None = None) -> str:
    """Why a move (or a form) was refused, in the reader's language; `pipeline` names the state
    a move was not possible from."""
    extra = problem.extra
    if problem.kind == "guard-failed":
        return guard_text(t, extra.get("guard"), problem.detail)
    if problem.kind == "transition-not-allowed" and pipeline is not None:
        state = state_label(pipeline, str(extra.get("state", "")), t.lang)
        return t("board.not_allowed", state=state)
    if problem.kind == "invalid-input":
        return t("board.invalid", detail=problem.detail or "")
    key = f"errors.{problem.kind}"
    return t(key) if key in t.words else f"{problem.title}: {problem.detail or ''}"


def moves_of(
    pipeline: Pipeline,
    state: str,
    commitment_start: date | None,
    choices: list[AllowedEvent],
    t: Translator,
) -> list[Move]:
    """The card's moves, in the order the pipeline file declares its transitions."""
    order = events_in_order(pipeline)
    moves = []
    for choice in sorted(choices, key=lambda c: order.index(c.event)):
        transition = pipeline.transition(state, choice.event)
        assert transition is not None  # the choices come from this state's transitions
        guards = set(transition.guards)
        refused_by = choice.blocked_by if choice.blocked_by not in FORM_GUARDS else None
        label = t(f"events.{choice.event}")
        if choice.event == "back":  # several stages have one: say where to
            label += f" → {state_label(pipeline, choice.to_state, t.lang)}"
        moves.append(
            Move(
                event=choice.event,
                label=label,
                asks_reason="reason_given" in guards,
                asks_start="commitment_start_given" in guards and commitment_start is None,
                asks_rejection=any(e.do == "record_rejection_reason" for e in transition.effects),
                blocked=guard_text(t, refused_by, choice.message) if refused_by else None,
            )
        )
    return moves


def events_in_order(pipeline: Pipeline) -> list[str]:
    """The pipeline's events in the order its file declares them (onward first, then the ways
    out and back), as buttons and the bulk menu list them."""
    return list(dict.fromkeys(transition.event for transition in pipeline.transitions))


def _days(since: datetime, now: datetime) -> int:
    return max((now - since).days, 0)


def idle_after(pipeline: Pipeline, state: str) -> relativedelta | None:
    """How long an application may sit in `state` before its idle reminder goes out (the
    pipeline's `idle_reminder` deadline); None for stages without one (training, commitment)."""
    found = pipeline.states.get(state)
    for spec in found.deadlines if found else ():
        if spec.kind == "idle_reminder":
            return spec.offset
    return None


def feedback_missing(session: Session, application_ids: list[int], now: datetime) -> set[int]:
    """Those of the applications with an interview that is over (its end, or an hour after its
    start when it has none: the feedback reminder's notion) and not cancelled, from which some
    interviewer's feedback is still missing."""
    if not application_ids:
        return set()
    given = exists().where(
        Feedback.interview_id == InterviewInterviewer.interview_id,
        Feedback.interviewer_id == InterviewInterviewer.user_id,
    )
    waiting = exists().where(InterviewInterviewer.interview_id == Interview.id, ~given)
    rows = session.execute(
        select(Interview.application_id, Interview.starts_at, Interview.ends_at).where(
            Interview.application_id.in_(application_ids),
            Interview.cancelled_at.is_(None),
            Interview.starts_at <= now,
            waiting,
        )
    ).all()
    return {app for app, start, end in rows if (end or start + DEFAULT_LENGTH) <= now}


# --- Building the board -------------------------------------------------------------------------


def _applications(
    user: Principal, request: Request, posting_id: int
) -> tuple[list[ApplicationRow], bool]:
    """The posting's applications this user sees (the API's list, page by page), and whether
    there were more than the board shows."""
    container = get_container(request)
    rows: list[ApplicationRow] = []
    cursor = None
    while len(rows) < BOARD_LIMIT:
        page = list_applications(
            user, container, posting_id=posting_id, state=None, idle_days=None, q=None,
            cursor=cursor, limit=PAGE,
        )  # fmt: skip
        rows += page.items
        cursor = page.next_cursor
        if cursor is None:
            return rows, False
    return rows, True


def _card(row: ApplicationRow, pipeline: Pipeline, now: datetime, missing: set[int]) -> Card:
    wait = idle_after(pipeline, row.state)
    idle = wait is not None and row.state_entered_at + wait <= now
    return Card(
        id=row.id,
        name=row.candidate_name,
        state=row.state,
        version=row.version,
        entered_at=row.state_entered_at,
        days_in_stage=_days(row.state_entered_at, now),
        idle_days=_days(row.state_entered_at, now) if idle else None,
        feedback_missing=row.id in missing,
    )


def column_states(pipeline: Pipeline) -> tuple[list[str], list[str]]:
    """The board's columns: the stages of progress in order (and any other open state), then
    the ways out (final states that are not a stage of progress: rejected, withdrawn...)."""
    stages = list(pipeline.progress)
    stages += [s for s in pipeline.states if s not in stages and not pipeline.is_final(s)]
    ways_out = [s for s in pipeline.states if s not in stages]
    return stages, ways_out


@dataclass
class Board:
    posting: PostingOut
    pipeline: Pipeline
    columns: list[Column]
    ways_out: list[Column]
    can_move: bool
    truncated: bool
    show: str
    names: dict[int, str]
    events: list[str]


def _cards(
    request: Request,
    user: Principal,
    pipeline: Pipeline,
    rows: list[ApplicationRow],
    posting_id: int,
    outcome: Outcome | None,
) -> tuple[list[Card], bool]:
    """The cards of `rows`, longest waiting first, with their moves when this user may move
    them (and whether they may), a refused move's words on its card."""
    container = get_container(request)
    workflow = container.workflow
    t = translator(request)
    now = workflow.clock()
    with workflow.sessions.begin() as session:
        can_move = may_manage(session, user, posting_id)
        missing = feedback_missing(session, [row.id for row in rows], now)
        cards = []
        for row in sorted(rows, key=lambda r: (r.state_entered_at, r.id)):
            card = _card(row, pipeline, now, missing)
            if can_move:
                choices = event_choices(session, container, user, row.id)
                card.moves = moves_of(pipeline, row.state, row.commitment_start, choices, t)
            if outcome and not outcome.ok and outcome.application_id == row.id:
                card.error = outcome.message
            cards.append(card)
    return cards, can_move


def build_board(
    request: Request,
    user: Principal,
    posting_id: int,
    show: str = "",
    outcome: Outcome | None = None,
) -> Board:
    """The board as this user sees it: 404 for a posting they do not see (read_posting). The
    ways out are counted; one of them, `show`, also has its cards."""
    container = get_container(request)
    lang = translator(request).lang
    posting = read_posting(posting_id, user, container)
    pipeline = container.workflow.pipelines[posting.pipeline]
    rows, truncated = _applications(user, request, posting_id)
    stages, ways_out = column_states(pipeline)
    show = show if show in ways_out else ""
    visible = set(stages) | {show}
    shown = [row for row in rows if row.state in visible]
    cards, can_move = _cards(request, user, pipeline, shown, posting_id, outcome)
    counts = Counter(row.state for row in rows)

    def column(state: str, final: bool) -> Column:
        in_it = [card for card in cards if card.state == state]
        label = state_label(pipeline, state, lang)
        return Column(state, label, final, counts[state], in_it, state in visible)

    return Board(
        posting=posting,
        pipeline=pipeline,
        columns=[column(s, pipeline.is_final(s)) for s in stages],
        ways_out=[column(s, True) for s in ways_out],
        can_move=can_move,
        truncated=truncated,
        show=show,
        names={row.id: row.candidate_name for row in rows},
        events=events_in_order(pipeline),
    )


def board_response(
    request: Request,
    board: Board,
    *,
    outcome: Outcome | None = None,
    bulk: list[BulkLine] | None = None,
    bulk_error: str = "",
    bulk_form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The whole page, or for htmx the board alone with the message for the live region."""
    context = {
        "board": board,
        "outcome": outcome,
        "bulk": bulk,
        "bulk_error": bulk_error,
        "bulk_form": bulk_form or {},
        "rejection_reasons": REJECTION_REASONS,
    }
    template = "_board_swap.html" if is_htmx(request) else "board.html"
    return render(request, template, context, status=status)


def board_url(posting_id: int, show: str = "") -> str:
    return f"/app/postings/{posting_id}/board" + (f"?show={show}" if show else "")


# --- Routes -------------------------------------------------------------------------------------


@router.get("/app/postings/{posting_id}/board")
def board_page(
    request: Request, posting_id: IdPath, user: PageUser, show: str = ""
) -> HTMLResponse:
    return board_response(request, build_board(request, user, posting_id, show))


def payload_of(rejection_reason: str, commitment_start: str) -> dict[str, Any]:
    """The event's data from a move's form: only what was filled in."""
    payload: dict[str, Any] = {}
    if rejection_reason:
        payload["rejection_reason"] = rejection_reason
    if commitment_start:
        payload["commitment_start"] = commitment_start
    return payload


Text = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=64)]


@router.post("/app/postings/{posting_id}/board/events")
def bulk_move(
    request: Request,
    posting_id: IdPath,
    user: PageUser,
    event: Short = "",
    ids: Annotated[list[int] | None, Form()] = None,
    reason: Text = "",
    rejection_reason: Short = "",
    commitment_start: Short = "",
    show: Short = "",
) -> Response:
    """Move the ticked applications, each on its own (the API's bulk move): the board comes
    back with a line per application saying what became of it."""
    container = get_container(request)
    t = translator(request)
    with container.workflow.sessions.begin() as session:
        managed_posting(session, user, posting_id)  # 404 when not seen, 403 when only seen
        on_board = _on_posting(session, posting_id, ids or [])
    form = {
        "event": event, "reason": reason, "rejection_reason": rejection_reason,
        "commitment_start": commitment_start,
    }  # fmt: skip
    if not ids or not event or len(ids) > MAX_BULK:
        board = build_board(request, user, posting_id, show)
        error = (
            t("board.bulk_none") if not ids
            else t("board.bulk_too_many", n=MAX_BULK) if len(ids) > MAX_BULK
            else t("board.bulk_no_event")
        )  # fmt: skip
        return board_response(request, board, bulk_error=error, bulk_form=form, status=422)
    elsewhere = [i for i in dict.fromkeys(ids) if i not in on_board]
    ids = [i for i in ids if i in on_board]
    payload = payload_of(rejection_reason, commitment_start)
    body = BulkIn(ids=ids, reason=reason.strip() or None, payload=payload) if ids else None
    items = bulk_event(event, body, user, container) if body else []
    board = build_board(request, user, posting_id, show)
    lines = [_bulk_line(t, board, item) for item in items]
    # Ids of another posting's applications (a stale or crafted form): moved from their own board.
    lines += [BulkLine(i, f"#{i}", False, t("board.bulk_not_here")) for i in elsewhere]
    return board_response(request, board, bulk=lines)


def _on_posting(session: Session, posting_id: int, ids: list[int]) -> set[int]:
    """Which of `ids` are applications to this posting (the others are not on its board)."""
    query = select(Application.id).where(Application.posting_id == posting_id)
    return set(session.scalars(query.where(Application.id.in_(ids)))) if ids else set()


def _bulk_line(t: Translator, board: Board, item: BulkItem) -> BulkLine:
    name = board.names.get(item.id, f"#{item.id}")
    if item.result is not None:
        state = state_label(board.pipeline, item.result.to_state, t.lang)
        return BulkLine(item.id, name, True, t("board.moved_to", state=state))
    body = dict(item.problem or {})
    kind = str(body.pop("type", "")).rsplit("/", 1)[-1]
    title, detail = str(body.pop("title", "")), body.pop("detail", None)
    body.pop("status", None)
    problem = Problem(item.status, kind, title, detail, **body)
    return BulkLine(item.id, name, False, explain(t, problem, board.pipeline))
