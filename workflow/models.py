"""The tables of the domain, in the SQLModel family style (Base / Create / Update / table / Public).

Every row belongs to one organisation. State columns (`state`, `version`, `state_entered_at`) are
written by the transition service only (workflow/service.py).
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from config.settings import known_zone
from workflow.types import JSONType, UTCDateTime

# Integer columns are 32-bit: amounts are whole units of the currency, well under this.
MAX_AMOUNT = 2**31 - 1


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


def _json(default_factory: Any = list) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSONType, nullable=False))


class Role(StrEnum):
    admin = "admin"
    hr = "hr"
    recruiter = "recruiter"
    interviewer = "interviewer"


class PostingKind(StrEnum):
    staff = "staff"
    volunteer = "volunteer"


class EntityType(StrEnum):
    application = "application"
    posting = "posting"
    interview = "interview"  # deadlines only (reminders); interviews have no pipeline


class ActorKind(StrEnum):
    user = "user"
    candidate = "candidate"
    system = "system"


class Recommendation(StrEnum):
    strong_no = "strong_no"
    no = "no"
    yes = "yes"
    strong_yes = "strong_yes"


class DeadlineStatus(StrEnum):
    pending = "pending"
    done = "done"
    skipped = "skipped"
    cancelled = "cancelled"
    failed = "failed"


class ClaimOutcome(StrEnum):
    """What became of one claim of a deadline by the sweeper."""

    done = "done"
    skipped = "skipped"
    retry = "retry"  # failed this time, due again later (backoff)
    failed = "failed"  # failed for the last allowed time


# --- Organisation and users -------------------------------------------------------------------


class Organisation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    default_language: str = Field(default="fr", max_length=8)
    timezone: str = Field(default="Europe/Brussels", max_length=64)
    created_at: datetime = _utc()


class User(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("organisation_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    email: str = Field(max_length=320)
    name: str = Field(max_length=255)
    role: Role
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    created_at: datetime = _utc()


# --- Postings ---------------------------------------------------------------------------------


class PostingBase(SQLModel):
    ref: str = Field(max_length=64, description="The organisation's own reference for the call.")
    kind: PostingKind
    title: str = Field(max_length=255)
    description: str = ""
    location: str = Field(default="", max_length=255)
    # [{"code": "en", "level": "required" | "asset"}]
    languages: list[dict[str, str]] = _json()
    # [{"label": "...", "percent": 80}]
    workload: list[dict[str, Any]] = _json()
    # Selection criteria; screening records an assessment against each.
    criteria: list[str] = _json()
    salary_min: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    salary_max: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    salary_currency: str | None = Field(default=None, max_length=3)
    salary_period: str | None = Field(default=None, max_length=16)
    salary_payments_per_year: int | None = Field(default=None, ge=1, le=52)
    vacancies: int = Field(default=1, ge=1, le=10_000)
    contact_name: str = Field(default="", max_length=255)
    contact_email: str = Field(default="", max_length=320)
    how_to_apply: str = ""
    application_subject: str = Field(default="", max_length=255)
    timezone: str = Field(default="Europe/Brussels", max_length=64)
    start_date: date | None = None
    start_asap: bool = False
    commitment_months: int | None = Field(default=None, ge=1, le=240)
    pipeline: str = Field(max_length=64, description="The applications' pipeline.")

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


class Posting(PostingBase, table=True):
    __table_args__ = (UniqueConstraint("organisation_id", "ref"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    owner_id: int | None = Field(default=None, foreign_key="user.id")
    opens_at: datetime | None = _utc(nullable=True)
    closes_at: datetime | None = _utc(nullable=True)
    state: str = Field(max_length=64)
    version: int = 1
    state_entered_at: datetime = _utc()
    created_at: datetime = _utc()


class PostingAssignment(SQLModel, table=True):
    """A recruiter assigned to a posting besides its owner; both see its applications."""

    __tablename__ = "posting_assignment"

    posting_id: int = Field(foreign_key="posting.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True)


class PostingCreate(PostingBase):
    """What a caller gives to create a posting. `closes_on` is a date-only closing date."""

    opens_at: datetime | None = None
    closes_at: datetime | None = None
    closes_on: date | None = None


class PostingUpdate(SQLModel):
    """The fields of a draft or published posting that may change; omitted ones stay."""

    title: str | None = Field(default=None, max_length=255)
    description: str | None = None
    location: str | None = Field(default=None, max_length=255)
    languages: list[dict[str, str]] | None = None
    workload: list[dict[str, Any]] | None = None
    criteria: list[str] | None = None
    salary_min: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    salary_max: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    salary_currency: str | None = Field(default=None, max_length=3)
    salary_period: str | None = Field(default=None, max_length=16)
    salary_payments_per_year: int | None = Field(default=None, ge=1, le=52)
    vacancies: int | None = Field(default=None, ge=1, le=10_000)
    contact_name: str | None = Field(default=None, max_length=255)
    contact_email: str | None = Field(default=None, max_length=320)
    how_to_apply: str | None = None
    application_subject: str | None = Field(default=None, max_length=255)
    timezone: str | None = Field(default=None, max_length=64)
    start_date: date | None = None
    start_asap: bool | None = None
    commitment_months: int | None = Field(default=None, ge=1, le=240)
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    closes_on: date | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)


class PostingPublic(PostingBase):
    id: int
    organisation_id: int
    state: str
    version: int
    opens_at: datetime | None
    closes_at: datetime | None
    state_entered_at: datetime


# --- Candidates and applications --------------------------------------------------------------


class CandidateBase(SQLModel):
    first_name: str = Field(max_length=255)
    last_name: str = Field(max_length=255)
    email: str = Field(max_length=320)
    phone: str = Field(default="", max_length=64)
    language: str = Field(default="fr", max_length=8)


class Candidate(CandidateBase, table=True):
    __table_args__ = (UniqueConstraint("organisation_id", "email_normalised"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    email_normalised: str = Field(max_length=320)
    # [{"kind": "privacy" | "talent_pool", "text_version": "2024-01", "given_at": iso}]
    consents: list[dict[str, Any]] = _json()
    anonymised_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc()


class CandidateCreate(CandidateBase):
    consents: list[dict[str, Any]] = Field(default_factory=list)


class ApplicationBase(SQLModel):
    source: str = Field(default="", max_length=64)


class Application(ApplicationBase, table=True):
    __table_args__ = (
        UniqueConstraint("posting_id", "candidate_id"),
        Index("ix_application_posting_state", "posting_id", "state"),
        Index("ix_application_org_state", "organisation_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    posting_id: int = Field(foreign_key="posting.id")
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    pipeline: str = Field(max_length=64)
    state: str = Field(max_length=64)
    version: int = 1
    state_entered_at: datetime = _utc()
    rejection_reason: str | None = Field(default=None, max_length=255)
    commitment_start: date | None = None
    commitment_end: date | None = None
    # {"criterion text": {"met": true, "note": "..."}}, recorded at screening (seed 002).
    assessment: dict[str, Any] = _json(dict)
    # The candidate's private status link (a capability, like a password-reset link).
    status_token: str | None = Field(default=None, max_length=64, unique=True, index=True)
    created_at: datetime = _utc()


class ApplicationPublic(ApplicationBase):
    id: int
    organisation_id: int
    posting_id: int
    candidate_id: int
    pipeline: str
    state: str
    version: int
    state_entered_at: datetime
    rejection_reason: str | None
    commitment_start: date | None
    commitment_end: date | None


class Document(SQLModel, table=True):
    """A stored file's metadata; the bytes live under `storage_name` in the storage folder."""

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    kind: str = Field(max_length=32)  # cv, cover_letter, other
    storage_name: str = Field(max_length=128, unique=True)
    content_type: str = Field(max_length=128)
    size: int
    sha256: str = Field(max_length=64)
    created_at: datetime = _utc()


class Note(SQLModel, table=True):
    """Staff's internal note on an application: never shown to the candidate, never e-mailed."""

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    body: str
    created_at: datetime = _utc()


# --- Interviews -------------------------------------------------------------------------------


class Interview(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    starts_at: datetime = _utc()
    ends_at: datetime | None = _utc(nullable=True)
    timezone: str = Field(default="Europe/Brussels", max_length=64)
    location: str = Field(default="", max_length=255)
    video_link: str = Field(default="", max_length=1024)
    cancelled_at: datetime | None = _utc(nullable=True)
    sequence: int = 0  # iCalendar SEQUENCE, raised on each reschedule
    created_at: datetime = _utc()


class InterviewInterviewer(SQLModel, table=True):
    __tablename__ = "interview_interviewer"

    interview_id: int = Field(foreign_key="interview.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True)


class Feedback(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("interview_id", "interviewer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    interview_id: int = Field(foreign_key="interview.id", index=True)
    interviewer_id: int = Field(foreign_key="user.id")
    recommendation: Recommendation
    notes: str = ""
    created_at: datetime = _utc()


# --- History, deadlines, counts ---------------------------------------------------------------


class TransitionRecord(SQLModel, table=True):
    """Append-only: a database trigger refuses UPDATE and DELETE (see the first migration)."""

    __tablename__ = "transition_record"
    __table_args__ = (Index("ix_transition_record_entity", "entity_type", "entity_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    entity_type: EntityType
    entity_id: int
    pipeline: str = Field(max_length=64)
    event: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=64)
    to_state: str = Field(max_length=64)
    actor_kind: ActorKind
    actor_id: int | None = None
    reason: str | None = None
    payload: dict[str, Any] = _json(dict)
    at: datetime = _utc()


class Deadline(SQLModel, table=True):
    """One pending timed action: the database, not the scheduler, is the source of truth."""

    __table_args__ = (
        Index("ix_deadline_due", "status", "due_at"),
        # At most one pending deadline of a kind per entity: a changed date moves it.
        Index(
            "uq_deadline_pending",
            "entity_type",
            "entity_id",
            "kind",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    entity_type: EntityType
    entity_id: int
    kind: str = Field(max_length=64)
    event: str | None = Field(default=None, max_length=64)  # None: a reminder, not a transition
    # A named domain action instead of an event (workflow/retention.py ACTIONS), e.g. anonymise.
    action: str | None = Field(default=None, max_length=64)
    state: str = Field(
        max_length=64, description="The state that scheduled it; leaving cancels it."
    )
    due_at: datetime = _utc()
    status: DeadlineStatus = DeadlineStatus.pending
    attempts: int = 0
    last_error: str | None = None
    # When the sweeper settled it (done, skipped or failed); None while pending or if cancelled.
    done_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class DeadlineClaim(SQLModel, table=True):
    """One claim of a deadline by a sweeper, written in the transaction that did the work: a
    deadline done twice would show two claims. `claimed_by` is hostname:pid:uuid of the process."""

    __tablename__ = "deadline_claim"

    id: int | None = Field(default=None, primary_key=True)
    deadline_id: int = Field(foreign_key="deadline.id", index=True)
    claimed_by: str = Field(max_length=128)
    claimed_at: datetime = _utc()
    outcome: ClaimOutcome
    error: str | None = None


class PipelineCount(SQLModel, table=True):
    """Applications per (posting, state), kept by the transition service in its own transaction."""

    __tablename__ = "pipeline_count"

    posting_id: int = Field(foreign_key="posting.id", primary_key=True)
    state: str = Field(max_length=64, primary_key=True)
    count: int = 0


class DataRequest(SQLModel, table=True):
    """A candidate's request for a copy of their personal data, made from their status link
    (workflow/data_requests.py). A candidate has at most one open (unanswered) request."""

    __tablename__ = "data_request"
    __table_args__ = (
        Index(
            "uq_data_request_open",
            "candidate_id",
            unique=True,
            postgresql_where=text("answered_at IS NULL"),
            sqlite_where=text("answered_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    candidate_id: int = Field(foreign_key="candidate.id")
    # The application whose status link was used: the reminder deadline hangs on it.
    application_id: int = Field(foreign_key="application.id", index=True)
    requested_at: datetime = _utc()
    due_at: datetime = _utc()
    answered_at: datetime | None = _utc(nullable=True)


# The faces' bookkeeping tables (tokens, login attempts, idempotency) live in their own module;
# importing it here registers them on the same metadata wherever the models are loaded.
import workflow.auth_models  # noqa: E402, F401
