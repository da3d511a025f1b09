"""Log in for a bearer token, log out (revoke it), and who am I."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel
from sqlalchemy import func, select

from api.deps import ContainerDep, CurrentUser, bearer
from api.problems import Problem, invalid
from api.security import (
    IssuedToken,
    forget_failed_logins,
    issue_token,
    login_retry_after,
    record_failed_login,
    revoke_token,
    verify_password,
)
from api.wiring import Container
from workflow.models import Organisation, Role, User

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class Me(BaseModel):
    id: int
    organisation_id: int
    name: str
    email: str
    role: Role


def _bad_credentials() -> Problem:
    return Problem(
        401, "invalid-credentials", "Wrong e-mail or password",
        "the e-mail, password (or organisation) do not match an active account",
    )  # fmt: skip


@router.post("/token", summary="Log in: a bearer token for an e-mail and a password.")
def login(
    request: Request,
    container: ContainerDep,
    username: Annotated[str, Form(description="Your e-mail address.", max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    organisation: Annotated[
        str | None, Form(description="Organisation slug, if your e-mail is in several.")
    ] = None,
) -> TokenOut:
    address = request.client.host if request.client else "unknown"
    token = authenticate(container, username, password, organisation, address)
    return TokenOut(access_token=token.raw, expires_at=token.expires_at)


def authenticate(
    container: Container, username: str, password: str, organisation: str | None, address: str
) -> IssuedToken:
    """A new token for these credentials, under the login rate limit (the API's and the
    pages' one way to log in). Raises 401 on wrong credentials, 429 past the limit."""
    workflow, settings = container.workflow, container.settings
    account = username.strip().lower()
    now = workflow.clock()
    with workflow.sessions.begin() as session:
        wait = login_retry_after(session, settings, account, address, now)
        if wait is not None:
            raise Problem(
                429, "too-many-logins", "Too many failed logins",
                f"try again in {wait} s", headers={"Retry-After": str(wait)},
            )  # fmt: skip
        user = _find_user(session, account, organisation)
        if user is None or not verify_password(user.password_hash, password):
            record_failed_login(session, account, address, now)
            token = None
        else:
            forget_failed_logins(session, account, now)
            token = issue_token(session, user, now, timedelta(minutes=settings.token_ttl_minutes))
    if token is None:  # raised after the commit, so the failed attempt is recorded
        raise _bad_credentials()
    return token


def _find_user(session, account: str, organisation: str | None) -> User | None:
    query = select(User).where(func.lower(User.email) == account, User.is_active.is_(True))
    if organisation:
        query = query.join(Organisation, Organisation.id == User.organisation_id).where(
            Organisation.slug == organisation
        )
    users = session.scalars(query).all()
    if len(users) > 1:
        raise invalid("organisation", "this e-mail has accounts in several organisations")
    return users[0] if users else None


@router.post("/logout", status_code=204, summary="Revoke the token this request carries.")
def logout(
    user: CurrentUser,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
) -> None:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        revoke_token(session, credentials.credentials, workflow.clock())


@router.get("/me", summary="The account the token belongs to.")
def me(user: CurrentUser) -> Me:
    return Me(
        id=user.user_id,
        organisation_id=user.organisation_id,
        name=user.name,
        email=user.email,
        role=user.role,
    )
