"""deadline actions: a deadline may run a named domain action (retention's anonymise)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:31:32.326182
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both backends: no batch copy of the deadline table (and its partial
    # unique index) is needed to add a nullable column.
    op.add_column(
        "deadline",
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE deadline DROP COLUMN action")  # SQLite >= 3.35
    else:
        op.drop_column("deadline", "action")
