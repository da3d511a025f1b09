"""The OpenAPI document tells the truth about errors: every error answer is problem+json.

FastAPI documents a 422 with its own validation body; Vivier answers problem+json instead, so the
generated document is rewritten once: each operation's 422 and the common error statuses point
to the `Problem` schema under `application/problem+json`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from api.problems import MEDIA_TYPE

ERROR_STATUSES = {
    "401": "Not authenticated: no token, or an expired or revoked one.",
    "403": "Your role does not allow this.",
    "404": "Not found (or not visible to you).",
    "409": "Conflict: not allowed now (the body says why and what is).",
    "412": "If-Match names an older version.",
    "422": "Invalid input: `field` names the input at fault.",
}


class Problem(BaseModel):
    """An RFC 9457 problem; extra members depend on `type` (field, errors, allowed, guard...)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A stable URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    field: str | None = Field(None, description="The input at fault, where there is one.")


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                if status == "422" or status in responses:
                    responses[status] = {"description": description, "content": problem}
    return document
