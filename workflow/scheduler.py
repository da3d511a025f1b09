"""The sweeper, which carries out due deadlines, and the clock that wakes it (ARCHITECTURE.md, Time).

The database is the source of truth. `sweep()` claims due pending deadlines oldest first and settles
each in a transaction of its own: claim (row lock, `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
several processes share the work and never take the same row), the work (an event fired through the
transition service as actor `system`, a named action such as retention's `anonymise`, or a
reminder published as a domain event), the deadline's new status and one `deadline_claim` row
naming the process, all committed together. A crash before the commit leaves the deadline pending:
nothing is lost, and the claims prove nothing was done twice.

`Scheduler` is only the clock (workflow/workers.py, shared with the e-mail dispatcher): an
APScheduler interval job plus one date job at the next due time. Pending deadlines are never turned
into APScheduler jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, bindparam, func, insert, select, update
from sqlmodel import Session

from workflow import data_requests, interviews, retention, workers
from workflow.context import Actor
from workflow.errors import (
    GuardFailed,
    NotFound,
    TransitionNotAllowed,
    UnknownEvent,
    WorkflowError,
)
from workflow.events import DomainEvent
from workflow.models import (
    Application,
    ClaimOutcome,
    Deadline,
    DeadlineClaim,
    DeadlineStatus,
    EntityType,
    Posting,
)
from workflow.service import POSTING_PIPELINE, Workflow
from workflow.workers import OVERDUE_PAUSE as OVERDUE_PAUSE  # re-exported: the tests read it
from workflow.workers import WORKER_ID, AlreadyRunning, WorkerClock

log = logging.getLogger("vivier.scheduler")

DEADLINES = Deadline.__table__
CLAIMS = DeadlineClaim.__table__
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_INTERVAL_S = 30.0
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
ERROR_LENGTH = 2000  # of last_error and a claim's error


def backoff(attempts: int) -> timedelta:
    """How long after its `attempts`-th failure a deadline is tried again: 1, 2, 4... min, capped."""
    return workers.backoff(attempts, BACKOFF_BASE, BACKOFF_CAP)


class Moot(WorkflowError):
    """The deadline's action no longer applies (the entity left the state that scheduled it)."""


# The service's refusals: the action is no longer allowed, so the deadline is skipped, not retried.
REFUSALS = (TransitionNotAllowed, GuardFailed, NotFound, UnknownEvent, Moot)


class _Busy(Exception):
    """The deadline's entity is locked by a transition under way: leave the deadline for later."""


@dataclass
class SweepResult:
    done: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    busy: int = 0  # left pending because their entity was being changed; the next sweep does them

    @property
    def settled(self) -> int:
        return self.done + self.skipped + self.retried + self.failed

    def add(self, outcome: ClaimOutcome) -> None:
        name = {ClaimOutcome.retry: "retried"}.get(outcome, outcome.value)
        setattr(self, name, getattr(self, name) + 1)

    def __str__(self) -> str:
        return (
            f"{self.done} done, {self.skipped} skipped, {self.retried} to retry, "
            f"{self.failed} failed" + (f", {self.busy} busy" if self.busy else "")
        )


def sweep(
    workflow: Workflow,
    *,
    now: datetime | None = None,
    batch: int = 100,
    worker_id: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    organisation_id: int | None = None,
) -> SweepResult:
    """Settle every deadline due at `now` (default: the workflow's clock, read again each round),
    oldest first, one transaction per deadline; returns the counts. At start-up this is the
    catch-up: whatever fell due while nothing ran is done once.

    Each round lists up to `batch` due ids (a plain read), then claims them one by one; a row
    another process holds or has settled meanwhile is passed over. `organisation_id` limits the
    sweep to one organisation (tests, maintenance)."""
    worker_id = worker_id or WORKER_ID
    result = SweepResult()
    passed: set[int] = set()  # busy this call: not listed again until the next sweep
    while True:
        at = now or workflow.clock()
        with workflow.sessions() as session:
            ids = session.scalars(_due_ids(at, batch, organisation_id, passed)).all()
        if not ids:
            return result
        settled = 0
        for deadline_id in ids:
            outcome = _settle(workflow, deadline_id, at, worker_id, max_attempts)
            if outcome is None:
                continue
            if outcome == "busy":
                passed.add(deadline_id)
                result.busy += 1
                continue
            result.add(outcome)
            settled += 1
        if settled == 0 and not passed.intersection(ids):
            return result  # every listed row is another process's now


def _due_ids(now: datetime, batch: int, organisation_id: int | None, passed: set[int]) -> Any:
    c = DEADLINES.c
    query = (
        select(c.id)
        .where(c.status == DeadlineStatus.pending, c.due_at <= now)
        .order_by(c.due_at, c.id)
        .limit(batch)
    )
    if organisation_id is not None:
        query = query.where(c.organisation_id == organisation_id)
    if passed:
        query = query.where(c.id.notin_(passed))
    return query


def _settle(
    workflow: Workflow, deadline_id: int, now: datetime, worker_id: str, max_attempts: int
) -> ClaimOutcome | str | None:
    """Claim, work and mark one deadline in one transaction. None: someone else has it."""
    session = workflow.sessions()
    try:
        with session.begin():
            row = session.execute(_CLAIM, {"id": deadline_id, "now": now}).first()
            if row is None:
                return None
            error: str | None = None
            note: str | None = None  # what a done action has to say, kept as its last_error
            try:
                with session.begin_nested():
                    note = _work(workflow, session, row, now)
                outcome = ClaimOutcome.done
            except _Busy:
                raise
            except REFUSALS as refusal:
                outcome, error = ClaimOutcome.skipped, str(refusal)[:ERROR_LENGTH]
            except Exception as exc:  # any failure of the action: retried with backoff
                error = f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
                last = row.attempts + 1 >= max_attempts
                outcome = ClaimOutcome.failed if last else ClaimOutcome.retry
            _mark(session, row, outcome, error or note, now)
            session.execute(
                insert(CLAIMS),
                {
                    "deadline_id": row.id,
                    "claimed_by": worker_id,
                    "claimed_at": now,
                    "outcome": outcome,
                    "error": error,
                },
            )
        if outcome is ClaimOutcome.failed:
            log.error(
                "deadline %s (%s of %s %s) failed after %s attempts: %s",
                row.id, row.kind, row.entity_type.value, row.entity_id, row.attempts + 1, error,
            )  # fmt: skip
        elif outcome is ClaimOutcome.retry:
            log.warning("deadline %s (%s) failed, will retry: %s", row.id, row.kind, error)
        return outcome
    except _Busy:
        return "busy"
    finally:
        session.close()


def _claim_query() -> Any:
    """The deadline, if still pending and due, locked (a row another process holds is skipped),
    with its entity's state and pipeline read in the same round trip."""
    c = DEADLINES.c
    applications, postings = Application.__table__, Posting.__table__
    a, p = applications.c, postings.c
    joined = DEADLINES.outerjoin(
        applications, (c.entity_type == EntityType.application) & (a.id == c.entity_id)
    ).outerjoin(postings, (c.entity_type == EntityType.posting) & (p.id == c.entity_id))
    return (
        select(
            DEADLINES,
            func.coalesce(a.state, p.state).label("entity_state"),
            a.pipeline.label("application_pipeline"),
        )
        .select_from(joined)
        .where(
            c.id == bindparam("id"),
            c.status == DeadlineStatus.pending,
            c.due_at <= bindparam("now", type_=c.due_at.type),
        )
        .with_for_update(skip_locked=True, of=DEADLINES)
    )


_CLAIM = _claim_query()


def _work(workflow: Workflow, session: Session, row: Any, now: datetime) -> str | None:
    """The deadline's work, inside a savepoint the caller rolls back on any exception: fire its
    event, run its action (workflow/retention.py ACTIONS) or publish its reminder. Returns the
    action's note for the deadline, if any."""
    if row.entity_type is EntityType.interview:
        _remind_interview(workflow, session, row, now)
        return None
    if row.kind == data_requests.DATA_REQUEST:  # on an application, whatever its state
        _remind_data_request(workflow, session, row, now)
        return None
    what = f"{row.entity_type.value} {row.entity_id}"
    state = row.entity_state
    if row.event is not None or row.action is not None:
        # Lock the entity before the service does, without waiting: a transition under way holds
        # it and will want this deadline's row (to cancel it), which this transaction holds.
        # Waiting would deadlock; passing leaves the deadline to the next sweep.
        model = Application if row.entity_type is EntityType.application else Posting
        state = session.scalar(
            select(model.state)
            .where(model.id == row.entity_id)
            .with_for_update(key_share=True, skip_locked=True)
        )
        if state is None and row.entity_state is not None:
            raise _Busy(row.id)
    if state is None:
        raise NotFound(row.entity_type.value, row.entity_id)
    if state != row.state:
        raise Moot(f"{what} left state {row.state!r} (now {state!r})")
    reason = f"deadline {row.kind}"
    if row.event is not None:
        workflow.fire_in(
            session, row.entity_type, row.entity_id, row.event, Actor.system(), reason=reason,
            now=now,
        )  # fmt: skip
        return None
    if row.action is not None:
        return _run_action(workflow, session, row, now)
    _publish_reminder(workflow, session, row, now, row.application_pipeline or POSTING_PIPELINE)
    return None


def _run_action(workflow: Workflow, session: Session, row: Any, now: datetime) -> str | None:
    """A named domain action (e.g. retention's anonymise), on the entity locked by `_work`."""
    action = retention.ACTIONS.get(row.action)
    if action is None:  # a deadline written by another version of the code: fail visibly
        raise LookupError(f"unknown deadline action {row.action!r}")
    try:
        return action.run(session, workflow, row, now)
    except retention.Busy:
        raise _Busy(row.id) from None


def _remind_interview(workflow: Workflow, session: Session, row: Any, now: datetime) -> None:
    """An interview's reminder, published with who is to be reminded; moot once the interview
    is cancelled, its application closed, or (feedback) every interviewer has answered."""
    found = interviews.reminder(session, workflow, row.entity_id, row.kind)
    if found.moot is not None:
        raise Moot(found.moot)
    _publish_reminder(workflow, session, row, now, found.pipeline, found.payload)


def _remind_data_request(workflow: Workflow, session: Session, row: Any, now: datetime) -> None:
    """A candidate's data request falls due: remind HR, unless it has been answered."""
    found = data_requests.reminder(session, row.entity_id)
    if found is None:
        raise Moot(f"the data request made from application {row.entity_id} was answered")
    pipeline, payload = found
    _publish_reminder(workflow, session, row, now, pipeline, payload)


def _publish_reminder(
    workflow: Workflow,
    session: Session,
    row: Any,
    now: datetime,
    pipeline: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """A reminder deadline as the domain event `reminder:KIND`, for notifications to send."""
    workflow.bus.publish(
        session,
        DomainEvent(
            name=f"reminder:{row.kind}",
            organisation_id=row.organisation_id,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            pipeline=pipeline,
            at=now,
            actor=Actor.system(),
            reason=f"deadline {row.kind}",
            payload={
                "deadline_id": row.id,
                "kind": row.kind,
                "state": row.state,
                "due_at": row.due_at.isoformat(),
            }
            | (extra or {}),
        ),
    )


def _mark(
    session: Session, row: Any, outcome: ClaimOutcome, error: str | None, now: datetime
) -> None:
    """The deadline's new status. After a fired event this runs after the service, which has
    just cancelled the deadlines of the state left, this one included: done overrides it."""
    values: dict[str, Any] = {"updated_at": now}
    if outcome is ClaimOutcome.done:
        values |= {"status": DeadlineStatus.done, "done_at": now}
        if error is not None:  # a done action's note (retention: why the candidate was kept)
            values["last_error"] = error
    elif outcome is ClaimOutcome.skipped:
        values |= {"status": DeadlineStatus.skipped, "done_at": now, "last_error": error}
    else:
        attempts = row.attempts + 1
        values |= {"attempts": attempts, "last_error": error}
        if outcome is ClaimOutcome.failed:
            values |= {"status": DeadlineStatus.failed, "done_at": now}
        else:
            values["due_at"] = now + backoff(attempts)
    session.execute(update(DEADLINES).where(DEADLINES.c.id == row.id).values(**values))


def next_due(workflow: Workflow) -> datetime | None:
    """When the earliest pending deadline falls due, or None."""
    with workflow.sessions() as session:
        return session.scalar(
            select(func.min(DEADLINES.c.due_at)).where(DEADLINES.c.status == DeadlineStatus.pending)
        )


# --- The clock ------------------------------------------------------------------------------


class SchedulerAlreadyRunning(AlreadyRunning):
    pass


def sqlite_lock_path(engine: Engine) -> Path | None:
    """The scheduler's lock file of a SQLite database file; None for PostgreSQL or in-memory."""
    return workers.sqlite_lock_path(engine, Scheduler.role)


def lock_single_scheduler(engine: Engine) -> IO[str] | None:
    """On SQLite, hold the single-scheduler lock (workflow/workers.py lock_single) or raise
    SchedulerAlreadyRunning. PostgreSQL: no lock (None), several schedulers share the work."""
    return workers.lock_single(engine, Scheduler.role, WORKER_ID, SchedulerAlreadyRunning)


class Scheduler(WorkerClock[SweepResult]):
    """APScheduler as the clock of `sweep()` (workflow/workers.py WorkerClock): one interval job
    and one date job at the earliest pending due time. However many deadlines are pending, there
    are at most these two jobs.

    `start()` runs the catch-up sweep first. Single scheduler on SQLite: a second one on the
    same file gets SchedulerAlreadyRunning with a clear message. On PostgreSQL any number may
    run; `FOR UPDATE SKIP LOCKED` keeps them from doing a deadline twice."""

    role = "scheduler"
    INTERVAL_JOB = "sweep-interval"
    NEXT_JOB = "sweep-at-next-due"
    lock_error = SchedulerAlreadyRunning

    def __init__(
        self,
        workflow: Workflow,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        batch: int = 100,
        worker_id: str | None = None,
        on_sweep: Callable[[SweepResult], None] | None = None,
    ) -> None:
        super().__init__(
            workflow.sessions.kw["bind"],
            lambda: workflow.clock(),  # read each time: tests replace workflow.clock
            interval_s=interval_s,
            worker_id=worker_id or WORKER_ID,
            on_wake=on_sweep,
        )
        self.workflow = workflow
        self.max_attempts = max_attempts
        self.batch = batch

    def sweep_once(self) -> SweepResult:
        """One catch-up sweep under the SQLite single-scheduler lock, without the clock."""
        return self.run_once()

    def work(self) -> SweepResult:
        return sweep(
            self.workflow,
            batch=self.batch,
            worker_id=self.worker_id,
            max_attempts=self.max_attempts,
        )

    def next_due(self) -> datetime | None:
        return next_due(self.workflow)

    def idle(self) -> SweepResult:
        return SweepResult()

    def progressed(self, result: SweepResult) -> bool:
        return result.settled > 0

    def noteworthy(self, result: SweepResult) -> bool:
        return bool(result.settled or result.busy)
