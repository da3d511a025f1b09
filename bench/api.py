"""The HTTP API at a million applications: the pipeline report's latency and transitions per
second over HTTP, each beside the same work done in-process, and the API's memory (issue 4).

    .venv/bin/python -m bench.api [--size 1000000] [--postings 200] [--requests 1000]
        [--transitions 4000] [--clients 16] [--database-url URL]

A scratch database is created on the server (dropped at the end, also on error), migrated, and
given one organisation, three staff users (a recruiter who owns the postings and made the loaded
moves, an HR user for HTTP, another for the in-process service) and `--postings` published
postings, half volunteer, half staff, all through the service. Then `--size` applications are
loaded in bulk with set-based SQL (generate_series), as the service would have written them: a
candidate each, the application in its state (received, screening, interview, rejected or
withdrawn, in fixed shares), its history from the `create` row along the pipeline's events to
that state, the idle reminders of the states it went through (pending for the current state,
cancelled for the ones it left; as if no scheduler had run, so overdue ones are still pending)
and `pipeline_count`. The counts are computed from the loading plan, not from the rows, and
checked against the `GROUP BY` over applications, the history against the versions. Then
VACUUM ANALYZE and CHECKPOINT, so that neither runs during the timing.

The API runs in a child process (uvicorn, one process, `create_app(build_container(...))`, the
default engine pool, no scheduler, no access log), the load generator in another (httpx2, one
keep-alive connection per client); the in-process figures are taken in this process.

1. The pipeline report: `--requests` `GET /reports/pipeline` one after another over HTTP; the
   same reports functions the route calls, run directly as many times; the naive `GROUP BY`
   over the organisation's applications `--naive` times. p50/p95 of each, and the ratios.
2. Transitions `received -> screening` (`screen`) on distinct applications in `received`: for
   each `--clients` count, `POST /applications/{id}/events/screen` from that many threads of
   the load generator, and `Workflow.fire` from as many threads here, taking turns over
   `--rounds` rounds; throughput and the ratio HTTP / in-process. Then every application fired
   must be in `screening` with its history row, and the counts must still equal the GROUP BY.
3. The API process's peak resident memory (VmHWM in /proc/PID/status) after each part; then
   after one login and after `--logins` logins at once (each verifies an argon2 hash).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
from dateutil.relativedelta import relativedelta
from psycopg.types.json import Jsonb
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from api.access import visible_postings
from api.security import Principal, hash_password, issue_token, principal_of
from api.wiring import build_container
from bench.scheduler import percentile
from bench.transitions import (
    DEFAULT_SERVER,
    BenchError,
    Fire,
    Measure,
    log,
    positive_counts,
    run_clients,
    scratch_database,
)
from config.settings import Settings
from workflow.context import Actor
from workflow.db import make_engine
from workflow.migrate import upgrade
from workflow.models import (
    EntityType,
    Organisation,
    Posting,
    PostingCreate,
    PostingKind,
    Role,
    User,
)
from workflow.pipeline import Pipeline
from workflow.reports import counts_by_group_by, organisation_counts, posting_counts
from workflow.service import Workflow

REPORT_PATH = "/reports/pipeline"
PAGE = 50  # the route's default page of postings
EVENT, SOURCE = "screen", "received"
KINDS = ("http", "service")
START_TIMEOUT_S = 120
CHUNK = 100_000  # applications loaded per statement group
STEP = timedelta(hours=1)  # between two loaded moves of one application
# Where the loaded applications stand, out of 20: most turned down, a quarter still waiting.
MIX = (("received", 5), ("screening", 3), ("interview", 2), ("rejected", 8), ("withdrawn", 2))
# How each got there from `received`, as events of both application pipelines.
PATHS = {
    "received": (),
    "screening": ("screen",),
    "interview": ("screen", "invite"),
    "rejected": ("screen", "reject"),
    "withdrawn": ("withdraw",),
}
CANDIDATE_EVENTS = frozenset({"withdraw"})  # fired by the candidate; the rest by the recruiter
REASON = "bench"
PASSWORD = "bench password"
PAYLOADS = {"reject": {"rejection_reason": "not_qualified"}}
# Guards the loaded data satisfies (a reason is given) and effects it reproduces.
LOADABLE_GUARDS = frozenset({"reason_given"})
LOADABLE_EFFECTS = {"record_rejection_reason": "rejection_reason"}


# --- Options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    size: int = 1_000_000
    postings: int = 200
    requests: int = 1000
    naive: int = 20
    transitions: int = 4000
    clients: tuple[int, ...] = (16,)
    warmup: int = 10
    rounds: int = 4
    logins: int = 16
    database_url: str = DEFAULT_SERVER
    database_name: str | None = None
    keep_database: bool = False


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="bench.api", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=Options.size, help="applications loaded")
    parser.add_argument(
        "--postings", type=int, default=Options.postings, help="postings they are spread over"
    )
    parser.add_argument(
        "--requests", type=int, default=Options.requests, help="report requests timed per way"
    )
    parser.add_argument(
        "--naive", type=int, default=Options.naive, help="naive GROUP BY runs timed"
    )
    parser.add_argument(
        "--transitions",
        type=int,
        default=Options.transitions,
        help="transitions timed per side (HTTP, in-process) and client count",
    )
    parser.add_argument(
        "--clients", type=positive_counts, default=Options.clients, help="e.g. 1,16"
    )
    parser.add_argument(
        "--warmup", type=int, default=Options.warmup, help="untimed requests per client and round"
    )
    parser.add_argument(
        "--rounds", type=int, default=Options.rounds, help="HTTP and in-process take turns"
    )
    parser.add_argument(
        "--logins",
        type=int,
        default=Options.logins,
        help="logins at once after the run, for memory (0: none)",
    )
    parser.add_argument(
        "--database-url", default=DEFAULT_SERVER, help="the server (any database on it)"
    )
    parser.add_argument("--database-name", help="name of the scratch database (default: random)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    args = parser.parse_args(argv)
    if min(args.size, args.postings, args.requests, args.naive, args.rounds) < 1:
        parser.error("--size, --postings, --requests, --naive, --rounds must be positive")
    if args.transitions < args.rounds or min(args.warmup, args.logins) < 0:
        parser.error("--transitions must be at least --rounds; --warmup, --logins not negative")
    options = Options(**vars(args))
    needed, available = needed_applications(options), Plan.of(options).received
    if needed > available:
        parser.error(
            f"the transitions need {needed:,} applications in {SOURCE!r}; {options.size:,} "
            f"loaded give {available:,}: raise --size or lower --transitions/--warmup"
        )
    return options


def needed_applications(options: Options) -> int:
    """Applications in `received` that the transitions use, both sides, warm-ups included."""
    per_side = sum(
        options.transitions + options.rounds * n * options.warmup for n in options.clients
    )
    return 2 * per_side


# --- The loading plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Which posting and state application g (1..size) gets: posting g mod P, state from MIX by
    (g div P) mod 20, so every posting gets every state and neighbouring ids differ in posting."""

    size: int
    postings: int

    @classmethod
    def of(cls, options: Options) -> Plan:
        return cls(options.size, options.postings)

    @property
    def states(self) -> list[str]:
        return [state for state, share in MIX for _ in range(share)]

    def counts(self) -> Counter[tuple[int, str]]:
        """(posting index from 0, state) -> applications, from the plan alone."""
        states, p = self.states, self.postings
        return Counter((g % p, states[(g // p) % len(states)]) for g in range(1, self.size + 1))

    @property
    def received(self) -> int:
        return sum(n for (_, state), n in self.counts().items() if state == SOURCE)


@dataclass(frozen=True)
class Step:
    """One history row of a loaded application whose current state is `target`."""

    pipeline: str
    target: str
    step: int  # 0 is the `create` row
    event: str
    from_state: str | None
    to_state: str
    actor_kind: str
    reason: str | None
    payload: dict[str, Any]
    last: bool


def history_steps(pipeline: Pipeline) -> tuple[list[Step], dict[str, dict[str, str]]]:
    """The history rows leading to each planned state, checked against the pipeline; and the
    columns the moves' effects set (e.g. rejection_reason), by target state."""
    steps, columns = [], {}
    for target, events in PATHS.items():
        state, count = pipeline.initial, len(events)
        steps.append(Step(pipeline.name, target, 0, "create", None, state, "candidate", None, {},
                          count == 0))  # fmt: skip
        columns[target] = {}
        for k, event in enumerate(events, start=1):
            move = pipeline.transition(state, event)
            if move is None or set(move.guards) - LOADABLE_GUARDS:
                raise BenchError(f"{pipeline.name}: cannot load {event!r} from {state!r}")
            for effect in move.effects:
                if effect.do not in LOADABLE_EFFECTS:
                    raise BenchError(f"{pipeline.name}: cannot load the effect {effect.do!r}")
                column = LOADABLE_EFFECTS[effect.do]
                columns[target][column] = PAYLOADS[event][column]
            actor = "candidate" if event in CANDIDATE_EVENTS else "user"
            reason = REASON if move.guards else None
            steps.append(Step(pipeline.name, target, k, event, state, move.dest, actor, reason,
                              PAYLOADS.get(event, {}), k == count))  # fmt: skip
            state = move.dest
        if state != target:
            raise BenchError(
                f"{pipeline.name}: {events} from {pipeline.initial!r} ends in {state!r}"
            )
    return steps, columns


def deadline_specs(pipeline: Pipeline) -> list[tuple[str, str, str, str | None, str | None, str]]:
    """(pipeline, state, kind, event, action, offset as an SQL interval) of the planned states'
    deadlines. The loaded candidates gave no talent-pool consent: `offset` applies, not
    `talent_pool_offset`."""
    specs = []
    for state in PATHS:
        for spec in pipeline.states[state].deadlines:
            offset = spec.offset
            if spec.at != "state_entered_at" or offset != relativedelta(**_relative(offset)):
                raise BenchError(f"{pipeline.name}.{state}: {spec.kind}: not loadable")
            if spec.if_future and EPOCH + offset <= EPOCH:
                raise BenchError(f"{pipeline.name}.{state}: {spec.kind}: not due after entry")
            interval = " ".join(f"{n} {unit}" for unit, n in _relative(offset).items())
            specs.append((pipeline.name, state, spec.kind, spec.event, spec.action, interval))
    return specs


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _relative(offset: relativedelta) -> dict[str, int]:
    """The relative fields of an offset (absolute ones, like day=1, are not loadable)."""
    units = ("years", "months", "days", "hours", "minutes", "seconds", "microseconds")
    return {unit: getattr(offset, unit) for unit in units}


# --- The scratch database and its data --------------------------------------------------------


@dataclass
class Bench:
    conninfo: str
    workflow: Workflow
    organisation_id: int
    posting_ids: list[int]
    posting_pipelines: list[str]
    recruiter_id: int  # owns the postings, made the loaded moves
    http_user: Principal  # the HR user the HTTP requests authenticate as
    service_user_id: int  # the HR user the in-process transitions are fired as
    token: str  # http_user's
    received: list[int]  # applications in `received`, handed out to the transitions in order

    def take(self, n: int) -> list[int]:
        taken, self.received = self.received[:n], self.received[n:]
        if len(taken) < n:
            raise BenchError(f"ran out of applications in {SOURCE!r}")
        return taken


@contextmanager
def open_workflow(url: str, var_dir: str, pool_size: int) -> Iterator[Workflow]:
    """The service as the API process has it (same wiring: the notifications subscribed), on
    the migrated database, with a pool holding a connection per in-process client."""
    container = build_container(Settings(database_url=url, var_dir=Path(var_dir)))
    container.engine.dispose()
    engine = make_engine(url, pool_size=pool_size)
    container.workflow.sessions.configure(bind=engine)
    try:
        upgrade(engine)
        yield container.workflow
    finally:
        engine.dispose()


def seed(workflow: Workflow, url: str, postings: int) -> Bench:
    """The organisation, its three users, the HR token and the published postings."""
    now = datetime.now(UTC)
    with workflow.sessions.begin() as session:
        organisation = Organisation(slug="bench", name="Benchmark", created_at=now)
        session.add(organisation)
        session.flush()
        people = (("recruiter", Role.recruiter), ("hr-http", Role.hr), ("hr-service", Role.hr))
        users = [
            User(organisation_id=organisation.id, email=f"{name}@bench.example.org", name=name,
                 role=role, created_at=now)
            for name, role in people
        ]  # fmt: skip
        users[1].password_hash = hash_password(PASSWORD)  # for the logins at the end
        session.add_all(users)
        session.flush()
        token = issue_token(session, users[1], now, timedelta(days=1)).raw
    recruiter = Actor.user(users[0].id)
    ids, pipelines = [], []
    for k in range(postings):
        kind = PostingKind.volunteer if k % 2 == 0 else PostingKind.staff
        call = PostingCreate(
            ref=f"bench-{k + 1}",
            kind=kind,
            title=f"Benchmark {kind.value} call {k + 1}",
            pipeline=kind.value,
            closes_on=(now + timedelta(days=365)).date(),
        )
        with workflow.sessions.begin() as session:
            posting = workflow.create_posting_in(
                session, organisation.id, call, recruiter, owner_id=users[0].id
            )
        workflow.fire(EntityType.posting, posting.id, "publish", recruiter)
        ids.append(posting.id)
        pipelines.append(posting.pipeline)
    recruiter_id, http_user, service_user_id = users[0].id, principal_of(users[1]), users[2].id
    return Bench(
        url, workflow, organisation.id, ids, pipelines, recruiter_id, http_user, service_user_id,
        token, [],
    )  # fmt: skip


LOAD_CANDIDATES = """
INSERT INTO candidate (id, first_name, last_name, email, email_normalised, phone, language,
                       organisation_id, consents, created_at)
SELECT g, 'Bench', 'Candidate ' || g, e, e, '', (ARRAY['fr', 'en'])[mod(g, 2) + 1], %(org)s,
       '[]'::jsonb, %(start)s + g * %(spacing)s
FROM generate_series(%(first)s::int, %(last)s::int) AS g,
     LATERAL (SELECT 'candidate' || g || '@bench.example.org' AS e) AS address
"""

# Application g: posting p (by g), planned state m (by g), and t: how many moves led there in
# that posting's pipeline and the rejection reason they left.
LOAD_APPLICATIONS = """
INSERT INTO application (id, source, organisation_id, posting_id, candidate_id, pipeline, state,
                         version, state_entered_at, rejection_reason, assessment, created_at)
SELECT g, 'bench', %(org)s, p.id, g, p.pipeline, m.state, 1 + t.moves,
       c.created_at + t.moves * %(step)s, t.rejection_reason, '{}'::jsonb, c.created_at
FROM generate_series(%(first)s::int, %(last)s::int) AS g
JOIN candidate c ON c.id = g
JOIN unnest(%(posting_ids)s::int[], %(posting_pipelines)s::text[]) WITH ORDINALITY
     AS p(id, pipeline, n) ON p.n = mod(g, %(postings)s) + 1
JOIN unnest(%(mix)s::text[]) WITH ORDINALITY AS m(state, n)
     ON m.n = mod(g / %(postings)s, %(mix_len)s) + 1
JOIN unnest(%(t_pipeline)s::text[], %(t_state)s::text[], %(t_moves)s::int[],
            %(t_reason)s::text[]) AS t(pipeline, state, moves, rejection_reason)
     ON t.pipeline = p.pipeline AND t.state = m.state
"""

STEPS = """
unnest(%(s_pipeline)s::text[], %(s_target)s::text[], %(s_step)s::int[], %(s_event)s::text[],
       %(s_from)s::text[], %(s_to)s::text[], %(s_actor)s::text[], %(s_reason)s::text[],
       %(s_payload)s::jsonb[], %(s_last)s::bool[])
  AS s(pipeline, target, step, event, from_state, to_state, actor_kind, reason, payload, last)
"""

LOAD_HISTORY = f"""
INSERT INTO transition_record (organisation_id, entity_type, entity_id, pipeline, event,
                               from_state, to_state, actor_kind, actor_id, reason, payload, at)
SELECT a.organisation_id, 'application'::entitytype, a.id, a.pipeline, s.event, s.from_state,
       s.to_state, s.actor_kind::actorkind,
       CASE WHEN s.actor_kind = 'candidate' THEN a.candidate_id ELSE %(recruiter)s END,
       s.reason, s.payload, a.created_at + s.step * %(step)s
FROM application a
JOIN {STEPS} ON s.pipeline = a.pipeline AND s.target = a.state
WHERE a.id BETWEEN %(first)s AND %(last)s
ORDER BY a.id, s.step
"""

# The idle reminders of every state each application entered: pending where it is now,
# cancelled (when it moved on) where it was before.
LOAD_DEADLINES = f"""
INSERT INTO deadline (organisation_id, entity_type, entity_id, kind, event, action, state,
                      due_at, status, attempts, created_at, updated_at)
SELECT a.organisation_id, 'application'::entitytype, a.id, d.kind, d.event, d.action, s.to_state,
       a.created_at + s.step * %(step)s + d.offset_,
       (CASE WHEN s.last THEN 'pending' ELSE 'cancelled' END)::deadlinestatus, 0,
       a.created_at + s.step * %(step)s,
       a.created_at + (s.step + CASE WHEN s.last THEN 0 ELSE 1 END) * %(step)s
FROM application a
JOIN {STEPS} ON s.pipeline = a.pipeline AND s.target = a.state
JOIN unnest(%(d_pipeline)s::text[], %(d_state)s::text[], %(d_kind)s::text[],
            %(d_event)s::text[], %(d_action)s::text[], %(d_offset)s::interval[])
     AS d(pipeline, state, kind, event, action, offset_)
     ON d.pipeline = a.pipeline AND d.state = s.to_state
WHERE a.id BETWEEN %(first)s AND %(last)s
ORDER BY a.id, s.step
"""

ADD_COUNTS = """
INSERT INTO pipeline_count (posting_id, state, count)
SELECT * FROM unnest(%s::int[], %s::text[], %s::int[])
ON CONFLICT (posting_id, state) DO UPDATE SET count = pipeline_count.count + excluded.count
"""


def load_parameters(bench: Bench, plan: Plan) -> dict[str, Any]:
    """The bind parameters every loading statement shares: the plan as arrays."""
    steps: list[Step] = []
    targets: list[tuple[str, str, int, str | None]] = []
    specs = []
    for name in sorted(set(bench.posting_pipelines)):
        pipeline = bench.workflow.pipelines[name]
        pipeline_steps, columns = history_steps(pipeline)
        steps += pipeline_steps
        targets += [
            (name, state, len(events), columns[state].get("rejection_reason"))
            for state, events in PATHS.items()
        ]
        specs += deadline_specs(pipeline)
    now = datetime.now(UTC)
    spacing = timedelta(days=365) / plan.size
    t_pipeline, t_state, t_moves, t_reason = (list(column) for column in zip(*targets, strict=True))
    return {
        "org": bench.organisation_id,
        "recruiter": bench.recruiter_id,
        "start": now - timedelta(days=368),
        "spacing": spacing,
        "step": STEP,
        "postings": plan.postings,
        "posting_ids": bench.posting_ids,
        "posting_pipelines": bench.posting_pipelines,
        "mix": plan.states,
        "mix_len": len(plan.states),
        "t_pipeline": t_pipeline,
        "t_state": t_state,
        "t_moves": t_moves,
        "t_reason": t_reason,
        "s_pipeline": [s.pipeline for s in steps],
        "s_target": [s.target for s in steps],
        "s_step": [s.step for s in steps],
        "s_event": [s.event for s in steps],
        "s_from": [s.from_state for s in steps],
        "s_to": [s.to_state for s in steps],
        "s_actor": [s.actor_kind for s in steps],
        "s_reason": [s.reason for s in steps],
        "s_payload": [Jsonb(s.payload) for s in steps],
        "s_last": [s.last for s in steps],
        "d_pipeline": [d[0] for d in specs],
        "d_state": [d[1] for d in specs],
        "d_kind": [d[2] for d in specs],
        "d_event": [d[3] for d in specs],
        "d_action": [d[4] for d in specs],
        "d_offset": [d[5] for d in specs],
    }


def load(bench: Bench, plan: Plan) -> float:
    """Load the plan's applications in chunks, then their counts; seconds taken."""
    params, started = load_parameters(bench, plan), time.perf_counter()
    with psycopg.connect(bench.conninfo) as conn:
        # Month offsets are calendar arithmetic: in UTC, as the service adds them in Python.
        conn.execute("SET TIME ZONE 'UTC'")
        for first in range(1, plan.size + 1, CHUNK):
            chunk = params | {"first": first, "last": min(first + CHUNK - 1, plan.size)}
            for statement in (LOAD_CANDIDATES, LOAD_APPLICATIONS, LOAD_HISTORY, LOAD_DEADLINES):
                conn.execute(statement, chunk)
            conn.commit()
            log(f"loaded {chunk['last']:,} applications ({time.perf_counter() - started:.0f} s)")
        for table in ("candidate", "application"):
            conn.execute(f"SELECT setval('{table}_id_seq', %s)", (plan.size,))
        counts = sorted(plan.counts().items())
        conn.execute(
            ADD_COUNTS,
            (
                [bench.posting_ids[posting] for (posting, _), _ in counts],
                [state for (_, state), _ in counts],
                [n for _, n in counts],
            ),
        )
        conn.commit()
    with psycopg.connect(bench.conninfo, autocommit=True) as conn:
        log("VACUUM ANALYZE, CHECKPOINT")
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - started


def check_loaded(bench: Bench, plan: Plan) -> None:
    """The counts table equals the GROUP BY; one history row per version of each application."""
    check_counts(bench)
    with psycopg.connect(bench.conninfo) as conn:
        applications, versions = conn.execute(
            "SELECT count(*), sum(version) FROM application"
        ).fetchone()
        history = conn.execute(
            "SELECT count(*) FROM transition_record WHERE entity_type = 'application'"
        ).fetchone()[0]
    if applications != plan.size or history != versions:
        raise BenchError(
            f"loaded {applications:,} applications of {plan.size:,}, {history:,} history rows "
            f"for {versions:,} versions"
        )


def check_counts(bench: Bench) -> None:
    with bench.workflow.sessions() as session:
        grouped = counts_by_group_by(session, organisation_id=bench.organisation_id)
        rows = session.execute(
            text("SELECT posting_id, state, count FROM pipeline_count WHERE count <> 0")
        )
        counted = {(posting, state): n for posting, state, n in rows}
    if counted != grouped:
        drift = {k: (counted.get(k), grouped.get(k)) for k in counted.keys() | grouped.keys()}
        drift = {k: v for k, v in drift.items() if v[0] != v[1]}
        raise BenchError(f"pipeline_count differs from the GROUP BY: {drift}")


def received_ids(bench: Bench) -> list[int]:
    with psycopg.connect(bench.conninfo) as conn:
        query = "SELECT id FROM application WHERE state = %s ORDER BY id"
        return [row[0] for row in conn.execute(query, (SOURCE,))]


# --- The API process and the load generator ---------------------------------------------------


def api_server_child(url: str, var_dir: str, answers: Any) -> None:
    """The API as `vivier serve` runs it: uvicorn, one process, on a port of its own."""
    try:
        import socket

        import uvicorn

        from api.app import create_app

        settings = Settings(database_url=url, var_dir=Path(var_dir))
        app = create_app(build_container(settings))
        # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY on accepted sockets only when
        # the listener says TCP, and without it every keep-alive answer waits ~40 ms for the
        # client's delayed ACK (uvicorn's own bind for --workers has that flaw: uvicorn #3149).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        answers.put(("ready", sock.getsockname()[1]))
        uvicorn.Server(config).run(sockets=[sock])
    except BaseException:
        answers.put(("error", traceback.format_exc()))


@dataclass(frozen=True)
class Memory:
    """The API process's peak and current resident memory after a part of the run."""

    after: str
    peak_kib: int  # VmHWM
    rss_kib: int  # VmRSS


@dataclass(frozen=True)
class ApiProcess:
    pid: int
    base_url: str

    def status_kib(self, field: str) -> int:
        """A memory figure of the process (VmHWM, VmRSS) from /proc/PID/status."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
        raise BenchError(f"no {field} in /proc/{self.pid}/status (Linux only)")

    def memory(self, label: str) -> Memory:
        return Memory(label, self.status_kib("VmHWM"), self.status_kib("VmRSS"))

    def cpu_s(self) -> float:
        """User + system CPU seconds the process has used, from /proc/PID/stat."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def api_process(url: str) -> Iterator[ApiProcess]:
    """The API served in a child process until the block ends (then stopped, even on error)."""
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    with tempfile.TemporaryDirectory(prefix="vivier-bench-") as var_dir:
        process = context.Process(target=api_server_child, args=(url, var_dir, answers))
        process.start()
        try:
            answer = answers.get(timeout=START_TIMEOUT_S)
            if answer[0] != "ready":
                raise BenchError(f"the API process failed:\n{answer[1]}")
            assert process.pid is not None
            server = ApiProcess(process.pid, f"http://127.0.0.1:{answer[1]}")
            _wait_healthy(server, process, answers)
            yield server
        finally:
            _stop(process)


def _wait_healthy(server: ApiProcess, process: Any, answers: Any) -> None:
    import httpx2

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise BenchError(f"the API process exited:\n{_first_answer(answers)}")
        try:
            if httpx2.get(f"{server.base_url}/health", timeout=5).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise BenchError("the API did not answer /health in time")


def _first_answer(answers: Any) -> str:
    try:
        return str(answers.get(timeout=1)[1])
    except queue.Empty:
        return "(no message)"


def _stop(process: Any) -> None:
    process.terminate()  # SIGTERM: uvicorn shuts down gracefully
    process.join(timeout=30)
    if process.is_alive():
        process.kill()
        process.join()


def load_generator_child(base_url: str, token: str, jobs: Any, answers: Any) -> None:
    """Runs the HTTP jobs it is sent, one at a time, until it gets None."""
    headers = {"Authorization": f"Bearer {token}"}
    while (job := jobs.get()) is not None:
        kind, args = job
        try:
            cpu = time.process_time()
            if kind == "report":
                result: Any = report_latencies(base_url, headers, *args)
            else:
                result = run_clients(partial(http_client, base_url, headers), *args)
            answers.put(("ok", result, time.process_time() - cpu))
        except BaseException:
            answers.put(("error", traceback.format_exc(), 0.0))


def report_latencies(
    base_url: str, headers: dict[str, str], requests: int, warmup: int, total: int
) -> list[float]:
    """`requests` timed GETs of the report, one after another, after `warmup` untimed ones."""
    import httpx2

    latencies = []
    with httpx2.Client(base_url=base_url, headers=headers, timeout=60) as client:
        check_report(client.get(REPORT_PATH), total)
        for k in range(warmup + requests):
            began = time.perf_counter()
            response = client.get(REPORT_PATH)
            elapsed = time.perf_counter() - began
            if response.status_code != 200:
                raise BenchError(f"GET {REPORT_PATH}: {response.status_code} {response.text}")
            if k >= warmup:
                latencies.append(elapsed)
    return latencies


def check_report(response: Any, total: int) -> None:
    """The report answers 200, its organisation totals add up to the loaded applications and
    it shows one page of postings."""
    if response.status_code != 200:
        raise BenchError(f"GET {REPORT_PATH}: {response.status_code} {response.text}")
    body = response.json()
    found, postings = sum(body["totals"].values()), len(body["postings"])
    if found != total or body["total"] != total or not 0 < postings <= PAGE:
        raise BenchError(
            f"GET {REPORT_PATH}: totals add up to {found:,} (total {body['total']:,}), not "
            f"{total:,}; {postings} postings on the page"
        )


@contextmanager
def http_client(base_url: str, headers: dict[str, str]) -> Iterator[Fire]:
    """One client: its own keep-alive connection, firing `screen` on the ids it is given."""
    import httpx2

    with httpx2.Client(base_url=base_url, headers=headers, timeout=60) as client:

        def fire(app_id: int) -> None:
            response = client.post(f"/applications/{app_id}/events/{EVENT}")
            if response.status_code != 200:
                raise BenchError(f"application {app_id}: {response.status_code} {response.text}")

        yield fire


class LoadGenerator:
    """The load generator process, sent one job at a time."""

    def __init__(self, process: Any, jobs: Any, answers: Any) -> None:
        self.process, self.jobs, self.answers = process, jobs, answers

    def run(self, kind: str, *args: Any) -> tuple[Any, float]:
        """The job's result and the CPU seconds the load generator used for it."""
        self.jobs.put((kind, args))
        while True:
            try:
                answer = self.answers.get(timeout=1)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    raise BenchError("the load generator process died") from None
        if answer[0] != "ok":
            raise BenchError(f"the load generator failed:\n{answer[1]}")
        return answer[1], answer[2]


@contextmanager
def load_generator(server: ApiProcess, token: str) -> Iterator[LoadGenerator]:
    context = multiprocessing.get_context("spawn")
    jobs, answers = context.Queue(), context.Queue()
    process = context.Process(
        target=load_generator_child, args=(server.base_url, token, jobs, answers)
    )
    process.start()
    try:
        yield LoadGenerator(process, jobs, answers)
    finally:
        jobs.put(None)
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()


# --- Measures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    label: str
    seconds: tuple[float, ...]
    api_cpu_ms: float | None = None  # the API process's CPU per request

    @property
    def p50_ms(self) -> float:
        return 1000 * percentile(self.seconds, 50)

    @property
    def p95_ms(self) -> float:
        return 1000 * percentile(self.seconds, 95)

    @property
    def mean_ms(self) -> float:
        return 1000 * statistics.fmean(self.seconds)


def direct_report(workflow: Workflow, user: Principal) -> None:
    """What `GET /reports/pipeline` reads for an HR user, through the same reports functions
    with the same arguments (the organisation's totals, the first page of postings), in a
    transaction of its own; without HTTP, authentication or JSON."""
    page = select(Posting.id).where(visible_postings(user)).order_by(Posting.id).limit(PAGE)
    with workflow.sessions.begin() as session:
        organisation_counts(session, user.organisation_id, posting_ids=None)
        posting_counts(session, user.organisation_id, posting_ids=page)


def naive_report(workflow: Workflow, organisation_id: int) -> None:
    with workflow.sessions.begin() as session:
        counts_by_group_by(session, organisation_id=organisation_id)


def time_calls(call: Callable[[], object], n: int, warmup: int) -> tuple[float, ...]:
    for _ in range(warmup):
        call()
    latencies = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - began)
    return tuple(latencies)


def measure_report(
    bench: Bench, options: Options, server: ApiProcess, generator: LoadGenerator
) -> tuple[Latency, ...]:
    warmup = min(options.requests, 20)
    log(f"report: {options.requests:,} requests over HTTP")
    cpu = server.cpu_s()
    seconds, _ = generator.run("report", options.requests, warmup, options.size)
    api_cpu = 1000 * (server.cpu_s() - cpu) / (options.requests + warmup + 1)
    http = Latency(f"HTTP GET {REPORT_PATH}", tuple(seconds), api_cpu)
    log(f"report: {options.requests:,} direct, {options.naive:,} naive GROUP BY")
    workflow, org, user = bench.workflow, bench.organisation_id, bench.http_user
    direct = Latency(
        "same SQL, direct",
        time_calls(partial(direct_report, workflow, user), options.requests, warmup),
    )
    naive = Latency(
        "naive GROUP BY over applications",
        time_calls(partial(naive_report, workflow, org), options.naive, min(options.naive, 2)),
    )
    return http, direct, naive


@dataclass(frozen=True)
class Row:
    clients: int
    http: Measure
    service: Measure
    api_cpu_ms: float  # API process CPU per HTTP transition (warm-ups included)
    client_cpu_ms: float  # load generator CPU per HTTP transition

    @property
    def ratio(self) -> float:
        return self.http.per_second / self.service.per_second


def service_opener(bench: Bench) -> Callable[[], Any]:
    """Every in-process client calls the one Workflow, as an HR user of the organisation."""
    fire = partial(
        bench.workflow.fire,
        EntityType.application,
        event=EVENT,
        actor=Actor.user(bench.service_user_id),
        organisation_id=bench.organisation_id,
    )
    return lambda: nullcontext(fire)


def measure_row(
    bench: Bench, clients: int, options: Options, server: ApiProcess, generator: LoadGenerator
) -> Row:
    """HTTP and in-process take turns (who goes first alternates) on fresh applications."""
    parts: dict[str, list[Measure]] = {kind: [] for kind in KINDS}
    api_cpu = client_cpu = 0.0
    fired = 0
    for turn in range(options.rounds):
        size = options.transitions // options.rounds + (turn < options.transitions % options.rounds)
        for kind in KINDS if turn % 2 == 0 else KINDS[::-1]:
            ids = bench.take(size + clients * options.warmup)
            if kind == "http":
                cpu = server.cpu_s()
                result, used = generator.run("transitions", ids, clients, options.warmup)
                api_cpu += server.cpu_s() - cpu
                client_cpu += used
                fired += len(ids)
            else:
                result = run_clients(service_opener(bench), ids, clients, options.warmup)
            parts[kind].append(result)
            speed = f"{result.per_second:,.0f}/s, {result.mean_latency_ms:.2f} ms"
            log(f"{kind:>8}, {clients:>2} clients, {size:,} transitions: {speed}")
    http, service = Measure.total(parts["http"]), Measure.total(parts["service"])
    return Row(clients, http, service, 1000 * api_cpu / fired, 1000 * client_cpu / fired)


def measure_logins(server: ApiProcess, email: str, concurrent: int) -> list[Memory]:
    """One login, then `concurrent` at once: each verifies an argon2 hash in the API process,
    which takes the hasher's memory cost (64 MiB by default) while it runs."""
    import httpx2

    def login(_: int) -> None:
        form = {"username": email, "password": PASSWORD}
        response = httpx2.post(f"{server.base_url}/auth/token", data=form, timeout=120)
        if response.status_code != 200:
            raise BenchError(f"login: {response.status_code} {response.text}")

    login(0)
    memory = [server.memory("1 login")]
    if concurrent > 1:
        with ThreadPoolExecutor(max_workers=concurrent) as pool:
            list(pool.map(login, range(concurrent)))
        memory.append(server.memory(f"{concurrent} logins at once"))
    return memory


def check_moved(bench: Bench, expected: dict[int, int]) -> None:
    """Every application fired is in screening at version 2 with one `screen` row by its side's
    user; the counts still equal the GROUP BY."""
    query = """
        SELECT r.actor_id, count(*), count(*) FILTER (WHERE a.state = 'screening'
                                                      AND a.version = 2)
        FROM transition_record r JOIN application a ON a.id = r.entity_id
        WHERE r.entity_type = 'application' AND r.event = %s AND r.actor_id = ANY(%s)
        GROUP BY r.actor_id
    """
    with psycopg.connect(bench.conninfo) as conn:
        rows = conn.execute(query, (EVENT, list(expected))).fetchall()
    found = {actor: (n, moved) for actor, n, moved in rows}
    if found != {actor: (n, n) for actor, n in expected.items()}:
        raise BenchError(f"screen history rows and moved applications by user: {found}, "
                         f"wanted {expected} each")  # fmt: skip
    check_counts(bench)


# --- The run and its report -------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    options: Options
    server_version: str
    database: str
    load_seconds: float
    report: tuple[Latency, ...]  # HTTP, direct, naive
    rows: tuple[Row, ...]
    load_average: str  # of the machine when the run started (other work skews the figures)
    memory: tuple[Memory, ...]  # the API process after each part of the run
    logins: tuple[Memory, ...]  # then after logins

    @property
    def peak_kib(self) -> int:
        return self.memory[-1].peak_kib

    @property
    def report_ratio(self) -> float:
        http, direct, _ = self.report
        return http.p50_ms / direct.p50_ms

    @property
    def naive_ratio(self) -> float:
        _, direct, naive = self.report
        return naive.p50_ms / direct.p50_ms


def run(options: Options) -> Report:
    plan = Plan.of(options)
    with open("/proc/loadavg") as loadavg:
        load_average = " ".join(loadavg.read().split()[:3])
    with scratch_database(options.database_url, options.database_name, keep=options.keep_database) as url:  # fmt: skip
        log(f"scratch database {make_url(url).database}: migrating")
        with (
            tempfile.TemporaryDirectory(prefix="vivier-bench-") as var_dir,
            open_workflow(url, var_dir, max(options.clients)) as workflow,
        ):
            bench = seed(workflow, url, options.postings)
            log(f"loading {options.size:,} applications over {options.postings} postings")
            seconds = load(bench, plan)
            check_loaded(bench, plan)
            bench.received = received_ids(bench)
            with api_process(url) as server, load_generator(server, bench.token) as generator:
                memory = [server.memory("start")]
                report = measure_report(bench, options, server, generator)
                memory.append(server.memory("report"))
                rows = []
                for clients in options.clients:
                    rows.append(measure_row(bench, clients, options, server, generator))
                    memory.append(server.memory(f"transitions, {clients} clients"))
                logins = []
                if options.logins:
                    logins = measure_logins(server, bench.http_user.email, options.logins)
            fired = needed_applications(options) // 2
            check_moved(bench, {bench.http_user.user_id: fired, bench.service_user_id: fired})
            with psycopg.connect(url) as conn:
                server_version = conn.execute("SHOW server_version").fetchone()[0]
            name = make_url(url).database or ""
            return Report(
                options,
                server_version,
                name,
                seconds,
                report,
                tuple(rows),
                load_average,
                tuple(memory),
                tuple(logins),
            )


def format_report(report: Report) -> str:
    o = report.options
    http, direct, naive = report.report
    lines = [
        f"API: {o.size:,} applications over {o.postings} postings of one organisation, loaded "
        f"in {report.load_seconds:.0f} s; PostgreSQL {report.server_version}, scratch database "
        f"{report.database}; load average at the start {report.load_average}",
        f"API process: uvicorn {version('uvicorn')} (one process, access log off), default "
        f"engine pool; load generator: its own process, httpx2 {version('httpx2')}",
        "",
        f"Pipeline report (organisation totals + one page of postings), {o.requests:,} requests "
        "one after another",
        f"{'way':<34} | {'runs':>5} | {'p50 ms':>7} | {'p95 ms':>7} | {'mean ms':>7} | "
        f"{'API CPU ms':>10}",
    ]
    for latency in (http, direct, naive):
        cpu = "" if latency.api_cpu_ms is None else f"{latency.api_cpu_ms:.2f}"
        lines.append(
            f"{latency.label:<34} | {len(latency.seconds):>5,} | {latency.p50_ms:>7.2f} | "
            f"{latency.p95_ms:>7.2f} | {latency.mean_ms:>7.2f} | {cpu:>10}"
        )
    lines += [
        f"ratio HTTP/direct p50: {report.report_ratio:.2f}, p95: "
        f"{http.p95_ms / direct.p95_ms:.2f}; ratio naive GROUP BY/direct p50: "
        f"{report.naive_ratio:.1f}",
        "",
        f"Transitions {SOURCE} -> screening (event {EVENT!r}) on distinct applications, "
        f"{o.transitions:,} timed per side and client count, taking turns over {o.rounds} round(s)",
        f"{'clients':>7} | {'HTTP tx/s':>9} | {'ms/tx':>6} | {'in-process tx/s':>15} | "
        f"{'ms/tx':>6} | {'ratio HTTP/in-process':>21} | {'API CPU ms/tx':>13} | "
        f"{'client CPU ms/tx':>16}",
    ]
    for row in report.rows:
        h, s = row.http, row.service
        lines.append(
            f"{row.clients:>7} | {h.per_second:>9,.0f} | {h.mean_latency_ms:>6.2f} | "
            f"{s.per_second:>15,.0f} | {s.mean_latency_ms:>6.2f} | {row.ratio:>21.2f} | "
            f"{row.api_cpu_ms:>13.2f} | {row.client_cpu_ms:>16.2f}"
        )
    lines += [
        "",
        f"API process memory: peak (VmHWM) after the run {report.peak_kib / 1024:.1f} MiB = "
        f"{_mb(report.peak_kib):.1f} MB",
        f"{'after':<30} | {'VmHWM MiB':>9} | {'VmRSS MiB':>9}",
    ]
    for m in (*report.memory, *report.logins):
        lines.append(f"{m.after:<30} | {m.peak_kib / 1024:>9.1f} | {m.rss_kib / 1024:>9.1f}")
    lines += [
        "",
        "Aims: " + "; ".join(_aims(report)),
    ]
    return "\n".join(lines)


def _aims(report: Report) -> list[str]:
    http = report.report[0]
    worst = min(row.ratio for row in report.rows)
    peak_mb = _mb(report.peak_kib)
    return [
        f"report p95 <= 10 ms: {_verdict(http.p95_ms <= 10)} ({http.p95_ms:.2f} ms)",
        f"HTTP >= 0.4x in-process: {_verdict(worst >= 0.4)} ({worst:.2f})",
        f"memory < 150 MB: {_verdict(peak_mb < 150)} ({peak_mb:.1f} MB after the run"
        + (
            f", {_mb(report.logins[-1].peak_kib):.1f} MB after the logins)"
            if report.logins
            else ")"
        ),
    ]


def _mb(kib: int) -> float:
    return kib * 1024 / 1e6


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        report = run(options)
    except Exception:
        traceback.print_exc()
        log("bench.api: failed")
        return 1
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
