"""The one place where Vivier's parts are put together: settings, engine, pipelines, event bus.

Each later part registers here and nowhere else: the notifications subscribe to the bus in
`subscribe_parts`, the API adds its routers and the scheduler/dispatcher their background
services in the app factory, and every CLI command group is listed in `api.cli.COMMAND_GROUPS`.
"""

from dataclasses import dataclass

from sqlalchemy import Engine

import notifications
from config.settings import Settings
from workflow.db import make_engine, session_factory
from workflow.events import EventBus
from workflow.pipeline_files import load_pipelines
from workflow.service import Workflow


@dataclass
class Container:
    settings: Settings
    engine: Engine
    workflow: Workflow


def subscribe_parts(container: Container) -> None:
    """Subscribers to domain events: the notifications (metrics subscribe in the app factory)."""
    notifications.install(container.workflow.bus, container.settings)


def build_container(settings: Settings | None = None) -> Container:
    """Everything a process needs, built once; pipelines are validated here, at start-up."""
    settings = settings or Settings()
    pipelines = load_pipelines(settings.pipelines_dir)
    engine = make_engine(
        settings.effective_database_url, sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s
    )
    workflow = Workflow(
        session_factory(engine),
        pipelines,
        bus=EventBus(),
        storage_dir=settings.effective_storage_dir,
    )
    container = Container(settings=settings, engine=engine, workflow=workflow)
    subscribe_parts(container)
    return container
