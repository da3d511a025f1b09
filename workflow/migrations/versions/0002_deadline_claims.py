"""deadline claims: the sweeper's log of who settled which deadline, and deadline.done_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:58:37.575202
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import workflow.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIM_OUTCOME = sa.Enum("done", "skipped", "retry", "failed", name="claimoutcome")


def upgrade() -> None:
    op.create_table(
        "deadline_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deadline_id", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("claimed_at", workflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", CLAIM_OUTCOME, nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["deadline_id"], ["deadline.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deadline_claim", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deadline_claim_deadline_id"), ["deadline_id"], unique=False
        )
    # A plain ADD COLUMN on both backends: no batch copy of the deadline table (and its partial
    # unique index) is needed to add a nullable column.
    op.add_column(
        "deadline",
        sa.Column("done_at", workflow.types.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE deadline DROP COLUMN done_at")  # SQLite >= 3.35
    else:
        op.drop_column("deadline", "done_at")
    with op.batch_alter_table("deadline_claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deadline_claim_deadline_id"))
    op.drop_table("deadline_claim")
    if op.get_bind().dialect.name == "postgresql":
        CLAIM_OUTCOME.drop(op.get_bind(), checkfirst=True)
