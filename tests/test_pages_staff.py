"""The staff pages' shell: logging in and out, the CSRF check, the language choice, errors as
pages. The pages themselves are tested in the test_pages_* modules beside this one."""

from __future__ import annotations

import re

from api.security import hash_password
from tests.api_support import Api
from tests.factories import make_user
from workflow.models import Role, User

PASSWORD = "correct horse battery"


def _user_with_password(api: Api, role: Role = Role.recruiter) -> User:
    user = make_user(api.workflow, api.org(), role)
    with api.workflow.sessions.begin() as session:
        session.get_one(User, user.id).password_hash = hash_password(PASSWORD)
    return user


def _login_form(api: Api) -> str:
    page = api.client.get("/app/login")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)


def test_a_page_without_a_session_sends_to_the_login_page(api: Api) -> None:
    response = api.client.get("/app?from=mail", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/app/login?next=%2Fapp%3Ffrom%3Dmail"


def test_logging_in_sets_a_session_that_opens_the_pages_and_logging_out_ends_it(api: Api) -> None:
    user = _user_with_password(api)
    csrf = _login_form(api)
    form = {"username": user.email, "password": PASSWORD, "csrf": csrf, "next": "/app/postings"}
    response = api.client.post("/app/login", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/app/postings"
    cookie = response.headers["set-cookie"]
    assert "vivier_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = api.client.get("/app", follow_redirects=False)
    assert home.status_code == 303  # logged in: the home sends on to the postings
    assert home.headers["location"] == "/app/postings"
    page_csrf = re.search(r'X-CSRF-Token": "([0-9a-f]+)"', api.client.get("/app/login").text)
    out = api.client.post("/app/logout", data={"csrf": page_csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    again = api.client.get("/app", follow_redirects=False)
    assert again.headers["location"].startswith("/app/login")


def test_a_wrong_password_says_so_keeps_the_address_and_sets_no_session(api: Api) -> None:
    user = _user_with_password(api)
    form = {"username": user.email, "password": "wrong", "csrf": _login_form(api)}
    response = api.client.post("/app/login", data=form, headers={"Accept-Language": "en"})
    assert response.status_code == 401
    assert "The e-mail address or the password is wrong." in response.text
    assert f'value="{user.email}"' in response.text
    assert "vivier_session" not in response.headers.get("set-cookie", "")


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(api: Api) -> None:
    user = _user_with_password(api)
    _login_form(api)
    form = {"username": user.email, "password": PASSWORD}
    response = api.client.post("/app/login", data=form, follow_redirects=False)
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert "vivier_session" not in response.headers.get("set-cookie", "")


def test_logout_needs_the_csrf_token_of_the_session(api: Api) -> None:
    staff = api.staff(api.org())
    cookie_only = {"Cookie": staff.page_headers["Cookie"]}
    refused = api.client.post("/app/logout", headers=cookie_only, follow_redirects=False)
    assert refused.status_code == 403
    still_in = api.client.get("/app", headers=cookie_only, follow_redirects=False)
    assert still_in.headers["location"] == "/app/postings"


def test_the_language_choice_is_remembered_and_only_redirects_within_the_site(api: Api) -> None:
    chosen = api.client.get("/lang/en?next=/app/login", follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/app/login"
    assert "vivier_lang=en" in chosen.headers["set-cookie"]
    page = api.client.get("/app/login", headers={"Cookie": "vivier_lang=en"})
    assert "Log in to Vivier" in page.text and '<html lang="en">' in page.text
    api.client.cookies.clear()  # a new visitor: their browser's language decides
    french = api.client.get("/app/login", headers={"Accept-Language": "fr-BE,fr;q=0.9"})
    assert "Se connecter à Vivier" in french.text
    away = api.client.get("/lang/fr?next=//evil.example", follow_redirects=False)
    assert away.headers["location"] == "/careers"


def test_an_unknown_page_is_an_html_404_and_the_api_keeps_problem_json(api: Api) -> None:
    page = api.client.get("/app/nothing-here", headers={"Accept-Language": "en"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "<h1>Not found</h1>" in page.text
    assert api.client.get("/nothing-here").headers["content-type"] == "application/problem+json"


def test_the_printed_address_leads_to_the_staff_pages(api: Api) -> None:
    response = api.client.get("/", follow_redirects=True)
    assert response.url.path == "/app/login" and "<form" in response.text
