"""The web pages: server-rendered (Jinja2) with htmx for partial updates, no build step.

Staff pages under /app/ (a session cookie, CSRF-checked forms), the public careers pages under
/careers, and the candidate's status page at /status/{token}. Every page goes through the same
services, access rules and errors as the API (api/routes, api/access.py, api/problems.py).
Each page module adds its router to ROUTERS, as the API's do in api/app.py.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from api.pages import application, board, careers, dashboard, postings, staff, status
from api.pages.web import STATIC_DIR, Pages, error_page, is_page
from api.problems import Problem

ROUTERS = [
    staff.router,
    postings.router,
    board.router,
    application.router,
    dashboard.router,
    careers.router,
    status.router,
]


def _html_errors(request: Request, problem: Problem) -> Response | None:
    return error_page(request, problem) if is_page(request) else None


def install(app: FastAPI) -> None:
    """The pages, their static files and their error pages, on `app`."""
    app.state.pages = Pages.build()
    app.state.html_errors = _html_errors
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
