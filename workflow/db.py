"""Engines and sessions: the one place that knows SQLite from PostgreSQL at connection level."""

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session


def make_engine(url: str, *, sqlite_busy_timeout_s: float = 30.0, pool_size: int = 5) -> Engine:
    """An engine for `url`. SQLite gets WAL, foreign keys and writers that take the lock up front."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, sqlite_busy_timeout_s)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_engine(url: str, busy_timeout_s: float) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # BEGIN IMMEDIATE takes the write lock at the start, so two writers queue on the busy
        # timeout instead of failing with "database is locked" when a reader upgrades to writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"


def session_factory(bind: Engine | Connection, **options: Any) -> sessionmaker[Session]:
    """Sessions for `bind`. Tests bind to a connection in an outer transaction they roll back."""
    return sessionmaker(bind=bind, class_=Session, expire_on_commit=False, **options)
