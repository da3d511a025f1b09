"""Logging in and out of the staff pages, the language switch, and the staff home."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import get_container
from api.pages.i18n import LANGUAGES
from api.pages.web import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    PageUser,
    check_csrf,
    new_login_csrf,
    redirect,
    render,
    safe_next,
    translator,
)
from api.problems import Problem
from api.routes.auth import authenticate
from api.security import revoke_token

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
YEAR = 365 * 24 * 3600


def _secure(request: Request) -> bool:
    return get_container(request).settings.public_base_url.startswith("https://")


@router.get("/")
def front_door() -> Response:
    """The address `vivier serve` prints: staff go to their pages (the login page first)."""
    return RedirectResponse("/app", status_code=303)


@router.get("/app")
def home(user: PageUser) -> Response:
    return RedirectResponse("/app/postings", status_code=303)


@router.get("/app/login")
def login_form(request: Request, next: str | None = None) -> Response:
    secret = new_login_csrf(request)
    response = render(request, "login.html", {"next": safe_next(next), "username": "", "error": ""})
    response.set_cookie(
        LOGIN_CSRF_COOKIE, secret, httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


@router.post("/app/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/app",
) -> Response:
    address = request.client.host if request.client else "unknown"
    try:
        token = authenticate(get_container(request), username, password, None, address)
    except Problem as problem:
        t = translator(request)
        message = t("login.too_many") if problem.status == 429 else t("login.wrong")
        context = {"next": safe_next(next), "username": username, "error": message}
        return render(request, "login.html", context, status=problem.status)
    response = redirect(safe_next(next), request)
    response.set_cookie(
        SESSION_COOKIE, token.raw, httponly=True, samesite="lax", secure=_secure(request),
        expires=token.expires_at,
    )  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/app/logout")
def logout(request: Request, user: PageUser) -> Response:
    workflow = get_container(request).workflow
    with workflow.sessions.begin() as session:
        revoke_token(session, request.cookies[SESSION_COOKIE], workflow.clock())
    response = redirect("/app/login", request)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{code}")
def choose_language(request: Request, code: str, next: str | None = None) -> Response:
    """Remember the visitor's language for a year and go back to the page they were on."""
    if code not in LANGUAGES:
        raise Problem(404, "not-found", "Not found", f"no language '{code}'")
    response = RedirectResponse(safe_next(next, "/careers"), status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=YEAR, samesite="lax", secure=_secure(request))
    return response
