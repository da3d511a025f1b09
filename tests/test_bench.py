"""The transitions benchmark runs, tiny, with the suite, so that it never rots.

No timing is asserted: only that it reports every figure and that the transitions it timed were
real (every application moved once, with its history row, its deadline and the counts).
"""

import io
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from bench.transitions import main

pytestmark = pytest.mark.postgres_only

SIZE, CLIENTS, WARMUP, ROUNDS, MEMORY_APPS = 20, (1, 2), 2, 2, 200


def _plain(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def kept_database(postgresql_database_url: str) -> Iterator[tuple[str, str]]:
    """A name for the benchmark's scratch database, kept for inspection and dropped here."""
    name = f"vivier_bench_test_{uuid.uuid4().hex[:8]}"
    yield postgresql_database_url, name
    with psycopg.connect(_plain(postgresql_database_url, "postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="module")
def ran(kept_database: tuple[str, str]) -> tuple[str, str]:
    """The benchmark's printed report and the URL of the database it left behind (run once)."""
    server, name = kept_database
    argv = [
        "--size", str(SIZE),
        "--clients", ",".join(map(str, CLIENTS)),
        "--warmup", str(WARMUP),
        "--rounds", str(ROUNDS),
        "--memory-apps", str(MEMORY_APPS),
        "--memory-clients", "2",
        "--database-url", server,
        "--database-name", name,
        "--keep-database",
    ]  # fmt: skip
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue(), _plain(server, name)


def _table_rows(report: str) -> dict[int, list[str]]:
    rows = {}
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) == 6 and cells[0].isdigit():
            rows[int(cells[0])] = cells[1:]
    return rows


def test_report_has_every_figure(ran: tuple[str, str]) -> None:
    report, _ = ran
    assert "received -> screening" in report
    header = "clients | service tx/s |  ms/tx | baseline tx/s |  ms/tx | ratio service/baseline"
    assert header in report
    rows = _table_rows(report)
    assert sorted(rows) == list(CLIENTS)
    for cells in rows.values():
        assert all(float(cell.replace(",", "")) > 0 for cell in cells)
    assert f"one transition on each of {MEMORY_APPS} applications" in report
    assert "RSS before" in report and "per 1,000 applications" in report
    assert "synchronous_commit=" in report


def _by_source(conninfo: str) -> dict[str, tuple[int, int, int, int]]:
    """Per load (source): applications, those in screening at version 2, history rows of the
    screen event by `system`, pending screening deadlines."""
    query = """
        SELECT a.source, count(*), count(*) FILTER (WHERE a.state = 'screening' AND a.version = 2),
          (SELECT count(*) FROM transition_record r JOIN application b ON b.id = r.entity_id
            WHERE b.source = a.source AND r.entity_type = 'application' AND r.event = 'screen'
              AND r.from_state = 'received' AND r.to_state = 'screening'
              AND r.actor_kind = 'system'),
          (SELECT count(*) FROM deadline d JOIN application b ON b.id = d.entity_id
            WHERE b.source = a.source AND d.entity_type = 'application'
              AND d.status = 'pending' AND d.state = 'screening')
        FROM application a GROUP BY a.source
    """
    with psycopg.connect(conninfo) as conn:
        return {row[0]: tuple(row[1:]) for row in conn.execute(query)}


def test_the_service_really_made_the_transitions(ran: tuple[str, str]) -> None:
    _, conninfo = ran
    timed = sum(SIZE + ROUNDS * clients * WARMUP for clients in CLIENTS)
    expected = {"bench-service": timed, "bench-baseline": timed, "bench-memory": MEMORY_APPS}
    found = _by_source(conninfo)
    assert found == {source: (n, n, n, n) for source, n in expected.items()}


def test_counts_equal_the_group_by(ran: tuple[str, str]) -> None:
    _, conninfo = ran
    with psycopg.connect(conninfo) as conn:
        counts = dict(conn.execute("SELECT state, count FROM pipeline_count WHERE count <> 0"))
        grouped = dict(conn.execute("SELECT state, count(*) FROM application GROUP BY state"))
        cancelled = conn.execute(
            "SELECT count(*) FROM deadline WHERE status = 'cancelled' AND state = 'received'"
        ).fetchone()
    assert counts == grouped == {"screening": sum(grouped.values())}
    assert cancelled == (sum(grouped.values()),)


def test_an_unreachable_server_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    server = "postgresql://postgres@127.0.0.1:1"  # nothing listens there
    argv = ["--size", "1", "--rounds", "1", "--memory-apps", "0", "--database-url", server]
    assert main(argv) == 1
    assert "failed" in capsys.readouterr().err
