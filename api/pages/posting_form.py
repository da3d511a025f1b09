"""The posting form's values: what a recruiter typed, kept as text so that an error never loses
any of it, read into the API's own input (PostingIn, PostingUpdate) with every mistake found at
once, each beside its field (the API's model and the service's rules decide; this module adds
only what a form needs: rows of languages and workload parts, criteria one per line, a closing
date with an optional time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from api.jobposting import SALARY_UNITS
from api.pages.web import translator
from api.problems import Problem
from api.routes.postings import PostingOut
from workflow.errors import InvalidInput
from workflow.service import check_salary_range

ModelT = TypeVar("ModelT", bound=BaseModel)
LEVELS = ("required", "asset")
CURRENCIES = ("EUR", "CHF", "USD", "GBP")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
# The fields of the form that are plain text, as PostingCreate names them.
TEXT_FIELDS = (
    "ref", "title", "description", "location", "contact_name", "contact_email", "how_to_apply",
    "application_subject", "timezone",
)  # fmt: skip
NUMBER_FIELDS = (
    "salary_min", "salary_max", "salary_payments_per_year", "vacancies", "commitment_months",
)  # fmt: skip
# What the domain refuses, said in the page's words (the API's English detail otherwise).
REFUSALS = {"salary_max": "postings.err_salary_range", "ref": "postings.err_ref_taken"}


@dataclass
class PostingValues:
    """What the form holds, as typed (text), so that an error never loses any of it."""

    text: dict[str, str] = field(default_factory=dict)
    languages: list[tuple[str, str]] = field(default_factory=list)
    workload: list[tuple[str, str]] = field(default_factory=list)
    criteria: str = ""
    kind: str = "volunteer"
    pipeline: str = "volunteer"
    salary_currency: str = ""
    salary_period: str = ""
    closes_on: str = ""
    closes_time: str = ""
    start_date: str = ""
    start_asap: bool = False
    timezone: str = "Europe/Brussels"
    owner_id: str = ""
    recruiter_ids: list[str] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.text.get(name, "")

    @classmethod
    def from_form(cls, form: FormData) -> PostingValues:
        def one(name: str) -> str:
            return str(form.get(name, "")).strip()

        def rows(first: str, second: str) -> list[tuple[str, str]]:
            pairs = zip(form.getlist(first), form.getlist(second), strict=False)
            return [(str(a).strip(), str(b).strip()) for a, b in pairs]

        return cls(
            text={name: one(name) for name in (*TEXT_FIELDS, *NUMBER_FIELDS)},
            languages=rows("language_code", "language_level"),
            workload=rows("workload_label", "workload_percent"),
            criteria=str(form.get("criteria", "")),
            kind=one("kind"),
            pipeline=one("pipeline"),
            salary_currency=one("salary_currency").upper(),
            salary_period=one("salary_period"),
            closes_on=one("closes_on"),
            closes_time=one("closes_time"),
            start_date=one("start_date"),
            start_asap="start_asap" in form,
            timezone=one("timezone"),
            owner_id=one("owner_id"),
            recruiter_ids=[str(v) for v in form.getlist("recruiter_ids")],
        )

    @classmethod
    def from_posting(cls, posting: PostingOut) -> PostingValues:
        zone = ZoneInfo(posting.timezone)
        closes = posting.closes_at.astimezone(zone) if posting.closes_at else None
        # A date-only closing date is 23:59:59 that day: show it as the date alone.
        shows_time = closes is not None and closes.time() != time(23, 59, 59)

        def text(value: Any) -> str:
            return "" if value is None else str(value)

        return cls(
            text={name: text(getattr(posting, name)) for name in (*TEXT_FIELDS, *NUMBER_FIELDS)},
            languages=[(e.get("code", ""), e.get("level", "")) for e in posting.languages],
            workload=[(str(e.get("label", "")), text(e.get("percent"))) for e in posting.workload],
            criteria="\n".join(posting.criteria),
            kind=posting.kind.value,
            pipeline=posting.pipeline,
            salary_currency=posting.salary_currency or "",
            salary_period=posting.salary_period or "",
            closes_on=closes.date().isoformat() if closes else "",
            closes_time=closes.strftime("%H:%M") if closes and shows_time else "",
            start_date=posting.start_date.isoformat() if posting.start_date else "",
            start_asap=posting.start_asap,
            timezone=posting.timezone,
            owner_id=text(posting.owner_id),
            recruiter_ids=[str(i) for i in posting.recruiter_ids],
        )

    def with_row(self, group: str) -> PostingValues:
        """The same values with one more empty row in `group` (the "add a row" buttons)."""
        self.padded()
        if group == "languages":
            self.languages.append(("", "required"))
        elif group == "workload":
            self.workload.append(("", ""))
        return self

    def padded(self) -> PostingValues:
        """Room to type: an empty row after the filled ones, at least two of each group."""
        filled = [r for r in self.languages if r[0]]  # a row's level alone is no language
        self.languages = filled + [("", "required")] * max(1, 2 - len(filled))
        parts = [r for r in self.workload if any(r)]
        self.workload = parts + [("", "")] * max(1, 2 - len(parts))
        return self

    def to_data(self, *, creating: bool) -> tuple[dict[str, str], dict[str, Any]]:
        """(errors by field, the API's input): the form's text read into the API's fields. What
        the API's models check (lengths, ranges, the time zone) is left to them."""
        errors: dict[str, str] = {}
        data: dict[str, Any] = {name: self.get(name) for name in TEXT_FIELDS}
        for name in NUMBER_FIELDS:
            raw = self.get(name)
            if raw and not raw.isdigit():
                errors[name] = "postings.err_number"
            elif raw:
                data[name] = int(raw)
            elif name != "vacancies":  # an empty count keeps the default of one
                data[name] = None
        try:  # the domain's own rule, checked here too so that every error shows at once
            check_salary_range(data.get("salary_min"), data.get("salary_max"))
        except InvalidInput:
            errors["salary_max"] = "postings.err_salary_range"
        data["languages"] = self._languages(errors)
        data["workload"] = self._workload(errors)
        data["criteria"] = [line.strip() for line in self.criteria.splitlines() if line.strip()]
        if self.salary_currency and not CURRENCY_CODE.match(self.salary_currency):
            errors["salary_currency"] = "postings.err_currency"
        data["salary_currency"] = self.salary_currency or None
        if self.salary_period and self.salary_period not in SALARY_UNITS:
            errors["salary_period"] = "postings.err_choice"
        data["salary_period"] = self.salary_period or None
        data["start_date"] = parse_date(self.start_date, "start_date", errors)
        data["start_asap"] = self.start_asap
        data |= self._closing(errors)
        if creating:
            data |= {"kind": self.kind, "pipeline": self.pipeline}
            data["owner_id"] = int(self.owner_id) if self.owner_id.isdigit() else None
            data["recruiter_ids"] = [int(i) for i in self.recruiter_ids if i.isdigit()]
        else:
            del data["ref"]
        return errors, data

    def _languages(self, errors: dict[str, str]) -> list[dict[str, str]]:
        entries = []
        for code, level in self.languages:
            if not code:
                continue
            if not LANGUAGE_CODE.match(code.lower()) or level not in LEVELS:
                errors["languages"] = "postings.err_language"
            entries.append({"code": code.lower(), "level": level})
        return entries

    def _workload(self, errors: dict[str, str]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for label, percent in self.workload:
            if not label and not percent:
                continue
            if not label or not percent.isdigit() or not 1 <= int(percent) <= 100:
                errors["workload"] = "postings.err_workload_part"
                continue
            parts.append({"label": label, "percent": int(percent)})
        if sum(p["percent"] for p in parts) > 100:
            errors["workload"] = "postings.err_workload_total"
        return parts

    def _closing(self, errors: dict[str, str]) -> dict[str, Any]:
        """closes_on (a date: 23:59:59 there) or closes_at (a local date and time)."""
        day = parse_date(self.closes_on, "closes_on", errors)
        if day is None:
            if self.closes_time:
                errors["closes_on"] = "postings.err_time_without_date"
            return {}
        if not self.closes_time:
            return {"closes_on": day}
        try:
            return {"closes_at": datetime.combine(day, time.fromisoformat(self.closes_time))}
        except ValueError:
            errors["closes_time"] = "postings.err_time"
            return {}


def parse_date(raw: str, name: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "postings.err_date"
        return None


def validated(
    request: Request, model: type[ModelT], data: dict[str, Any], errors: dict[str, str]
) -> tuple[ModelT | None, dict[str, str]]:
    """The API's input model checked on `data`, its complaints added to the form's own
    `errors` (which win for a field both name): every mistake is shown at once. The model only
    when there is no error at all."""
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        return None, validation_errors(request, exc) | errors
    return (None if errors else body), errors


def validation_errors(request: Request, exc: ValidationError) -> dict[str, str]:
    """The API model's complaints, one per field, in the visitor's words where we have them."""
    t = translator(request)
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "form"
        context = error.get("ctx") or {}
        if error["type"] == "string_too_long":
            message = t("postings.err_too_long", max=context["max_length"])
        elif error["type"] in ("greater_than_equal", "less_than_equal"):
            message = t("postings.err_range", limit=context.get("ge", context.get("le")))
        elif name == "timezone":
            message = t("postings.err_zone")
        else:
            message = error["msg"]
        errors.setdefault(name, message)
    return errors


def refusal(request: Request, problem: Problem) -> dict[str, str]:
    """A refusal of the API or the service, beside the field it names (else atop the form)."""
    if problem.status in (403, 404):
        raise problem
    t = translator(request)
    name = problem.extra.get("field") or ("ref" if problem.kind == "already-exists" else "form")
    if name in REFUSALS:
        return {name: t(REFUSALS[name])}
    details = problem.extra.get("errors") or [{"detail": problem.detail}]
    return {name: str(details[0]["detail"] or problem.title)}
