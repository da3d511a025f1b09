"""Test fixtures: the same tests run on SQLite and on PostgreSQL.

PostgreSQL: a database of its own is created for the run on VIVIER_TEST_DATABASE_URL's server
(default postgresql://postgres@127.0.0.1:5432) and dropped at the end. Without a reachable server
the PostgreSQL tests are skipped, except under CI=true, where that is a failure.

Each test runs in an outer transaction rolled back at its end: the service's own commits become
savepoints. Tests that need several connections use `engine` directly and data of their own.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from api.cli import run
from config.settings import PIPELINES_DIR
from workflow.db import make_engine, session_factory
from workflow.migrate import upgrade
from workflow.pipeline import Pipeline
from workflow.pipeline_files import load_pipelines
from workflow.service import Workflow

BACKENDS = ["sqlite", "postgresql"]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_server_url() -> str:
    return os.environ.get("VIVIER_TEST_DATABASE_URL", DEFAULT_PG)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin_conninfo() -> str:
    url = make_url(pg_server_url()).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@contextmanager
def new_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards. Skips (fails under CI=true) when the
    server cannot be reached."""
    name = f"vivier_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {pg_server_url()}: {exc}".strip()
        if in_ci():
            pytest.fail(f"{message} (CI=true: PostgreSQL tests may not be skipped)")
        pytest.skip(message)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(pg_server_url()).set(database=name, drivername="postgresql+psycopg")
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgresql_database_url() -> Iterator[str]:
    """The PostgreSQL database of this test run."""
    with new_pg_database() as url:
        yield url


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, empty (no schema), on the current backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    with new_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'vivier.db'}"


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{backend}_database_url")


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a migrated database (migrations run here, so every run tests them)."""
    engine = make_engine(database_url, sqlite_busy_timeout_s=60, pool_size=25)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pipelines() -> dict[str, Pipeline]:
    return load_pipelines(PIPELINES_DIR)


@pytest.fixture
def workflow(engine: Engine, pipelines: dict[str, Pipeline]) -> Iterator[Workflow]:
    """A Workflow whose every commit is a savepoint inside a transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    sessions = session_factory(connection, join_transaction_mode="create_savepoint")
    yield Workflow(sessions, pipelines)
    outer.rollback()
    connection.close()


@pytest.fixture
def shared_workflow(engine: Engine, pipelines: dict[str, Pipeline]) -> Workflow:
    """A Workflow on the real engine: commits are real, for tests with several connections.
    Tests using it make their own organisation, so they never see another test's rows."""
    return Workflow(session_factory(engine), pipelines)


@pytest.fixture
def vivier(empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys):
    """Run `vivier ARGS...` on the test's own database, in a folder of its own; returns
    (exit code, stdout, stderr)."""
    monkeypatch.setenv("VIVIER_DATABASE_URL", empty_database_url)
    monkeypatch.chdir(tmp_path)

    def call(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture
def pipelines_dir() -> Path:
    return PIPELINES_DIR


@pytest.fixture
def api(workflow: Workflow, tmp_path: Path):
    """The real app on the test's rolled-back data (see tests/api_support.py)."""
    from tests.api_support import Api

    return Api(workflow, tmp_path)


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free local port; see tests/smtp_support.py."""
    from tests.smtp_support import SmtpServer

    server = SmtpServer()
    server.up()
    yield server
    server.inbox.resume.set()
    server.down()
