"""Rendering e-mails: Jinja2 templates in French and English, an HTML part and a plain-text part.

A message is one file per language, `templates/LANG/NAME.jinja`, which extends the language's
`_layout.jinja` and fills three blocks: `subject`, `text` and `html`. The same file is compiled
twice, once in an environment that autoescapes (for the HTML part: whatever a candidate typed is
escaped) and once in one that does not (subject and plain text); each compiled template is kept,
so a file is compiled once per process. Both environments use StrictUndefined: a template naming
a variable its context lacks fails instead of printing nothing.

An organisation overrides a message (or the layout) by putting its own file at
`NOTIFICATIONS_DIR/orgs/SLUG/templates/LANG/NAME.jinja`; the files it does not override come
from here.

Every message is about something (`About`): an application, an interview of one, or a posting;
that decides its context (see `sample_context` for its shape, which `notifications/queue.py`
builds from the database). Dates, times and amounts go through Babel filters that read the
message's language: `date`, `datetime`, `time` and `money`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_name
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context

from config.settings import PIPELINES_DIR
from workflow.pipeline import Pipeline
from workflow.pipeline_files import load_pipelines

TEMPLATES_DIR = Path(__file__).parent / "templates"
LANGUAGES = ("fr", "en")
# Babel locales for each language: the organisations are Belgian and Swiss NGOs, so British
# English (3 March 2025, 10:00) rather than American (March 3, 2025, 10:00 AM).
LOCALES = {"fr": "fr_BE", "en": "en_GB"}
SUBJECT_MAX = 255  # OutboxMessage.subject
AT_WORD = {"fr": "à", "en": "at"}


class About(StrEnum):
    """What a message is about, which decides the variables its template may use."""

    application = "application"  # org, posting, candidate, application, recipient, trigger
    interview = "interview"  # the same, and interview
    posting = "posting"  # org, posting, summary, recipient, trigger
    data_request = "data_request"  # as application, and data_request (requested_at, due_at)


# Every message Vivier sends, and what it is about. A rule (notifications/rules.py) may only
# send a template whose context its event provides.
TEMPLATES: dict[str, About] = {
    # To the candidate
    "application_received": About.application,
    "invited_to_interview": About.application,
    "interview_scheduled": About.interview,
    "interview_rescheduled": About.interview,
    "interview_cancelled": About.interview,
    "interview_reminder": About.interview,
    "rejected_not_qualified": About.application,
    "rejected_no_availability": About.application,
    "rejected_interview_outcome": About.application,
    "rejected_posting_filled": About.application,
    "rejected_posting_cancelled": About.application,
    "rejected_other": About.application,
    "reopened": About.application,
    "accepted": About.application,
    "offer": About.application,
    "hired": About.application,
    "offer_declined": About.application,
    "withdrawn": About.application,
    "commitment_started": About.application,
    "commitment_3_months": About.application,
    "commitment_last_month": About.application,
    "commitment_completed": About.application,
    "commitment_ended_early": About.application,
    # To staff and the posting's contact address
    "new_application": About.application,
    "interviewer_invitation": About.interview,
    "interviewer_reminder": About.interview,
    "feedback_reminder": About.interview,
    "idle_application": About.application,
    "volunteer_milestone": About.application,
    "posting_closed": About.posting,
    # To HR: a candidate asked for a copy of their data (workflow/data_requests.py)
    "data_request": About.data_request,
    "data_request_reminder": About.data_request,
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class TemplateProblem(Exception):
    """A template is missing, or fails to render (a missing variable, a syntax error)."""


def one_line(text: str) -> str:
    """`text` fit for a header: control characters (CR, LF, tab...) become spaces, runs of
    spaces one. Applied to every subject and display name before it is stored."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(cleaned.split())


# --- Filters: dates, times and amounts in the message's language -----------------------------


def _locale(context: Any) -> str:
    return LOCALES[context["lang"]]


@pass_context
def _date(context: Any, value: date | datetime | None, style: str = "long") -> str:
    """3 mars 2025 / 3 March 2025 ('full' adds the weekday)."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return format_date(day, style, locale=_locale(context))


@pass_context
def _time(context: Any, value: datetime) -> str:
    return format_time(value, "short", locale=_locale(context))


@pass_context
def _datetime(context: Any, value: datetime, zone: bool = True) -> str:
    """'lundi 3 mars 2025 à 10:00 (heure normale d'Europe centrale)': `value` as given (the
    context holds times already in the interview's or organisation's time zone)."""
    lang = context["lang"]
    locale = LOCALES[lang]
    text = f"{format_date(value.date(), 'full', locale=locale)} {AT_WORD[lang]} "
    text += format_time(value, "short", locale=locale)
    if zone and value.tzinfo is not None:
        text += f" ({get_timezone_name(value, 'long', locale=locale)})"
    return text


@pass_context
def _money(context: Any, amount: int | float, currency: str) -> str:
    """A whole amount in the language's way: 2 450 € / €2,450."""
    locale = Locale.parse(_locale(context))
    pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
    return format_currency(amount, currency, pattern, locale=locale, currency_digits=False)


FILTERS = {"date": _date, "time": _time, "datetime": _datetime, "money": _money}


# --- The renderer -----------------------------------------------------------------------------


class Renderer:
    """The compiled templates of this process: the defaults, and each organisation's overrides
    (`overrides_dir/SLUG/templates`). Environments are made once per organisation that has
    overrides, templates compiled once per environment (no reload: restart after editing)."""

    def __init__(self, templates_dir: Path = TEMPLATES_DIR, overrides_dir: Path | None = None):
        self.templates_dir = templates_dir
        self.overrides_dir = overrides_dir
        self._envs: dict[str | None, tuple[Environment, Environment]] = {}

    def override_dir(self, org_slug: str | None) -> Path | None:
        """The organisation's template folder, if it has one."""
        if org_slug is None or self.overrides_dir is None:
            return None
        folder = self.overrides_dir / org_slug / "templates"
        return folder if folder.is_dir() else None

    def overridden(self, org_slug: str) -> list[Path]:
        """The organisation's own template files."""
        folder = self.override_dir(org_slug)
        return sorted(folder.glob("*/*.jinja")) if folder else []

    def _environments(self, org_slug: str | None) -> tuple[Environment, Environment]:
        """(text, html) environments for the organisation: its folder first, then the defaults."""
        own = self.override_dir(org_slug)
        key = org_slug if own is not None else None
        if key not in self._envs:
            search = [str(own), str(self.templates_dir)] if own else [str(self.templates_dir)]
            self._envs[key] = (_environment(search, html=False), _environment(search, html=True))
        return self._envs[key]

    def render(
        self, name: str, lang: str, context: dict[str, Any], org_slug: str | None = None
    ) -> Rendered:
        """Subject (one line), plain text and HTML of message `name` in `lang`."""
        text_env, html_env = self._environments(org_slug)
        values = context | {"lang": lang}
        try:
            subject = _template(text_env, name, lang).render(values, part="subject")
            text = _template(text_env, name, lang).render(values, part="text")
            html = _template(html_env, name, lang).render(values, part="html")
        except TemplateProblem:
            raise
        except Exception as exc:  # jinja2's UndefinedError, TemplateSyntaxError, a filter's...
            raise TemplateProblem(f"template {lang}/{name}.jinja: {exc}") from exc
        return Rendered(one_line(subject)[:SUBJECT_MAX], _tidy(text), html.strip() + "\n")


def _environment(search: list[str], *, html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(search),
        autoescape=html,
        undefined=StrictUndefined,
        auto_reload=False,
        cache_size=-1,  # keep every compiled template
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(FILTERS)
    return env


def _template(env: Environment, name: str, lang: str) -> Template:
    if lang not in LANGUAGES:
        raise TemplateProblem(f"no language {lang!r}; one of {', '.join(LANGUAGES)}")
    try:
        return env.get_template(f"{lang}/{name}.jinja")
    except Exception as exc:
        raise TemplateProblem(f"template {lang}/{name}.jinja: {exc}") from exc


def _tidy(text: str) -> str:
    """The plain-text part: no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept) + "\n"


# --- Sample data: previews, and the test that renders every template --------------------------

SAMPLE_NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
SAMPLE_ZONE = ZoneInfo("Europe/Brussels")

# The milestone or change a few templates talk about (they read `trigger` or `interview.change`).
SAMPLE_TRIGGERS = {
    "commitment_3_months": ("reminder:commitment_3_months", "", "commitment_3_months"),
    "commitment_last_month": ("reminder:commitment_last_month", "", "commitment_last_month"),
    "volunteer_milestone": ("reminder:commitment_last_month", "", "commitment_last_month"),
    "idle_application": ("reminder:idle_reminder", "", "idle_reminder"),
    "interview_reminder": ("reminder:interview_reminder", "", "interview_reminder"),
    "interviewer_reminder": ("reminder:interview_reminder", "", "interview_reminder"),
    "feedback_reminder": ("reminder:feedback_reminder", "", "feedback_reminder"),
    "posting_closed": ("transitioned", "close", ""),
    "new_application": ("created", "create", ""),
    "application_received": ("created", "create", ""),
    "data_request": ("data_request", "", ""),
    "data_request_reminder": ("reminder:data_request", "", "data_request"),
}
SAMPLE_STATES = {
    "application_received": "received",
    "invited_to_interview": "interview",
    "accepted": "accepted",
    "offer": "offer",
    "hired": "hired",
    "offer_declined": "offer_declined",
    "withdrawn": "withdrawn",
    "commitment_started": "commitment",
    "commitment_3_months": "commitment",
    "commitment_last_month": "commitment",
    "volunteer_milestone": "commitment",
    "commitment_completed": "completed",
    "commitment_ended_early": "ended_early",
    "reopened": "screening",
}


def sample_context(name: str, lang: str) -> dict[str, Any]:
    """A context of the shape the queue builds for template `name`, with made-up people."""
    about = TEMPLATES[name]
    trigger_name, event, reminder = SAMPLE_TRIGGERS.get(name, ("transitioned", "", ""))
    context: dict[str, Any] = {
        "lang": lang,
        "org": {"name": "Amnesty International Belgique francophone", "slug": "aibf"},
        "recipient": {"name": "Awa Diallo", "kind": "candidate"},
        "trigger": {"name": trigger_name, "event": event, "reminder": reminder},
        "posting": _sample_posting(name),
    }
    if name in ("new_application", "idle_application", "volunteer_milestone", "posting_closed"):
        context["recipient"] = {"name": "Sophie Lambert", "kind": "user"}
    if about is About.posting:
        context["summary"] = _sample_summary(lang)
        return context
    context["candidate"] = {"first_name": "Awa", "last_name": "Diallo", "name": "Awa Diallo"}
    context["application"] = _sample_application(name, lang)
    if about is About.interview:
        context["interview"] = _sample_interview(name)
        if name.startswith("interviewer_") or name == "feedback_reminder":
            context["recipient"] = {"name": "Marc Dupont", "kind": "user"}
    if about is About.data_request:
        context["recipient"] = {"name": "Nadia Bensaïd", "kind": "user"}
        context["data_request"] = {
            "requested_at": SAMPLE_NOW.astimezone(SAMPLE_ZONE),
            "due_at": datetime(2025, 4, 3, 9, 30, tzinfo=UTC).astimezone(SAMPLE_ZONE),
        }
    return context


def _sample_pipeline(name: str) -> Pipeline:
    """The default pipeline a sample of `name` comes from: staff for the offer's messages."""
    pipelines = _default_pipelines()
    state = SAMPLE_STATES.get(name, "screening")
    return pipelines["volunteer"] if state in pipelines["volunteer"].states else pipelines["staff"]


@cache
def _default_pipelines() -> dict[str, Pipeline]:
    return load_pipelines(PIPELINES_DIR)


def _sample_posting(name: str) -> dict[str, Any]:
    volunteer = _sample_pipeline(name).name == "volunteer"
    return {
        "id": 7,
        "ref": "AIBF-2025-03" if volunteer else "OMCT-2025-PD",
        "title": "Coordinateur·rice bénévole des groupes locaux"
        if volunteer
        else "Programme Director",
        "kind": "volunteer" if volunteer else "staff",
        "location": "Bruxelles",
        "contact_name": "Sophie Lambert",
        "contact_email": "benevolat@example.org",
        "commitment_months": 24 if volunteer else None,
        "start_date": date(2025, 4, 1),
        "start_asap": False,
        "closes_at": datetime(2025, 3, 31, 23, 59, 59, tzinfo=SAMPLE_ZONE),
        "salary": {"min": 3200, "max": 3900, "currency": "EUR", "period": "month"},
    }


def _sample_application(name: str, lang: str) -> dict[str, Any]:
    reason = name.removeprefix("rejected_") if name.startswith("rejected_") else None
    state = SAMPLE_STATES.get(name, "rejected" if reason else "screening")
    texts = _sample_pipeline(name).states[state]
    return {
        "id": 42,
        "state": state,
        "state_label": texts.label[lang],
        "state_text": texts.candidate[lang],
        "status_url": "https://vivier.example.org/status/Xq3v-sample-token",
        "staff_url": "https://vivier.example.org/app/applications/42",
        "rejection_reason": reason,
        "received_at": datetime(2025, 2, 10, 14, 5, tzinfo=SAMPLE_ZONE),
        "state_entered_at": datetime(2025, 2, 17, 9, 0, tzinfo=SAMPLE_ZONE),
        "days_in_state": 14,
        "commitment_start": date(2025, 4, 1),
        "commitment_end": date(2027, 4, 1),
    }


def _sample_interview(name: str) -> dict[str, Any]:
    starts = datetime(2025, 3, 12, 14, 0, tzinfo=SAMPLE_ZONE)
    change = {"interview_rescheduled": "rescheduled", "interview_cancelled": "cancelled"}
    return {
        "id": 5,
        "change": change.get(name, "scheduled"),
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=1),
        "timezone": "Europe/Brussels",
        "location": "Rue Berckmans 9, 1060 Bruxelles",
        "video_link": "https://meet.example.org/aibf-entretien",
        "sequence": 1,
        "cancelled": name == "interview_cancelled",
        "interviewers": ["Marc Dupont", "Inès Benali"],
    }


def _sample_summary(lang: str) -> dict[str, Any]:
    labels = {"fr": ("Candidature reçue", "Entretien"), "en": ("Application received", "Interview")}
    received, interview = labels[lang]
    return {
        "total": 14,
        "waiting_count": 3,
        "by_state": [{"label": received, "count": 2}, {"label": interview, "count": 1}],
        "waiting": [
            {"name": "Awa Diallo", "state_label": received, "received_at": date(2025, 3, 1)},
            {"name": "Jean <Martin>", "state_label": received, "received_at": date(2025, 3, 2)},
            {"name": "Lea Peeters", "state_label": interview, "received_at": date(2025, 2, 20)},
        ],
        "more": 0,
    }
