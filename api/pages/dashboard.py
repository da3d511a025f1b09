"""The HR dashboard: where every pipeline stands, the funnel and the time spent in each stage as
charts, and what needs attention (commitments ending, candidates waiting for an answer, e-mails
and deadlines that failed). Each number links to the list behind it; each report downloads as
CSV (the API's own CSV, for the session's user).

Admin and HR only: recruiters and interviewers get 403. The navigation shows the dashboard to
admin and HR only, and failed e-mails are HR's business in the API too; a recruiter finds their
own postings' figures on the postings list. The figures are the API's reports
(api/routes/reports.py), called as functions, so page and API never disagree.
"""

from __future__ import annotations

from typing import Annotated

from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.deps import IdPath, get_container
from api.pages.charts import Bar, bar_chart
from api.pages.i18n import Translator
from api.pages.postings import application_pipelines, pipeline_name
from api.pages.web import (
    PageHumanResources,
    PageUser,
    check_csrf,
    redirect,
    render,
    translator,
)
from api.routes.deadlines import list_deadlines
from api.routes.messages import list_messages, resend_message
from api.routes.reports import (
    Conversion,
    StageTime,
    commitments_csv,
    commitments_figures,
    funnel_csv,
    funnel_figures,
    idle_csv,
    idle_figures,
    pipeline_csv,
    pipeline_figures,
    time_in_stage_csv,
    time_in_stage_figures,
)
from api.security import Principal
from notifications.models import MessageStatus
from notifications.render import LOCALES
from notifications.scrub import is_scrubbed
from workflow.models import Posting
from workflow.pipeline import Pipeline

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])

LIST_LIMIT = 500  # rows read for a list; more is shown as "500+"
DAY = 86_400.0
IdleDays = Annotated[int, Query(ge=0, le=3650, description="Waiting more than this many days.")]
WithinDays = Annotated[int, Query(ge=0, le=3650, description="Commitments ending within N days.")]


# --- Figures in words ---------------------------------------------------------------------------


def _duration(t: Translator, seconds: float | None) -> str:
    """A stay in words: hours under a day, else days with one decimal ('3,5 jours')."""
    if seconds is None:
        return t("dashboard.no_figure")
    locale = LOCALES[t.lang]
    if seconds < DAY:
        return t("dashboard.hours", n=format_decimal(round(seconds / 3600, 1), locale=locale))
    return t("dashboard.days", n=format_decimal(round(seconds / DAY, 1), locale=locale))


def _percent(t: Translator, rate: float | None) -> str:
    if rate is None:
        return t("dashboard.no_figure")
    return format_percent(rate, locale=LOCALES[t.lang])


def _used_pipelines(request: Request, user: Principal) -> list[Pipeline]:
    """The application pipelines the organisation's postings use: only those get charts."""
    workflow = get_container(request).workflow
    query = (
        select(Posting.pipeline).where(Posting.organisation_id == user.organisation_id).distinct()
    )
    with workflow.sessions.begin() as session:
        used = set(session.scalars(query).all())
    return [p for p in application_pipelines(request) if p.name in used]


def _funnel(t: Translator, pipeline: Pipeline, items: list[Conversion]) -> dict[str, object]:
    """How many ever reached each stage of progress, as a chart and as table rows."""
    mine = [c for c in items if c.pipeline == pipeline.name]
    reached = [(c.from_stage, c.reached, c.rate) for c in mine]
    if mine:
        reached.append((mine[-1].to_stage, mine[-1].advanced, None))
    labels = {name: state.label[t.lang] for name, state in pipeline.states.items()}
    rows = [
        {
            "state": s,
            "label": labels[s],
            "reached": n,
            "rate": _percent(t, r) if i < len(mine) else "",
        }
        for i, (s, n, r) in enumerate(reached)
    ]
    title = t("dashboard.funnel_title", pipeline=pipeline_name(t, pipeline.name))
    chart = bar_chart(
        f"funnel-{pipeline.name}", title, t("dashboard.funnel_desc"),
        [Bar(row["label"], row["reached"], str(row["reached"])) for row in rows],
    )  # fmt: skip
    return {"pipeline": pipeline.name, "title": title, "chart": chart, "rows": rows}


def _stages(t: Translator, pipeline: Pipeline, items: list[StageTime]) -> dict[str, object]:
    """The median time in each open state, as a chart and as table rows."""
    labels = {name: state.label[t.lang] for name, state in pipeline.states.items()}
    rows = [
        {
            "state": s.state,
            "label": labels[s.state],
            "median": _duration(t, s.median_seconds),
            "median_days": None if s.median_seconds is None else s.median_seconds / DAY,
            "p90": _duration(t, s.p90_seconds),
            "ended": s.ended,
            "current": s.current,
            "longest": _duration(t, s.longest_current_seconds),
        }
        for s in items
        if s.pipeline == pipeline.name
    ]
    title = t("dashboard.stages_title", pipeline=pipeline_name(t, pipeline.name))
    chart = bar_chart(
        f"stages-{pipeline.name}", title, t("dashboard.stages_desc"),
        [Bar(row["label"], row["median_days"], row["median"]) for row in rows],
    )  # fmt: skip
    return {"pipeline": pipeline.name, "title": title, "chart": chart, "rows": rows}


def _totals(pipelines: list[Pipeline], totals: dict[str, int], lang: str) -> list[dict]:
    """Applications by state over every posting, in the pipelines' order."""
    rows: dict[str, dict] = {}
    for pipeline in pipelines:
        for name, state in pipeline.states.items():
            if name not in rows:
                final = pipeline.is_final(name)
                rows[name] = {"state": name, "label": state.label[lang], "final": final}
    for name in sorted(set(totals) - set(rows)):  # a state no pipeline declares any more
        rows[name] = {"state": name, "label": name, "final": True}
    return [row | {"count": totals.get(name, 0)} for name, row in rows.items()]


# --- The page -----------------------------------------------------------------------------------


@router.get("/app/dashboard")
def dashboard_page(
    request: Request,
    user: PageHumanResources,
    idle_days: IdleDays = 10,
    within_days: WithinDays = 90,
) -> Response:
    container = get_container(request)
    t = translator(request)
    pipelines = _used_pipelines(request, user)
    totals = pipeline_figures(user, container, limit=1).totals
    funnel = funnel_figures(user, container).items
    stages = time_in_stage_figures(user, container).items
    context = {
        "idle_days": idle_days,
        "within_days": within_days,
        "limit": LIST_LIMIT,
        "totals": _totals(pipelines, totals, t.lang),
        "total": sum(totals.values()),
        "funnels": [_funnel(t, p, funnel) for p in pipelines],
        "stages": [_stages(t, p, stages) for p in pipelines],
        "commitments": commitments_figures(user, container, within_days, limit=LIST_LIMIT).items,
        "idle": idle_figures(user, container, idle_days, limit=LIST_LIMIT).items,
        "emails": list_messages(user, container, MessageStatus.dead, limit=LIST_LIMIT),
        "deadlines": list_deadlines(user, container, status="failed", limit=LIST_LIMIT),
        "labels": {
            name: state.label[t.lang]
            for p in reversed(application_pipelines(request))
            for name, state in p.states.items()
        },
        "resent": request.query_params.get("resent", ""),
        "scrubbed": is_scrubbed,  # retention emptied it: nothing left to send again
    }
    return render(request, "dashboard.html", context)


@router.post("/app/dashboard/messages/{message_id}/resend")
def resend_page(request: Request, message_id: IdPath, user: PageUser) -> Response:
    """Queue a failed e-mail again (the API's resend: dead ones only; another organisation's
    message is 404 whatever the role, one's own 403 unless admin or HR)."""
    resend_message(message_id, user, get_container(request))
    return redirect(f"/app/dashboard?resent={message_id}#failed-emails", request)


# --- CSV: the API's reports, downloaded from the page with the session --------------------------


@router.get("/app/dashboard/pipeline.csv")
def pipeline_download(request: Request, user: PageHumanResources) -> Response:
    container = get_container(request)
    return pipeline_csv(container, pipeline_figures(user, container, limit=1000))


@router.get("/app/dashboard/funnel.csv")
def funnel_download(request: Request, user: PageHumanResources) -> Response:
    return funnel_csv(funnel_figures(user, get_container(request)))


@router.get("/app/dashboard/time-in-stage.csv")
def time_in_stage_download(request: Request, user: PageHumanResources) -> Response:
    return time_in_stage_csv(time_in_stage_figures(user, get_container(request)))


@router.get("/app/dashboard/commitments.csv")
def commitments_download(
    request: Request, user: PageHumanResources, within_days: WithinDays = 90
) -> Response:
    report = commitments_figures(user, get_container(request), within_days, limit=1000)
    return commitments_csv(report)


@router.get("/app/dashboard/idle.csv")
def idle_download(request: Request, user: PageHumanResources, idle_days: IdleDays = 10) -> Response:
    return idle_csv(idle_figures(user, get_container(request), idle_days, limit=1000))
