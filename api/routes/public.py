"""The public face, no login: published postings (with schema.org JSON-LD), applying with a CV
and a cover letter, and the candidate's private status link (follow, withdraw, ask for a copy
of their data).

Only a published posting exists here: any other state answers 404. Applying (api/applying.py)
goes through `Workflow.apply_in`, which refuses it after the closing date whatever the scheduler
did (409). The status link is a capability, like a password-reset link: whoever holds it sees the
stage in plain words, never notes, feedback or the reason of a rejection.

The careers pages (api/pages/careers.py, api/pages/status.py) call these functions too: the
listings, `application_status`, `withdraw_application` and `request_data_copy`, and the helpers
below them (`open_organisations`, `timeline`, `upcoming_interviews`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, or_, select
from sqlmodel import Session

from api import applying, uploads
from api.applying import (
    EMAIL_MAX,
    NAME_MAX,
    PHONE_MAX,
    PRIVACY_TEXT_VERSION,
    SOURCE_MAX,
    ApplicationForm,
    ApplicationReceipt,
    Language,
)
from api.deps import ContainerDep, IdPath
from api.jobposting import date_posted, job_posting
from api.problems import Problem, not_found
from api.wiring import Container
from workflow import data_requests
from workflow.context import Actor
from workflow.errors import TransitionNotAllowed
from workflow.models import (
    Application,
    Candidate,
    EntityType,
    Interview,
    Organisation,
    Posting,
    PostingKind,
    TransitionRecord,
)
from workflow.pipeline import Pipeline
from workflow.service import Workflow

router = APIRouter(prefix="/public", tags=["public"])

PUBLISHED = applying.PUBLISHED
NOT_PUBLISHED = {404: {"description": "No published posting with this id."}}


# --- Postings -----------------------------------------------------------------------------------


class PublicOrganisation(BaseModel):
    slug: str
    name: str


class PublicPosting(BaseModel):
    """A posting as the public sees it: the call's own text, no internal ids or workflow."""

    id: int
    ref: str
    kind: PostingKind
    title: str
    description: str
    location: str
    languages: list[dict[str, str]]
    workload: list[dict[str, Any]]
    criteria: list[str]
    salary_min: int | None
    salary_max: int | None
    salary_currency: str | None
    salary_period: str | None
    salary_payments_per_year: int | None
    vacancies: int
    contact_name: str
    contact_email: str
    how_to_apply: str
    application_subject: str
    timezone: str
    start_date: date | None
    start_asap: bool
    commitment_months: int | None
    opens_at: datetime | None
    closes_at: datetime | None
    organisation: PublicOrganisation
    cover_letter_required: bool
    apply_url: str = Field(description="POST the application form here (multipart).")
    jsonld_url: str


POSTING_FIELDS = [
    name for name in PublicPosting.model_fields
    if name not in ("organisation", "cover_letter_required", "apply_url", "jsonld_url")
]  # fmt: skip


def public_posting(container: Container, posting: Posting, org: Organisation) -> PublicPosting:
    base = f"{_base(container)}/public/postings/{posting.id}"
    fields = {name: getattr(posting, name) for name in POSTING_FIELDS}
    return PublicPosting(
        **fields,
        organisation=PublicOrganisation(slug=org.slug, name=org.name),
        cover_letter_required=posting.kind is PostingKind.staff,
        apply_url=f"{base}/applications",
        jsonld_url=f"{base}/jsonld",
    )


def _base(container: Container) -> str:
    return container.settings.public_base_url.rstrip("/")


def open_now(now: datetime) -> ColumnElement[bool]:
    """Published and not past its closing date: taking applications."""
    return (Posting.state == PUBLISHED) & or_(Posting.closes_at.is_(None), Posting.closes_at >= now)


def organisation_by_slug(session: Session, slug: str) -> Organisation:
    org = session.scalars(select(Organisation).where(Organisation.slug == slug)).first()
    if org is None:
        raise not_found("organisation", slug)
    return org


def open_postings(
    session: Session, org: Organisation, now: datetime, limit: int = 200, offset: int = 0
) -> list[Posting]:
    """The organisation's postings taking applications, the soonest to close first."""
    return list(
        session.scalars(
            select(Posting)
            .where(Posting.organisation_id == org.id, open_now(now))
            .order_by(Posting.closes_at.is_(None), Posting.closes_at, Posting.id)
            .limit(limit)
            .offset(offset)
        )
    )


def open_organisations(session: Session, now: datetime) -> list[tuple[Organisation, int]]:
    """The organisations with postings taking applications, each with how many, by name."""
    rows = session.execute(
        select(Organisation, func.count(Posting.id))
        .join(Posting, Posting.organisation_id == Organisation.id)
        .where(open_now(now))
        .group_by(Organisation.id)
        .order_by(Organisation.name, Organisation.id)
    ).all()
    return [(org, count) for org, count in rows]


@router.get(
    "/postings",
    summary="The postings an organisation has open for applications.",
    responses={404: {"description": "No organisation with this slug."}},
)
def list_public_postings(
    container: ContainerDep,
    organisation: Annotated[str, Query(min_length=1, max_length=64, description="Its slug.")],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PublicPosting]:
    """Published postings whose closing date has not passed, the soonest to close first."""
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        org = organisation_by_slug(session, organisation)
        postings = open_postings(session, org, workflow.clock(), limit, offset)
        return [public_posting(container, posting, org) for posting in postings]


@router.get("/postings/{posting_id}", summary="One published posting.", responses=NOT_PUBLISHED)
def read_public_posting(posting_id: IdPath, container: ContainerDep) -> PublicPosting:
    with container.workflow.sessions.begin() as session:
        return public_posting(container, *applying.published(session, posting_id))


class JsonLdResponse(JSONResponse):
    media_type = "application/ld+json"


@router.get(
    "/postings/{posting_id}/jsonld",
    summary="The posting as schema.org JobPosting JSON-LD (for search engines' job listings).",
    response_class=JsonLdResponse,
    responses={
        200: {"content": {"application/ld+json": {"schema": {"type": "object"}}}},
        **NOT_PUBLISHED,
    },
)
def public_posting_jsonld(posting_id: IdPath, container: ContainerDep) -> JsonLdResponse:
    with container.workflow.sessions.begin() as session:
        posting, org = applying.published(session, posting_id)
        posted = date_posted(session, posting_id)
        return JsonLdResponse(job_posting(container.settings, posting, org, posted))


# --- Applying -----------------------------------------------------------------------------------


def apply_to_posting(
    posting_id: IdPath,
    container: ContainerDep,
    first_name: Annotated[str, Form(min_length=1, max_length=NAME_MAX)],
    last_name: Annotated[str, Form(min_length=1, max_length=NAME_MAX)],
    email: Annotated[str, Form(min_length=3, max_length=EMAIL_MAX)],
    language: Annotated[Language, Form(description="The language we write to you in.")],
    consent_privacy: Annotated[
        bool, Form(description=f"Must be true: the privacy notice ({PRIVACY_TEXT_VERSION}).")
    ],
    cv: Annotated[UploadFile, File(description="PDF, DOCX or ODT.")],
    phone: Annotated[str, Form(max_length=PHONE_MAX)] = "",
    consent_talent_pool: Annotated[
        bool, Form(description="Keep my details for future calls.")
    ] = False,
    cover_letter: Annotated[
        UploadFile | None,
        File(description="PDF, DOCX or ODT; required for staff postings."),
    ] = None,
    source: Annotated[
        str, Form(max_length=SOURCE_MAX, description="Where you heard of the call.")
    ] = "",
) -> ApplicationReceipt:
    form = ApplicationForm(
        first_name=first_name, last_name=last_name, email=email, language=language,
        consent_privacy=consent_privacy, phone=phone, consent_talent_pool=consent_talent_pool,
        source=source,
    )  # fmt: skip
    now = container.workflow.clock()
    checked, problems = applying.check(container.settings, form, cv, cover_letter, now)
    if checked is None:
        raise problems[0]
    return applying.apply(container, posting_id, checked)


router.add_api_route(
    "/postings/{posting_id}/applications",
    apply_to_posting,
    methods=["POST"],
    status_code=201,
    summary="Apply to a published posting (multipart form with the CV and cover letter).",
    responses={
        **NOT_PUBLISHED,
        409: {"description": "Closed for applications, or already applied with this e-mail."},
        **uploads.UPLOAD_RESPONSES,
    },
    route_class_override=uploads.BoundedUploadRoute,
)


# --- The candidate's status link ----------------------------------------------------------------


class ApplicationStatus(BaseModel):
    posting_title: str
    organisation: str
    language: Language
    state_label: str = Field(description="Where the application stands, in plain words.")
    message: str = Field(description="What this means and what comes next.")
    next_step: str | None = Field(description="The next stage, if the application goes on.")
    final: bool
    can_withdraw: bool
    applied_at: datetime
    since: datetime


def by_token(session: Session, token: str) -> Application:
    application = session.scalars(
        select(Application).where(Application.status_token == token)
    ).first()
    if application is None:
        raise Problem(404, "not-found", "Not found", "no application has this status link")
    return application


def status_of(
    workflow: Workflow, session: Session, application: Application, lang: Language | None
) -> ApplicationStatus:
    candidate = session.get_one(Candidate, application.candidate_id)
    posting = session.get_one(Posting, application.posting_id)
    org = session.get_one(Organisation, application.organisation_id)
    language: Language = lang or ("en" if candidate.language == "en" else "fr")
    pipeline = workflow.pipeline_of(application)
    state = pipeline.states[application.state]
    return ApplicationStatus(
        posting_title=posting.title,
        organisation=org.name,
        language=language,
        state_label=state.label[language],
        message=state.candidate[language],
        next_step=_next_step(pipeline, application.state, language),
        final=pipeline.is_final(application.state),
        can_withdraw="withdraw" in pipeline.allowed_events(application.state),
        applied_at=application.created_at,
        since=application.state_entered_at,
    )


def _next_step(pipeline: Pipeline, state: str, language: Language) -> str | None:
    if pipeline.is_final(state) or state not in pipeline.progress:
        return None
    following = pipeline.progress[pipeline.progress.index(state) + 1 :]
    return pipeline.states[following[0]].label[language] if following else None


@dataclass(frozen=True)
class Stage:
    """A stage the application reached, as the candidate may see it: no actor, no reason."""

    state: str
    label: str
    at: datetime


def timeline(
    workflow: Workflow, session: Session, application: Application, language: Language
) -> list[Stage]:
    """Each stage the application entered, oldest first (a move within a stage is left out)."""
    records = session.execute(
        select(TransitionRecord.from_state, TransitionRecord.to_state, TransitionRecord.at)
        .where(
            TransitionRecord.entity_type == EntityType.application,
            TransitionRecord.entity_id == application.id,
        )
        .order_by(TransitionRecord.id)
    ).all()
    states = workflow.pipeline_of(application).states
    return [
        Stage(to_state, states[to_state].label[language], at)
        for from_state, to_state, at in records
        if from_state != to_state
    ]


def upcoming_interviews(
    session: Session, application: Application, now: datetime
) -> list[Interview]:
    """The application's interviews not cancelled and not yet over, soonest first."""
    ends = func.coalesce(Interview.ends_at, Interview.starts_at)
    return list(
        session.scalars(
            select(Interview)
            .where(
                Interview.application_id == application.id,
                Interview.cancelled_at.is_(None),
                ends >= now,
            )
            .order_by(Interview.starts_at, Interview.id)
        )
    )


LangQuery = Annotated[
    Language | None, Query(description="Answer in this language; default: the candidate's.")
]
UNKNOWN_LINK = {404: {"description": "No application has this status link."}}


@router.get(
    "/applications/{token}",
    summary="Where my application stands (the private link given when applying).",
    responses=UNKNOWN_LINK,
)
def application_status(
    token: str, container: ContainerDep, lang: LangQuery = None
) -> ApplicationStatus:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        return status_of(workflow, session, by_token(session, token), lang)


@router.post(
    "/applications/{token}/withdraw",
    summary="Withdraw my application.",
    responses={**UNKNOWN_LINK, 409: {"description": "It can no longer be withdrawn."}},
)
def withdraw_application(
    token: str, container: ContainerDep, lang: LangQuery = None
) -> ApplicationStatus:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        application = by_token(session, token)
        try:
            workflow.fire_in(
                session, EntityType.application, application.id, "withdraw",
                Actor.candidate(application.candidate_id),
                organisation_id=application.organisation_id,
            )  # fmt: skip
        except TransitionNotAllowed:
            status = status_of(workflow, session, application, lang)
            raise Problem(
                409, "withdraw-not-allowed", "Cannot be withdrawn now",
                f"your application is at '{status.state_label}': it can no longer be withdrawn",
            ) from None  # fmt: skip
        return status_of(workflow, session, application, lang)


class DataRequestReceipt(BaseModel):
    recorded_now: bool = Field(
        description="False: a request of yours was already open; it is answered first."
    )
    requested_at: datetime
    due_at: datetime = Field(description="We send the copy by then (one month).")


@router.post(
    "/applications/{token}/data-request",
    summary="Ask for a copy of the personal data the organisation holds about me.",
    description="Recorded, HR is told, and the copy is due within one month. Asking again "
    "while a request is open changes nothing and says so (`recorded_now` false).",
    responses=UNKNOWN_LINK,
)
def request_data_copy(token: str, container: ContainerDep) -> DataRequestReceipt:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        application = by_token(session, token)
        assert application.id is not None
        requested = data_requests.request_copy(session, workflow, application.id)
        return DataRequestReceipt(
            recorded_now=requested.new,
            requested_at=requested.request.requested_at,
            due_at=requested.request.due_at,
        )
