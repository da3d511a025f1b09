"""Migrations: `vivier db upgrade` builds exactly the schema the models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from workflow.db import make_engine
from workflow.migrate import alembic_config, current_revision, load_table_modules, upgrade

load_table_modules()


def test_upgrade_creates_the_models_schema_and_is_repeatable(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        upgrade(engine)  # a second run has nothing to do
        assert (
            current_revision(engine)
            == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        )
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, SQLModel.metadata)
        assert differences == [], "models and migrations disagree: add a migration"
    finally:
        engine.dispose()
