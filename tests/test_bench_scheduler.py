"""The scheduler benchmark runs, tiny, with the suite, so that it never rots.

No timing is asserted: only that it reports every figure and that every due deadline was done
exactly once (one claim each), by real scheduler processes.
"""

import io
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from bench.scheduler import main

pytestmark = pytest.mark.postgres_only

PENDING, DUE, WINDOW, PROCESSES = 500, 50, 2, (1, 2)


def _plain(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def ran(postgresql_database_url: str) -> Iterator[tuple[str, str]]:
    """The printed report and the URL of the scratch database the benchmark left behind."""
    name = f"vivier_bench_test_{uuid.uuid4().hex[:8]}"
    argv = [
        "--pending", str(PENDING),
        "--due", str(DUE),
        "--window", str(WINDOW),
        "--processes", ",".join(map(str, PROCESSES)),
        "--timeout", "30",
        "--database-url", postgresql_database_url,
        "--database-name", name,
        "--keep-database",
    ]  # fmt: skip
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            assert main(argv) == 0
        yield out.getvalue(), _plain(postgresql_database_url, name)
    finally:
        admin = _plain(postgresql_database_url, "postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def test_report_has_every_figure(ran: tuple[str, str]) -> None:
    report, _ = ran
    assert "growth MiB" in report
    assert "naive: one APScheduler date job each" in report
    assert f"ratio vivier/naive growth at {PENDING:,} pending:" in report
    memory = [line for line in report.splitlines() if line.startswith(("vivier", "naive"))]
    assert len(memory) == 3
    jobs = [int(line.split("|")[2].replace(",", "")) for line in memory]
    assert jobs == [2, 2, PENDING]  # Vivier's clock: two jobs however many deadlines
    rows = {}
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) == 10 and cells[0].isdigit():
            rows[int(cells[0])] = cells
    assert sorted(rows) == list(PROCESSES)
    for processes, cells in rows.items():
        assert cells[1:4] == [str(DUE), str(DUE), "0"]  # done, claims, duplicates
        assert all(float(cell) >= 0 for cell in cells[4:9])
        assert 1 <= len(cells[9].split(",")) <= processes


def test_every_due_deadline_was_done_exactly_once(ran: tuple[str, str]) -> None:
    _, conninfo = ran
    with psycopg.connect(conninfo) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status::text, count(*) FROM deadline WHERE kind LIKE 'bench_due_%' "
                "GROUP BY status"
            ).fetchall()
        )
        claims = conn.execute(
            "SELECT d.kind LIKE 'bench_due_2p_%', count(c.id), count(DISTINCT c.deadline_id), "
            "count(DISTINCT c.claimed_by), count(*) FILTER (WHERE c.outcome = 'done') "
            "FROM deadline d JOIN deadline_claim c ON c.deadline_id = d.id "
            "WHERE d.kind LIKE 'bench_due_%' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        work = conn.execute(
            "SELECT count(*), count(DISTINCT deadline_id) FROM bench_work"
        ).fetchone()
        pending = conn.execute(
            "SELECT count(*) FROM deadline WHERE kind LIKE 'bench_pending_%' AND status = 'pending'"
        ).fetchone()
    assert statuses == {"done": DUE * len(PROCESSES)}
    # One process, then two (which of the two did how many is not asserted): one claim per
    # deadline, each done.
    assert [(*row[:3], row[4]) for row in claims] == [(False, DUE, DUE, DUE), (True, DUE, DUE, DUE)]
    assert claims[0][3] == 1 and claims[1][3] in (1, 2)
    assert tuple(work) == (DUE * len(PROCESSES), DUE * len(PROCESSES))
    assert tuple(pending) == (PENDING,)


def test_an_unreachable_server_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    server = "postgresql://postgres@127.0.0.1:1"  # nothing listens there
    assert main(["--pending", "1", "--due", "1", "--database-url", server]) == 1
    assert "failed" in capsys.readouterr().err
