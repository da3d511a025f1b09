"""Schema migrations with Alembic, driven from code (no alembic.ini): `vivier db upgrade`."""

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from config.settings import TABLE_MODULES

MIGRATIONS = Path(__file__).parent / "migrations"


def load_table_modules() -> None:
    """Import the modules of every part that owns tables (config.settings.TABLE_MODULES)."""
    for name in TABLE_MODULES:
        importlib.import_module(name)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision` on the engine's database."""
    config = alembic_config(engine)
    # Not in a transaction of ours: Alembic's own lets a migration commit part of its work
    # (PostgreSQL uses a new enum value only once the ALTER TYPE adding it is committed).
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
