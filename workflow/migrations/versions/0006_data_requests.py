"""data requests: a candidate asks for a copy of their personal data from their status link

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:12:41.204519
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import workflow.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", workflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", workflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", workflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidate.id"]),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("data_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_request_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_data_request_organisation_id"), ["organisation_id"], unique=False
        )
        # One open request per candidate: asking again while it is open finds it.
        batch_op.create_index(
            "uq_data_request_open",
            ["candidate_id"],
            unique=True,
            postgresql_where=sa.text("answered_at IS NULL"),
            sqlite_where=sa.text("answered_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("data_request", schema=None) as batch_op:
        batch_op.drop_index("uq_data_request_open")
        batch_op.drop_index(batch_op.f("ix_data_request_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_data_request_application_id"))

    op.drop_table("data_request")
