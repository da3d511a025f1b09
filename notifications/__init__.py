"""E-mail: who is told what, in their language, queued in the transaction of what happened, then
delivered by the dispatcher (SMTP, or .eml files in a folder by default).

`install(bus, settings)` is the one entry point the wiring calls (api/wiring.subscribe_parts).
"""

from config.settings import Settings
from notifications import queue, scrub
from workflow.events import EventBus


def install(bus: EventBus, settings: Settings) -> None:
    """Subscribe the notification parts to the workflow's domain events."""
    queue.subscribe(bus, settings)
    scrub.subscribe(bus, settings)
