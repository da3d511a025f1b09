"""Applying to a published posting: the form's checks, the files' checks (api/uploads.py), and
the one unit of work that records the candidate, the application, the consents and the documents.
The API (POST /public/postings/{id}/applications) and the careers page's form both come here.

`check` runs every check of the form and its files, in a fixed order, and returns all the
problems it found: the API answers the first (as it always has), the careers page shows each
beside its field. Files are checked before the database is touched, so a refused one changes
nothing. A cover letter is required for staff postings (seed 004 asks for "une lettre de
motivation et un Curriculum vitae") and optional for volunteer calls.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from fastapi import UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session

from api import uploads
from api.problems import Problem, invalid, not_found
from api.wiring import Container
from config.settings import Settings
from workflow.errors import AlreadyExists
from workflow.models import (
    Application,
    Candidate,
    CandidateCreate,
    Document,
    Organisation,
    Posting,
    PostingKind,
)
from workflow.service import Workflow

PUBLISHED = "published"
# The version of the privacy notice and talent-pool text the application form shows; recorded
# with each consent. Change it when the text changes.
PRIVACY_TEXT_VERSION = "privacy-2024-01"
TALENT_POOL_TEXT_VERSION = "talent-pool-2024-01"
Language = Literal["fr", "en"]
# The longest each field may be (the candidate table's columns).
NAME_MAX, EMAIL_MAX, PHONE_MAX, SOURCE_MAX = 255, 320, 64, 64
# Deliberately strict and ASCII: a plain address, nothing a mail header could be bent with.
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
# Line breaks and control characters: what header injection is made of.
FORBIDDEN_CATEGORIES = {"Cc", "Zl", "Zp"}
# The details of the invalid-input problems raised here, for pages to tell them apart.
ONE_LINE = "must not contain line breaks or control characters"
EMPTY = "must not be empty"
TOO_LONG = "is too long"
BAD_EMAIL = "not a valid e-mail address"
NO_PRIVACY = "the privacy notice must be accepted to apply"
NO_COVER_LETTER = "a cover letter is required for this position"
NO_CV = "a CV is required"
T = TypeVar("T")


@dataclass(frozen=True)
class ApplicationForm:
    """The application form's fields, as typed."""

    first_name: str
    last_name: str
    email: str
    language: Language
    consent_privacy: bool
    phone: str = ""
    consent_talent_pool: bool = False
    source: str = ""


@dataclass(frozen=True)
class Checked:
    """A form and files that passed every check: ready to be recorded."""

    person: CandidateCreate
    source: str
    files: list[uploads.Upload]


class ApplicationReceipt(BaseModel):
    application_id: int
    status_url: str = Field(description="The candidate's private link to follow the application.")
    state: str
    state_label: str


def given(upload: UploadFile | None) -> UploadFile | None:
    """A browser sends an empty part without a file name for a file input left empty."""
    if upload is None or (not upload.filename and not upload.size):
        return None
    return upload


def check(
    settings: Settings,
    form: ApplicationForm,
    cv: UploadFile | None,
    cover_letter: UploadFile | None,
    now: datetime,
) -> tuple[Checked | None, list[Problem]]:
    """Every check of the form and its files, in order: the checked application, or None and
    every problem found."""
    problems: list[Problem] = []

    def attempt(run: Callable[..., T], *args: Any) -> T | None:
        try:
            return run(*args)
        except Problem as problem:
            problems.append(problem)
            return None

    first_name = attempt(_text, "first_name", form.first_name, NAME_MAX, True)
    last_name = attempt(_text, "last_name", form.last_name, NAME_MAX, True)
    email = attempt(_email, form.email)
    phone = attempt(_text, "phone", form.phone, PHONE_MAX)
    consents = attempt(_consents, form.consent_privacy, form.consent_talent_pool, now)
    source = attempt(_text, "source", form.source, SOURCE_MAX)
    if cv is None:  # the API's form requires it; a page passes None for an empty file input
        problems.append(invalid("cv", NO_CV))
    cover_letter = given(cover_letter)
    files = [
        attempt(uploads.check, field, upload.file, settings)
        for field, upload in (("cv", cv), ("cover_letter", cover_letter))
        if upload is not None
    ]
    if problems:
        return None, problems
    person = CandidateCreate(
        first_name=first_name, last_name=last_name, email=email, phone=phone,
        language=form.language, consents=consents,
    )  # fmt: skip
    return Checked(person, source or "", [f for f in files if f is not None]), []


def cover_letter_missing(kind: PostingKind, has_cover_letter: bool) -> Problem | None:
    """The problem of a staff application without its cover letter, if it is one."""
    if kind is PostingKind.staff and not has_cover_letter:
        return invalid("cover_letter", NO_COVER_LETTER)
    return None


def apply(container: Container, posting_id: int, checked: Checked) -> ApplicationReceipt:
    """Record the application in one unit of work: its files are removed again if it fails.
    Not published: 404; closed: GuardFailed (409); applied already: 409 on the e-mail."""
    settings, workflow = container.settings, container.workflow
    now = workflow.clock()
    with (
        uploads.Staging(settings.effective_storage_dir) as staging,
        workflow.sessions.begin() as session,
    ):
        posting, _ = published(session, posting_id)
        has_letter = any(upload.field == "cover_letter" for upload in checked.files)
        missing = cover_letter_missing(posting.kind, has_letter)
        if missing is not None:
            raise missing
        application = _apply_in(workflow, session, posting, checked.person, checked.source)
        _keep_consents(session, application.candidate_id, checked.person.consents)
        _store(session, staging, application, checked.files, now)
        assert application.id is not None and application.status_token is not None
        language = checked.person.language
        state = workflow.pipeline_of(application).states[application.state]
        return ApplicationReceipt(
            application_id=application.id,
            status_url=settings.status_url(application.status_token),
            state=application.state,
            state_label=state.label[language],
        )


def published(session: Session, posting_id: int) -> tuple[Posting, Organisation]:
    """The posting and its organisation, if the posting is published; else 404."""
    row = session.execute(
        select(Posting, Organisation)
        .join(Organisation, Organisation.id == Posting.organisation_id)
        .where(Posting.id == posting_id, Posting.state == PUBLISHED)
    ).first()
    if row is None:
        raise not_found("posting", posting_id)
    return row[0], row[1]


# --- The checks ---------------------------------------------------------------------------------


def _text(field: str, value: str, most: int, required: bool = False) -> str:
    """`value` trimmed; a line break or control character (header injection) is a 422."""
    if any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in value):
        raise invalid(field, ONE_LINE)
    value = value.strip()
    if required and not value:
        raise invalid(field, EMPTY)
    if len(value) > most:
        raise invalid(field, f"{TOO_LONG} (at most {most} characters)")
    return value


def _email(value: str) -> str:
    value = _text("email", value, EMAIL_MAX, required=True)
    local = value.partition("@")[0]
    if not EMAIL.fullmatch(value) or len(local) > 64:
        raise invalid("email", BAD_EMAIL)
    return value


def _consents(privacy: bool, talent_pool: bool, now: datetime) -> list[dict[str, Any]]:
    if not privacy:
        raise invalid("consent_privacy", NO_PRIVACY)
    given = [("privacy", PRIVACY_TEXT_VERSION)]
    if talent_pool:
        given.append(("talent_pool", TALENT_POOL_TEXT_VERSION))
    at = now.isoformat()
    return [{"kind": kind, "text_version": version, "given_at": at} for kind, version in given]


# --- The unit of work ---------------------------------------------------------------------------


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
