"""Every error answer is `application/problem+json` (RFC 9457), built here and nowhere else.

`type` is a stable URI per kind of problem; `field` names the input at fault where there is one.
Domain exceptions are mapped once, in `install`, so a route never builds an error body itself.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from workflow.errors import (
    AlreadyExists,
    GuardFailed,
    InvalidInput,
    NotFound,
    StaleVersion,
    TransitionNotAllowed,
    UnknownEvent,
    WorkflowError,
)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://vivier.dev/problems/"
log = logging.getLogger("vivier.api")


class Problem(Exception):
    """An error answer raised from a route or a dependency."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": TYPE_BASE + self.kind, "title": self.title}
        body["status"] = self.status
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body

    def response(self, instance: str | None = None) -> JSONResponse:
        return JSONResponse(
            self.body(instance), self.status, headers=self.headers, media_type=MEDIA_TYPE
        )


def not_found(entity: str, entity_id: object) -> Problem:
    return Problem(404, "not-found", "Not found", f"{entity} {entity_id} not found")


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Not allowed for your role", detail)


def invalid(field: str, detail: str) -> Problem:
    return Problem(
        422, "invalid-input", "Invalid input", f"{field}: {detail}", field=field,
        errors=[{"field": field, "detail": detail}],
    )  # fmt: skip


def from_domain(exc: WorkflowError) -> Problem:
    """The one mapping from domain exceptions to HTTP answers."""
    match exc:
        case NotFound():
            return not_found(exc.entity, exc.entity_id)
        case UnknownEvent():
            return Problem(
                404, "unknown-event", "Unknown event", str(exc), field="event", known=exc.known
            )
        case TransitionNotAllowed():
            return Problem(
                409, "transition-not-allowed", "Transition not allowed", str(exc),
                state=exc.state, event=exc.event, allowed=exc.allowed,
            )  # fmt: skip
        case GuardFailed():
            return Problem(
                409, "guard-failed", "A condition of the transition is not met", exc.message,
                guard=exc.guard,
            )  # fmt: skip
        case StaleVersion():
            return Problem(
                412, "stale-version", "Changed since you read it", str(exc),
                expected=exc.expected, actual=exc.actual,
            )  # fmt: skip
        case InvalidInput():
            return invalid(exc.field, exc.message)
        case AlreadyExists():
            return Problem(409, "already-exists", "Already exists", str(exc))
    return Problem(400, "bad-request", "Request refused", str(exc))


def _field(location: tuple[Any, ...]) -> str:
    """`("body", "closes_at")` -> "closes_at"; `("query", "limit")` -> "limit"."""
    parts = [str(p) for p in location[1:]] or [str(p) for p in location]
    return ".".join(parts)


def validation_problem(exc: RequestValidationError) -> Problem:
    errors = [{"field": _field(tuple(e.get("loc", ()))), "detail": e["msg"]} for e in exc.errors()]
    first = errors[0] if errors else {"field": "", "detail": "invalid request"}
    return Problem(
        422, "invalid-input", "Invalid input", f"{first['field']}: {first['detail']}",
        field=first["field"], errors=errors,
    )  # fmt: skip


async def refuse_nul(request: Request) -> None:
    """An app-wide dependency: a NUL character in a parameter or a JSON body is refused with 422
    on every backend (PostgreSQL cannot store one; SQLite would, silently)."""
    field = await _field_with_nul(request)
    if field is not None:
        raise invalid(field or "body", "contains a NUL character")


async def _field_with_nul(request: Request) -> str | None:
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            return name
    for name, value in request.path_params.items():
        if "\x00" in str(value):
            return name
    if "json" not in request.headers.get("content-type", ""):
        return None
    try:
        body = json.loads(await request.body())
    except (ValueError, RuntimeError):
        return None
    return _nul_key(body)


def _nul_key(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string holding a NUL inside a JSON value."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found = _nul_key(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _respond(request: Request, problem: Problem) -> Response:
    """problem+json, unless the app shows errors of this request as a page
    (`app.state.html_errors`, set by the pages: a callable answering None when not a page)."""
    html_errors = getattr(request.app.state, "html_errors", None)
    page = html_errors(request, problem) if html_errors else None
    return page or problem.response(request.url.path)


def install(app: FastAPI) -> None:
    """Register the handlers: every error leaves as problem+json (or as a page, for pages)."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return _respond(request, exc)

    @app.exception_handler(WorkflowError)
    async def _domain(request: Request, exc: WorkflowError) -> Response:
        return _respond(request, from_domain(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return _respond(request, validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        problem = Problem(exc.status_code, kind, str(exc.detail), headers=dict(exc.headers or {}))
        return _respond(request, problem)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        # The database refused a value the checks let through (a NUL character on PostgreSQL):
        # the transaction rolled back; the input, not the server, is at fault.
        field = await _field_with_nul(request)
        detail = "contains a character that cannot be stored (NUL)" if field else str(exc.orig)
        return _respond(request, invalid(field or "body", detail.splitlines()[0]))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        problem = Problem(500, "internal", "Internal error", "the error was logged")
        return _respond(request, problem)
