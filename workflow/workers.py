"""What the background workers share: the sweeper (workflow/scheduler.py) and the e-mail dispatcher
(notifications/dispatcher.py).

Both claim rows the database holds and name themselves in what they claim (`worker_identity`),
retry a failure later (`backoff`), run one at a time on a SQLite database (`lock_single`) and any
number on PostgreSQL, and are woken by the same kind of clock (`WorkerClock`): an APScheduler
interval job plus one date job at the next due time, never one job per row.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Generic, TypeVar

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from workflow.clock import Clock
from workflow.errors import WorkflowError

log = logging.getLogger("vivier.workers")

OVERDUE_PAUSE = timedelta(seconds=1)


def worker_identity() -> str:
    """hostname:pid:uuid, unique per process even across restarts with a reused pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


WORKER_ID = worker_identity()  # this process's, as the scheduler and the dispatcher sign claims


def backoff(
    attempts: int, base: timedelta, cap: timedelta, *, jitter: random.Random | None = None
) -> timedelta:
    """How long after its `attempts`-th failure a row is tried again: base, 2 base, 4 base...,
    capped. With `jitter`, a random time between half that and that ("equal jitter"), so rows
    that failed together (a server down) do not all come back at the same instant."""
    delay = min(base * 2 ** max(attempts - 1, 0), cap)
    if jitter is None:
        return delay
    return delay / 2 + delay / 2 * jitter.random()


# --- One worker per SQLite database -------------------------------------------------------------


class AlreadyRunning(WorkflowError):
    pass


def sqlite_lock_path(engine: Engine, role: str) -> Path | None:
    """`<database file>.<role>.lock` for a SQLite file; None for PostgreSQL or in-memory."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return Path(f"{database}.{role}.lock")


def lock_single(
    engine: Engine, role: str, holder: str, error: type[AlreadyRunning] = AlreadyRunning
) -> IO[str] | None:
    """On SQLite, hold an exclusive lock on `<database file>.<role>.lock` (fcntl.flock, not
    waiting) or raise `error`. The OS drops the lock when the process ends, so a crash leaves no
    stale lock. PostgreSQL: no lock (None), several workers share the work."""
    path = sqlite_lock_path(engine, role)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        other = handle.read().strip() or "another process"
        handle.close()
        raise error(
            f"a {role} is already running on this SQLite database ({other} holds {path}); "
            f"SQLite runs one {role} at a time, use PostgreSQL to run several"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(holder)
    handle.flush()
    return handle


def release_lock(handle: IO[str] | None) -> None:
    if handle is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


# --- The clock ----------------------------------------------------------------------------------

R = TypeVar("R")


class WorkerClock(ABC, Generic[R]):
    """APScheduler (3, BackgroundScheduler) as the clock of a worker's `work()`, nothing more:
    one interval job (every `interval_s`) and one date job at the worker's `next_due()`,
    rescheduled after each wake. However many rows wait, there are at most these two jobs.

    `start()` does the work once first (the catch-up). On SQLite it takes an exclusive
    non-blocking lock on `<database file>.<role>.lock`, so a second worker of the same role on
    the same file gets `lock_error` with a clear message; on PostgreSQL any number may run.

    Subclasses give `role`, the job ids and the lock error, and implement `work`, `next_due`,
    `idle` (the result of a wake that did nothing), `progressed` and `noteworthy` (whether
    `on_wake` hears of the result)."""

    role = "worker"
    INTERVAL_JOB = "worker-interval"
    NEXT_JOB = "worker-at-next-due"
    lock_error: type[AlreadyRunning] = AlreadyRunning

    def __init__(
        self,
        bind: object,
        now: Clock,
        *,
        interval_s: float,
        worker_id: str,
        on_wake: Callable[[R], None] | None = None,
    ) -> None:
        self.bind = bind
        self.now = now
        self.interval_s = interval_s
        self.worker_id = worker_id
        self.on_wake = on_wake
        self.clock = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},  # one wake at a time
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._lock: IO[str] | None = None
        self._next_job: str | None = None
        self._jobs = threading.Lock()
        self._waking = threading.Lock()  # held while a wake runs, so stop() can wait for it
        self._stopped = threading.Event()

    # What a subclass says.
    @abstractmethod
    def work(self) -> R: ...

    @abstractmethod
    def next_due(self) -> datetime | None: ...

    @abstractmethod
    def idle(self) -> R: ...

    @abstractmethod
    def progressed(self, result: R) -> bool: ...

    def noteworthy(self, result: R) -> bool:
        return self.progressed(result)

    # The clock.
    def _take_lock(self) -> None:
        if isinstance(self.bind, Engine):
            self._lock = lock_single(self.bind, self.role, self.worker_id, self.lock_error)

    def start(self, *, paused: bool = False) -> R:
        """Refuse a second worker of this role on SQLite, catch up, then start the clock."""
        self._take_lock()
        try:
            result = self.wake()
            self.clock.add_job(self.wake, "interval", seconds=self.interval_s, id=self.INTERVAL_JOB)
            self.clock.start(paused=paused)
        except BaseException:
            self._release()
            raise
        return result

    def run_once(self) -> R:
        """The work once, under the SQLite single-worker lock, without the clock."""
        self._take_lock()
        try:
            return self.work()
        finally:
            self._release()

    def wake(self) -> R:
        """Work, then set the date job to the next due time. Errors are logged, not raised: the
        interval job tries again."""
        with self._waking:
            if self._stopped.is_set():
                return self.idle()
            return self._wake()

    def _wake(self) -> R:
        try:
            result = self.work()
        except Exception:
            log.exception("%s round failed; the next wake tries again", self.role)
            result = self.idle()
        try:
            self.plan_next(progress=self.progressed(result))
        except Exception:
            log.exception("could not read the next due time; the interval job still runs")
        if self.on_wake is not None and self.noteworthy(result):
            self.on_wake(result)
        return result

    def plan_next(self, *, progress: bool = True) -> datetime | None:
        """The single date job, moved to the next due time (or removed). A time already past
        means the work left something due (it fell due meanwhile, or is held by another process
        or a transaction): wake at once after progress, else after OVERDUE_PAUSE, so a row held
        elsewhere cannot make this process spin."""
        due = self.next_due()
        with self._jobs:
            if self._next_job is not None:
                with contextlib.suppress(JobLookupError):
                    self.clock.remove_job(self._next_job)
                self._next_job = None
            if due is None:
                return None
            # A new id each time: the job that fired may still be being removed by APScheduler.
            self._next_job = f"{self.NEXT_JOB}-{uuid.uuid4().hex[:8]}"
            now = self.now()
            wake_at = max(due, now)
            if due <= now and not progress:
                wake_at = now + OVERDUE_PAUSE  # still due but held elsewhere: do not spin
            self.clock.add_job(self.wake, "date", run_date=wake_at, id=self._next_job)
        return due

    def jobs(self) -> list[object]:
        return self.clock.get_jobs()

    @property
    def stopping(self) -> bool:
        return self._stopped.is_set()

    def wait(self) -> None:
        """Block until stop() (or Ctrl-C in the main thread)."""
        self._stopped.wait()

    def stop(self) -> None:
        """Stop the clock, let a wake under way finish its transaction, release the lock.
        APScheduler's shutdown(wait=True) would hold its job-store lock while a running wake
        waits for that lock to move the date job: so shut down without waiting, then wait here."""
        self._stopped.set()
        if self.clock.running:
            self.clock.shutdown(wait=False)
        with self._waking:
            self._release()

    def _release(self) -> None:
        release_lock(self._lock)
        self._lock = None
