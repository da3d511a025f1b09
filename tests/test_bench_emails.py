"""The e-mail benchmark runs, tiny, with the suite, so that it never rots.

No timing is asserted: only that it reports every side and ratio, and that the dispatcher really
sent every queued row of every round (the benchmark itself checks the SMTP server's counts).
"""

import io
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from bench.emails import main

pytestmark = pytest.mark.postgres_only

MESSAGES, RECIPIENTS, ROUNDS, BATCH = 60, 7, 2, 10


def _plain(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def ran(postgresql_database_url: str) -> Iterator[tuple[str, str]]:
    """The printed report and the URL of the scratch database the benchmark left behind."""
    name = f"vivier_bench_test_{uuid.uuid4().hex[:8]}"
    argv = [
        "--messages", str(MESSAGES),
        "--recipients", str(RECIPIENTS),
        "--rounds", str(ROUNDS),
        "--batch", str(BATCH),
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


def test_report_has_every_side_and_ratio(ran: tuple[str, str]) -> None:
    report, _ = ran
    rows = []
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0].isdigit():
            rows.append(cells)
    assert sorted((int(r[0]), r[1]) for r in rows) == [
        (number, side)
        for number in range(1, ROUNDS + 1)
        for side in ("dispatcher", "prebuilt", "smtplib")
    ]
    for _, _, messages, seconds, rate, twice in rows:
        assert (messages, twice) == (str(MESSAGES), "0")
        assert float(seconds) > 0 and float(rate.replace(",", "")) > 0
    assert "ratio dispatcher / smtplib (build + send):" in report and "(aim: >= 0.8)" in report
    assert "ratio dispatcher / send only:" in report


def test_every_queued_row_was_sent_once_in_batches(ran: tuple[str, str]) -> None:
    _, conninfo = ran
    with psycopg.connect(conninfo) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status::text, count(*) FROM outbox_message GROUP BY status"
            ).fetchall()
        )
        distinct = conn.execute(
            "SELECT count(DISTINCT message_id), count(DISTINCT claimed_by), max(attempts) "
            "FROM outbox_message"
        ).fetchone()
    assert statuses == {"sent": MESSAGES * ROUNDS}
    assert tuple(distinct) == (MESSAGES * ROUNDS, 1, 0)


def test_an_unreachable_server_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    server = "postgresql://postgres@127.0.0.1:1"  # nothing listens there
    assert main(["--messages", "1", "--database-url", server]) == 1
    assert "failed" in capsys.readouterr().err
