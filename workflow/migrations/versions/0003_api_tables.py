"""api tables: tokens, login attempts, idempotency, notes, assignments, status tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:00:55.475507
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import workflow.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", workflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempt_account", ["account", "at"], unique=False)
        batch_op.create_index("ix_login_attempt_address", ["address", "at"], unique=False)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", workflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", workflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", workflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", workflow.types.JSONType, nullable=True),
        sa.Column("created_at", workflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "key"),
    )
    op.create_table(
        "posting_assignment",
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["posting.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("posting_id", "user_id"),
    )
    with op.batch_alter_table("posting_assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_posting_assignment_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", workflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("note", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_note_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_note_organisation_id"), ["organisation_id"], unique=False
        )

    # A plain ADD COLUMN and a unique index: no batch copy of the application table on SQLite.
    op.add_column(
        "application",
        sa.Column("status_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.create_index("ix_application_status_token", "application", ["status_token"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        # Interviews get reminder deadlines. SQLite stores the enum as text without a check.
        op.execute("ALTER TYPE entitytype ADD VALUE IF NOT EXISTS 'interview'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value: 'interview' stays in entitytype, unused.
    op.drop_index("ix_application_status_token", table_name="application")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE application DROP COLUMN status_token")  # SQLite >= 3.35
    else:
        op.drop_column("application", "status_token")

    with op.batch_alter_table("note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_note_application_id"))

    op.drop_table("note")
    with op.batch_alter_table("posting_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posting_assignment_user_id"))

    op.drop_table("posting_assignment")
    op.drop_table("idempotency_record")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_user_id"))

    op.drop_table("api_token")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_address")
        batch_op.drop_index("ix_login_attempt_account")

    op.drop_table("login_attempt")
