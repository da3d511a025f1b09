"""Logging in, tokens (expiry, revocation) and the login rate limit, kept in the database."""

from datetime import timedelta

import time_machine

from api.security import hash_password
from tests.api_support import Api, problem
from tests.factories import make_user, now
from workflow.models import Role, User

PASSWORD = "correct horse battery staple"


def _account(api: Api, role: Role = Role.hr) -> User:
    org = api.org()
    user = make_user(api.workflow, org, role)
    with api.workflow.sessions.begin() as session:
        session.get_one(User, user.id).password_hash = hash_password(PASSWORD)
    return user


def _login(api: Api, email: str, password: str = PASSWORD, address: str = "testclient"):
    return api.client.post("/auth/token", data={"username": email, "password": password})


def test_a_password_gives_a_token_that_opens_the_api(api: Api) -> None:
    user = _account(api)
    response = _login(api, user.email.upper())  # e-mail matched case-insensitively
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == user.email and me.json()["role"] == "hr"


def test_wrong_password_and_unknown_account_answer_alike(api: Api) -> None:
    user = _account(api)
    wrong = problem(_login(api, user.email, "nope"), 401)
    unknown = problem(_login(api, "nobody@example.org"), 401)
    assert wrong["type"] == unknown["type"] and wrong["detail"] == unknown["detail"]


def test_no_token_or_a_bad_one_is_401(api: Api) -> None:
    response = api.client.get("/postings")
    assert problem(response, 401)["type"].endswith("/unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    problem(api.client.get("/postings", headers={"Authorization": "Bearer viv_forged"}), 401)


def test_a_token_expires(api: Api) -> None:
    user = _account(api)
    token = _login(api, user.email).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    ttl = api.settings.token_ttl_minutes
    with time_machine.travel(now() + timedelta(minutes=ttl + 1)):
        problem(api.client.get("/auth/me", headers=headers), 401)


def test_logout_revokes_the_token(api: Api) -> None:
    user = _account(api)
    token = _login(api, user.email).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.post("/auth/logout", headers=headers).status_code == 204
    problem(api.client.get("/auth/me", headers=headers), 401)


def test_a_deactivated_user_is_locked_out_at_once(api: Api) -> None:
    user = _account(api)
    token = _login(api, user.email).json()["access_token"]
    with api.workflow.sessions.begin() as session:
        session.get_one(User, user.id).is_active = False
    problem(api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_failed_logins_are_limited_per_account_even_with_the_right_password(api: Api) -> None:
    user = _account(api)
    limit = api.settings.login_max_failures_account
    for _ in range(limit):
        problem(_login(api, user.email, "guess"), 401)
    refused = _login(api, user.email)
    assert problem(refused, 429)["type"].endswith("/too-many-logins")
    assert int(refused.headers["Retry-After"]) > 0
    later = now() + timedelta(minutes=api.settings.login_window_minutes, seconds=1)
    with time_machine.travel(later):
        assert _login(api, user.email).status_code == 200


def test_failed_logins_are_limited_per_address_across_accounts(workflow, tmp_path) -> None:
    api = Api(workflow, tmp_path, login_max_failures_address=3, login_max_failures_account=100)
    users = [_account(api) for _ in range(2)]
    for i in range(3):
        problem(_login(api, users[i % 2].email, "guess"), 401)
    problem(_login(api, users[1].email), 429)


def test_a_success_clears_the_accounts_failures(api: Api) -> None:
    user = _account(api)
    for _ in range(api.settings.login_max_failures_account - 1):
        _login(api, user.email, "guess")
    assert _login(api, user.email).status_code == 200
    assert _login(api, user.email, "guess").status_code == 401
    assert _login(api, user.email).status_code == 200
