"""Domain events, published inside the open transaction of the change they describe.

`workflow` never imports `notifications` or `api`: they subscribe here, and whatever rows a
subscriber adds (an outbox message, say) commit or roll back with the state change itself.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from workflow.context import Actor
from workflow.models import EntityType


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to an entity: `name` is 'created', 'transitioned' or a reminder."""

    name: str
    organisation_id: int
    entity_type: EntityType
    entity_id: int
    pipeline: str
    at: datetime
    actor: Actor
    event: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    record_id: int | None = None


Subscriber = Callable[[Session, DomainEvent], None]


class EventBus:
    """Subscribers run in order, in the publisher's transaction; an exception aborts the change."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def publish(self, session: Session, event: DomainEvent) -> None:
        for subscriber in self._subscribers:
            subscriber(session, event)
