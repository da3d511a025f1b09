"""The one injectable clock. Guards, the service and the sweeper take "now" from here and pass it to
SQL as a parameter (never SQL now()), so tests move time with time-machine and child processes
can be handed a time."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
