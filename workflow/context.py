"""Who acts, and what a guard or an effect sees while a transition is under way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from workflow.dates import closing_instant
from workflow.errors import InvalidInput
from workflow.models import ActorKind, Application, EntityType, Posting

if TYPE_CHECKING:
    from workflow.pipeline import Pipeline, TransitionDef
    from workflow.service import Workflow


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.system)

    @classmethod
    def user(cls, user_id: int) -> Actor:
        return cls(ActorKind.user, user_id)

    @classmethod
    def candidate(cls, candidate_id: int) -> Actor:
        return cls(ActorKind.candidate, candidate_id)

    @classmethod
    def parse(cls, text: str) -> Actor:
        """'system', 'user:3' or 'candidate:12'."""
        kind, _, number = text.partition(":")
        try:
            actor_kind = ActorKind(kind)
        except ValueError:
            raise ValueError(f"actor {text!r}: kind must be system, user or candidate") from None
        if actor_kind is ActorKind.system:
            if number:
                raise ValueError(f"actor {text!r}: 'system' takes no id")
            return cls.system()
        if not number.isdigit():
            raise ValueError(f"actor {text!r}: expected {kind}:ID with a numeric id")
        return cls(actor_kind, int(number))

    def __str__(self) -> str:
        return self.kind.value if self.id is None else f"{self.kind.value}:{self.id}"


@dataclass
class TransitionContext:
    """Everything one transition knows. Guards read it; effects may change the entity."""

    session: Session
    workflow: Workflow
    pipeline: Pipeline
    entity_type: EntityType
    entity: Application | Posting
    event: str
    actor: Actor
    now: datetime
    reason: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    transition: TransitionDef | None = None  # None while creating the entity

    def payload_date(self, name: str) -> date | None:
        """The payload's `name` as a date (ISO text or date); InvalidInput names the field."""
        value = self.payload.get(name)
        if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(f"payload.{name}", f"{value!r} is not a date (YYYY-MM-DD)") from None

    def payload_instant(self, name: str, timezone: str) -> datetime | None:
        """The payload's `name` as a closing instant: a date runs to 23:59:59 in `timezone`."""
        value = self.payload.get(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(
                f"payload.{name}", f"{value!r} is not a date or a date and time (ISO 8601)"
            ) from None
        is_date_only = len(str(value).strip()) == 10
        return closing_instant(parsed.date() if is_date_only else parsed, timezone)

    @property
    def posting(self) -> Posting:
        if isinstance(self.entity, Posting):
            return self.entity
        posting = self.session.get(Posting, self.entity.posting_id)
        assert posting is not None  # a foreign key guarantees it
        return posting
