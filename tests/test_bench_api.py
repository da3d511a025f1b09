"""The API benchmark runs, tiny, with the suite, so that it never rots.

No timing is asserted: only that it reports every figure and ratio, that the data it loaded in
bulk is what the service would have written, that the transitions it timed were real (HTTP and
in-process alike), and that its database and API process are gone after a failure.
"""

import io
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

import bench.api
from bench.api import main
from config.settings import PIPELINES_DIR
from workflow.pipeline_files import load_pipelines

pytestmark = pytest.mark.postgres_only

SIZE, POSTINGS, TRANSITIONS, CLIENTS, WARMUP, ROUNDS, LOGINS = 2000, 10, 40, (2, 4), 2, 2, 2
FIRED = sum(TRANSITIONS + ROUNDS * n * WARMUP for n in CLIENTS)  # per side


def _plain(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


def _exists(server: str, name: str) -> bool:
    with psycopg.connect(_plain(server, "postgres")) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        return conn.execute(query, (name,)).fetchone() is not None


def _argv(server: str, name: str) -> list[str]:
    return [
        "--size", str(SIZE),
        "--postings", str(POSTINGS),
        "--requests", "20",
        "--naive", "2",
        "--transitions", str(TRANSITIONS),
        "--clients", ",".join(map(str, CLIENTS)),
        "--warmup", str(WARMUP),
        "--rounds", str(ROUNDS),
        "--logins", str(LOGINS),
        "--database-url", server,
        "--database-name", name,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def ran(postgresql_database_url: str) -> Iterator[tuple[str, str]]:
    """The printed report and the URL of the scratch database the benchmark left behind."""
    name = f"vivier_bench_test_{uuid.uuid4().hex[:8]}"
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            assert main([*_argv(postgresql_database_url, name), "--keep-database"]) == 0
        yield out.getvalue(), _plain(postgresql_database_url, name)
    finally:
        with psycopg.connect(_plain(postgresql_database_url, "postgres"), autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def _number(pattern: str, report: str) -> float:
    found = re.search(pattern, report)
    assert found, pattern
    return float(found.group(1).replace(",", ""))


def test_report_has_every_figure_and_ratio(ran: tuple[str, str]) -> None:
    report, _ = ran
    for way in ("HTTP GET /reports/pipeline", "same SQL, direct", "naive GROUP BY"):
        cells = next(line for line in report.splitlines() if line.startswith(way)).split("|")
        assert all(float(cell.replace(",", "")) > 0 for cell in cells[1:5])
    assert _number(r"ratio HTTP/direct p50: ([\d.]+)", report) > 0
    assert _number(r"ratio naive GROUP BY/direct p50: ([\d.]+)", report) > 0
    rows = {}
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) == 8 and cells[0].isdigit():
            rows[int(cells[0])] = [float(cell.replace(",", "")) for cell in cells[1:]]
    assert sorted(rows) == list(CLIENTS)
    assert all(value > 0 for cells in rows.values() for value in cells)  # ratio included
    assert _number(r"peak \(VmHWM\) after the run ([\d.]+) MiB", report) > 0
    assert f"{LOGINS} logins at once" in report
    assert re.search(r"Aims: report p95 <= 10 ms: (met|MISSED)", report)


def test_loaded_data_is_what_the_service_writes(ran: tuple[str, str]) -> None:
    """Each application's history runs from `create` to its state, one row per version; its
    pending deadlines are those its current state declares; the counts equal the GROUP BY."""
    _, conninfo = ran
    declared = {
        (pipeline.name, state.name): len(state.deadlines)
        for pipeline in load_pipelines(PIPELINES_DIR).values()
        for state in pipeline.states.values()
    }
    with psycopg.connect(conninfo) as conn:
        applications = conn.execute("""
            SELECT a.pipeline, a.state, a.version, h.n, h.first, h.last,
                   (SELECT count(*) FILTER (WHERE d.state = a.state) || ',' || count(*)
                    FROM deadline d WHERE d.entity_type = 'application' AND d.entity_id = a.id
                      AND d.status = 'pending')
            FROM application a
            JOIN LATERAL (
                SELECT count(*) AS n, (array_agg(r.event ORDER BY r.id))[1] AS first,
                       (array_agg(r.to_state ORDER BY r.id DESC))[1] AS last
                FROM transition_record r
                WHERE r.entity_type = 'application' AND r.entity_id = a.id
            ) AS h ON true
        """).fetchall()
        drift = conn.execute("""
            SELECT count(*) FROM pipeline_count c
            FULL JOIN (SELECT posting_id, state, count(*) AS n FROM application
                       GROUP BY posting_id, state) g
              ON g.posting_id = c.posting_id AND g.state = c.state
            WHERE coalesce(c.count, 0) <> coalesce(g.n, 0)
        """).fetchone()
    assert len(applications) == SIZE
    for pipeline, state, version, n, first, last, pending in applications:
        in_state = declared[pipeline, state]
        assert (n, first, last, pending) == (version, "create", state, f"{in_state},{in_state}")
    assert drift == (0,)


def test_the_timed_transitions_were_real(ran: tuple[str, str]) -> None:
    """HTTP and in-process each moved FIRED applications once, as their own HR user."""
    _, conninfo = ran
    with psycopg.connect(conninfo) as conn:
        moved = conn.execute("""
            SELECT u.name, count(*), count(*) FILTER (WHERE a.state = 'screening'
                                                      AND a.version = 2)
            FROM transition_record r
            JOIN "user" u ON u.id = r.actor_id
            JOIN application a ON a.id = r.entity_id
            WHERE r.entity_type = 'application' AND r.event = 'screen' AND r.actor_kind = 'user'
              AND u.role = 'hr'
            GROUP BY u.name
        """).fetchall()
    assert sorted(moved) == [("hr-http", FIRED, FIRED), ("hr-service", FIRED, FIRED)]


def test_a_failure_drops_the_database_and_stops_the_api(
    postgresql_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"vivier_bench_test_{uuid.uuid4().hex[:8]}"
    seen = []

    def broken(bench, clients, options, server, generator):
        seen.append(server.pid)
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(bench.api, "measure_row", broken)
    assert main(_argv(postgresql_database_url, name)) == 1
    assert len(seen) == 1
    assert not _exists(postgresql_database_url, name)
    assert not os.path.exists(f"/proc/{seen[0]}")


def test_an_unreachable_server_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    server = "postgresql://postgres@127.0.0.1:1"  # nothing listens there
    assert main(["--size", "100", "--transitions", "4", "--warmup", "0", "--database-url",
                 server]) == 1  # fmt: skip
    assert "failed" in capsys.readouterr().err
