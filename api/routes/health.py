"""Liveness with a database check, and the Prometheus metrics."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import ContainerDep

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Is the API up and its database reachable?")
def health(container: ContainerDep) -> JSONResponse:
    try:
        with container.workflow.sessions.begin() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        detail = str(exc).splitlines()[0]
        return JSONResponse({"status": "unavailable", "database": detail}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", summary="Prometheus metrics of this process.")
def metrics(request: Request) -> Response:
    return request.app.state.metrics.exposition()
