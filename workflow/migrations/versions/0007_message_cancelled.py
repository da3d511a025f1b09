"""outbox: a `cancelled` status for messages retention emptied before they were sent

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("queued", "sent", "dead")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Committed on its own: a value added in a transaction cannot be used in it.
        with op.get_context().autocommit_block():
            op.execute("ALTER TYPE messagestatus ADD VALUE IF NOT EXISTS 'cancelled'")
    else:  # SQLite keeps it as text, sized for the longest value
        with op.batch_alter_table("outbox_message") as batch_op:
            batch_op.alter_column(
                "status", existing_type=sa.Enum(*OLD, name="messagestatus"),
                type_=sa.Enum(*OLD, "cancelled", name="messagestatus"), existing_nullable=False,
            )  # fmt: skip
    op.execute(
        "UPDATE outbox_message SET status = 'cancelled' "
        "WHERE status = 'dead' AND last_error = 'scrubbed by retention before it was sent'"
    )


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; the rows go back to what they were before 0007.
    op.execute("UPDATE outbox_message SET status = 'dead' WHERE status = 'cancelled'")
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("outbox_message") as batch_op:
            batch_op.alter_column(
                "status", existing_type=sa.Enum(*OLD, "cancelled", name="messagestatus"),
                type_=sa.Enum(*OLD, name="messagestatus"), existing_nullable=False,
            )  # fmt: skip
