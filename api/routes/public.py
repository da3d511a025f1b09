"""The public face, no login: published postings (with schema.org JSON-LD), applying with a CV
and a cover letter, and the candidate's private status link (follow, withdraw).

Only a published posting exists here: any other state answers 404. Applying goes through
`Workflow.apply_in`, which refuses it after the closing date whatever the scheduler did (409). A
cover letter is required for staff postings (seed 004 asks for "une lettre de motivation et un
Curriculum vitae") and optional for volunteer calls. The status link is a capability, like a
password-reset link: whoever holds it sees the stage in plain words, never notes, feedback or
the reason of a rejection.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlmodel import Session

from api import uploads
from api.deps import ContainerDep, IdPath
from api.problems import Problem, invalid, not_found
from api.wiring import Container
from config.settings import Settings
from workflow.context import Actor
from workflow.errors import AlreadyExists, TransitionNotAllowed
from workflow.models import (
    Application,
    Candidate,
    CandidateCreate,
    Document,
    EntityType,
    Organisation,
    Posting,
    PostingKind,
    TransitionRecord,
)
from workflow.pipeline import Pipeline
from workflow.service import Workflow

router = APIRouter(prefix="/public", tags=["public"])

PUBLISHED = "published"
# The version of the privacy notice and talent-pool text the application form shows; recorded
# with each consent. Change it when the text changes.
PRIVACY_TEXT_VERSION = "privacy-2024-01"
TALENT_POOL_TEXT_VERSION = "talent-pool-2024-01"
Language = Literal["fr", "en"]
# Deliberately strict and ASCII: a plain address, nothing a mail header could be bent with.
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
# Line breaks and control characters: what header injection is made of.
FORBIDDEN_CATEGORIES = {"Cc", "Zl", "Zp"}
SALARY_UNITS = {"hour": "HOUR", "day": "DAY", "week": "WEEK", "month": "MONTH", "year": "YEAR"}
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


def _public(container: Container, posting: Posting, org: Organisation) -> PublicPosting:
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


def _published(session: Session, posting_id: int) -> tuple[Posting, Organisation]:
    row = session.execute(
        select(Posting, Organisation)
        .join(Organisation, Organisation.id == Posting.organisation_id)
        .where(Posting.id == posting_id, Posting.state == PUBLISHED)
    ).first()
    if row is None:
        raise not_found("posting", posting_id)
    return row[0], row[1]


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
        org = session.scalars(select(Organisation).where(Organisation.slug == organisation)).first()
        if org is None:
            raise not_found("organisation", organisation)
        open_now = or_(Posting.closes_at.is_(None), Posting.closes_at >= workflow.clock())
        postings = session.scalars(
            select(Posting)
            .where(Posting.organisation_id == org.id, Posting.state == PUBLISHED, open_now)
            .order_by(Posting.closes_at.is_(None), Posting.closes_at, Posting.id)
            .limit(limit)
            .offset(offset)
        ).all()
        return [_public(container, posting, org) for posting in postings]


@router.get("/postings/{posting_id}", summary="One published posting.", responses=NOT_PUBLISHED)
def read_public_posting(posting_id: IdPath, container: ContainerDep) -> PublicPosting:
    with container.workflow.sessions.begin() as session:
        return _public(container, *_published(session, posting_id))


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
        posting, org = _published(session, posting_id)
        posted = session.scalar(
            select(TransitionRecord.at)
            .where(
                TransitionRecord.entity_type == EntityType.posting,
                TransitionRecord.entity_id == posting.id,
                TransitionRecord.to_state == PUBLISHED,
            )
            .order_by(TransitionRecord.id.desc())
            .limit(1)
        )
        return JsonLdResponse(job_posting(container, posting, org, posted))


def job_posting(
    container: Container, posting: Posting, org: Organisation, posted: datetime | None
) -> dict[str, Any]:
    """schema.org JobPosting; times in the posting's own time zone."""
    zone = ZoneInfo(posting.timezone)
    data: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": posting.title,
        "description": posting.description,
        "identifier": {"@type": "PropertyValue", "name": org.name, "value": posting.ref},
        "hiringOrganization": {"@type": "Organization", "name": org.name},
        "employmentType": _employment_type(posting),
        "url": f"{_base(container)}/public/postings/{posting.id}",
        "directApply": True,
    }
    if posted is not None:
        data["datePosted"] = posted.astimezone(zone).isoformat()
    if posting.closes_at is not None:
        data["validThrough"] = posting.closes_at.astimezone(zone).isoformat()
    if posting.location:
        address = {"@type": "PostalAddress", "addressLocality": posting.location}
        data["jobLocation"] = {"@type": "Place", "address": address}
    if posting.start_date is not None:
        data["jobStartDate"] = posting.start_date.isoformat()
    salary = _salary(posting)
    if salary is not None:
        data["baseSalary"] = salary
    return data


def _employment_type(posting: Posting) -> str:
    if posting.kind is PostingKind.volunteer:
        return "VOLUNTEER"
    # The workload lists the shares of the job's activities; less than 100 % in all is part time.
    percents = [item.get("percent") for item in posting.workload]
    shares = [p for p in percents if isinstance(p, int | float)]
    return "PART_TIME" if shares and sum(shares) < 100 else "FULL_TIME"


def _salary(posting: Posting) -> dict[str, Any] | None:
    if posting.salary_min is None and posting.salary_max is None:
        return None
    value: dict[str, Any] = {"@type": "QuantitativeValue"}
    if posting.salary_min is not None:
        value["minValue"] = posting.salary_min
    if posting.salary_max is not None:
        value["maxValue"] = posting.salary_max
    if posting.salary_period:
        period = posting.salary_period.strip().lower()
        value["unitText"] = SALARY_UNITS.get(period, period.upper())
    salary: dict[str, Any] = {"@type": "MonetaryAmount", "value": value}
    if posting.salary_currency:
        salary["currency"] = posting.salary_currency
    return salary


# --- Applying -----------------------------------------------------------------------------------


class ApplicationReceipt(BaseModel):
    application_id: int
    status_url: str = Field(description="The candidate's private link to follow the application.")
    state: str
    state_label: str


def _text(field: str, value: str, *, required: bool = False) -> str:
    """`value` trimmed; a line break or control character (header injection) is a 422."""
    if any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in value):
        raise invalid(field, "must not contain line breaks or control characters")
    value = value.strip()
    if required and not value:
        raise invalid(field, "must not be empty")
    return value


def _email(value: str) -> str:
    value = _text("email", value, required=True)
    local = value.partition("@")[0]
    if not EMAIL.fullmatch(value) or len(local) > 64:
        raise invalid("email", "not a valid e-mail address")
    return value


def _given(upload: UploadFile | None) -> UploadFile | None:
    """A browser sends an empty part without a file name for a file input left empty."""
    if upload is None or (not upload.filename and not upload.size):
        return None
    return upload


def apply_to_posting(
    posting_id: IdPath,
    container: ContainerDep,
    first_name: Annotated[str, Form(min_length=1, max_length=255)],
    last_name: Annotated[str, Form(min_length=1, max_length=255)],
    email: Annotated[str, Form(min_length=3, max_length=320)],
    language: Annotated[Language, Form(description="The language we write to you in.")],
    consent_privacy: Annotated[
        bool, Form(description=f"Must be true: the privacy notice ({PRIVACY_TEXT_VERSION}).")
    ],
    cv: Annotated[UploadFile, File(description="PDF, DOCX or ODT.")],
    phone: Annotated[str, Form(max_length=64)] = "",
    consent_talent_pool: Annotated[
        bool, Form(description="Keep my details for future calls.")
    ] = False,
    cover_letter: Annotated[
        UploadFile | None,
        File(description="PDF, DOCX or ODT; required for staff postings."),
    ] = None,
    source: Annotated[str, Form(max_length=64, description="Where you heard of the call.")] = "",
) -> ApplicationReceipt:
    settings, workflow = container.settings, container.workflow
    now = workflow.clock()
    person = CandidateCreate(
        first_name=_text("first_name", first_name, required=True),
        last_name=_text("last_name", last_name, required=True),
        email=_email(email),
        phone=_text("phone", phone),
        language=language,
        consents=_consents(consent_privacy, consent_talent_pool, now),
    )
    source = _text("source", source)
    cover_letter = _given(cover_letter)
    files = _checked(settings, cv, cover_letter)
    with (
        uploads.Staging(settings.effective_storage_dir) as staging,
        workflow.sessions.begin() as session,
    ):
        posting, _ = _published(session, posting_id)
        if posting.kind is PostingKind.staff and cover_letter is None:
            raise invalid("cover_letter", "a cover letter is required for this position")
        application = _apply_in(workflow, session, posting, person, source)
        _keep_consents(session, application.candidate_id, person.consents)
        _store(session, staging, application, files, now)
        assert application.id is not None
        state = workflow.pipeline_of(application).states[application.state]
        return ApplicationReceipt(
            application_id=application.id,
            status_url=container.settings.status_url(application.status_token),
            state=application.state,
            state_label=state.label[language],
        )


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


def _consents(privacy: bool, talent_pool: bool, now: datetime) -> list[dict[str, Any]]:
    if not privacy:
        raise invalid("consent_privacy", "the privacy notice must be accepted to apply")
    given = [("privacy", PRIVACY_TEXT_VERSION)]
    if talent_pool:
        given.append(("talent_pool", TALENT_POOL_TEXT_VERSION))
    at = now.isoformat()
    return [{"kind": kind, "text_version": version, "given_at": at} for kind, version in given]


def _checked(
    settings: Settings, cv: UploadFile, cover_letter: UploadFile | None
) -> list[uploads.Upload]:
    """Every file checked before the database is touched: a refused one changes nothing."""
    files = [uploads.check("cv", cv.file, settings)]
    if cover_letter is not None:
        files.append(uploads.check("cover_letter", cover_letter.file, settings))
    return files


def _store(
    session: Session,
    staging: uploads.Staging,
    application: Application,
    files: list[uploads.Upload],
    now: datetime,
) -> None:
    """Each file under a generated name, and its Document row in the application's transaction."""
    for upload in files:
        session.add(
            Document(
                organisation_id=application.organisation_id,
                application_id=application.id,
                kind=upload.field,
                storage_name=staging.store(upload),
                content_type=upload.type.content_type,
                size=upload.size,
                sha256=upload.sha256,
                created_at=now,
            )
        )
    session.flush()


def _apply_in(
    workflow: Workflow, session: Session, posting: Posting, person: CandidateCreate, source: str
) -> Application:
    try:
        return workflow.apply_in(
            session, posting.id, person, source=source, organisation_id=posting.organisation_id
        )
    except AlreadyExists:
        raise Problem(
            409, "already-applied", "Already applied",
            "you have already applied to this posting with this e-mail address; "
            "the link you were given shows where your application stands",
            field="email",
        ) from None  # fmt: skip


def _keep_consents(session: Session, candidate_id: int, consents: list[dict[str, Any]]) -> None:
    """A candidate found again by e-mail keeps the consents of each application too."""
    candidate = session.get_one(Candidate, candidate_id)
    if consents[0] not in candidate.consents:
        candidate.consents = [*candidate.consents, *consents]


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


def _by_token(session: Session, token: str) -> Application:
    application = session.scalars(
        select(Application).where(Application.status_token == token)
    ).first()
    if application is None:
        raise Problem(404, "not-found", "Not found", "no application has this status link")
    return application


def _status(
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
        return _status(workflow, session, _by_token(session, token), lang)


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
        application = _by_token(session, token)
        try:
            workflow.fire_in(
                session, EntityType.application, application.id, "withdraw",
                Actor.candidate(application.candidate_id),
                organisation_id=application.organisation_id,
            )  # fmt: skip
        except TransitionNotAllowed:
            status = _status(workflow, session, application, lang)
            raise Problem(
                409, "withdraw-not-allowed", "Cannot be withdrawn now",
                f"your application is at '{status.state_label}': it can no longer be withdrawn",
            ) from None  # fmt: skip
        return _status(workflow, session, application, lang)
