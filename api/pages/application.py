"""The application page: the candidate, their documents, the full history with the notes, every
e-mail sent and its status, the interviews with each interviewer's feedback, the upcoming
deadlines, and what staff do from there: move it (the board's buttons), add a note, schedule an
interview, give one's feedback.

Every piece is the API's own answer, through its route functions (read_application,
list_documents, list_interviews, application_messages, add_note, schedule_interview,
give_feedback, download_document), so the page sees and does exactly what the API lets this user
see and do: an interviewer sees their own feedback only, and no buttons. A form error is shown
beside its field with what was typed kept; a refused move says why, in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from api.access import get_application, managed_application, may_manage
from api.deps import IdPath, get_container
from api.pages.board import (
    REJECTION_REASONS,
    Outcome,
    board_response,
    board_url,
    build_board,
    explain,
    moves_of,
    payload_of,
    state_label,
)
from api.pages.i18n import Translator
from api.pages.web import (
    PageUser,
    check_csrf,
    is_htmx,
    redirect,
    render,
    translator,
)
from api.problems import Problem, from_domain
from api.routes.applications import (
    NoteIn,
    add_note,
    move_application,
    read_application,
)
from api.routes.data_requests import DataRequestOut, answer_data_request, list_data_requests
from api.routes.documents import download_document, list_documents
from api.routes.interviews import (
    NOTES_MAX,
    FeedbackIn,
    InterviewIn,
    give_feedback,
    list_interviews,
    read_interview,
    schedule_interview,
)
from api.routes.messages import application_messages
from api.routes.postings import read_posting
from api.security import Principal
from api.transitions import EventIn
from api.wiring import Container
from config.settings import known_zone
from workflow import reports
from workflow.errors import WorkflowError
from workflow.models import Candidate, Recommendation, Role, User

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])

Short = Annotated[str, Form(max_length=64)]
Text = Annotated[str, Form(max_length=2000)]
# Offered in the interview form's list; any IANA zone is accepted.
COMMON_ZONES = (
    "Europe/Brussels", "Europe/Paris", "Europe/Zurich", "Europe/Luxembourg", "Europe/London",
    "Europe/Berlin", "Africa/Kinshasa", "Africa/Dakar", "America/New_York", "UTC",
)  # fmt: skip
DEFAULT_MINUTES = 60
MAX_MINUTES = 24 * 60  # an interview lasts at most a day (workflow/interviews.py)


@dataclass(frozen=True)
class FormState:
    """A form as it was sent back: what was typed, and the error beside each field at fault."""

    name: str  # "note", "interview", "feedback-ID"
    values: dict[str, Any]
    errors: dict[str, str]


# --- The page -----------------------------------------------------------------------------------


def _staff(session: Any, organisation_id: int) -> list[Any]:
    """Who may sit on an interview's panel: the organisation's active staff, any role."""
    return list(
        session.execute(
            select(User.id, User.name, User.role)
            .where(User.organisation_id == organisation_id, User.is_active.is_(True))
            .order_by(User.name, User.id)
        ).all()
    )


def _consents(given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The candidate's consents as the page lists them, their time read back from ISO text."""
    shown = []
    for consent in given:
        try:
            at = datetime.fromisoformat(str(consent.get("given_at")))
        except ValueError:
            at = None
        kind, version = str(consent.get("kind", "")), str(consent.get("text_version", ""))
        shown.append({"kind": kind, "version": version, "given_at": at})
    return shown


def _deadlines(
    session: Any, user: Principal, posting_id: int, application_id: int
) -> list[reports.ListedDeadline] | None:
    """The application's pending and failed deadlines (its interviews' reminders included), for
    whom the deadlines route answers (not interviewers); None for the others."""
    if user.role is Role.interviewer:
        return None
    return reports.deadlines(
        session, user.organisation_id, posting_ids=[posting_id], of_application=application_id
    )


def _page_context(
    request: Request,
    user: Principal,
    application_id: int,
    outcome: Outcome | None = None,
    form: FormState | None = None,
) -> dict[str, Any]:
    """Everything the page shows, each piece from the API's function (404 when not seen)."""
    container = get_container(request)
    workflow = container.workflow
    t = translator(request)
    detail = read_application(application_id, user, container, Response())
    posting = read_posting(detail.posting_id, user, container)
    pipeline = workflow.pipelines[detail.pipeline]
    with workflow.sessions.begin() as session:
        consents = _consents(session.get_one(Candidate, detail.candidate_id).consents)
        can_move = may_manage(session, user, detail.posting_id)
        staff = _staff(session, user.organisation_id) if can_move else []
        upcoming = _deadlines(session, user, detail.posting_id, application_id)
    choices = detail.events if can_move else []
    return {
        "detail": detail,
        "posting": posting,
        "pipeline": pipeline,
        "state_label": lambda state: state_label(pipeline, state, t.lang),
        "is_final": pipeline.is_final(detail.state),
        "consents": consents,
        "documents": list_documents(application_id, user, container),
        "interviews": list_interviews(application_id, user, container),
        "messages": application_messages(application_id, user, container),
        "deadlines": upcoming,
        "data_requests": _data_requests(application_id, user, container),
        "can_move": can_move,
        "moves": moves_of(pipeline, detail.state, detail.commitment_start, choices, t),
        "staff": staff,
        "zones": COMMON_ZONES,
        "recommendations": [r.value for r in Recommendation],
        "rejection_reasons": REJECTION_REASONS,
        "outcome": outcome,
        "form": form,
        "now": workflow.clock(),
    }


def _page(
    request: Request,
    user: Principal,
    application_id: int,
    *,
    outcome: Outcome | None = None,
    form: FormState | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = _page_context(request, user, application_id, outcome, form)
    return render(request, "application.html", context, status=status)


def _data_requests(
    application_id: int, user: Principal, container: Container
) -> list[DataRequestOut] | None:
    """The candidate's requests for a copy of their data, for HR and admins (None for others)."""
    if not user.sees_everything:
        return None
    return list_data_requests(application_id, user, container)


@router.post("/app/applications/{application_id}/data-request/answered")
def data_request_answered(request: Request, application_id: IdPath, user: PageUser) -> Response:
    """HR sent the copy: the request is closed and its reminder cancelled."""
    answer_data_request(application_id, user, get_container(request))
    return redirect(_here(application_id, "data-requests"), request)


def _here(application_id: int, anchor: str = "") -> str:
    return f"/app/applications/{application_id}" + (f"#{anchor}" if anchor else "")


@router.get("/app/applications/{application_id}")
def application_page(
    request: Request, application_id: IdPath, user: PageUser, moved: str = ""
) -> HTMLResponse:
    outcome = None
    if moved:  # back from a move made on this page (post, redirect, get)
        t = translator(request)
        key = f"events.{moved}"
        label = t(key) if key in t.words else moved
        outcome = Outcome(application_id, True, t("application.moved", move=label))
    return _page(request, user, application_id, outcome=outcome)


# --- Moving (from the board and from this page) -------------------------------------------------


@router.post("/app/applications/{application_id}/events/{event}")
def move(
    request: Request,
    application_id: IdPath,
    event: str,
    user: PageUser,
    version: Short = "",
    view: Short = "application",
    reason: Text = "",
    rejection_reason: Short = "",
    commitment_start: Short = "",
    show: Short = "",
) -> Response:
    """Fire `event` through the API's move (If-Match from the version the page showed). The
    board gets itself back (swapped by htmx) with the outcome on the card; this page, a redirect,
    or itself with the refusal in words. Nothing changes on a refusal."""
    body = EventIn(
        reason=reason.strip() or None, payload=payload_of(rejection_reason, commitment_start)
    )
    expected = int(version) if version.isdigit() else None
    problem = _try_move(request, user, application_id, event, body, expected)
    posting_id, outcome = _outcome(request, user, application_id, event, problem)
    if view == "board":
        if problem is None and not is_htmx(request):
            return redirect(board_url(posting_id, show), request)
        board = build_board(request, user, posting_id, show, outcome)
        status = problem.status if problem else 200
        return board_response(request, board, outcome=outcome, status=status)
    if problem is None:
        return redirect(f"/app/applications/{application_id}?moved={event}#moves", request)
    return _page(request, user, application_id, outcome=outcome, status=problem.status)


def _try_move(
    request: Request,
    user: Principal,
    application_id: int,
    event: str,
    body: EventIn,
    expected: int | None,
) -> Problem | None:
    """The move made (None), or why it was refused. Not seeing the application (404) or not
    being allowed to move it (403) is an error page (or #flash for htmx), not a refusal."""
    container = get_container(request)
    try:
        with container.workflow.sessions.begin() as session:
            move_application(session, container, user, application_id, event, body, expected)
        return None
    except WorkflowError as exc:
        problem = from_domain(exc)
    except Problem as exc:
        problem = exc
    if problem.kind in ("not-found", "forbidden"):
        raise problem
    return problem


def _outcome(
    request: Request, user: Principal, application_id: int, event: str, problem: Problem | None
) -> tuple[int, Outcome]:
    """The application's posting, and what became of the move in words."""
    container = get_container(request)
    t = translator(request)
    with container.workflow.sessions.begin() as session:
        application = get_application(session, user, application_id)
        candidate = session.get_one(Candidate, application.candidate_id)
        name = f"{candidate.first_name} {candidate.last_name}".strip() or t("board.anonymous")
        posting_id, state = application.posting_id, application.state
        pipeline = container.workflow.pipelines[application.pipeline]
    key = f"events.{event}"
    label = t(key) if key in t.words else event
    if problem is None:
        now = state_label(pipeline, state, t.lang)
        return posting_id, Outcome(
            application_id, True, t("board.moved", name=name, move=label, state=now)
        )
    why = explain(t, problem, pipeline)
    return posting_id, Outcome(application_id, False, t("board.refused", name=name, why=why))


# --- Notes --------------------------------------------------------------------------------------


@router.post("/app/applications/{application_id}/notes")
def note(
    request: Request,
    application_id: IdPath,
    user: PageUser,
    text: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    container = get_container(request)
    if not text.strip():
        with container.workflow.sessions.begin() as session:
            get_application(session, user, application_id)  # 404 before any form error
        error = translator(request)("application.note_empty")
        form = FormState("note", {"text": text}, {"text": error})
        return _page(request, user, application_id, form=form, status=422)
    add_note(application_id, NoteIn(text=text), user, container)
    return redirect(_here(application_id, "history"), request)


# --- Interviews and feedback --------------------------------------------------------------------


# The API's fields that the page's forms name otherwise.
FORM_FIELDS = {"ends_at": "duration"}


def _field_error(t: Translator, problem: Problem, fields: set[str]) -> tuple[str, str]:
    """The form field a refusal is about ("" for the form as a whole) and what to say there:
    the page's words for the field, with the API's detail."""
    name = str(problem.extra.get("field", ""))
    field = FORM_FIELDS.get(name, name)
    if field not in fields:
        field = ""
    key = f"application.invalid_{field}"
    if field and problem.kind == "invalid-input" and key in t.words:
        return field, f"{t(key)} ({problem.detail})" if problem.detail else t(key)
    return field, explain(t, problem)


def _refusal(exc: Exception) -> Problem:
    """A refused form as a Problem to show beside the form; not seeing (404) or not being
    allowed (403) stays an error page."""
    if isinstance(exc, WorkflowError):
        return from_domain(exc)
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else ""
        return Problem(422, "invalid-input", "Invalid input", first["msg"], field=field)
    assert isinstance(exc, Problem)
    if exc.status in (403, 404):
        raise exc
    return exc


def _local_start(value: str, zone: str) -> datetime | None:
    """A datetime-local field ("2025-03-03T10:00") in `zone`; None when it is not one."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return None
    return naive.replace(tzinfo=ZoneInfo(zone))


def _slot(values: dict[str, Any], t: Translator) -> tuple[dict[str, Any], dict[str, str]]:
    """The start and end the form gives (a datetime-local in its time zone, and a duration),
    or the errors beside those fields; the rest of the form the API checks."""
    errors: dict[str, str] = {}
    try:
        zone = known_zone(values["timezone"])
    except ValueError:
        zone = ""
        errors["timezone"] = t("application.invalid_timezone")
    start = _local_start(values["starts_at"], zone) if zone else None
    if start is None and zone:
        errors["starts_at"] = t("application.invalid_starts_at")
    minutes = values["duration"]
    if not (minutes.isdigit() and 1 <= int(minutes) <= MAX_MINUTES):
        errors["duration"] = t("application.invalid_duration")
    if not values["interviewer_ids"]:
        errors["interviewer_ids"] = t("application.invalid_interviewer_ids")
    if errors or start is None:
        return {}, errors
    return {
        "starts_at": start,
        "ends_at": start + timedelta(minutes=int(minutes)),
        "timezone": zone,
    }, {}


@router.post("/app/applications/{application_id}/interviews")
def schedule(
    request: Request,
    application_id: IdPath,
    user: PageUser,
    starts_at: Short = "",
    timezone: Short = "",
    duration: Short = str(DEFAULT_MINUTES),
    location: Annotated[str, Form(max_length=255)] = "",
    video_link: Annotated[str, Form(max_length=1024)] = "",
    interviewer_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Schedule an interview through the API's route (it sends the invitations)."""
    container = get_container(request)
    t = translator(request)
    with container.workflow.sessions.begin() as session:
        managed_application(session, user, application_id)  # 404, or 403, before the form
    values = {
        "starts_at": starts_at, "timezone": timezone.strip(), "duration": duration.strip(),
        "location": location, "video_link": video_link, "interviewer_ids": interviewer_ids or [],
    }  # fmt: skip
    slot, errors = _slot(values, t)
    if slot:
        try:
            body = InterviewIn(
                **slot,
                location=location,
                video_link=video_link,
                interviewer_ids=values["interviewer_ids"],
            )
            schedule_interview(application_id, body, user, container)
            return redirect(_here(application_id, "interviews"), request)
        except (WorkflowError, Problem, ValidationError) as exc:
            field, message = _field_error(t, _refusal(exc), set(values))
            errors[field or "form"] = message
    form = FormState("interview", values, errors)
    return _page(request, user, application_id, form=form, status=422)


@router.post("/app/interviews/{interview_id}/feedback")
def feedback(
    request: Request,
    interview_id: IdPath,
    user: PageUser,
    recommendation: Short = "",
    notes: Annotated[str, Form(max_length=NOTES_MAX)] = "",
) -> Response:
    """The current user's feedback on an interview they were on (once)."""
    container = get_container(request)
    t = translator(request)
    interview = read_interview(interview_id, user, container)  # 404 when not seen
    application_id = interview.application_id
    values = {"recommendation": recommendation, "notes": notes}
    errors: dict[str, str] = {}
    if recommendation not in {r.value for r in Recommendation}:
        errors["recommendation"] = t("application.invalid_recommendation")
    else:
        try:
            body = FeedbackIn(recommendation=Recommendation(recommendation), notes=notes)
            give_feedback(interview_id, body, user, container)
            return redirect(_here(application_id, f"interview-{interview_id}"), request)
        except (WorkflowError, Problem) as exc:
            field, message = _field_error(t, _refusal(exc), set(values))
            errors[field or "form"] = message
    form = FormState(f"feedback-{interview_id}", values, errors)
    return _page(request, user, application_id, form=form, status=422)


# --- Documents ----------------------------------------------------------------------------------


@router.get("/app/documents/{document_id}")
def document(request: Request, document_id: IdPath, user: PageUser) -> FileResponse:
    """A document, for the session's user: the API's download (an attachment, `nosniff`)."""
    return download_document(document_id, user, get_container(request))
