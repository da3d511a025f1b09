"""Firing an event from an HTTP request: the body, the answer, `If-Match`, `Idempotency-Key`.

With an `Idempotency-Key`, the key is first recorded as "in progress" in a transaction of its
own; the transition and the stored answer then commit together, so a replay can never disagree
with what happened. The same key again replays the stored answer (`Idempotent-Replayed: true`);
with a different request it is 422; while the first request still runs it is 409. A key left "in
progress" by a crashed process is taken over after ABANDONED_AFTER.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.problems import Problem, from_domain, invalid
from api.security import Principal
from api.wiring import Container
from workflow.auth_models import IdempotencyRecord
from workflow.errors import WorkflowError
from workflow.models import EntityType

ABANDONED_AFTER = timedelta(minutes=5)


class EventIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000, description="Why (kept in history).")
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="Event data, e.g. rejection_reason, commitment_start, closes_at.",
    )


class EventOut(BaseModel):
    entity_type: EntityType
    entity_id: int
    event: str
    from_state: str
    to_state: str
    version: int
    history_id: int
    at: datetime


def parse_if_match(value: str | None) -> int | None:
    """`If-Match: "3"` (or W/"3", or 3) -> 3; absent -> None."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise invalid("If-Match", f'expected the version number, like "3"; got {value!r}')
    return int(text)


def fire_event(
    container: Container,
    user: Principal,
    entity_type: EntityType,
    entity_id: int,
    event: str,
    body: EventIn,
    *,
    expected_version: int | None = None,
    session: Session | None = None,
) -> EventOut:
    """Fire through the transition service, in `session` when given (the caller commits)."""
    workflow = container.workflow
    arguments: dict[str, Any] = dict(
        reason=body.reason,
        payload=body.payload,
        expected_version=expected_version,
        organisation_id=user.organisation_id,
    )
    if session is None:
        result = workflow.fire(entity_type, entity_id, event, user.actor, **arguments)
    else:
        result = workflow.fire_in(session, entity_type, entity_id, event, user.actor, **arguments)
    return EventOut(
        entity_type=result.entity_type,
        entity_id=result.entity_id,
        event=result.event,
        from_state=result.from_state,
        to_state=result.to_state,
        version=result.version,
        history_id=result.record_id,
        at=result.at,
    )


def request_hash(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def idempotent(
    container: Container,
    user: Principal,
    key: str | None,
    fingerprint: str,
    work: Any,
    status: int = 200,
    etag: str | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """Run `work(session)` (returning a pydantic model) once per key; replay its answer after.
    Without a key, just run it in its own transaction. `etag` names the body field sent as the
    ETag header (the new version)."""
    sessions = container.workflow.sessions
    if key is None:
        with sessions.begin() as session:
            return _answer(work(session).model_dump(mode="json"), status, etag)
    if not 1 <= len(key) <= 255:
        raise invalid("Idempotency-Key", "must be 1 to 255 characters")
    record_id = _reserve(container, user, key, fingerprint)
    try:
        with sessions.begin() as session:
            body = work(session).model_dump(mode="json")
            _finish(session, record_id, status, body)
        return _answer(body, status, etag)
    except WorkflowError as exc:
        problem = from_domain(exc)
    except Problem as exc:
        problem = exc
    except BaseException:
        with sessions.begin() as session:  # nothing was done: let the key be used again
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
        raise
    with sessions.begin() as session:
        _finish(session, record_id, problem.status, problem.body(instance))
    raise problem


def _answer(body: dict[str, Any], status: int, etag: str | None) -> JSONResponse:
    headers = {"ETag": f'"{body[etag]}"'} if etag else None
    return JSONResponse(body, status, headers=headers)


def _reserve(container: Container, user: Principal, key: str, fingerprint: str) -> int:
    """Record the key as in progress, or answer from what an earlier request left."""
    sessions, now = container.workflow.sessions, container.workflow.clock()
    try:
        with sessions.begin() as session, session.begin_nested():
            record = IdempotencyRecord(
                user_id=user.user_id, key=key, request_hash=fingerprint, created_at=now
            )
            session.add(record)
            session.flush()
            assert record.id is not None
            return record.id
    except IntegrityError:
        pass
    with sessions.begin() as session:
        record = session.scalars(
            select(IdempotencyRecord)
            .where(IdempotencyRecord.user_id == user.user_id, IdempotencyRecord.key == key)
            .with_for_update()
        ).one()
        if record.request_hash != fingerprint:
            raise Problem(
                422, "idempotency-key-reused", "Idempotency-Key reused for another request",
                "this key was first used with a different request; use a new key",
                field="Idempotency-Key",
            )  # fmt: skip
        if record.status is not None:
            raise Replay(record.status, record.body)
        if now - record.created_at < ABANDONED_AFTER:
            raise Problem(
                409, "request-in-progress", "The first request with this key is still running",
                "retry in a moment to get its answer", headers={"Retry-After": "1"},
            )  # fmt: skip
        record.created_at = now  # abandoned by a crashed process: take it over
        assert record.id is not None
        return record.id


def _finish(session: Session, record_id: int, status: int, body: Any) -> None:
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(status=status, body=body)
    )


class Replay(Exception):
    """The stored answer to a key already used; the app answers it as is."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body

    def response(self) -> JSONResponse:
        media = "application/problem+json" if self.status >= 400 else "application/json"
        return JSONResponse(
            self.body, self.status, media_type=media, headers={"Idempotent-Replayed": "true"}
        )
