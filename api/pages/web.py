"""What every page shares: the templates, the language, the staff session cookie, CSRF, and
errors shown as pages.

The session is an API token (api/security.py) kept in an HttpOnly, SameSite=Lax cookie: the
same expiry, revocation and deactivation as a bearer token, nothing new to keep in step. Every
unsafe request under /app/ carries a CSRF token, derived from the session token (HMAC), so it
needs no storage and dies with the session; the login form, which has no session yet, uses a
double-submit cookie. Pages call the API's route functions and access rules (api/access.py), so
a page can show or do nothing the API would refuse.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context

from api.deps import get_container, require_roles
from api.pages.i18n import (
    Language,
    Translator,
    from_accept_language,
    load_catalogue,
    pick_language,
)
from api.problems import Problem
from api.security import Principal, principal_of, user_for_token
from notifications.render import FILTERS
from workflow.models import Role

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "vivier_session"
LOGIN_CSRF_COOKIE = "vivier_login_csrf"
LANG_COOKIE = "vivier_lang"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
# Paths answered with HTML pages (errors included) rather than problem+json.
PAGE_PREFIXES = ("/app", "/careers", "/status", "/lang")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


# --- Templates ----------------------------------------------------------------------------------


@pass_context
def _local(context: Any, value: datetime | None, zone: str | None = None) -> datetime | None:
    """`value` (stored in UTC) in `zone`, or the organisation's time zone of the page."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(zone or context.get("zone") or "Europe/Brussels"))


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,  # a missing variable is an error, not a blank on the page
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)  # date, time, datetime, money: as the e-mails write them
    env.filters["local"] = _local
    return env


@dataclass
class Pages:
    """Built once per app: the compiled templates and the checked words."""

    env: Environment
    words: dict[str, dict[str, str]]

    @classmethod
    @functools.cache
    def build(cls) -> Pages:
        """One per process: the templates and words are files of the package, so every app
        shares the compiled templates (compiling them is most of a first page's cost)."""
        return cls(_environment(), load_catalogue())


def pages_of(request: Request) -> Pages:
    return request.app.state.pages


def language(request: Request) -> Language:
    """The visitor's choice (a cookie set by /lang/CODE), else their browser's, else French."""
    return pick_language(
        request.cookies.get(LANG_COOKIE),
        from_accept_language(request.headers.get("accept-language")),
    )


def translator(request: Request) -> Translator:
    return Translator(pages_of(request).words, language(request))


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The template filled with `context` and what every page uses: `t`, `lang`, `user`,
    `csrf`, `path`, `htmx`, `zone` (the organisation's time zone, default Brussels)."""
    settings = get_container(request).settings
    base = {
        "request": request,
        "t": translator(request),
        "lang": language(request),
        "user": getattr(request.state, "page_user", None),
        "csrf": csrf_for(request),
        "path": request.url.path,
        "query": request.url.query,
        "htmx": is_htmx(request),
        "zone": settings.timezone,
        "login_url": login_url(request),
    }
    html = pages_of(request).env.get_template(template).render(base | (context or {}))
    return HTMLResponse(html, status, headers=headers)


# --- The staff session --------------------------------------------------------------------------


def _digest(key: str, purpose: str) -> str:
    return hmac.new(key.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def csrf_for(request: Request) -> str:
    """The CSRF token of this visitor's session (or of their login form)."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return _digest(session, "csrf")
    login = request.cookies.get(LOGIN_CSRF_COOKIE) or getattr(request.state, "login_csrf", "")
    return _digest(login, "login-csrf") if login else ""


def new_login_csrf(request: Request) -> str:
    """A fresh double-submit secret for the login form (set as a cookie by the caller)."""
    secret = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    request.state.login_csrf = secret
    return secret


async def check_csrf(request: Request) -> None:
    """Refuse (403) an unsafe request whose CSRF token is missing or wrong."""
    if request.method not in UNSAFE:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        sent = (await request.form()).get(CSRF_FIELD)
    expected = csrf_for(request)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise Problem(
            403, "csrf", "The form has expired",
            "reload the page and send the form again (missing or wrong CSRF token)",
        )  # fmt: skip


def page_user(request: Request) -> Principal:
    """The staff member whose session cookie this is; a 401 (shown as the login page) if none
    is valid."""
    raw = request.cookies.get(SESSION_COOKIE)
    workflow = get_container(request).workflow
    with workflow.sessions.begin() as session:
        user = user_for_token(session, raw, workflow.clock()) if raw else None
        if user is None:
            raise Problem(401, "unauthorized", "Log in first", "no valid session")
        principal = principal_of(user)
    request.state.page_user = principal
    return principal


PageUser = Annotated[Principal, Depends(page_user)]
PageManager = Annotated[
    Principal, Depends(require_roles(Role.admin, Role.hr, Role.recruiter, of=page_user))
]
PageHumanResources = Annotated[Principal, Depends(require_roles(Role.admin, Role.hr, of=page_user))]


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/app/login?next={quote(target, safe='')}"


def safe_next(target: str | None, default: str = "/app") -> str:
    """`target` if it is a path on this site, else `default` (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def redirect(url: str, request: Request) -> Response:
    """A redirect that htmx follows as a full page load, and a browser as a 303."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


# --- Errors as pages ----------------------------------------------------------------------------


def is_page_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)


def is_page(request: Request) -> bool:
    return is_page_path(request.url.path)


def error_page(request: Request, problem: Problem) -> Response:
    """A problem on a page: the login page when the session is missing, else an error page (or,
    for an htmx request, the message in the page's live region, keeping the status)."""
    if problem.status == 401:
        return redirect(login_url(request), request)
    context = {"problem": problem}
    if is_htmx(request):
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return render(request, "_flash.html", context, status=problem.status, headers=headers)
    return render(request, "error.html", context, status=problem.status)
