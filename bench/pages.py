"""The recruiter's board against the API's list of the same applications (issue 7).

    .venv/bin/python -m bench.pages [--applications 300] [--requests 30] [--database-url URL]

The board (`GET /app/postings/{id}/board`) shows every application of a posting with the moves
each one allows now, which the page asks the service for card by card (`event_choices`: the
guards run per card). The baseline is what a client of the API would fetch for the same picture
without the moves: `GET /applications?posting_id=ID&limit=200` (JSON, one query). Both run in
this process through the real app (Starlette's TestClient, the session cookie for the board, a
bearer token for the API), on the embedded SQLite by default or on `--database-url`'s server (a
scratch database, dropped at the end). The posting gets `--applications` applications through
the service, spread over the volunteer pipeline's open stages; each side is requested
`--requests` times, taking turns; the report gives p50/p95 of each and the ratio board / API.
The board must show a card for every application, and the API list every one of them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.security import issue_token
from api.wiring import build_container
from bench.transitions import BenchError, log, scratch_database
from config.settings import Settings
from workflow.context import Actor
from workflow.migrate import upgrade
from workflow.models import (
    CandidateCreate,
    EntityType,
    Organisation,
    PostingCreate,
    PostingKind,
    Role,
    User,
)

# Where the applications are left, in turn: every open stage of the volunteer pipeline.
PATHS = ((), ("screen",), ("screen", "invite"))
API_PAGE = 200  # the API's largest page


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    parser.add_argument("--applications", type=int, default=300)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (default SQLite)")
    options = parser.parse_args(argv)
    if not 1 <= options.applications <= API_PAGE:
        parser.error(f"--applications must be between 1 and {API_PAGE} (one page of the API)")
    return options


@contextmanager
def _database(server_url: str) -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory(prefix="vivier-bench-pages-") as folder:
        if not server_url:
            yield "", Path(folder)
            return
        with scratch_database(server_url, None, keep=False) as url:
            yield url.replace("postgresql://", "postgresql+psycopg://", 1), Path(folder)


def _load(settings: Settings, applications: int) -> tuple[int, str]:
    """One organisation, a recruiter owning one published volunteer call with `applications`
    applications; the posting's id and the recruiter's token."""
    container = build_container(settings)
    upgrade(container.engine)
    workflow, now = container.workflow, datetime.now(UTC)
    with workflow.sessions.begin() as session:
        org = Organisation(slug="bench", name="Bench", created_at=now)
        session.add(org)
        session.flush()
        user = User(
            organisation_id=org.id, email="r@bench.example.org", name="R", role=Role.recruiter,
            created_at=now,
        )  # fmt: skip
        session.add(user)
        session.flush()
        actor = Actor.user(user.id)
        data = PostingCreate(
            ref="bench-1", kind=PostingKind.volunteer, title="Bench call", pipeline="volunteer",
            closes_on=(now + timedelta(days=60)).date(),
        )  # fmt: skip
        posting = workflow.create_posting_in(session, org.id, data, actor, owner_id=user.id)
        workflow.fire_in(session, EntityType.posting, posting.id, "publish", actor,
                         organisation_id=org.id)  # fmt: skip
        token = issue_token(session, user, now, timedelta(hours=2)).raw
        for n in range(applications):
            candidate = CandidateCreate(
                first_name=f"Prénom{n}", last_name=f"Nom{n}", email=f"c{n}@bench.example.org"
            )
            application = workflow.apply_in(session, posting.id, candidate, Actor.system())
            for event in PATHS[n % len(PATHS)]:
                workflow.fire_in(session, EntityType.application, application.id, event, actor,
                                 organisation_id=org.id)  # fmt: skip
    container.engine.dispose()
    return posting.id, token


def _timed(client: TestClient, url: str, headers: dict[str, str], marker: str, count: int) -> float:
    started = time.perf_counter()
    response = client.get(url, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or response.text.count(marker) != count:
        raise BenchError(f"{url}: {response.status_code}, not {count} x {marker!r}")
    return elapsed


def _quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def run(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    options = _options(argv)
    with _database(options.database_url) as (url, folder):
        settings = Settings(var_dir=folder, database_url=url)
        log(f"loading {options.applications} applications")
        posting_id, token = _load(settings, options.applications)
        app = create_app(build_container(settings))
        sides = {
            "board": (f"/app/postings/{posting_id}/board", {"Cookie": f"vivier_session={token}"},
                      'data-testid="card"'),
            "api": (f"/applications?posting_id={posting_id}&limit={API_PAGE}",
                    {"Authorization": f"Bearer {token}"}, '"candidate_name"'),
        }  # fmt: skip
        times: dict[str, list[float]] = {side: [] for side in sides}
        with TestClient(app) as client:
            for _ in range(options.requests):
                for side, (path, headers, marker) in sides.items():
                    elapsed = _timed(client, path, headers, marker, options.applications)
                    times[side].append(elapsed)
        return {side: _quantiles(values) for side, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    try:
        figures = run(argv)
    except BenchError as exc:
        log(f"benchmark failed: {exc}")
        return 1
    print("| side | p50 ms | p95 ms |")
    print("|---|---|---|")
    for side, (p50, p95) in figures.items():
        print(f"| {side} | {p50 * 1000:.1f} | {p95 * 1000:.1f} |")
    ratio = figures["board"][0] / figures["api"][0]
    print(f"\nratio board / api (p50): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
