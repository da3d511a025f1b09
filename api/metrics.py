"""Prometheus metrics of one API process: requests, errors, transitions by pipeline and event.

Each process exposes its own counters at /metrics (the Prometheus model: the server scrapes
every process and sums). Transitions are counted when their transaction commits, so a refused or
rolled-back transition is never counted as done.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import event
from sqlmodel import Session

from workflow.events import DomainEvent, EventBus


class Metrics:
    """The counters of one app, in a registry of their own (tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vivier_http_requests", "HTTP requests answered.", ["method", "route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "vivier_http_errors", "HTTP answers with a 4xx or 5xx status.", ["route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "vivier_http_request_seconds", "Time to answer, by route.", ["route"],
            registry=self.registry,
        )  # fmt: skip
        self.transitions = Counter(
            "vivier_transitions", "Transitions committed, by pipeline and event.",
            ["pipeline", "event"], registry=self.registry,
        )  # fmt: skip

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(self._on_event)

    def _on_event(self, session: Session, domain_event: DomainEvent) -> None:
        if domain_event.name != "transitioned":
            return
        labels = self.transitions.labels(domain_event.pipeline, domain_event.event or "")
        event.listen(session, "after_commit", lambda _session: labels.inc(), once=True)

    def install(self, app: FastAPI) -> None:
        @app.middleware("http")
        async def _count(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            started = time.perf_counter()
            response = await call_next(request)
            route = getattr(request.scope.get("route"), "path", "unmatched")
            status = str(response.status_code)
            self.requests.labels(request.method, route, status).inc()
            self.latency.labels(route).observe(time.perf_counter() - started)
            if response.status_code >= 400:
                self.errors.labels(route, status).inc()
            return response

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
