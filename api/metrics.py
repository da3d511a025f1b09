"""Prometheus metrics of one API process: requests, errors, transitions by pipeline and event.

Each process exposes its own counters at /metrics (the Prometheus model: the server scrapes
every process and sums). Transitions are counted when their transaction commits, so a refused or
rolled-back transition is never counted as done.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import event
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        app.add_middleware(_Counting, metrics=self)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 400:
            self.errors.labels(route, str(status)).inc()

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class _Counting:
    """Plain ASGI middleware (Starlette's BaseHTTPMiddleware cost 12-18 % of the API's CPU in
    bench/api.py): counts each answer by the route that matched, after it is sent."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.record(scope["method"], route, status, time.perf_counter() - started)
