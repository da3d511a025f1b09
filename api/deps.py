"""FastAPI dependencies: the container, the authenticated user and the role checks.

Routes open their own unit of work with `container.workflow.sessions.begin()` and commit once,
at the end of the route: the request is the boundary, helpers never commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem, forbidden
from api.security import Principal, principal_of, user_for_token
from api.wiring import Container
from workflow.models import Role

bearer = HTTPBearer(auto_error=False, description="A token from POST /auth/token.")


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


def unauthorized(detail: str) -> Problem:
    return Problem(
        401, "unauthorized", "Authentication needed", detail,
        headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


def current_user(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise unauthorized("send 'Authorization: Bearer TOKEN'; get a token at POST /auth/token")
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        user = user_for_token(session, credentials.credentials, workflow.clock())
        if user is None:
            raise unauthorized("the token is unknown, expired or revoked")
        return principal_of(user)


CurrentUser = Annotated[Principal, Depends(current_user)]


def require_roles(*roles: Role, of: Callable[..., Principal] = current_user):
    """A dependency refusing (403) users whose role is not among `roles`; `of` is how the user
    is found (the bearer token, or the pages' session cookie)."""

    # Depends as a default: an annotation naming the local `of` could not be resolved later.
    def check(user: Principal = Depends(of)) -> Principal:
        if user.role not in roles:
            names = ", ".join(r.value for r in roles)
            raise forbidden(f"this needs one of the roles {names}; you are {user.role.value}")
        return user

    return check


Manager = Annotated[Principal, Depends(require_roles(Role.admin, Role.hr, Role.recruiter))]
HumanResources = Annotated[Principal, Depends(require_roles(Role.admin, Role.hr))]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]


# Row ids are 32-bit integers on both backends: a larger number can name no row, and must not
# reach the database (an overflow there is an error, not a "not found").
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
