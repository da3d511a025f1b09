"""Driving the real app in tests: a TestClient on a container whose workflow is the test's
rolled-back one, and staff users with tokens issued directly (no argon2 cost per test)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.pages.web import CSRF_HEADER, SESSION_COOKIE
from api.security import issue_token
from api.wiring import Container
from config.settings import Settings
from tests.factories import make_org, make_user, now
from workflow.models import Organisation, Role, User
from workflow.service import Workflow


@dataclass
class Staff:
    user: User
    headers: dict[str, str]
    # The same token as the pages' session cookie, with the CSRF header its forms carry.
    page_headers: dict[str, str]

    @property
    def id(self) -> int:
        assert self.user.id is not None
        return self.user.id


class Api:
    """The app on one test's data: `client` for requests, `staff()` for logged-in users."""

    def __init__(self, workflow: Workflow, tmp_path: Path, **settings: Any) -> None:
        self.workflow = workflow
        self.settings = Settings(var_dir=tmp_path, **settings)
        engine = workflow.sessions.kw["bind"]
        self.container = Container(settings=self.settings, engine=engine, workflow=workflow)
        self.app = create_app(self.container)
        self.client = TestClient(self.app, raise_server_exceptions=False)

    def org(self, **fields: Any) -> Organisation:
        return make_org(self.workflow, **fields)

    def staff(self, org: Organisation, role: Role | str = Role.recruiter) -> Staff:
        user = make_user(self.workflow, org, Role(role))
        with self.workflow.sessions.begin() as session:
            # Long-lived: tests move the clock (time-machine) and must not log out by it.
            token = issue_token(session, user, now(), timedelta(days=3650))
        return Staff(user, {"Authorization": f"Bearer {token.raw}"}, page_session(token.raw))


def page_session(raw_token: str) -> dict[str, str]:
    """Headers of a browser logged in to the pages with this token: the session cookie and the
    CSRF token its forms and htmx requests send."""
    csrf = hmac.new(raw_token.encode(), b"csrf", hashlib.sha256).hexdigest()
    return {"Cookie": f"{SESSION_COOKIE}={raw_token}", CSRF_HEADER: csrf}


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem+json body of an error answer, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()
