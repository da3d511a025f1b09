"""Tables the faces keep in the database so that processes keep no state of their own: bearer
tokens, login attempts (the rate limit) and idempotency records. The rules live in `api/`."""

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflow.models import _utc
from workflow.types import JSONType


class ApiToken(SQLModel, table=True):
    """A bearer token: only its SHA-256 is stored, so a leaked table grants nothing."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    revoked_at: datetime | None = _utc(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """One failed login, by account and by client address, counted over a sliding window."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_account", "account", "at"),
        Index("ix_login_attempt_address", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=320)
    address: str = Field(max_length=64)
    at: datetime = _utc()


class IdempotencyRecord(SQLModel, table=True):
    """The first answer to a request made with an `Idempotency-Key`, replayed for the same key.
    `status` is None while the first request is still running."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status: int | None = None
    body: Any = Field(default=None, sa_column=Column(JSONType, nullable=True))
    created_at: datetime = _utc()
