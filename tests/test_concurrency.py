"""Concurrency: real threads, real connections, real commits.

PostgreSQL: many threads race on one row (the row lock must let exactly one win), and a posting's
cascade (fill or cancel, rejecting every open application) races with recruiters moving those same
applications (the lock order must keep them from deadlocking). SQLite: writers on one file queue on
BEGIN IMMEDIATE and the busy timeout instead of failing with "database is locked".

Each test makes its own organisation and commits for real, so it never sees another test's rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.factories import STAFF, make_application, make_org, make_posting
from workflow.db import make_engine, session_factory
from workflow.errors import StaleVersion, TransitionNotAllowed
from workflow.migrate import upgrade
from workflow.models import Application, EntityType, PipelineCount, TransitionRecord
from workflow.pipeline import Pipeline
from workflow.service import Workflow

APP = EntityType.application
POSTING = EntityType.posting
RACERS = 20
ROUNDS = 5
JOIN_TIMEOUT_S = 120  # a hung thread fails the test instead of hanging the run


def race(count: int, action: Callable[[int], Any]) -> list[Any]:
    """Run action(0..count-1) in `count` threads released together by a barrier; each slot of
    the answer holds what the action returned or the exception it raised."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait(timeout=JOIN_TIMEOUT_S)
        try:
            outcomes[index] = action(index)
        except Exception as exc:  # collected, then judged by the test
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,), name=f"racer-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_S)
    assert not [t.name for t in threads if t.is_alive()], "threads still running"
    return outcomes


def errors(outcomes: list[Any]) -> list[BaseException]:
    return [o for o in outcomes if isinstance(o, BaseException)]


def counts_and_group_by(workflow: Workflow, posting_id: int) -> tuple[dict, dict]:
    with workflow.sessions() as session:
        table = session.execute(
            select(PipelineCount.state, PipelineCount.count).where(
                PipelineCount.posting_id == posting_id, PipelineCount.count != 0
            )
        ).all()
        grouped = session.execute(
            select(Application.state, func.count())
            .where(Application.posting_id == posting_id)
            .group_by(Application.state)
        ).all()
    return dict(table), dict(grouped)


def history(workflow: Workflow, entity_type: EntityType, entity_id: int) -> list[tuple]:
    with workflow.sessions() as session:
        rows = session.execute(
            select(
                TransitionRecord.event,
                TransitionRecord.from_state,
                TransitionRecord.to_state,
                TransitionRecord.reason,
            )
            .where(
                TransitionRecord.entity_type == entity_type,
                TransitionRecord.entity_id == entity_id,
            )
            .order_by(TransitionRecord.id)
        ).all()
    return [tuple(r) for r in rows]


def assert_history_replays(records: list[tuple], state: str) -> None:
    assert records[0][:2] == ("create", None), records
    for before, after in pairwise(records):
        assert after[1] == before[2], records
    assert records[-1][2] == state, records


def load(workflow: Workflow, application_id: int) -> Application:
    with workflow.sessions() as session:
        application = session.get(Application, application_id)
        assert application is not None
        return application


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_workflow(postgresql_database_url: str, pipelines: dict[str, Pipeline]) -> Iterator[Workflow]:
    """A Workflow on its own PostgreSQL engine, big enough for every racer to hold a connection."""
    engine = make_engine(postgresql_database_url, pool_size=25)
    upgrade(engine)
    # Open the racers' connections up front, so the barrier releases threads that all have one.
    warm = [engine.connect() for _ in range(RACERS)]
    for connection in warm:
        connection.close()
    yield Workflow(session_factory(engine), pipelines)
    engine.dispose()


@pytest.mark.postgres_only
@pytest.mark.parametrize("pass_version", [False, True], ids=["no-version", "expected-version-1"])
def test_twenty_threads_fire_the_same_event_exactly_one_wins(
    pg_workflow: Workflow, pass_version: bool
) -> None:
    """The row lock serialises the racers: the first moves the application, every other one then
    finds it moved (TransitionNotAllowed) or, when it passed the version it read, StaleVersion."""
    workflow = pg_workflow
    posting = make_posting(workflow, make_org(workflow))
    for _ in range(ROUNDS):
        application = make_application(workflow, posting)
        version = {"expected_version": 1} if pass_version else {}

        def screen(_index: int, application_id: int = application.id, version=version) -> Any:
            return workflow.fire(APP, application_id, "screen", STAFF, **version)

        outcomes = race(RACERS, screen)

        winners = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = errors(outcomes)
        expected_refusal = StaleVersion if pass_version else (TransitionNotAllowed, StaleVersion)
        unexpected = [e for e in refused if not isinstance(e, expected_refusal)]
        assert not unexpected, unexpected
        assert len(winners) == 1, f"{len(winners)} threads won the same transition"
        assert (winners[0].from_state, winners[0].to_state, winners[0].version) == (
            "received",
            "screening",
            2,
        )
        stored = load(workflow, application.id)
        assert (stored.state, stored.version) == ("screening", 2)
        records = history(workflow, APP, application.id)
        assert [r[0] for r in records] == ["create", "screen"]
        assert_history_replays(records, "screening")
    table, grouped = counts_and_group_by(workflow, posting.id)
    assert table == grouped == {"screening": ROUNDS}


CASCADE = {
    "fill": {"reason": "one vacancy frozen", "payload": {"force": True}},
    "cancel": {"reason": "budget cut"},
}
OPEN_APPLICATIONS = 30
MOVERS = 6


@pytest.mark.postgres_only
@pytest.mark.parametrize("event", sorted(CASCADE))
def test_cascade_racing_recruiters_does_not_deadlock(pg_workflow: Workflow, event: str) -> None:
    """One thread fills or cancels the posting (its cascade rejects every open application) while
    recruiters move those same applications received -> screening, in the opposite order."""
    workflow = pg_workflow
    posting = make_posting(workflow, make_org(workflow))
    applications = [make_application(workflow, posting) for _ in range(OPEN_APPLICATIONS)]
    if event == "fill":
        workflow.fire(POSTING, posting.id, "close", STAFF)
    reason_code = {"fill": "posting_filled", "cancel": "posting_cancelled"}[event]

    def act(index: int) -> list[Any]:
        if index == 0:
            return [workflow.fire(POSTING, posting.id, event, STAFF, **CASCADE[event])]
        done = []
        for application in reversed(applications[index - 1 :: MOVERS]):
            try:
                done.append(workflow.fire(APP, application.id, "screen", STAFF))
            except Exception as exc:  # judged below, with the rest
                done.append(exc)
        return done

    outcomes = race(1 + MOVERS, act)

    assert not errors(outcomes), errors(outcomes)  # nothing escaped a thread
    cascade, *moves = outcomes
    assert cascade[0].to_state == ("filled" if event == "fill" else "cancelled")
    every_move = [m for thread in moves for m in thread]
    assert len(every_move) == OPEN_APPLICATIONS
    unexpected = [m for m in errors(every_move) if not isinstance(m, TransitionNotAllowed)]
    assert not unexpected, unexpected  # in particular no DeadlockDetected
    for application in applications:
        stored = load(workflow, application.id)
        assert (stored.state, stored.rejection_reason) == ("rejected", reason_code)
        records = history(workflow, APP, application.id)
        assert_history_replays(records, "rejected")
        assert records[-1][0::3] == ("reject", reason_code)
        assert [r[0] for r in records].count("screen") <= 1
    table, grouped = counts_and_group_by(workflow, posting.id)
    assert table == grouped == {"rejected": OPEN_APPLICATIONS}


# --- SQLite -----------------------------------------------------------------------------------

# A walk through the volunteer pipeline that comes back where it started; each thread starts at
# a different point of it, so at any moment the threads fire different events.
CYCLE = [
    ("screen", None),
    ("reject", "not this time"),
    ("reopen", "rejected by mistake"),
    ("invite", None),
    ("back", "invited too early"),
    ("back", "screened too early"),
    ("withdraw", None),
    ("reopen", "came back"),
]
SQLITE_THREADS = 8
LAPS = 2


@pytest.fixture
def sqlite_file_workflow(tmp_path: Path, pipelines: dict[str, Pipeline]) -> Iterator[Workflow]:
    """A Workflow on a SQLite file of its own (WAL, BEGIN IMMEDIATE, the default busy timeout)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'concurrency.db'}")
    upgrade(engine)
    yield Workflow(session_factory(engine), pipelines)
    engine.dispose()


def test_sqlite_writers_queue_instead_of_failing(sqlite_file_workflow: Workflow) -> None:
    workflow = sqlite_file_workflow
    posting = make_posting(workflow, make_org(workflow))
    applications = [make_application(workflow, posting) for _ in range(SQLITE_THREADS)]
    offsets = [i % len(CYCLE) for i in range(SQLITE_THREADS)]
    for application, offset in zip(applications, offsets, strict=True):
        for event, reason in CYCLE[:offset]:
            workflow.fire(APP, application.id, event, STAFF, reason=reason)
    before = {a.id: load(workflow, a.id) for a in applications}

    def walk(index: int) -> int:
        application, offset = applications[index], offsets[index]
        steps = (CYCLE[offset:] + CYCLE[:offset]) * LAPS
        for event, reason in steps:
            workflow.fire(APP, application.id, event, STAFF, reason=reason)
        return len(steps)

    outcomes = race(SQLITE_THREADS, walk)

    assert not errors(outcomes), errors(outcomes)  # "database is locked" would be one of them
    assert outcomes == [len(CYCLE) * LAPS] * SQLITE_THREADS
    for application in applications:
        stored, start = load(workflow, application.id), before[application.id]
        assert stored.state == start.state  # a whole number of laps round the cycle
        assert stored.version == start.version + len(CYCLE) * LAPS
        assert_history_replays(history(workflow, APP, application.id), stored.state)
    table, grouped = counts_and_group_by(workflow, posting.id)
    assert table == grouped
    assert sum(table.values()) == SQLITE_THREADS
