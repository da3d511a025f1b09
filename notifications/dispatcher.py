"""The dispatcher: delivers the outbox, at least once and in order per recipient (ARCHITECTURE.md,
E-mail). The sweeper's sibling (workflow/scheduler.py): the same worker identity, row claims, backoff
and clock (workflow/workers.py).

In order per recipient: only the first queued message of each address (the head of their queue)
can be claimed. While it waits for a retry, or is leased to a dispatcher, the person's later
messages wait behind it; the next one becomes the head when it is sent or dead.

One round (`deliver`):
1. Claim, in one short transaction: up to `batch` heads that are due and free of any lease, by due
   time, rows locked with `FOR UPDATE SKIP LOCKED` on PostgreSQL (several dispatchers share the
   outbox and never claim the same row; SQLite runs one dispatcher), leased to this worker
   (`lease_until`, `claimed_by`) and committed.
2. Send, oldest first, through one backend connection for the batch (notifications/backends.py).
   If the backend itself fails (server down), the rest of the batch is not tried. Messages are
   only sent while half the lease remains, so a lease never runs out under a live dispatcher.
3. Record, in one transaction: sent (`sent_at`, `message_id`); refused (`attempts` + 1,
   `last_error`, `next_attempt_at` after an exponential backoff with jitter), and dead after
   `max_attempts` refusals or at once on a permanent one (a 5xx reply, a message that cannot be
   built); or handed back untried (lease cleared). A backend failure (server unreachable, login
   refused) is the server's, not the message's: it is kept as `last_error` and retried with a
   delay that doubles while the server stays down, but not counted in `attempts` and never makes
   a message dead, so a server down for hours loses nothing.

At least once: a dispatcher killed between sending and recording leaves its batch leased; once the
lease expires, another round sends those messages again. So a crash repeats at most the batch in
flight, and each repeat carries the same Message-ID.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, case, func, literal, or_, select, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from config.settings import Settings
from notifications import backends
from notifications.backends import Backend, Outgoing, Refused
from notifications.models import MessageStatus, OutboxMessage
from workflow.clock import Clock, system_clock
from workflow.workers import WORKER_ID, AlreadyRunning, WorkerClock, backoff, lock_single

log = logging.getLogger("vivier.dispatcher")

OUTBOX = OutboxMessage.__table__
QUEUED = MessageStatus.queued
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
ERROR_LENGTH = 2000  # of last_error


@dataclass(frozen=True)
class Options:
    mail_from: str
    batch: int = 50
    lease: timedelta = timedelta(seconds=120)
    max_attempts: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> Options:
        return cls(
            mail_from=settings.mail_from,
            batch=settings.dispatcher_batch,
            lease=timedelta(seconds=settings.dispatcher_lease_s),
            max_attempts=settings.dispatcher_max_attempts,
        )


@dataclass
class RoundResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0  # failed, to be tried again
    dead: int = 0
    held: int = 0  # claimed but not tried (the lease was running short), handed back
    down: str | None = None  # the backend's failure, when it failed

    def add(self, other: RoundResult) -> None:
        for name in ("claimed", "sent", "retried", "dead", "held"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.down = other.down or self.down

    def __str__(self) -> str:
        text = f"{self.sent} sent, {self.retried} to retry, {self.dead} dead"
        if self.held:
            text += f", {self.held} held back"
        return text + (f"; backend down: {self.down}" if self.down else "")


@dataclass
class _Claimed:
    outgoing: Outgoing
    attempts: int


@dataclass
class _Outcome:
    sent: str | None = None  # the Message-ID
    error: str | None = None
    permanent: bool = False
    down: bool = False  # the backend failed, not this message

    @property
    def held(self) -> bool:
        return self.sent is None and self.error is None


@dataclass
class _Round:
    claimed: list[_Claimed]
    outcomes: dict[int, _Outcome] = field(default_factory=dict)
    down: str | None = None


# --- One round ----------------------------------------------------------------------------------


def deliver(
    sessions: sessionmaker[Session],
    backend: Backend,
    options: Options,
    *,
    now: datetime,
    worker_id: str = WORKER_ID,
    jitter: random.Random | None = None,
) -> RoundResult:
    """One round at `now`: claim a batch, send it, record what happened (see the docstring)."""
    claimed = _claim(sessions, options, now, worker_id)
    if not claimed:
        return RoundResult()
    sending = _send(backend, claimed, options, now)
    return _record(sessions, sending, options, now, worker_id, jitter or random.Random())


def drain(
    sessions: sessionmaker[Session],
    backend: Backend,
    options: Options,
    *,
    clock: Clock = system_clock,
    worker_id: str = WORKER_ID,
    jitter: random.Random | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> RoundResult:
    """Rounds (each at `clock()`) until one claims nothing, the backend fails, or `stopping()`."""
    total = RoundResult()
    while True:
        result = deliver(
            sessions, backend, options, now=clock(), worker_id=worker_id, jitter=jitter
        )
        total.add(result)
        if result.claimed == 0 or result.down is not None or stopping():
            return total


def _heads() -> Any:
    """The first queued message of each recipient (the "head" of their queue: no earlier queued
    message to the same address), if due and free of any lease; locked, passing over rows
    locked elsewhere. One message per recipient per batch: the next becomes the head only once
    this one is sent or dead, so no two dispatchers can ever hold two messages of one person."""
    m, e = OUTBOX.alias("m"), OUTBOX.alias("e")
    now = bindparam("now", type_=m.c.next_attempt_at.type)
    earlier = select(literal(1)).where(
        e.c.to_email == m.c.to_email, e.c.status == QUEUED, e.c.id < m.c.id
    )
    return (
        select(m.c.id)
        .where(
            m.c.status == QUEUED,
            m.c.next_attempt_at <= now,
            or_(m.c.lease_until.is_(None), m.c.lease_until <= now),
            ~earlier.exists(),
        )
        # In the order of the index on (status, next_attempt_at), which the scan can stop early
        # in: the outbox keeps every sent message, and a scan in id order would pass over them
        # all.
        .order_by(m.c.next_attempt_at)
        .limit(bindparam("batch"))
        .with_for_update(skip_locked=True, of=m)
    )


_HEADS = _heads()


def _claim(
    sessions: sessionmaker[Session], options: Options, now: datetime, worker_id: str
) -> list[_Claimed]:
    """Lease a batch of heads to this worker (committed before anything is sent)."""
    with sessions.begin() as session:
        ids = session.scalars(_HEADS, {"now": now, "batch": options.batch}).all()
        if not ids:
            return []
        claimed = session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids))
            .values(lease_until=now + options.lease, claimed_by=worker_id)
            .returning(OUTBOX)
        ).all()
    return [_Claimed(_outgoing(row), row.attempts) for row in sorted(claimed, key=_by_id)]


def _by_id(row: Any) -> int:
    return row.id


def _outgoing(row: Any) -> Outgoing:
    return Outgoing(
        id=row.id,
        dedup_key=row.dedup_key,
        to_email=row.to_email,
        to_name=row.to_name,
        subject=row.subject,
        text_body=row.text_body,
        html_body=row.html_body,
        created_at=row.created_at,
        attachments=list(row.attachments or []),
    )


def _send(backend: Backend, claimed: list[_Claimed], options: Options, now: datetime) -> _Round:
    sending = _Round(claimed)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(backend)
        except Exception as exc:
            sending.down = _describe(exc)
        deadline = time.monotonic() + options.lease.total_seconds() / 2
        for item in claimed:
            message = item.outgoing
            if sending.down is not None:
                sending.outcomes[message.id] = _Outcome(error=sending.down, down=True)
            elif time.monotonic() > deadline:  # the lease is running short: hand back the rest
                sending.outcomes[message.id] = _Outcome()
            else:
                outcome = _send_one(backend, message, options, now)
                sending.outcomes[message.id] = outcome
                if outcome.down:
                    sending.down = outcome.error
    return sending


def _send_one(backend: Backend, message: Outgoing, options: Options, now: datetime) -> _Outcome:
    try:
        backend.send(message, backends.build(message, options.mail_from, now))
    except Refused as refusal:
        return _Outcome(error=str(refusal), permanent=refusal.permanent)
    except Exception as exc:  # the backend itself: unreachable, login refused, disk full...
        return _Outcome(error=_describe(exc), down=True)
    return _Outcome(sent=backends.message_id(message, options.mail_from))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]


def _record(
    sessions: sessionmaker[Session],
    sending: _Round,
    options: Options,
    now: datetime,
    worker_id: str,
    jitter: random.Random,
) -> RoundResult:
    result = RoundResult(claimed=len(sending.claimed), down=sending.down)
    sent, failed, held = [], [], []
    for item in sending.claimed:
        message, outcome = item.outgoing, sending.outcomes[item.outgoing.id]
        if outcome.sent is not None:
            sent.append({"b_id": message.id, "b_message_id": outcome.sent})
            result.sent += 1
        elif outcome.held:
            held.append(message.id)
            result.held += 1
        else:
            failed.append(_failure(message, item.attempts, outcome, options, now, jitter))
            if failed[-1]["b_status"] is MessageStatus.dead:
                result.dead += 1
            else:
                result.retried += 1
    c = OUTBOX.c
    # Only rows still leased to this worker: if the lease ran out and another dispatcher took a
    # message meanwhile, its own record stands.
    ours = (c.id == bindparam("b_id"), c.status == QUEUED, c.claimed_by == worker_id)
    with sessions.begin() as session:
        if sent:
            session.execute(
                update(OUTBOX)
                .where(*ours)
                .values(
                    status=MessageStatus.sent,
                    sent_at=now,
                    message_id=bindparam("b_message_id"),
                    lease_until=None,
                ),
                sent,
            )
        if failed:
            session.execute(
                update(OUTBOX)
                .where(*ours)
                .values(
                    status=bindparam("b_status"),
                    attempts=bindparam("b_attempts"),
                    next_attempt_at=bindparam("b_next"),
                    last_error=bindparam("b_error"),
                    lease_until=None,
                    claimed_by=None,
                ),
                failed,
            )
        if held:
            session.execute(
                update(OUTBOX)
                .where(c.id.in_(held), c.claimed_by == worker_id)
                .values(lease_until=None, claimed_by=None)
            )
    return result


def _failure(
    message: Outgoing,
    attempts: int,
    outcome: _Outcome,
    options: Options,
    now: datetime,
    jitter: random.Random,
) -> dict[str, Any]:
    if outcome.down:  # the server's failure, not the message's: not counted, never dead
        dead, delay = False, _outage_delay(now - message.created_at, jitter)
    else:
        attempts += 1
        dead = outcome.permanent or attempts >= options.max_attempts
        delay = backoff(attempts, BACKOFF_BASE, BACKOFF_CAP, jitter=jitter)
        if dead:
            log.error("message %s to %s is dead: %s", message.id, message.to_email, outcome.error)
        else:
            log.warning("message %s refused, will retry: %s", message.id, outcome.error)
    return {
        "b_id": message.id,
        "b_status": MessageStatus.dead if dead else QUEUED,
        "b_attempts": attempts,
        "b_next": now + delay,
        "b_error": outcome.error,
    }


def _outage_delay(waited: timedelta, jitter: random.Random) -> timedelta:
    """After a backend failure: wait about as long again as the message has waited so far
    (between BACKOFF_BASE and BACKOFF_CAP), so the delays double while the server stays down,
    with the same jitter as `backoff`."""
    delay = min(max(waited, BACKOFF_BASE), BACKOFF_CAP)
    return delay / 2 + delay / 2 * jitter.random()


def next_due(sessions: sessionmaker[Session]) -> datetime | None:
    """When the next round has something to do: the earliest time at which the first queued
    message of some recipient is due and free of its lease."""
    m, e = OUTBOX.alias("m"), OUTBOX.alias("e")
    free_at = case(
        (m.c.lease_until > m.c.next_attempt_at, m.c.lease_until), else_=m.c.next_attempt_at
    )
    earlier = select(literal(1)).where(
        e.c.to_email == m.c.to_email, e.c.status == QUEUED, e.c.id < m.c.id
    )
    with sessions() as session:
        return session.scalar(
            select(func.min(free_at)).where(m.c.status == QUEUED, ~earlier.exists())
        )


# --- The clock ----------------------------------------------------------------------------------


class DispatcherAlreadyRunning(AlreadyRunning):
    pass


def lock_single_dispatcher(engine: Engine) -> Any:
    """On SQLite, the single-dispatcher lock (workflow/workers.py lock_single) or
    DispatcherAlreadyRunning; None on PostgreSQL, where several dispatchers share the outbox."""
    return lock_single(engine, Dispatcher.role, WORKER_ID, DispatcherAlreadyRunning)


class Dispatcher(WorkerClock[RoundResult]):
    """The dispatcher's clock (workflow/workers.py WorkerClock): an interval job every
    `dispatcher_interval_s` (new messages are found by it) and a date job at `next_due` (retries,
    expired leases). Each wake drains what is due. One per SQLite database; any number on
    PostgreSQL. `vivier dispatcher` runs one; `vivier serve` runs one in-process."""

    role = "dispatcher"
    INTERVAL_JOB = "dispatch-interval"
    NEXT_JOB = "dispatch-at-next-due"
    lock_error = DispatcherAlreadyRunning

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        backend: Backend | None = None,
        clock: Clock = system_clock,
        interval_s: float | None = None,
        worker_id: str | None = None,
        on_wake: Callable[[RoundResult], None] | None = None,
    ) -> None:
        super().__init__(
            sessions.kw["bind"],
            clock,
            interval_s=interval_s or settings.dispatcher_interval_s,
            worker_id=worker_id or WORKER_ID,
            on_wake=on_wake,
        )
        self.sessions = sessions
        self.backend = backend or backends.from_settings(settings)
        self.options = Options.from_settings(settings)

    def work(self) -> RoundResult:
        return drain(
            self.sessions,
            self.backend,
            self.options,
            clock=self.now,
            worker_id=self.worker_id,
            stopping=lambda: self.stopping,
        )

    def next_due(self) -> datetime | None:
        return next_due(self.sessions)

    def idle(self) -> RoundResult:
        return RoundResult()

    def progressed(self, result: RoundResult) -> bool:
        # After a backend failure, pause before the next batch rather than hammer the server.
        return result.claimed > 0 and result.down is None

    def noteworthy(self, result: RoundResult) -> bool:
        return result.claimed > 0
