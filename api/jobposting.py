"""A published posting as schema.org `JobPosting` JSON-LD, what search engines' job listings read.

Built here once, for the API (GET /public/postings/{id}/jsonld) and for the careers page's
`<script type="application/ld+json">`, so both say the same. Times are in the posting's own time
zone with their offset: a date-only closing date is valid through 23:59:59 that day, there.
`url` is the posting's careers page (the human page, with the apply form).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from config.settings import Settings
from workflow.models import EntityType, Organisation, Posting, PostingKind, TransitionRecord

PUBLISHED = "published"
SALARY_UNITS = {"hour": "HOUR", "day": "DAY", "week": "WEEK", "month": "MONTH", "year": "YEAR"}


def careers_url(settings: Settings, org_slug: str, posting_id: int | None = None) -> str:
    """The absolute address of an organisation's careers page, or of one posting's."""
    base = f"{settings.public_base_url.rstrip('/')}/careers/{org_slug}"
    return base if posting_id is None else f"{base}/{posting_id}"


def date_posted(session: Session, posting_id: int) -> datetime | None:
    """When the posting was (last) published, from its history."""
    return session.scalar(
        select(TransitionRecord.at)
        .where(
            TransitionRecord.entity_type == EntityType.posting,
            TransitionRecord.entity_id == posting_id,
            TransitionRecord.to_state == PUBLISHED,
        )
        .order_by(TransitionRecord.id.desc())
        .limit(1)
    )


def job_posting(
    settings: Settings, posting: Posting, org: Organisation, posted: datetime | None
) -> dict[str, Any]:
    """schema.org JobPosting; times in the posting's own time zone."""
    assert posting.id is not None
    zone = ZoneInfo(posting.timezone)
    data: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": posting.title,
        "description": posting.description,
        "identifier": {"@type": "PropertyValue", "name": org.name, "value": posting.ref},
        "hiringOrganization": {"@type": "Organization", "name": org.name},
        "employmentType": _employment_type(posting),
        "url": careers_url(settings, org.slug, posting.id),
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
