"""The scheduler's memory with many pending deadlines, and the lateness of due ones (issue 5).

    .venv/bin/python -m bench.scheduler [--pending 100000] [--due 10000] [--window 60]
        [--processes 1,2] [--interval 1] [--database-url URL]

A scratch database is created on the server (dropped at the end), migrated, and given one
organisation and one published posting (through the service). Deadlines are then loaded in bulk
with SQL, as reminders of that posting (no event: a second firing would not be refused, so the
claims prove exactly-once), each with a kind of its own (the partial unique index allows one
pending deadline per entity and kind).

1. Memory, each figure in a fresh child process (spawned), RSS from /proc/self/status:
   - Vivier: imports, builds the Workflow, reads its idle RSS; then builds a `Scheduler`,
     starts it (catch-up sweep, APScheduler clock) and wakes it once more, and reads RSS again.
     Measured with no pending deadline, then with `--pending` pending ones (due in a year).
   - naive baseline: the same imports, then one APScheduler 3 `BackgroundScheduler` date job per
     deadline (`--pending` jobs, a trivial function, memory jobstore), started.
2. Lateness: for each number of processes, `--due` fresh reminder deadlines due evenly over the
   next `--window` seconds (the `--pending` ones stay in the table), then that many child
   processes each run a `Scheduler` (interval `--interval`) until every one is done. A bus
   subscriber in each child writes `clock_timestamp()` to a side table in the transaction that
   settles the deadline: that is the moment of the work, committed with it. The sweeper's own
   `claimed_at`/`done_at` are the time its sweep round started (`now` is read once per round of
   up to `batch` deadlines), so they understate lateness; both are reported.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import queue
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench.transitions import (
    DEFAULT_SERVER,
    BenchError,
    _seed,
    log,
    positive_counts,
    rss_kib,
    scratch_database,
)

POLL_S = 0.25
START_TIMEOUT_S = 120
PENDING_KIND, DUE_KIND = "bench_pending_", "bench_due_"


# --- Options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    pending: int = 100_000
    due: int = 10_000
    window: float = 60.0
    processes: tuple[int, ...] = (1, 2)
    interval: float = 1.0
    lead: float = 0.5
    timeout: float = 120.0
    database_url: str = DEFAULT_SERVER
    database_name: str | None = None
    keep_database: bool = False


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="bench.scheduler", description=__doc__.split("\n")[0])
    parser.add_argument("--pending", type=int, default=Options.pending, help="far-future deadlines")
    parser.add_argument("--due", type=int, default=Options.due, help="deadlines falling due")
    parser.add_argument(
        "--window", type=float, default=Options.window, help="seconds the due ones spread over"
    )
    parser.add_argument(
        "--processes", type=positive_counts, default=Options.processes, help="e.g. 1,2"
    )
    parser.add_argument(
        "--interval", type=float, default=Options.interval, help="the scheduler's interval job (s)"
    )
    parser.add_argument(
        "--lead", type=float, default=Options.lead, help="seconds from start to the first due time"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=Options.timeout,
        help="seconds after the window before giving up on a lateness run",
    )
    parser.add_argument("--database-url", default=DEFAULT_SERVER, help="the server")
    parser.add_argument("--database-name", help="name of the scratch database (default: random)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    args = parser.parse_args(argv)
    if args.pending < 0 or args.due < 1 or args.window <= 0 or args.interval <= 0:
        parser.error("--due, --window, --interval must be positive, --pending not negative")
    return Options(**vars(args))


# --- Loading ----------------------------------------------------------------------------------

LOAD = """
INSERT INTO deadline (organisation_id, entity_type, entity_id, kind, event, state, due_at,
                      status, attempts, created_at, updated_at)
SELECT %(org)s, 'posting'::entitytype, %(posting)s, %(prefix)s || g, NULL, 'published',
       %(start)s::timestamptz + (g - 0.5) * %(step)s * interval '1 second',
       'pending'::deadlinestatus, 0, now(), now()
FROM generate_series(1, %(count)s::int) AS g
"""

SIDE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_work (
    deadline_id integer NOT NULL,
    worker text NOT NULL,
    at timestamptz NOT NULL
)
"""


def load(conninfo: str, org: int, posting: int, prefix: str, count: int, start: datetime,
         step_s: float) -> None:  # fmt: skip
    """`count` pending reminders of the posting, due at start + (g - 0.5) * step_s, g = 1..count."""
    params = {"org": org, "posting": posting, "prefix": prefix, "count": count, "start": start,
              "step": step_s}  # fmt: skip
    with psycopg.connect(conninfo) as conn:
        conn.execute(LOAD, params)
        conn.commit()
        conn.execute("ANALYZE deadline")


# --- Child processes --------------------------------------------------------------------------


def _import_vivier() -> Any:
    """What a scheduler process imports; both memory children import the same."""
    from apscheduler.schedulers.background import BackgroundScheduler  # noqa: F401

    from config.settings import PIPELINES_DIR
    from workflow.pipeline_files import load_pipelines
    from workflow.scheduler import Scheduler  # noqa: F401

    return load_pipelines(PIPELINES_DIR)


def _workflow(url: str, pipelines: Any) -> Any:
    from workflow.db import make_engine, session_factory
    from workflow.service import Workflow

    return Workflow(session_factory(make_engine(url)), pipelines)


def _idle_rss() -> int:
    gc.collect()
    time.sleep(0.2)
    return rss_kib()


def vivier_memory_child(url: str, interval: float, answers: Any) -> None:
    try:
        from workflow.scheduler import Scheduler

        workflow = _workflow(url, _import_vivier())
        before = _idle_rss()
        scheduler = Scheduler(workflow, interval_s=interval)
        scheduler.start()
        scheduler.wake()
        after = _idle_rss()
        jobs = len(scheduler.jobs())
        _stop(scheduler)
        answers.put(("ok", before, after, jobs))
    except BaseException:
        answers.put(("error", traceback.format_exc()))


def _stop(scheduler: Any) -> None:
    """Scheduler.stop() can hang: APScheduler's shutdown(wait=True) holds its job-store lock
    while it waits for a running wake, whose plan_next() wants that lock. Shut the clock down
    without waiting first; the running wake then finishes on a stopped clock."""
    scheduler.clock.shutdown(wait=False)
    scheduler.stop()


def _naive_job(deadline_id: int) -> None:
    """What one deadline's job would call."""


def naive_memory_child(count: int, answers: Any) -> None:
    try:
        from apscheduler.schedulers.background import BackgroundScheduler

        _import_vivier()
        before = _idle_rss()
        clock = BackgroundScheduler(timezone=UTC)
        base = datetime.now(UTC) + timedelta(days=365)
        for k in range(count):
            clock.add_job(
                _naive_job, "date", run_date=base + timedelta(seconds=k), args=(k,), id=str(k)
            )
        clock.start()
        after = _idle_rss()
        jobs = len(clock.get_jobs())
        clock.shutdown(wait=True)
        answers.put(("ok", before, after, jobs))
    except BaseException:
        answers.put(("error", traceback.format_exc()))


def _child_result(context: Any, target: Any, args: tuple[Any, ...]) -> tuple[int, int, int]:
    answers = context.Queue()
    process = context.Process(target=target, args=(*args, answers))
    process.start()
    try:
        answer = answers.get(timeout=START_TIMEOUT_S + 300)
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    if answer[0] != "ok":
        raise BenchError(f"memory child failed:\n{answer[1]}")
    return answer[1], answer[2], answer[3]


def sweeper_child(url: str, name: str, interval: float, ready: Any, go: Any, stop: Any,
                  answers: Any) -> None:  # fmt: skip
    """A scheduler process: records the moment of each reminder's work, runs until `stop`."""
    try:
        from sqlalchemy import text

        from workflow.scheduler import Scheduler

        workflow = _workflow(url, _import_vivier())
        record = text(
            "INSERT INTO bench_work (deadline_id, worker, at) VALUES (:id, :w, clock_timestamp())"
        )

        def witness(session: Any, event: Any) -> None:
            if event.name.startswith(f"reminder:{DUE_KIND}"):
                session.execute(record, {"id": event.payload["deadline_id"], "w": name})

        workflow.bus.subscribe(witness)
        with workflow.sessions() as session:
            session.execute(text("SELECT 1"))  # connected before the start signal
        scheduler = Scheduler(workflow, interval_s=interval, worker_id=name)
        ready.put(name)
        if not go.wait(START_TIMEOUT_S):
            raise BenchError("no start signal")
        scheduler.start()
        stop.wait()
        _stop(scheduler)
        answers.put(("ok", name))
    except BaseException:
        answers.put(("error", traceback.format_exc()))


# --- Measures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    label: str
    deadlines: int
    before_kib: int
    after_kib: int
    jobs: int

    @property
    def growth_kib(self) -> int:
        return self.after_kib - self.before_kib


@dataclass(frozen=True)
class Lateness:
    processes: int
    due: int
    window: float
    done: int
    claims: int
    duplicates: int
    by_worker: dict[str, int]
    p50: float  # seconds, due_at to the moment of the work
    p99: float
    max: float
    recorded_p50: float  # seconds, due_at to claimed_at (the sweep round's start)
    recorded_p99: float
    seconds: float  # from the first due time to the last work


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


RESULTS = """
SELECT d.id, d.status::text, extract(epoch FROM d.due_at),
       extract(epoch FROM c.claimed_at), c.claimed_by,
       extract(epoch FROM w.at), w.n
FROM deadline d
LEFT JOIN deadline_claim c ON c.deadline_id = d.id
LEFT JOIN (SELECT deadline_id, min(at) AS at, count(*) AS n FROM bench_work GROUP BY deadline_id)
  AS w ON w.deadline_id = d.id
WHERE d.kind LIKE %(prefix)s
"""


def measure_lateness(bench: Any, options: Options, processes: int) -> Lateness:
    context = multiprocessing.get_context("spawn")
    prefix = f"{DUE_KIND}{processes}p_"
    ready, answers = context.Queue(), context.Queue()
    go, stop = context.Event(), context.Event()
    names = [f"sweeper-{processes}p-{k + 1}" for k in range(processes)]
    children = [
        context.Process(
            target=sweeper_child,
            args=(bench.conninfo, name, options.interval, ready, go, stop, answers),
        )
        for name in names
    ]
    for child in children:
        child.start()
    try:
        for _ in children:
            try:
                ready.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                raise BenchError(_child_errors(answers) or "a sweeper did not start") from None
        step = options.window / options.due
        start = datetime.now(UTC) + timedelta(seconds=options.lead)
        load(bench.conninfo, bench.organisation_id, bench.posting_id, prefix, options.due, start,
             step)  # fmt: skip
        go.set()
        log(f"lateness, {processes} process(es): {options.due:,} due over {options.window:g} s")
        deadline = time.monotonic() + options.lead + options.window + options.timeout
        left = options.due
        with psycopg.connect(bench.conninfo, autocommit=True) as conn:
            while left and time.monotonic() < deadline:
                if errors := _child_errors(answers):
                    raise BenchError(errors)
                time.sleep(POLL_S)
                left = conn.execute(
                    "SELECT count(*) FROM deadline WHERE kind LIKE %s AND status = 'pending'",
                    (prefix + "%",),
                ).fetchone()[0]
        if left:
            raise BenchError(f"{left:,} of {options.due:,} deadlines still pending after timeout")
    finally:
        stop.set()
        go.set()
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    if errors := _child_errors(answers):
        raise BenchError(errors)
    return _lateness(bench.conninfo, prefix, processes, options)


def _child_errors(answers: Any) -> str:
    errors = []
    while True:
        try:
            answer = answers.get_nowait()
        except queue.Empty:
            return "\n".join(errors)
        if answer[0] != "ok":
            errors.append(f"a sweeper failed:\n{answer[1]}")


def _lateness(conninfo: str, prefix: str, processes: int, options: Options) -> Lateness:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(RESULTS, {"prefix": prefix + "%"}).fetchall()
    deadlines = {row[0] for row in rows}
    claims: dict[int, int] = {}
    by_worker: dict[str, int] = {}
    work, recorded = [], []
    done = sum(1 for row in {row[0]: row for row in rows}.values() if row[1] == "done")
    first_due, last_work = min(float(row[2]) for row in rows), 0.0
    duplicates = 0
    for deadline_id, _status, due, claimed, worker, worked, n in rows:
        if claimed is None:
            continue
        claims[deadline_id] = claims.get(deadline_id, 0) + 1
        by_worker[worker] = by_worker.get(worker, 0) + 1
        recorded.append(float(claimed) - float(due))
        if worked is not None:
            work.append(float(worked) - float(due))
            last_work = max(last_work, float(worked))
            duplicates += n - 1
    duplicates += sum(n - 1 for n in claims.values())
    if len(deadlines) != options.due or not work:
        raise BenchError(f"{len(deadlines)} deadlines loaded, {len(work)} worked")
    return Lateness(
        processes=processes,
        due=options.due,
        window=options.window,
        done=done,
        claims=sum(claims.values()),
        duplicates=duplicates,
        by_worker=dict(sorted(by_worker.items())),
        p50=percentile(work, 50),
        p99=percentile(work, 99),
        max=max(work),
        recorded_p50=percentile(recorded, 50),
        recorded_p99=percentile(recorded, 99),
        seconds=last_work - first_due,
    )


# --- The run and its report -------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    options: Options
    server_version: str
    database: str
    memory: tuple[Memory, ...]
    lateness: tuple[Lateness, ...]

    @property
    def ratio(self) -> float:
        vivier, naive = self.memory[1], self.memory[2]
        return vivier.growth_kib / naive.growth_kib if naive.growth_kib else float("nan")


def run(options: Options) -> Report:
    context = multiprocessing.get_context("spawn")
    with scratch_database(options.database_url, options.database_name, keep=options.keep_database) as url:  # fmt: skip
        log(f"scratch database {make_url(url).database}: migrating")
        from config.settings import PIPELINES_DIR
        from workflow.db import make_engine, session_factory
        from workflow.migrate import upgrade
        from workflow.pipeline_files import load_pipelines
        from workflow.service import Workflow

        engine = make_engine(url)
        try:
            upgrade(engine)
            bench = _seed(Workflow(session_factory(engine), load_pipelines(PIPELINES_DIR)), url)
        finally:
            engine.dispose()
        with psycopg.connect(url) as conn:
            conn.execute(SIDE_TABLE)
            conn.commit()
            version = conn.execute("SHOW server_version").fetchone()[0]

        memory = [Memory("vivier", 0, *_child_result(context, vivier_memory_child,
                                                     (url, options.interval)))]  # fmt: skip
        log(f"memory: loading {options.pending:,} pending deadlines")
        far = datetime.now(UTC) + timedelta(days=365)
        load(url, bench.organisation_id, bench.posting_id, PENDING_KIND, options.pending, far, 1.0)
        memory.append(
            Memory("vivier", options.pending,
                   *_child_result(context, vivier_memory_child, (url, options.interval)))
        )  # fmt: skip
        memory.append(
            Memory("naive", options.pending,
                   *_child_result(context, naive_memory_child, (options.pending,)))
        )  # fmt: skip
        for m in memory:
            log(f"memory: {m.label} {m.deadlines:,}: {m.growth_kib / 1024:+.1f} MiB")
        lateness = tuple(measure_lateness(bench, options, n) for n in options.processes)
        return Report(options, version, make_url(url).database or "", tuple(memory), lateness)


def format_report(report: Report) -> str:
    o = report.options
    lines = [
        f"Scheduler: PostgreSQL {report.server_version}, scratch database {report.database}",
        "",
        "Memory (RSS of a child process: idle before, idle after; growth)",
        f"{'design':<34} | {'deadlines':>9} | {'jobs':>6} | {'before MiB':>10} | "
        f"{'after MiB':>9} | {'growth MiB':>10}",
    ]
    labels = {
        "vivier": "vivier Scheduler (started, woken)",
        "naive": "naive: one APScheduler date job each",
    }
    for m in report.memory:
        lines.append(
            f"{labels[m.label]:<34} | {m.deadlines:>9,} | {m.jobs:>6,} | "
            f"{m.before_kib / 1024:>10.1f} | {m.after_kib / 1024:>9.1f} | "
            f"{m.growth_kib / 1024:>+10.1f}"
        )
    lines += [
        f"ratio vivier/naive growth at {o.pending:,} pending: {report.ratio:.3f}",
        "",
        f"Lateness: {o.due:,} reminders due evenly over {o.window:g} s, scheduler interval "
        f"{o.interval:g} s, {o.pending:,} more pending (due in a year)",
        "lateness = moment of the work (clock_timestamp() in the settling transaction) - due_at;",
        "recorded = the sweeper's claimed_at (its sweep round's start) - due_at",
        f"{'processes':>9} | {'done':>7} | {'claims':>7} | {'dup':>3} | {'p50 s':>6} | "
        f"{'p99 s':>6} | {'max s':>6} | {'rec p50':>7} | {'rec p99':>7} | claims by process",
    ]
    for r in report.lateness:
        workers = ", ".join(str(n) for n in r.by_worker.values())
        lines.append(
            f"{r.processes:>9} | {r.done:>7,} | {r.claims:>7,} | {r.duplicates:>3} | "
            f"{r.p50:>6.3f} | {r.p99:>6.3f} | {r.max:>6.3f} | {r.recorded_p50:>7.3f} | "
            f"{r.recorded_p99:>7.3f} | {workers}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        report = run(options)
    except Exception:
        traceback.print_exc()
        log("bench.scheduler: failed")
        return 1
    print(format_report(report))
    bad = [r for r in report.lateness if r.done != r.due or r.claims != r.due or r.duplicates]
    if bad:
        log(f"bench.scheduler: not every deadline done exactly once: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
