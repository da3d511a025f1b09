"""The page benchmark runs, tiny, with the suite, so that it never rots: on the embedded SQLite
and on PostgreSQL. No timing is asserted; the benchmark itself checks that the board shows a card
per application and the API lists each one."""

import io
from contextlib import redirect_stdout

import pytest

from bench.pages import main


def _report(argv: list[str]) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--applications", "4", "--requests", "2", *argv]) == 0
    return out.getvalue()


def _check(report: str) -> None:
    sides = [line.split("|")[1].strip() for line in report.splitlines() if line.startswith("| ")]
    assert sides == ["side", "board", "api"]
    assert "ratio board / api (p50): " in report


def test_the_page_benchmark_reports_both_sides_on_sqlite() -> None:
    _check(_report([]))


@pytest.mark.postgres_only
def test_the_page_benchmark_reports_both_sides_on_postgresql(postgresql_database_url: str) -> None:
    _check(_report(["--database-url", postgresql_database_url]))  # a scratch one on its server
