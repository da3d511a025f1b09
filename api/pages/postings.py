"""The postings pages: the list with each posting's counts, one posting with the lifecycle buttons
allowed now, the form that creates or edits a posting, and the applications list behind every
number (the dashboard's too).

Everything goes through the API's route functions (api/routes/postings.py, applications.py), so
the pages see, refuse and validate exactly as the API does. The form's repeating groups are rows
of plain inputs (languages, workload parts) and a textarea (criteria, one per line); "add a row"
is a submit button that re-renders the form, so it works without JavaScript and by keyboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import available_timezones

from babel import Locale
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData

from api.access import manages, may_manage
from api.deps import MAX_ID, IdPath, get_container
from api.jobposting import SALARY_UNITS
from api.pages.board import explain, guard_text
from api.pages.i18n import Translator
from api.pages.posting_form import CURRENCIES, LEVELS, PostingValues, refusal, validated
from api.pages.web import PageManager, PageUser, check_csrf, redirect, render, translator
from api.problems import Problem, from_domain, invalid
from api.routes.applications import list_applications
from api.routes.postings import (
    PostingIn,
    PostingOut,
    create_posting,
    list_postings,
    posting_event,
    read_posting,
    update_posting,
)
from api.security import Principal
from api.transitions import EventIn
from workflow import reports
from workflow.dates import closing_instant
from workflow.errors import WorkflowError
from workflow.models import EntityType, Posting, PostingKind, PostingUpdate, Role, User
from workflow.pipeline import Pipeline
from workflow.service import EDITABLE_POSTING_STATES, POSTING_PIPELINE

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])

PAGE_SIZE = 50
# Guards a lifecycle form can satisfy by asking for something (a reason, a date, a "force").
ASKED_BY_FORM = {"reason_given", "new_closing_date", "vacancies_filled"}


async def form_data(request: Request) -> FormData:
    """The posted form (already parsed by the CSRF check, which Starlette caches)."""
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def _problem(exc: Problem | WorkflowError) -> Problem:
    return exc if isinstance(exc, Problem) else from_domain(exc)


# --- Shared look-ups ----------------------------------------------------------------------------


def _pipelines(request: Request) -> dict[str, Pipeline]:
    return get_container(request).workflow.pipelines


def application_pipelines(request: Request) -> list[Pipeline]:
    """The pipelines applications move through (volunteer, staff...), by name."""
    pipelines = _pipelines(request).values()
    return sorted(
        (p for p in pipelines if p.entity is EntityType.application), key=lambda p: p.name
    )


def pipeline_name(t: Translator, name: str) -> str:
    """A pipeline's name in words ("Staff: screening, interviews, offer"), else its file name."""
    key = f"postings.pipeline_{name}"
    return t(key) if key in t.words else name


def state_labels(request: Request) -> dict[str, str]:
    """Every application state's label in the visitor's language (the first pipeline declaring
    a state names it)."""
    lang = translator(request).lang
    labels: dict[str, str] = {}
    for pipeline in application_pipelines(request):
        for name, state in pipeline.states.items():
            labels.setdefault(name, state.label[lang])
    return labels


def _posting_states(request: Request) -> dict[str, str]:
    lang = translator(request).lang
    lifecycle = _pipelines(request)[POSTING_PIPELINE]
    return {name: state.label[lang] for name, state in lifecycle.states.items()}


def _language_names(request: Request) -> dict[str, str]:
    """Two-letter language codes and their names in the visitor's language (babel's CLDR data)."""
    names = Locale.parse(translator(request).lang).languages
    return dict(sorted(((c, n) for c, n in names.items() if len(c) == 2), key=lambda x: x[1]))


def _staff_names(request: Request, organisation_id: int) -> dict[int, str]:
    workflow = get_container(request).workflow
    with workflow.sessions.begin() as session:
        rows = session.execute(
            select(User.id, User.name).where(User.organisation_id == organisation_id)
        ).all()
    return {user_id: name for user_id, name in rows}


def _recruiters(request: Request, user: Principal) -> list[User]:
    """Who may own a posting or be assigned to it: the organisation's active non-interviewers."""
    workflow = get_container(request).workflow
    with workflow.sessions.begin() as session:
        return list(
            session.scalars(
                select(User)
                .where(User.organisation_id == user.organisation_id, User.is_active)
                .where(User.role != Role.interviewer)
                .order_by(User.name)
            ).all()
        )


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int


def _counts(request: Request, user: Principal, ids: list[int]) -> dict[int, list[StateCount]]:
    """Applications by state (in pipeline order, zeros left out) of the postings `user` manages
    among `ids`: the pipeline report's scope, so interviewers, and recruiters on another's
    panel, see no figures. Read from the counts table, as the report does."""
    if not ids:
        return {}
    workflow = get_container(request).workflow
    lang = translator(request).lang
    scope = select(Posting.id).where(manages(user), Posting.id.in_(ids))
    with workflow.sessions.begin() as session:
        found = reports.posting_counts(session, user.organisation_id, posting_ids=scope)
    result = {}
    for figures in found:
        states = workflow.pipelines[figures.pipeline].states
        order = [s for s in states if s in figures.counts]
        order += sorted(set(figures.counts) - set(order))  # a state no longer declared
        result[figures.posting_id] = [
            StateCount(s, states[s].label[lang] if s in states else s, figures.counts[s])
            for s in order
        ]
    return result


# --- The list -----------------------------------------------------------------------------------


@router.get("/app/postings")
def postings_page(
    request: Request,
    user: PageUser,
    state: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    if kind and kind not in PostingKind.__members__:
        raise invalid("kind", f"one of {', '.join(PostingKind)}")
    container = get_container(request)
    found = list_postings(
        user, container, state=state or None, kind=PostingKind(kind) if kind else None,
        q=q or None, limit=PAGE_SIZE + 1, offset=offset,
    )  # fmt: skip
    postings = found[:PAGE_SIZE]
    context = {
        "postings": postings,
        "counts": _counts(request, user, [p.id for p in postings]),
        "filters": {"state": state or "", "kind": kind or "", "q": q or ""},
        "offset": offset,
        "next_offset": offset + PAGE_SIZE if len(found) > PAGE_SIZE else None,
        "page_size": PAGE_SIZE,
        "posting_states": _posting_states(request),
        "may_create": user.role is not Role.interviewer,
    }
    template = "_postings_table.html" if request.headers.get("HX-Target") == "postings" else None
    return render(request, template or "postings.html", context)


# --- One posting --------------------------------------------------------------------------------


@dataclass
class EventForm:
    """One lifecycle button and what it asks for first."""

    event: str
    dest: str
    needs_reason: bool
    needs_date: bool
    may_force: bool  # fill: "mark as filled anyway", with a reason
    blocked: str | None  # why it cannot be done now, when no input can change that
    danger: bool


def _event_forms(request: Request, posting: PostingOut, user: Principal) -> list[EventForm]:
    """The posting pipeline's events allowed from the posting's state, as the service says."""
    workflow = get_container(request).workflow
    lifecycle = workflow.pipelines[POSTING_PIPELINE]
    with workflow.sessions.begin() as session:
        options = workflow.options_in(
            session, EntityType.posting, posting.id, user.actor,
            organisation_id=user.organisation_id,
        )  # fmt: skip
    t = translator(request)
    forms = []
    for option in options:
        transition = lifecycle.transition(posting.state, option.event)
        guards = set(transition.guards) if transition else set()
        blocked = option.blocked_by
        forms.append(
            EventForm(
                event=option.event,
                dest=option.dest,
                needs_reason="reason_given" in guards,
                needs_date="new_closing_date" in guards,
                may_force=blocked is not None and blocked.guard == "vacancies_filled",
                blocked=(
                    guard_text(t, blocked.guard, blocked.message)
                    if blocked and blocked.guard not in ASKED_BY_FORM
                    else None
                ),
                danger=option.event in ("cancel", "unpublish"),
            )
        )
    return forms


def _posting_context(
    request: Request,
    user: Principal,
    posting_id: int,
    failed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the posting page shows; `failed` is a refused lifecycle form (event, message,
    what was typed)."""
    container = get_container(request)
    posting = read_posting(posting_id, user, container)
    with container.workflow.sessions.begin() as session:
        manager = may_manage(session, user, posting_id)
    counts = _counts(request, user, [posting_id]).get(posting_id) if manager else None
    lang = translator(request).lang
    return {
        "posting": posting,
        "manager": manager,
        "counts": counts,
        "events": _event_forms(request, posting, user) if manager else [],
        "editable": manager and posting.state in EDITABLE_POSTING_STATES,
        "failed": failed or {},
        "done": request.query_params.get("done", ""),
        "posting_states": _posting_states(request),
        "state_labels": {
            n: s.label[lang] for n, s in _pipelines(request)[posting.pipeline].states.items()
        },
        "staff": _staff_names(request, user.organisation_id),
        "language_names": _language_names(request),
    }


@router.get("/app/postings/new")
def new_posting_form(request: Request, user: PageManager) -> Response:
    zone = get_container(request).settings.timezone
    values = PostingValues(timezone=zone, owner_id=str(user.user_id))
    return _render_form(request, user, values.padded(), None)


@router.post("/app/postings/new")
def new_posting(request: Request, user: PageManager, form: Form) -> Response:
    values = PostingValues.from_form(form)
    if form.get("more"):
        return _more(request, user, values, str(form["more"]), None)
    errors, data = values.to_data(creating=True)
    body, errors = validated(request, PostingIn, data, errors)
    if body is not None:
        try:
            created = create_posting(body, user, get_container(request))
            return redirect(f"/app/postings/{created.id}?done=saved", request)
        except (Problem, WorkflowError) as exc:
            errors = refusal(request, _problem(exc))
    return _render_form(request, user, values.padded(), None, errors, status=422)


@router.get("/app/postings/{posting_id}")
def posting_page(request: Request, posting_id: IdPath, user: PageUser) -> Response:
    return render(request, "posting.html", _posting_context(request, user, posting_id))


@router.post("/app/postings/{posting_id}/events/{event}")
def posting_event_page(
    request: Request,
    posting_id: IdPath,
    event: Annotated[str, Path(max_length=64)],
    user: PageUser,
    form: Form,
) -> Response:
    """Fire a lifecycle event; a refusal is shown in words beside its button, typed text kept."""
    typed = {name: str(form.get(name, "")) for name in ("reason", "closes_on", "closes_time")}
    typed["force"] = "force" in form
    try:
        body = _event_body(typed)
        posting_event(posting_id, event, user, get_container(request), body)
    except (Problem, WorkflowError, ValidationError) as exc:
        if isinstance(exc, ValidationError):
            message = translator(request)("postings.err_too_long", max=2000)
            status = 422
        else:
            problem = _problem(exc)
            if problem.status in (403, 404):
                raise problem from None  # not theirs to see or change: the error page
            message, status = explain(translator(request), problem), problem.status
        failed = {"event": event, "message": message, **typed}
        context = _posting_context(request, user, posting_id, failed)
        partial = request.headers.get("HX-Target") == "lifecycle"
        template = "_postings_lifecycle.html" if partial else "posting.html"
        return render(request, template, context, status=status)
    return redirect(f"/app/postings/{posting_id}?done={event}", request)


def _event_body(typed: dict[str, Any]) -> EventIn:
    """The event's reason and payload from the form: a new closing date (a date alone means
    23:59:59 that day in the posting's zone, as the API reads it), and "force" for fill."""
    payload: dict[str, Any] = {}
    if typed["closes_on"]:
        day = typed["closes_on"]
        payload["closes_at"] = f"{day}T{typed['closes_time']}" if typed["closes_time"] else day
    if typed["force"]:
        payload["force"] = True
    return EventIn.model_validate({"reason": typed["reason"].strip() or None, "payload": payload})


def _more(
    request: Request, user: Principal, values: PostingValues, group: str, posting: PostingOut | None
) -> Response:
    """The form again with one more row in `group`, its first field focused; nothing saved."""
    return _render_form(request, user, values.with_row(group), posting, focus=group)


def _render_form(
    request: Request,
    user: Principal,
    values: PostingValues,
    posting: PostingOut | None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    focus: str = "",
) -> Response:
    t = translator(request)
    # Messages are i18n keys from the parser, or text already in words from the API's answer.
    shown = {k: t(v) if v in t.words else v for k, v in (errors or {}).items()}
    context = {
        "values": values,
        "posting": posting,
        "focus": focus,
        "errors": shown,
        "pipelines": application_pipelines(request),
        "staff": _recruiters(request, user),
        "chooses_owner": user.sees_everything,
        "levels": LEVELS,
        "currencies": CURRENCIES,
        "periods": list(SALARY_UNITS),
        "zones": sorted(available_timezones()),
        "language_names": _language_names(request),
        "posting_states": _posting_states(request),
    }
    return render(request, "posting_form.html", context, status=status)


@router.get("/app/postings/{posting_id}/edit")
def edit_posting_form(request: Request, posting_id: IdPath, user: PageUser) -> Response:
    posting = _editable(request, user, posting_id)
    return _render_form(request, user, PostingValues.from_posting(posting).padded(), posting)


@router.post("/app/postings/{posting_id}/edit")
def edit_posting(request: Request, posting_id: IdPath, user: PageUser, form: Form) -> Response:
    posting = _managed(request, user, posting_id)
    values = PostingValues.from_form(form)
    if form.get("more"):
        return _more(request, user, values, str(form["more"]), posting)
    errors, data = values.to_data(creating=False)
    if posting.closes_at is not None and not values.closes_on:
        errors["closes_on"] = "postings.err_closing_kept"  # the API cannot remove one either
    _keep_closing_date(data, posting)
    body, errors = validated(request, PostingUpdate, data, errors)
    if body is not None:
        try:
            update_posting(posting_id, body, user, get_container(request))
            return redirect(f"/app/postings/{posting_id}?done=saved", request)
        except (Problem, WorkflowError) as exc:
            errors = refusal(request, _problem(exc))
    return _render_form(request, user, values.padded(), posting, errors, status=422)


def _managed(request: Request, user: Principal, posting_id: int) -> PostingOut:
    """The posting, if the user may change it: 404 when they cannot see it, 403 when they only
    see it (the API's rule, api/access.managed_posting)."""
    posting = read_posting(posting_id, user, get_container(request))
    with get_container(request).workflow.sessions.begin() as session:
        if not may_manage(session, user, posting_id):
            raise Problem(
                403, "forbidden", "Not allowed", translator(request)("postings.not_yours")
            )
    return posting


def _editable(request: Request, user: Principal, posting_id: int) -> PostingOut:
    posting = _managed(request, user, posting_id)
    if posting.state not in EDITABLE_POSTING_STATES:
        state = _posting_states(request)[posting.state]
        detail = translator(request)("postings.not_editable", state=state)
        raise Problem(409, "not-editable", detail, None)
    return posting


def _keep_closing_date(data: dict[str, Any], posting: PostingOut) -> None:
    """Send the closing date only when it changed: the service checks a published posting's new
    closing date is ahead, which an unrelated edit must not trip over."""
    closing = data.get("closes_at") or data.get("closes_on")
    zone = data.get("timezone") or posting.timezone
    try:
        same = closing is not None and closing_instant(closing, zone) == posting.closes_at
    except (ValueError, KeyError):  # an unknown zone: the model will say so
        same = False
    if same:
        data.pop("closes_at", None)
        data.pop("closes_on", None)


# --- The applications behind the numbers ----------------------------------------------------------


@router.get("/app/applications")
def applications_page(
    request: Request,
    user: PageUser,
    posting_id: Annotated[str | None, Query(max_length=10)] = None,
    state: Annotated[str | None, Query(max_length=64)] = None,
    idle_days: Annotated[str | None, Query(max_length=4)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The applications list (the API's list_applications), filtered as the dashboard's links
    and the filter form ask. An empty filter field (the form sends them all) means no filter."""
    posting = _whole_number(posting_id, "posting_id", 1, MAX_ID)
    idle = _whole_number(idle_days, "idle_days", 0, 3650)
    container = get_container(request)
    page = list_applications(
        user, container, posting_id=posting, state=state or None, idle_days=idle,
        q=q or None, cursor=cursor or None, limit=PAGE_SIZE,
    )  # fmt: skip
    filters = {"posting_id": posting, "state": state or "", "idle_days": idle_days or ""}
    context = {
        "page": page,
        "filters": filters | {"q": q or ""},
        "postings": list_postings(user, container, limit=200),
        "state_labels": state_labels(request),
        "now": container.workflow.clock(),
    }
    return render(request, "list_applications.html", context)


def _whole_number(raw: str | None, name: str, low: int, high: int) -> int | None:
    """A filter's number, None when left empty; 422 naming the filter otherwise."""
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid(name, f"a whole number from {low} to {high}")
    return int(raw)
