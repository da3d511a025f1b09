"""Alembic environment: run by workflow.migrate with a connection handed over in attributes."""

from alembic import context
from sqlmodel import SQLModel

from workflow.migrate import load_table_modules

load_table_modules()  # registers every part's tables on SQLModel.metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
