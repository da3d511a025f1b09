"""Concurrent identical requests against PostgreSQL, through the real app, with real threads."""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.api_support import Api
from tests.factories import make_application, make_posting
from workflow.db import make_engine, session_factory
from workflow.migrate import upgrade
from workflow.models import EntityType, TransitionRecord
from workflow.service import Workflow

CLIENTS = 20


@pytest.fixture
def shared_api(postgresql_database_url: str, pipelines, tmp_path: Path) -> Iterator[Api]:
    """The app on PostgreSQL with real commits and a pool for every client at once."""
    engine = make_engine(postgresql_database_url, pool_size=CLIENTS + 5)
    upgrade(engine)
    yield Api(Workflow(session_factory(engine), pipelines), tmp_path)
    engine.dispose()


def _race(api: Api, url: str, headers: dict[str, str]) -> list:
    start = threading.Barrier(CLIENTS)

    def one(_: int):
        start.wait()
        return api.client.post(url, headers=headers)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(CLIENTS)))


def _moves(api: Api, application_id: int) -> int:
    with api.workflow.sessions.begin() as session:
        return session.scalar(
            select(func.count()).where(
                TransitionRecord.entity_type == EntityType.application,
                TransitionRecord.entity_id == application_id,
                TransitionRecord.event == "screen",
            )
        )


@pytest.mark.postgres_only
def test_twenty_identical_moves_one_succeeds(shared_api: Api) -> None:
    org = shared_api.org()
    hr = shared_api.staff(org, "hr")
    application = make_application(shared_api.workflow, make_posting(shared_api.workflow, org))
    answers = _race(shared_api, f"/applications/{application.id}/events/screen", hr.headers)
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409, 412}
    assert _moves(shared_api, application.id) == 1


@pytest.mark.postgres_only
def test_twenty_moves_with_one_key_share_one_answer(shared_api: Api) -> None:
    org = shared_api.org()
    hr = shared_api.staff(org, "hr")
    application = make_application(shared_api.workflow, make_posting(shared_api.workflow, org))
    url = f"/applications/{application.id}/events/screen"
    answers = _race(shared_api, url, hr.headers | {"Idempotency-Key": "one-click"})
    finished = [a for a in answers if a.status_code == 200]
    in_progress = [a for a in answers if a.status_code == 409]
    assert len(finished) + len(in_progress) == CLIENTS, [a.status_code for a in answers]
    assert all(a.json()["type"].endswith("/request-in-progress") for a in in_progress)
    assert all(a.json() == finished[0].json() for a in finished)
    assert _moves(shared_api, application.id) == 1
    replay = shared_api.client.post(url, headers=hr.headers | {"Idempotency-Key": "one-click"})
    assert replay.json() == finished[0].json()
