"""The queries HR needs: where every pipeline stands, how candidates move, what needs attention.

Each report is one SQL statement; Python only shapes its (few) result rows into frozen
dataclasses. "Now" and "today" are always parameters, never SQL now(), so a report is reproducible
and tests move time with time-machine. Every report is scoped to one organisation: another
organisation's rows never appear. The one exception is the list of deadlines, which the operator's
command line may ask for across organisations (`vivier deadlines` without `--org`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby, pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Subquery,
    and_,
    case,
    cast,
    extract,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from workflow.models import (
    Application,
    Candidate,
    Deadline,
    DeadlineStatus,
    EntityType,
    Interview,
    PipelineCount,
    Posting,
    TransitionRecord,
)
from workflow.pipeline import Pipeline

# The volunteer pipeline's state whose stay has an agreed end date (commitment_end).
COMMITMENT_STATE = "commitment"

# Which postings a report covers, besides `posting_id`: None for all the organisation's, else
# their ids, as a collection or a SELECT of ids (the API passes, as a subquery, the postings a
# recruiter may see, or one page of postings), so the report stays one statement.
PostingIds = Collection[int] | Select[Any] | None


def _among(column: Any, posting_id: int | None, posting_ids: PostingIds) -> list[Any]:
    """WHERE clauses keeping `column` (a posting id) to `posting_id` and to `posting_ids`."""
    clauses = []
    if posting_id is not None:
        clauses.append(column == posting_id)
    if posting_ids is not None:
        ids = posting_ids if isinstance(posting_ids, Select) else list(posting_ids)
        clauses.append(column.in_(ids))
    return clauses


# --- Counts by state --------------------------------------------------------------------------


@dataclass(frozen=True)
class PostingCounts:
    posting_id: int
    ref: str
    title: str
    state: str  # the posting's own lifecycle state: draft, published, closed, filled...
    pipeline: str  # its applications' pipeline
    counts: dict[str, int]  # application state -> applications, zero counts omitted
    total: int


def posting_counts(
    session: Session,
    organisation_id: int,
    posting_id: int | None = None,
    *,
    posting_ids: PostingIds = None,
) -> list[PostingCounts]:
    """Applications by state for each posting of the organisation (postings with none included),
    in posting id order.

    Read from pipeline_count, which the transition service keeps in each move's transaction: a
    GROUP BY over applications would cost ~77 ms at a million rows, this stays small.
    """
    query = (
        select(
            Posting.id,
            Posting.ref,
            Posting.title,
            Posting.state,
            Posting.pipeline,
            PipelineCount.state,
            PipelineCount.count,
        )
        # Zero rows stay in the table after everyone left a state: keep them out of the join so
        # a posting whose counts are all zero still appears once, with no states.
        .outerjoin(
            PipelineCount,
            and_(PipelineCount.posting_id == Posting.id, PipelineCount.count != 0),
        )
        .where(Posting.organisation_id == organisation_id)
        .where(*_among(Posting.id, posting_id, posting_ids))
        .order_by(Posting.id, PipelineCount.state)
    )
    rows = session.execute(query).all()
    # Shaping the answer (one row per posting and state, in order) into one object per posting.
    result = []
    for posting, group in groupby(rows, key=lambda row: tuple(row[:5])):
        counts = {state: count for *_, state, count in group if state is not None}
        result.append(PostingCounts(*posting, counts=counts, total=sum(counts.values())))
    return result


def organisation_counts(
    session: Session, organisation_id: int, *, posting_ids: PostingIds = None
) -> dict[str, int]:
    """Applications by state over all the organisation's postings, or over `posting_ids` of
    them (zeros omitted)."""
    total = func.sum(PipelineCount.count)
    query = (
        select(PipelineCount.state, total)
        .join(Posting, Posting.id == PipelineCount.posting_id)
        .where(Posting.organisation_id == organisation_id)
        .where(*_among(Posting.id, None, posting_ids))
        .group_by(PipelineCount.state)
        .having(total != 0)
        .order_by(PipelineCount.state)
    )
    return {state: int(count) for state, count in session.execute(query).all()}


def counts_by_group_by(
    session: Session, posting_id: int | None = None, organisation_id: int | None = None
) -> dict[tuple[int, str], int]:
    """(posting id, state) -> applications, counted the slow way over the application table.

    The reference the property tests and benchmarks hold pipeline_count against; not for reports.
    """
    query = select(Application.posting_id, Application.state, func.count()).group_by(
        Application.posting_id, Application.state
    )
    if posting_id is not None:
        query = query.where(Application.posting_id == posting_id)
    if organisation_id is not None:
        query = query.where(Application.organisation_id == organisation_id)
    return {(p, state): count for p, state, count in session.execute(query).all()}


# --- Conversion between stages ----------------------------------------------------------------


@dataclass(frozen=True)
class StageConversion:
    from_stage: str
    to_stage: str
    reached: int  # applications that ever reached from_stage
    advanced: int  # of those, how many ever reached to_stage
    rate: float | None  # advanced / reached; None when nobody reached from_stage


def _application_history(
    organisation_id: int, pipeline: Pipeline, posting_id: int | None, posting_ids: PostingIds
) -> list[ColumnElement[bool]]:
    """The WHERE clauses selecting the history of the organisation's applications in `pipeline`."""
    clauses = [
        TransitionRecord.organisation_id == organisation_id,
        TransitionRecord.entity_type == EntityType.application,
        TransitionRecord.pipeline == pipeline.name,
    ]
    if posting_id is not None or posting_ids is not None:
        # The history has no posting column: the application says which posting it belongs to.
        in_posting = select(Application.id).where(
            Application.organisation_id == organisation_id,
            *_among(Application.posting_id, posting_id, posting_ids),
        )
        clauses.append(TransitionRecord.entity_id.in_(in_posting))
    return clauses


def conversion(
    session: Session,
    organisation_id: int,
    pipeline: Pipeline,
    posting_id: int | None = None,
    *,
    posting_ids: PostingIds = None,
) -> list[StageConversion]:
    """For each consecutive pair of the pipeline's progress stages: how many applications ever
    reached the first, how many of those ever reached the second, and the rate.

    "Ever reached" is read from the history, so an application later sent back, rejected or
    withdrawn still counts for every stage it got to. "Of those" is checked per application
    (both flags on the same row), so a pipeline that let someone skip a stage stays correct.
    """
    stages = pipeline.progress
    # One row per application: did it ever enter each stage (1/0)?
    reached = (
        select(
            *(
                func.max(case((TransitionRecord.to_state == stage, 1), else_=0)).label(f"s{i}")
                for i, stage in enumerate(stages)
            )
        )
        .where(*_application_history(organisation_id, pipeline, posting_id, posting_ids))
        .group_by(TransitionRecord.entity_id)
        .subquery()
    )
    flags = [reached.c[f"s{i}"] for i in range(len(stages))]
    pairs = list(pairwise(flags))
    if not pairs:
        return []
    query = select(
        *(func.coalesce(func.sum(a), 0) for a, _ in pairs),
        *(func.coalesce(func.sum(a * b), 0) for a, b in pairs),
    )
    row = session.execute(query).one()
    # Pairing up a handful of numbers: entered[i] reached stage i, moved_on[i] also stage i + 1.
    entered, moved_on = row[: len(pairs)], row[len(pairs) :]
    return [
        StageConversion(a, b, n, m, m / n if n else None)
        for a, b, n, m in zip(stages, stages[1:], entered, moved_on, strict=False)
    ]


# --- Time in stage ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StageTime:
    state: str
    ended: int  # stays that have ended: the median and p90 are over these
    median: timedelta | None  # None when no stay has ended yet
    p90: timedelta | None
    current: int  # applications in the state now (open stays, not in the figures)
    longest_current: timedelta | None  # how long the oldest of those has waited, as of `now`


def time_in_stage(
    session: Session,
    organisation_id: int,
    pipeline: Pipeline,
    now: datetime,
    posting_id: int | None = None,
    *,
    posting_ids: PostingIds = None,
) -> list[StageTime]:
    """Median and 90th percentile of the time applications spent in each non-final state.

    A stay runs from the record that entered the state to the application's next record that
    changed state. Self-transitions (staff `next_round`) are left out so they do not split a
    stay. Open stays (still in the state at `now`) are NOT in the percentiles, which would
    otherwise mix finished and unfinished waits; they are reported as `current`, with the longest
    wait. Only history up to `now` is read, so the report is "as of now".

    PostgreSQL gives percentile_cont (interpolated); SQLite, which has none, gives the
    nearest-rank percentile (the value at rank ceil(p * n)). They agree on the median of an
    odd number of stays, and on any percentile of one stay; otherwise they may differ slightly.
    Final states are not reported: a stay in `rejected` or `hired` is not a wait.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    stays = _stays(organisation_id, pipeline, now, postgres, posting_id, posting_ids)
    query = _pg_percentiles(stays) if postgres else _sqlite_percentiles(stays)
    found = {row.state: row for row in session.execute(query).all()}
    return [
        _stage_time(state, found.get(state), now)
        for state in pipeline.states
        if not pipeline.is_final(state)
    ]


def _stays(
    organisation_id: int,
    pipeline: Pipeline,
    now: datetime,
    postgres: bool,
    posting_id: int | None,
    posting_ids: PostingIds,
) -> Subquery:
    """One row per stay: state, entered at, seconds spent (NULL while still there)."""
    record = TransitionRecord
    left_at = func.lead(record.at).over(partition_by=record.entity_id, order_by=record.id)
    changed_state = or_(record.from_state.is_(None), record.from_state != record.to_state)
    entered = (
        select(record.to_state.label("state"), record.at.label("at"), left_at.label("left_at"))
        .where(*_application_history(organisation_id, pipeline, posting_id, posting_ids))
        .where(changed_state, record.at <= now)
        .subquery()
    )
    if postgres:
        seconds = cast(extract("epoch", entered.c.left_at - entered.c.at), Float)
    else:
        # SQLite keeps naive UTC text; julianday() reads it to the millisecond.
        seconds = (func.julianday(entered.c.left_at) - func.julianday(entered.c.at)) * 86400.0
    return select(
        entered.c.state, entered.c.at, seconds.label("seconds"), entered.c.left_at
    ).subquery()


def _pg_percentiles(stays: Subquery) -> Select[Any]:
    # percentile_cont ignores NULLs: open stays (seconds NULL) are left out by themselves.
    return select(
        stays.c.state,
        func.count(stays.c.seconds).label("ended"),
        func.percentile_cont(0.5).within_group(stays.c.seconds).label("median"),
        func.percentile_cont(0.9).within_group(stays.c.seconds).label("p90"),
        func.count().filter(stays.c.left_at.is_(None)).label("current"),
        func.min(stays.c.at).filter(stays.c.left_at.is_(None)).label("oldest_current"),
    ).group_by(stays.c.state)


def _sqlite_percentiles(stays: Subquery) -> Select[Any]:
    # Rank the finished stays of each state by duration; open stays get a partition of their own.
    is_open = stays.c.left_at.is_(None)
    window = {"partition_by": [stays.c.state, is_open]}
    ranked = select(
        stays.c.state,
        stays.c.at,
        stays.c.seconds,
        is_open.label("is_open"),
        func.row_number().over(**window, order_by=stays.c.seconds).label("rank"),
        func.count().over(**window).label("n"),
    ).subquery()

    def nearest_rank(percent: int) -> ColumnElement[Any]:
        # ceil(n * percent / 100) in integer arithmetic (SQLite may lack ceil()).
        at_rank = (ranked.c.n * percent + 99) // 100
        return func.max(case((ranked.c.rank == at_rank, ranked.c.seconds)))

    return select(
        ranked.c.state,
        func.count(ranked.c.seconds).label("ended"),
        nearest_rank(50).label("median"),
        nearest_rank(90).label("p90"),
        func.count().filter(ranked.c.is_open).label("current"),
        func.min(ranked.c.at).filter(ranked.c.is_open).label("oldest_current"),
    ).group_by(ranked.c.state)


def _duration(seconds: float | None) -> timedelta | None:
    # Rounded to the millisecond: SQLite's julianday() is no finer, and floats add noise.
    return None if seconds is None else timedelta(seconds=round(float(seconds), 3))


def _stage_time(state: str, row: Any, now: datetime) -> StageTime:
    if row is None:
        return StageTime(state, 0, None, None, 0, None)
    oldest = row.oldest_current
    return StageTime(
        state=state,
        ended=row.ended,
        median=_duration(row.median),
        p90=_duration(row.p90),
        current=row.current,
        longest_current=None if oldest is None else now - oldest,
    )


# --- What needs attention ---------------------------------------------------------------------


@dataclass(frozen=True)
class CommitmentEnding:
    application_id: int
    candidate_id: int
    candidate_name: str
    posting_id: int
    posting_title: str
    commitment_end: date
    days_left: int


def commitments_ending(
    session: Session,
    organisation_id: int,
    today: date,
    within_days: int,
    posting_id: int | None = None,
    *,
    posting_ids: PostingIds = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[CommitmentEnding]:
    """Volunteers in their commitment whose agreed end falls between today and today + N days
    (both included), soonest first: time to plan a farewell, a renewal or a successor.
    `limit` and `offset` give one page of them."""
    query = (
        _with_person_and_posting(organisation_id, Application.commitment_end)
        .where(
            Application.state == COMMITMENT_STATE,
            Application.commitment_end.between(today, today + timedelta(days=within_days)),
            *_among(Application.posting_id, posting_id, posting_ids),
        )
        .order_by(Application.commitment_end, Application.id)
        .limit(limit)
        .offset(offset)
    )
    return [
        CommitmentEnding(app_id, cand_id, _name(first, last), p_id, title, end, (end - today).days)
        for app_id, cand_id, first, last, p_id, title, end in session.execute(query).all()
    ]


@dataclass(frozen=True)
class IdleApplication:
    application_id: int
    candidate_id: int
    candidate_name: str
    posting_id: int
    posting_title: str
    state: str
    state_entered_at: datetime
    days_idle: int  # whole days since the application entered its state


def open_states(pipelines: Iterable[Pipeline]) -> frozenset[str]:
    """The states of the application pipelines where a candidate still waits for an answer:
    neither final nor placed (accepted, in training, committed: they have their answer).

    Pass `workflow.pipelines.values()`. The posting lifecycle is skipped (its states are not an
    application's).
    """
    return frozenset(
        state
        for pipeline in pipelines
        if pipeline.entity is EntityType.application
        for state in pipeline.states
        if not pipeline.is_final(state) and state not in pipeline.placed
    )


def idle_applications(
    session: Session,
    organisation_id: int,
    now: datetime,
    idle_days: int,
    open_states: Collection[str],
    posting_id: int | None = None,
    *,
    posting_ids: PostingIds = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[IdleApplication]:
    """Applications in one of `open_states` that entered it more than `idle_days` days before
    `now`, the longest waiting first: nobody has moved them, someone should. `limit` and
    `offset` give one page of them."""
    query = (
        _with_person_and_posting(organisation_id, Application.state, Application.state_entered_at)
        .where(
            Application.state.in_(list(open_states)),
            Application.state_entered_at < now - timedelta(days=idle_days),
            *_among(Application.posting_id, posting_id, posting_ids),
        )
        .order_by(Application.state_entered_at, Application.id)
        .limit(limit)
        .offset(offset)
    )
    return [
        IdleApplication(
            app_id, cand_id, _name(first, last), p_id, title, state, entered, (now - entered).days
        )
        for app_id, cand_id, first, last, p_id, title, state, entered in session.execute(
            query
        ).all()
    ]


def _with_person_and_posting(organisation_id: int, *columns: Any) -> Select[Any]:
    """The organisation's applications with who applied and to what, then `columns`."""
    return (
        select(
            Application.id,
            Candidate.id,
            Candidate.first_name,
            Candidate.last_name,
            Posting.id,
            Posting.title,
            *columns,
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .join(Posting, Posting.id == Application.posting_id)
        .where(Application.organisation_id == organisation_id)
    )


def _name(first: str, last: str) -> str:
    # Anonymised candidates have blank names: show nothing rather than stray spaces.
    return f"{first} {last}".strip()


# --- Deadlines --------------------------------------------------------------------------------

OUTSTANDING = (DeadlineStatus.pending, DeadlineStatus.failed)


@dataclass(frozen=True)
class ListedDeadline:
    id: int
    organisation_id: int
    entity_type: EntityType
    entity_id: int
    kind: str
    event: str | None  # None: a reminder, not a transition
    action: str | None  # a named domain action instead (retention's anonymise)
    state: str  # the state that scheduled it
    due_at: datetime
    status: DeadlineStatus
    attempts: int
    last_error: str | None
    posting_id: int | None  # the posting it concerns: its own, its application's, its interview's
    posting_title: str | None


def deadlines(
    session: Session,
    organisation_id: int | None,
    *,
    statuses: Collection[DeadlineStatus] = OUTSTANDING,
    posting_ids: PostingIds = None,
    of_application: int | None = None,
    limit: int = 100,
) -> list[ListedDeadline]:
    """Deadlines in `statuses` (default: pending and failed), soonest due first, each with the
    posting it concerns: what the scheduler will do, and what it could not. `organisation_id`
    None lists every organisation's (the command line only); `posting_ids` keeps those postings'
    own deadlines and their applications' and interviews'; `of_application` keeps that
    application's own and its interviews' (the application page)."""
    d = Deadline
    application_id = case(
        (d.entity_type == EntityType.application, d.entity_id),
        (d.entity_type == EntityType.interview, Interview.application_id),
    )
    posting_id = case(
        (d.entity_type == EntityType.posting, d.entity_id), else_=Application.posting_id
    )
    # ListedDeadline's fields, in order.
    columns = (
        d.id, d.organisation_id, d.entity_type, d.entity_id, d.kind, d.event, d.action, d.state,
        d.due_at, d.status, d.attempts, d.last_error, Posting.id, Posting.title,
    )  # fmt: skip
    query = (
        select(*columns)
        .outerjoin(
            Interview, and_(d.entity_type == EntityType.interview, Interview.id == d.entity_id)
        )
        .outerjoin(Application, Application.id == application_id)
        .outerjoin(Posting, Posting.id == posting_id)
        .where(d.status.in_(list(statuses)), *_among(posting_id, None, posting_ids))
        .order_by(d.due_at, d.id)
        .limit(limit)
    )
    if organisation_id is not None:
        query = query.where(d.organisation_id == organisation_id)
    if of_application is not None:
        query = query.where(application_id == of_application)
    return [ListedDeadline(*row) for row in session.execute(query).all()]
