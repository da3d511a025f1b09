"""The app factory: one FastAPI app per container, with every router and the error mapping.

Each part adds its router to ROUTERS (the registration point): the isolation test walks
`app.routes`, so a new endpoint is covered by it without anyone listing it there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from api import openapi, pages, problems
from api.metrics import Metrics
from api.routes import (
    applications,
    auth,
    data_requests,
    deadlines,
    documents,
    health,
    interviews,
    messages,
    postings,
    public,
    reports,
)
from api.transitions import Replay
from api.wiring import Container, build_container
from workflow.workers import WorkerClock

ROUTERS = [
    health.router,
    auth.router,
    postings.router,
    applications.router,
    interviews.router,
    public.router,
    documents.router,
    reports.router,
    deadlines.router,
    messages.router,
    data_requests.router,
]

DESCRIPTION = """Vivier's HTTP API: recruiters advance candidates, candidates apply and follow
their application, HR queries every pipeline.

Authenticate with `POST /auth/token` (form fields `username`, `password`), then send
`Authorization: Bearer TOKEN`. Every error is `application/problem+json` (RFC 9457)."""


def create_app(container: Container | None = None, *, background: bool = False) -> FastAPI:
    """The API on `container` (default: built from the settings). `background` runs the
    scheduler and the e-mail dispatcher in this process for the app's lifetime, each unless its
    setting (serve_scheduler, serve_dispatcher) says no: what `vivier serve` does."""
    container = container or build_container()
    metrics = Metrics()
    metrics.subscribe(container.workflow.bus)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        workers = _start_workers(container) if background else []
        try:
            yield
        finally:
            for worker in reversed(workers):
                worker.stop()  # each lets its round under way finish

    app = FastAPI(
        title="Vivier",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(problems.refuse_nul)],
    )
    app.state.container = container
    app.state.metrics = metrics
    problems.install(app)
    openapi.install(app)
    app.add_exception_handler(Replay, lambda _request, exc: exc.response())
    metrics.install(app)
    for router in ROUTERS:
        app.include_router(router)
    pages.install(app)
    return app


def _start_workers(container: Container) -> list[WorkerClock[Any]]:
    """The background workers the settings want, started (each catches up first)."""
    from notifications.dispatcher import Dispatcher
    from workflow.scheduler import Scheduler

    settings, workflow = container.settings, container.workflow
    wanted: list[Callable[[], WorkerClock[Any]]] = []
    if settings.serve_scheduler:
        wanted.append(lambda: Scheduler(workflow))
    if settings.serve_dispatcher:
        wanted.append(lambda: Dispatcher(workflow.sessions, settings, clock=workflow.clock))
    started: list[WorkerClock[Any]] = []
    try:
        for make in wanted:
            worker = make()
            worker.start()
            started.append(worker)
    except BaseException:
        for worker in started:
            worker.stop()
        raise
    return started
