"""Transitions per second through the service, against the same statements sent by hand.

    .venv/bin/python -m bench.transitions [--size N] [--clients 1,16] [--memory-apps 100000]
        [--database-url URL]

A scratch database is created on the server (dropped at the end), migrated, and loaded in bulk:
one organisation, one published volunteer posting, and fresh applications in `received` as
`apply_in` leaves them (creation history row, pending idle reminder, counts). Then, for each
number of clients, on fresh applications each time, after a short untimed warm-up per client:

- service: `Workflow.fire(application, id, "screen")` from threads sharing one engine whose pool
  holds a connection per client;
- baseline: the statements the service sends for that move, written by hand with psycopg, one
  connection per client, one transaction per transition (the SQL constants below).

Last, one transition on each of `--memory-apps` applications through the service, with the
resident memory before, during and after: one Machine per pipeline, never one per application,
so it must not grow with the number of applications.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url

from config.settings import PIPELINES_DIR
from workflow.context import Actor
from workflow.dates import as_instant
from workflow.db import make_engine, session_factory
from workflow.migrate import upgrade
from workflow.models import (
    Application,
    EntityType,
    Organisation,
    PostingCreate,
    PostingKind,
)
from workflow.pipeline import DeadlineSpec, Pipeline
from workflow.pipeline_files import load_pipelines
from workflow.service import Workflow

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"
PIPELINE, EVENT = "volunteer", "screen"
ACTOR = Actor.system()
APP = EntityType.application.value
BARRIER_TIMEOUT_S = 300
MEMORY_CHECKPOINTS = 4
KINDS = ("service", "baseline")


class BenchError(RuntimeError):
    """The benchmark could not run, or the transitions did not leave the expected rows."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    size: int = 2000
    clients: tuple[int, ...] = (1, 16)
    memory_apps: int = 100_000
    memory_clients: int = 4
    warmup: int = 10
    rounds: int = 4
    database_url: str = DEFAULT_SERVER
    database_name: str | None = None
    keep_database: bool = False


def positive_counts(text: str) -> tuple[int, ...]:
    """An argparse type for lists of client or process counts like '1,16'."""
    counts = tuple(int(part) for part in text.split(",") if part.strip())
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive counts like 1,16")
    return counts


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="bench.transitions", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size", type=int, default=Options.size, help="transitions timed per configuration"
    )
    parser.add_argument(
        "--clients", type=positive_counts, default=Options.clients, help="e.g. 1,16"
    )
    parser.add_argument(
        "--memory-apps", type=int, default=Options.memory_apps, help="0 skips the memory run"
    )
    parser.add_argument("--memory-clients", type=int, default=Options.memory_clients)
    parser.add_argument(
        "--warmup", type=int, default=Options.warmup, help="untimed transitions per client"
    )
    parser.add_argument(
        "--rounds", type=int, default=Options.rounds, help="service and baseline take turns"
    )
    parser.add_argument(
        "--database-url", default=DEFAULT_SERVER, help="the server (any database on it)"
    )
    parser.add_argument("--database-name", help="name of the scratch database (default: random)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    args = parser.parse_args(argv)
    if min(args.size, args.memory_clients, args.rounds) < 1 or args.size < args.rounds:
        parser.error("--size, --rounds, --memory-clients must be positive, --size >= --rounds")
    if min(args.memory_apps, args.warmup) < 0:
        parser.error("--memory-apps and --warmup may not be negative")
    return Options(**vars(args))


# --- The scratch database and its data --------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """The benchmarked transition, as the pipeline definition declares it."""

    pipeline: str
    event: str
    source: str
    dest: str
    source_deadlines: tuple[DeadlineSpec, ...]
    dest_deadlines: tuple[DeadlineSpec, ...]

    @classmethod
    def of(cls, pipeline: Pipeline, event: str) -> Move:
        source = pipeline.initial
        transition = pipeline.transition(source, event)
        if transition is None or transition.guards or transition.effects:
            raise BenchError(f"{pipeline.name}: {event!r} from {source!r} must be a plain move")
        specs = (*pipeline.states[source].deadlines, *pipeline.states[transition.dest].deadlines)
        if any(spec.at != "state_entered_at" for spec in specs):
            raise BenchError("the baseline only knows deadlines due from state_entered_at")
        return cls(
            pipeline.name,
            event,
            source,
            transition.dest,
            pipeline.states[source].deadlines,
            pipeline.states[transition.dest].deadlines,
        )


@dataclass
class Bench:
    """The scratch database, the service on it, and the posting the applications belong to."""

    conninfo: str
    workflow: Workflow
    move: Move
    organisation_id: int
    posting_id: int
    timezone: str
    loaded: int = 0


def _plain_url(url: str, database: str | None = None) -> str:
    """`url` for psycopg (no +driver), on `database` if given, else on the URL's or `postgres`."""
    parsed = make_url(url)
    parsed = parsed.set(drivername="postgresql", database=database or parsed.database or "postgres")
    return parsed.render_as_string(hide_password=False)


@contextmanager
def scratch_database(server_url: str, name: str | None, *, keep: bool) -> Iterator[str]:
    """A new empty database on the server, dropped on the way out unless `keep`."""
    name = name or f"vivier_bench_{uuid.uuid4().hex[:10]}"
    admin_url = _plain_url(server_url)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _plain_url(server_url, name)
    finally:
        if not keep:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
                drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                admin.execute(drop.format(sql.Identifier(name)))


@contextmanager
def open_bench(options: Options) -> Iterator[Bench]:
    """A migrated scratch database with an organisation and a published posting."""
    name, keep = options.database_name, options.keep_database
    with scratch_database(options.database_url, name, keep=keep) as url:
        log(f"scratch database {make_url(url).database}: migrating")
        pool_size = max((*options.clients, options.memory_clients))
        engine = make_engine(url, pool_size=pool_size)
        try:
            upgrade(engine)
            workflow = Workflow(session_factory(engine), load_pipelines(PIPELINES_DIR))
            yield _seed(workflow, url)
        finally:
            engine.dispose()


def _seed(workflow: Workflow, url: str) -> Bench:
    now = datetime.now(UTC)
    call = PostingCreate(
        ref="bench",
        kind=PostingKind.volunteer,
        title="Benchmark call",
        pipeline=PIPELINE,
        closes_on=(now + timedelta(days=365)).date(),
    )
    with workflow.sessions.begin() as session:
        organisation = Organisation(slug="bench", name="Benchmark", created_at=now)
        session.add(organisation)
        session.flush()
        posting = workflow.create_posting_in(session, organisation.id, call, ACTOR)
    workflow.fire(EntityType.posting, posting.id, "publish", ACTOR)
    move = Move.of(workflow.pipelines[PIPELINE], EVENT)
    return Bench(url, workflow, move, organisation.id, posting.id, posting.timezone)


# Candidates, applications in the initial state and their creation history, in one statement.
LOAD_APPLICATIONS = """
WITH candidates AS (
    INSERT INTO candidate (first_name, last_name, email, email_normalised, phone, language,
                           organisation_id, consents, created_at)
    SELECT 'Bench', 'Candidate ' || g, e, e, '', 'fr', %(org)s, '[]'::jsonb, %(now)s
    FROM generate_series(%(first)s::int, %(last)s::int) AS g,
         LATERAL (SELECT 'candidate' || g || '@bench.example.org' AS e) AS address
    RETURNING id
), applications AS (
    INSERT INTO application (source, organisation_id, posting_id, candidate_id, pipeline, state,
                             version, state_entered_at, assessment, created_at)
    SELECT %(source)s, %(org)s, %(posting)s, id, %(pipeline)s, %(state)s, 1, %(now)s,
           '{}'::jsonb, %(now)s
    FROM candidates ORDER BY id
    RETURNING id, candidate_id
), history AS (
    INSERT INTO transition_record (organisation_id, entity_type, entity_id, pipeline, event,
                                   from_state, to_state, actor_kind, actor_id, payload, at)
    SELECT %(org)s, 'application'::entitytype, id, %(pipeline)s, 'create', NULL, %(state)s,
           'candidate'::actorkind, candidate_id, '{}'::jsonb, %(now)s
    FROM applications
)
SELECT id FROM applications ORDER BY id
"""

LOAD_DEADLINES = """
INSERT INTO deadline (organisation_id, entity_type, entity_id, kind, event, state, due_at,
                      status, attempts, created_at, updated_at)
SELECT %(org)s, 'application'::entitytype, id, %(kind)s, %(event)s, %(state)s, %(due)s,
       'pending'::deadlinestatus, 0, %(now)s, %(now)s
FROM unnest(%(ids)s::int[]) AS id
"""

ADD_COUNT = """
INSERT INTO pipeline_count (posting_id, state, count) VALUES (%s, %s, %s)
ON CONFLICT (posting_id, state) DO UPDATE SET count = pipeline_count.count + %s
"""


def load_applications(bench: Bench, n: int, source: str) -> list[int]:
    """`n` fresh applications as `apply_in` leaves them, inserted in bulk; their ids in order."""
    now, move = datetime.now(UTC), bench.move
    common = {"org": bench.organisation_id, "now": now, "state": move.source}
    params = common | {
        "first": bench.loaded + 1,
        "last": bench.loaded + n,
        "source": source,
        "posting": bench.posting_id,
        "pipeline": move.pipeline,
    }
    with psycopg.connect(bench.conninfo) as conn:
        ids = [row[0] for row in conn.execute(LOAD_APPLICATIONS, params)]
        for spec in move.source_deadlines:
            due = as_instant(now, bench.timezone) + spec.offset
            deadline = {"kind": spec.kind, "event": spec.event, "due": due, "ids": ids}
            conn.execute(LOAD_DEADLINES, common | deadline)
        conn.execute(ADD_COUNT, (bench.posting_id, move.source, n, n))
        conn.commit()
        conn.execute("ANALYZE")
    bench.loaded += n
    return ids


def verify(bench: Bench, ids: list[int]) -> None:
    """Each application moved once: new state, one history row, the old state's deadlines
    cancelled and the new one's pending; the counts equal the GROUP BY."""
    move, n = bench.move, len(ids)
    params = {"ids": ids, "source": move.source, "dest": move.dest, "event": move.event}
    with psycopg.connect(bench.conninfo) as conn:
        found = tuple(conn.execute(CHECK_MOVED, params).fetchone() or ())
        drift = conn.execute(COUNT_DRIFT, {"posting": bench.posting_id}).fetchall()
    wanted = (n, n, n * len(move.source_deadlines), n * len(move.dest_deadlines))
    if found != wanted or drift:
        raise BenchError(
            f"after {n} transitions: (moved, history rows, cancelled, pending deadlines) = "
            f"{found}, wanted {wanted}; count drift {drift}"
        )


CHECK_MOVED = """
SELECT
  (SELECT count(*) FROM application
    WHERE id = ANY(%(ids)s) AND state = %(dest)s AND version = 2),
  (SELECT count(*) FROM transition_record WHERE entity_type = 'application'
    AND entity_id = ANY(%(ids)s) AND event = %(event)s AND to_state = %(dest)s),
  (SELECT count(*) FROM deadline WHERE entity_type = 'application'
    AND entity_id = ANY(%(ids)s) AND state = %(source)s AND status = 'cancelled'),
  (SELECT count(*) FROM deadline WHERE entity_type = 'application'
    AND entity_id = ANY(%(ids)s) AND state = %(dest)s AND status = 'pending')
"""

COUNT_DRIFT = """
SELECT coalesce(c.state, g.state), c.count, g.n
FROM (SELECT state, count FROM pipeline_count WHERE posting_id = %(posting)s) AS c
FULL JOIN (SELECT state, count(*) AS n FROM application WHERE posting_id = %(posting)s
           GROUP BY state) AS g ON g.state = c.state
WHERE coalesce(c.count, 0) <> coalesce(g.n, 0)
"""


# --- What one client does ---------------------------------------------------------------------

Fire = Callable[[int], object]
ClientOpener = Callable[[], AbstractContextManager[Fire]]


def service_opener(bench: Bench) -> ClientOpener:
    """Every client calls the one Workflow; the engine's pool gives each its connection."""
    fire = partial(bench.workflow.fire, EntityType.application, event=bench.move.event, actor=ACTOR)
    return lambda: nullcontext(fire)


def baseline_opener(bench: Bench) -> ClientOpener:
    return partial(_baseline_client, bench)


@contextmanager
def _baseline_client(bench: Bench) -> Iterator[Fire]:
    with psycopg.connect(bench.conninfo, row_factory=dict_row) as conn:
        yield partial(baseline_transition, conn, bench.move)


def _columns(model: Any) -> str:
    return ", ".join(model.__table__.columns.keys())


# The statements the service sends for received -> screening, in its order (SQLAlchemy echo).
LOCK = f"SELECT {_columns(Application)} FROM application WHERE id = %s FOR UPDATE"
MOVE = "UPDATE application SET state = %s, version = %s, state_entered_at = %s WHERE id = %s"
APPEND_HISTORY = """
INSERT INTO transition_record (organisation_id, entity_type, entity_id, pipeline, event,
    from_state, to_state, actor_kind, actor_id, reason, payload, at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"""
CANCEL_DEADLINES = """
UPDATE deadline SET status = %s, updated_at = %s
WHERE entity_type = %s AND entity_id = %s AND state = %s AND status = %s"""
SCHEDULE = """
INSERT INTO deadline (organisation_id, entity_type, entity_id, kind, event, state, due_at,
    status, attempts, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', 0, %s, %s)
ON CONFLICT (entity_type, entity_id, kind) WHERE status = 'pending'
DO UPDATE SET due_at = excluded.due_at, event = excluded.event, state = excluded.state,
    updated_at = excluded.updated_at"""
MOVE_COUNT = """
INSERT INTO pipeline_count (posting_id, state, count) VALUES (%s, %s, %s)
ON CONFLICT (posting_id, state) DO UPDATE SET count = pipeline_count.count + %s"""


def baseline_transition(conn: psycopg.Connection, move: Move, app_id: int) -> None:
    """One transition by hand, one transaction: the service's statements, in its order."""
    now = datetime.now(UTC)
    try:
        app = conn.execute(LOCK, (app_id,)).fetchone()
        if app is None or app["state"] != move.source:
            raise BenchError(f"application {app_id}: not in {move.source!r}")
        conn.execute(MOVE, (move.dest, app["version"] + 1, now, app_id))
        history = (move.pipeline, move.event, move.source, move.dest, ACTOR.kind.value, ACTOR.id)
        conn.execute(
            APPEND_HISTORY, (app["organisation_id"], APP, app_id, *history, None, Jsonb({}), now)
        )
        conn.execute(CANCEL_DEADLINES, ("cancelled", now, APP, app_id, move.source, "pending"))
        for spec in move.dest_deadlines:  # entered_at is a datetime: no time zone needed
            row = (app["organisation_id"], APP, app_id, spec.kind, spec.event, move.dest)
            conn.execute(SCHEDULE, (*row, now + spec.offset, now, now))
        for state, delta in sorted({move.source: -1, move.dest: 1}.items()):
            conn.execute(MOVE_COUNT, (app["posting_id"], state, delta, delta))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


# --- Running clients together -----------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    transitions: int
    seconds: float
    mean_latency_ms: float

    @property
    def per_second(self) -> float:
        return self.transitions / self.seconds

    @classmethod
    def total(cls, parts: Sequence[Measure]) -> Measure:
        """Several timed parts as one: their transitions over their summed wall times."""
        transitions = sum(part.transitions for part in parts)
        latency = sum(part.mean_latency_ms * part.transitions for part in parts) / transitions
        return cls(transitions, sum(part.seconds for part in parts), latency)


@dataclass(frozen=True)
class _ClientRun:
    start: float
    end: float
    latencies: list[float]


def run_clients(
    open_client: ClientOpener, ids: Sequence[int], clients: int, warmup: int
) -> Measure:
    """Each client fires on its own share of `ids`, the first `warmup` untimed; the timed parts
    start together, and the wall time runs from the first start to the last end."""
    barrier = threading.Barrier(clients)
    shares = [ids[k::clients] for k in range(clients)]
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(_client, open_client, s, warmup, barrier) for s in shares]
    errors = [error for error in (f.exception() for f in futures) if error is not None]
    if errors:  # the first real error, not the broken barrier it caused in the others
        raise min(errors, key=lambda e: isinstance(e, threading.BrokenBarrierError))
    runs = [f.result() for f in futures]
    latencies = [latency for run in runs for latency in run.latencies]
    seconds = max(run.end for run in runs) - min(run.start for run in runs)
    return Measure(len(latencies), seconds, 1000 * statistics.fmean(latencies))


def _client(
    open_client: ClientOpener, share: Sequence[int], warmup: int, barrier: threading.Barrier
) -> _ClientRun:
    try:
        with open_client() as fire:
            for app_id in share[:warmup]:
                fire(app_id)
            barrier.wait(timeout=BARRIER_TIMEOUT_S)
            return _timed(fire, share[warmup:])
    except BaseException:
        barrier.abort()
        raise


def _timed(fire: Fire, ids: Sequence[int]) -> _ClientRun:
    latencies = []
    start = time.perf_counter()
    for app_id in ids:
        began = time.perf_counter()
        fire(app_id)
        latencies.append(time.perf_counter() - began)
    return _ClientRun(start, time.perf_counter(), latencies)


def measure(bench: Bench, kind: str, clients: int, size: int, warmup: int) -> Measure:
    """`size` timed transitions of `kind` by `clients` clients, on fresh applications."""
    ids = load_applications(bench, size + clients * warmup, f"bench-{kind}")
    opener = service_opener(bench) if kind == "service" else baseline_opener(bench)
    result = run_clients(opener, ids, clients, warmup)
    verify(bench, ids)
    speed = f"{result.per_second:,.0f}/s, {result.mean_latency_ms:.2f} ms"
    log(f"{kind:>8}, {clients:>2} clients, {size:,} transitions: {speed}")
    return result


def measure_row(bench: Bench, clients: int, options: Options) -> Row:
    """Service and baseline take turns (who goes first alternates), so that both see the same
    moments of a shared machine; each kind's figure is over all its rounds."""
    parts: dict[str, list[Measure]] = {kind: [] for kind in KINDS}
    for turn in range(options.rounds):
        size = options.size // options.rounds + (turn < options.size % options.rounds)
        for kind in KINDS if turn % 2 == 0 else KINDS[::-1]:
            parts[kind].append(measure(bench, kind, clients, size, options.warmup))
    return Row(clients, Measure.total(parts["service"]), Measure.total(parts["baseline"]))


# --- Memory -----------------------------------------------------------------------------------


def rss_kib() -> int:
    """This process's resident memory, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS in /proc/self/status (Linux only)")


@dataclass(frozen=True)
class MemoryReport:
    applications: int
    clients: int
    seconds: float
    rss_before_kib: int
    checkpoints: tuple[tuple[int, int], ...]  # (transitions done, RSS KiB) after each part

    @property
    def rss_after_kib(self) -> int:
        return self.checkpoints[-1][1]

    @property
    def growth_per_1000_kib(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) * 1000 / self.applications


def measure_memory(bench: Bench, apps: int, clients: int) -> MemoryReport:
    """One transition on each of `apps` applications through the service, RSS read between parts."""
    log(f"memory: loading {apps:,} applications")
    ids = load_applications(bench, apps, "bench-memory")
    opener, done, checkpoints = service_opener(bench), 0, []
    gc.collect()
    before, start = rss_kib(), time.perf_counter()
    for part in range(MEMORY_CHECKPOINTS):
        chunk = ids[part * apps // MEMORY_CHECKPOINTS : (part + 1) * apps // MEMORY_CHECKPOINTS]
        if chunk:
            run_clients(opener, chunk, min(clients, len(chunk)), warmup=0)
        done += len(chunk)
        gc.collect()
        checkpoints.append((done, rss_kib()))
        log(f"memory: {done:,} transitions, RSS {checkpoints[-1][1] / 1024:.1f} MiB")
    seconds = time.perf_counter() - start
    verify(bench, ids)
    return MemoryReport(apps, clients, seconds, before, tuple(checkpoints))


# --- The run and its report -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    clients: int
    service: Measure
    baseline: Measure

    @property
    def ratio(self) -> float:
        return self.service.per_second / self.baseline.per_second


@dataclass(frozen=True)
class Report:
    size: int
    rounds: int
    move: Move
    server_version: str
    synchronous_commit: str
    database: str
    rows: tuple[Row, ...]
    memory: MemoryReport | None


def run(options: Options) -> Report:
    with open_bench(options) as bench:
        rows = [measure_row(bench, clients, options) for clients in options.clients]
        memory = None
        if options.memory_apps:
            memory = measure_memory(bench, options.memory_apps, options.memory_clients)
        with psycopg.connect(bench.conninfo) as conn:
            version, commit = (conn.execute(f"SHOW {s}").fetchone()[0] for s in SETTINGS)
        name = make_url(bench.conninfo).database or ""
        return Report(
            options.size, options.rounds, bench.move, version, commit, name, tuple(rows), memory
        )


SETTINGS = ("server_version", "synchronous_commit")


def format_report(report: Report) -> str:
    move = report.move
    lines = [
        f"Transitions {move.source} -> {move.dest} ({move.pipeline} pipeline, event "
        f"{move.event!r}): {report.size:,} timed per configuration, one transaction each, "
        f"service and baseline taking turns over {report.rounds} round(s)",
        f"PostgreSQL {report.server_version}, synchronous_commit={report.synchronous_commit}, "
        f"scratch database {report.database}",
        "",
        f"{'clients':>7} | {'service tx/s':>12} | {'ms/tx':>6} | {'baseline tx/s':>13} | "
        f"{'ms/tx':>6} | {'ratio service/baseline':>22}",
    ]
    for row in report.rows:
        s, b = row.service, row.baseline
        lines.append(
            f"{row.clients:>7} | {s.per_second:>12,.0f} | {s.mean_latency_ms:>6.2f} | "
            f"{b.per_second:>13,.0f} | {b.mean_latency_ms:>6.2f} | {row.ratio:>22.2f}"
        )
    if report.memory is not None:
        lines += ["", *_memory_lines(report.memory)]
    return "\n".join(lines)


def _memory_lines(memory: MemoryReport) -> list[str]:
    parts = ", ".join(f"{done:,}: {kib / 1024:.1f} MiB" for done, kib in memory.checkpoints)
    return [
        f"Memory: one transition on each of {memory.applications:,} applications through the "
        f"service ({memory.clients} clients) in {memory.seconds:.1f} s",
        f"RSS before {memory.rss_before_kib / 1024:.1f} MiB, after "
        f"{memory.rss_after_kib / 1024:.1f} MiB: growth {memory.growth_per_1000_kib:+.1f} KiB "
        "per 1,000 applications",
        f"RSS after each part: {parts}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        report = run(options)
    except Exception:
        traceback.print_exc()
        log("bench.transitions: failed")
        return 1
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
