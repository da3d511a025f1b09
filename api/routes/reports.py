"""HR's reports over HTTP, each one query of workflow/reports.py: where every pipeline stands,
conversion between stages, time spent in each stage, commitments ending soon, idle applications.

Admin and HR see their whole organisation; a recruiter sees the figures of the postings they own
or are assigned to, and nothing else; interviewers are refused (403). JSON by default, CSV with
`Accept: text/csv` (the same rows, one per item)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlmodel import Session

from api.access import get_posting, manages
from api.csv_response import CSV_RESPONSES, csv_response, wants_csv
from api.deps import MAX_ID, ContainerDep, Manager
from api.problems import invalid
from api.security import Principal
from api.wiring import Container
from workflow import reports
from workflow.models import EntityType, Organisation, Posting
from workflow.pipeline import Pipeline

DESCRIPTION = """Admin and HR: the organisation; a recruiter: their postings only; interviewers:
403. JSON by default; `Accept: text/csv` gives the same rows as CSV (a header row, UTF-8).
Durations are in seconds (numbers)."""

router = APIRouter(prefix="/reports", tags=["reports"])

Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip.")]
PostingFilter = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="Only this posting (and its applications)."),
]


class Page(BaseModel):
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last.")


def _next_offset(offset: int, limit: int, shown: int) -> int | None:
    return offset + limit if shown == limit else None


def _scope(session: Session, user: Principal, posting_id: int | None) -> Select[Any] | None:
    """The postings a report may count: None for the whole organisation (admin, HR), else the
    recruiter's, as a subquery. A named posting must be visible (404 otherwise)."""
    if posting_id is not None:
        get_posting(session, user, posting_id)
    return None if user.sees_everything else select(Posting.id).where(manages(user))


def _rows(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in items]


# --- Pipeline -----------------------------------------------------------------------------------


class PostingFigures(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    posting_id: int
    ref: str
    title: str
    state: str = Field(description="The posting's own state (draft, published, closed...).")
    pipeline: str
    counts: dict[str, int] = Field(description="Applications by state; zeros omitted.")
    total: int


class PipelineReport(Page):
    totals: dict[str, int] = Field(
        description="Applications by state over all the postings you see (every page), or over "
        "the one named by posting_id; zeros omitted."
    )
    total: int
    postings: list[PostingFigures] = Field(description="One page of postings, by id.")


@router.get(
    "/pipeline",
    summary="Applications by state: the totals, and one page of postings.",
    description=DESCRIPTION + "\n\nCSV: one row per posting of the page, one column per state.",
    responses=CSV_RESPONSES,
)
def pipeline_report(
    request: Request,
    user: Manager,
    container: ContainerDep,
    state: Annotated[
        str | None, Query(max_length=64, description="Only postings in this state.")
    ] = None,
    posting_id: PostingFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PipelineReport:
    report = pipeline_figures(user, container, state, posting_id, limit, offset)
    if wants_csv(request):
        return pipeline_csv(container, report)
    return report


def pipeline_figures(
    user: Principal,
    container: Container,
    state: str | None = None,
    posting_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PipelineReport:
    """The pipeline report's figures (the route's JSON; the pages show them too)."""
    page = select(Posting.id).where(manages(user))
    if state:
        page = page.where(Posting.state == state)
    if posting_id is not None:
        page = page.where(Posting.id == posting_id)
    page = page.order_by(Posting.id).limit(limit).offset(offset)
    with container.workflow.sessions.begin() as session:
        scope = _scope(session, user, posting_id)
        totals = reports.organisation_counts(
            session,
            user.organisation_id,
            posting_ids=scope if posting_id is None else [posting_id],
        )
        postings = reports.posting_counts(session, user.organisation_id, posting_ids=page)
    report = PipelineReport(
        totals=totals,
        total=sum(totals.values()),
        postings=[PostingFigures.model_validate(p) for p in postings],
        limit=limit,
        offset=offset,
        next_offset=_next_offset(offset, limit, len(postings)),
    )
    return report


def pipeline_csv(container: Container, report: PipelineReport) -> Response:
    """One row per posting; its counts spread over one column per state of the page's pipelines
    (in pipeline order; a state found only in the data comes last), zero where nobody is."""
    used = {posting.pipeline for posting in report.postings}
    states = dict.fromkeys(
        state
        for pipeline in _application_pipelines(container)
        if pipeline.name in used
        for state in pipeline.states
    )
    for posting in report.postings:
        states.update(dict.fromkeys(sorted(set(posting.counts) - states.keys())))
    fixed = ["posting_id", "ref", "title", "state", "pipeline", "total"]
    rows = [
        posting.model_dump(include=set(fixed)) | {s: posting.counts.get(s, 0) for s in states}
        for posting in report.postings
    ]
    return csv_response([*fixed, *states], rows, "pipeline.csv")


# --- Funnel and time in stage --------------------------------------------------------------------


def _application_pipelines(container: Container) -> list[Pipeline]:
    pipelines = container.workflow.pipelines.values()
    return sorted(
        (p for p in pipelines if p.entity is EntityType.application), key=lambda p: p.name
    )


def _pipelines(container: Container, name: str | None, posting: Posting | None) -> list[Pipeline]:
    """The application pipelines a report covers: all, the one named, or the posting's."""
    pipelines = _application_pipelines(container)
    if name is not None and name not in {p.name for p in pipelines}:
        known = ", ".join(p.name for p in pipelines)
        raise invalid("pipeline", f"no application pipeline {name!r}; known: {known}")
    wanted = {name} if name is not None else {p.name for p in pipelines}
    if posting is not None:
        wanted &= {posting.pipeline}
    return [p for p in pipelines if p.name in wanted]


PipelineName = Annotated[
    str | None, Query(max_length=64, description="Only this pipeline (volunteer, staff...).")
]


class Conversion(BaseModel):
    pipeline: str
    from_stage: str
    to_stage: str
    reached: int = Field(description="Applications that ever reached from_stage.")
    advanced: int = Field(description="Of those, how many ever reached to_stage.")
    rate: float | None = Field(description="advanced / reached; null when nobody reached it.")


class FunnelReport(BaseModel):
    items: list[Conversion]


@router.get(
    "/funnel",
    summary="Conversion between consecutive stages, per pipeline.",
    description=DESCRIPTION,
    responses=CSV_RESPONSES,
)
def funnel_report(
    request: Request,
    user: Manager,
    container: ContainerDep,
    pipeline: PipelineName = None,
    posting_id: PostingFilter = None,
) -> FunnelReport:
    report = funnel_figures(user, container, pipeline, posting_id)
    return funnel_csv(report) if wants_csv(request) else report


def funnel_figures(
    user: Principal,
    container: Container,
    pipeline: str | None = None,
    posting_id: int | None = None,
) -> FunnelReport:
    with container.workflow.sessions.begin() as session:
        scope = _scope(session, user, posting_id)
        posting = session.get(Posting, posting_id) if posting_id is not None else None
        items = [
            Conversion(pipeline=p.name, **asdict(c))
            for p in _pipelines(container, pipeline, posting)
            for c in reports.conversion(
                session, user.organisation_id, p, posting_id, posting_ids=scope
            )
        ]
    return FunnelReport(items=items)


def funnel_csv(report: FunnelReport) -> Response:
    return csv_response(list(Conversion.model_fields), _rows(report.items), "funnel.csv")


class StageTime(BaseModel):
    pipeline: str
    state: str
    ended: int = Field(description="Stays that have ended: the median and p90 are over these.")
    median_seconds: float | None = Field(description="Seconds; null when no stay has ended.")
    p90_seconds: float | None = Field(description="90th percentile, seconds.")
    current: int = Field(description="Applications in the state now (not in the figures).")
    longest_current_seconds: float | None = Field(
        description="How long the longest-waiting of those has been there, seconds."
    )


class TimeInStageReport(BaseModel):
    as_of: datetime
    items: list[StageTime]


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _stage_time(pipeline: Pipeline, t: reports.StageTime) -> StageTime:
    return StageTime(
        pipeline=pipeline.name,
        state=t.state,
        ended=t.ended,
        median_seconds=_seconds(t.median),
        p90_seconds=_seconds(t.p90),
        current=t.current,
        longest_current_seconds=_seconds(t.longest_current),
    )


@router.get(
    "/time-in-stage",
    summary="Median and 90th percentile of the time spent in each open state.",
    description=DESCRIPTION
    + "\n\nPostgreSQL interpolates the percentiles; SQLite gives the nearest rank.",
    responses=CSV_RESPONSES,
)
def time_in_stage_report(
    request: Request,
    user: Manager,
    container: ContainerDep,
    pipeline: PipelineName = None,
    posting_id: PostingFilter = None,
) -> TimeInStageReport:
    report = time_in_stage_figures(user, container, pipeline, posting_id)
    return time_in_stage_csv(report) if wants_csv(request) else report


def time_in_stage_figures(
    user: Principal,
    container: Container,
    pipeline: str | None = None,
    posting_id: int | None = None,
) -> TimeInStageReport:
    now = container.workflow.clock()
    with container.workflow.sessions.begin() as session:
        scope = _scope(session, user, posting_id)
        posting = session.get(Posting, posting_id) if posting_id is not None else None
        items = [
            _stage_time(p, t)
            for p in _pipelines(container, pipeline, posting)
            for t in reports.time_in_stage(
                session, user.organisation_id, p, now, posting_id, posting_ids=scope
            )
        ]
    return TimeInStageReport(as_of=now, items=items)


def time_in_stage_csv(report: TimeInStageReport) -> Response:
    return csv_response(list(StageTime.model_fields), _rows(report.items), "time-in-stage.csv")


# --- What needs attention -----------------------------------------------------------------------


class CommitmentEnding(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    application_id: int
    candidate_id: int
    candidate_name: str
    posting_id: int
    posting_title: str
    commitment_end: date
    days_left: int


class CommitmentsReport(Page):
    today: date = Field(description="Today in the organisation's time zone.")
    within_days: int
    items: list[CommitmentEnding]


@router.get(
    "/commitments",
    summary="Volunteers whose commitment ends within N days, soonest first.",
    description=DESCRIPTION,
    responses=CSV_RESPONSES,
)
def commitments_report(
    request: Request,
    user: Manager,
    container: ContainerDep,
    within_days: Annotated[int, Query(ge=0, le=3650, description="Days ahead.")] = 90,
    posting_id: PostingFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> CommitmentsReport:
    report = commitments_figures(user, container, within_days, posting_id, limit, offset)
    return commitments_csv(report) if wants_csv(request) else report


def commitments_figures(
    user: Principal,
    container: Container,
    within_days: int = 90,
    posting_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> CommitmentsReport:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        scope = _scope(session, user, posting_id)
        zone = session.get_one(Organisation, user.organisation_id).timezone
        today = workflow.clock().astimezone(ZoneInfo(zone)).date()
        found = reports.commitments_ending(
            session, user.organisation_id, today, within_days, posting_id,
            posting_ids=scope, limit=limit, offset=offset,
        )  # fmt: skip
    items = [CommitmentEnding.model_validate(c) for c in found]
    return CommitmentsReport(
        today=today, within_days=within_days, items=items, limit=limit, offset=offset,
        next_offset=_next_offset(offset, limit, len(items)),
    )  # fmt: skip


def commitments_csv(report: CommitmentsReport) -> Response:
    rows = _rows(report.items)
    return csv_response(list(CommitmentEnding.model_fields), rows, "commitments.csv")


class IdleApplication(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    application_id: int
    candidate_id: int
    candidate_name: str
    posting_id: int
    posting_title: str
    state: str
    state_entered_at: datetime
    days_idle: int = Field(description="Whole days since it entered its state.")


class IdleReport(Page):
    as_of: datetime
    idle_days: int
    items: list[IdleApplication]


@router.get(
    "/idle",
    summary="Applications unmoved for more than N days in an open state, longest first.",
    description=DESCRIPTION,
    responses=CSV_RESPONSES,
)
def idle_report(
    request: Request,
    user: Manager,
    container: ContainerDep,
    idle_days: Annotated[int, Query(ge=0, le=3650, description="More than this many days.")] = 10,
    posting_id: PostingFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> IdleReport:
    report = idle_figures(user, container, idle_days, posting_id, limit, offset)
    return idle_csv(report) if wants_csv(request) else report


def idle_figures(
    user: Principal,
    container: Container,
    idle_days: int = 10,
    posting_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> IdleReport:
    workflow = container.workflow
    now = workflow.clock()
    waiting = reports.open_states(workflow.pipelines.values())
    with workflow.sessions.begin() as session:
        scope = _scope(session, user, posting_id)
        found = reports.idle_applications(
            session, user.organisation_id, now, idle_days, waiting, posting_id,
            posting_ids=scope, limit=limit, offset=offset,
        )  # fmt: skip
    items = [IdleApplication.model_validate(i) for i in found]
    return IdleReport(
        as_of=now, idle_days=idle_days, items=items, limit=limit, offset=offset,
        next_offset=_next_offset(offset, limit, len(items)),
    )  # fmt: skip


def idle_csv(report: IdleReport) -> Response:
    return csv_response(list(IdleApplication.model_fields), _rows(report.items), "idle.csv")
