"""The app factory: one FastAPI app per container, with every router and the error mapping.

Each part adds its router to ROUTERS (the registration point): the isolation test walks
`app.routes`, so a new endpoint is covered by it without anyone listing it there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import openapi, problems
from api.metrics import Metrics
from api.routes import (
    applications,
    auth,
    deadlines,
    documents,
    health,
    interviews,
    postings,
    public,
    reports,
)
from api.transitions import Replay
from api.wiring import Container, build_container

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
]

DESCRIPTION = """Vivier's HTTP API: recruiters advance candidates, candidates apply and follow
their application, HR queries every pipeline.

Authenticate with `POST /auth/token` (form fields `username`, `password`), then send
`Authorization: Bearer TOKEN`. Every error is `application/problem+json` (RFC 9457)."""


def create_app(container: Container | None = None, *, background: bool = False) -> FastAPI:
    """The API on `container` (default: built from the settings). `background` runs the
    scheduler in this process for the app's lifetime (what `vivier serve` does on SQLite)."""
    container = container or build_container()
    metrics = Metrics()
    metrics.subscribe(container.workflow.bus)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        scheduler = _start_scheduler(container) if background else None
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()

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
    return app


def _start_scheduler(container: Container):
    from workflow.scheduler import Scheduler

    scheduler = Scheduler(container.workflow)
    scheduler.start()
    return scheduler
