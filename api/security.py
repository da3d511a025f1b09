"""Passwords (argon2), bearer tokens (only their hash stored) and the login rate limit.

Everything is kept in the database, never in process memory, so any number of API processes
share one view: a token revoked by one is refused by all, and failed logins add up across them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from config.settings import Settings
from workflow.auth_models import ApiToken, LoginAttempt
from workflow.context import Actor
from workflow.models import Role, User

TOKEN_PREFIX = "viv_"
# OWASP's argon2id parameters (19 MiB, 2 passes): argon2-cffi's default takes 64 MiB per check,
# which made one login the API process's peak memory. Older hashes keep their own parameters.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the account does not exist, so both answers take the same time. A
# constant with the same parameters: hashing one at import would cost every process a check.
_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$"
    "bm90IGEgcmVhbCBzYWx0$5JOQmOGCbOrwy1Y4iLVbzI/oTEbGzRD9Mq2PZMQlOGY"
)


@dataclass(frozen=True)
class Principal:
    """The authenticated staff member a request acts for."""

    user_id: int
    organisation_id: int
    role: Role
    name: str
    email: str

    @property
    def actor(self) -> Actor:
        return Actor.user(self.user_id)

    @property
    def sees_everything(self) -> bool:
        """Admins and HR see every posting and application of their organisation."""
        return self.role in (Role.admin, Role.hr)


def principal_of(user: User) -> Principal:
    assert user.id is not None
    return Principal(user.id, user.organisation_id, user.role, user.name, user.email)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    raw: str  # shown once, never stored
    expires_at: datetime


def issue_token(session: Session, user: User, now: datetime, ttl: timedelta) -> IssuedToken:
    """A new token for the user; only its hash is stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(user_id=user.id, token_hash=_digest(raw), created_at=now, expires_at=now + ttl)
    )
    return IssuedToken(raw, now + ttl)


def user_for_token(session: Session, raw: str, now: datetime) -> User | None:
    """The active user a valid, unexpired, unrevoked token belongs to."""
    query = (
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _digest(raw),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
            User.is_active.is_(True),
        )
    )
    return session.scalars(query).first()


def revoke_token(session: Session, raw: str, now: datetime) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == _digest(raw), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_user_tokens(session: Session, user_id: int, now: datetime) -> int:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount


def login_retry_after(
    session: Session, settings: Settings, account: str, address: str, now: datetime
) -> int | None:
    """Seconds to wait when this account or address failed too often in the window, else None."""
    since = now - timedelta(minutes=settings.login_window_minutes)
    limits = (
        (LoginAttempt.account, account, settings.login_max_failures_account),
        (LoginAttempt.address, address, settings.login_max_failures_address),
    )
    waits = []
    for column, value, limit in limits:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginAttempt.at)).where(
                column == value, LoginAttempt.at > since
            )
        ).one()
        if count >= limit:
            waits.append(int((oldest - since).total_seconds()) + 1)
    return max(waits) if waits else None


def record_failed_login(session: Session, account: str, address: str, now: datetime) -> None:
    session.add(LoginAttempt(account=account, address=address, at=now))


def forget_failed_logins(session: Session, account: str, now: datetime) -> None:
    """A successful login clears the account's failures older than now (not the address's)."""
    session.execute(
        LoginAttempt.__table__.delete().where(
            or_(LoginAttempt.account == account), LoginAttempt.at <= now
        )
    )
