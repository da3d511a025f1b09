"""Queueing: the subscriber that turns domain events into outbox messages, in their transaction.

For each event, the rules (notifications/rules.py) say which templates go to whom; each message is
rendered now, in its recipient's language, and stored whole (subject, both bodies, the .ics): the
dispatcher only sends what is stored. `queue()` inserts with ON CONFLICT (dedup_key) DO NOTHING,
the key being the source record + the recipient + the template, so an event published again (a
retried transition, a deadline tried twice) never queues a second copy, while a way back, a
reopen or a rescheduled interview (a new record, a new sequence) legitimately sends again.

Languages: a candidate is written to in their preferred language, else the posting's first
required one, else the organisation's default; staff and the posting's contact address in the
organisation's default language (else the posting's).

Safety: no header is built here. A recipient's name and a subject are stored on one line, with
control characters (CR, LF...) turned to spaces, and an address is stored only if it is one plain
address (a crafted one is skipped and logged, never "fixed"); the dispatcher hands both to the
e-mail library, which encodes them. Whatever a candidate typed reaches the HTML part escaped.
A recipient who cannot be written to (no address, an inactive user, an anonymised candidate) is
skipped: a subscriber must not fail the change it reports on for that. A template that fails to
render does fail it (and the change is not made): the tests render every default template, and
an organisation's own are rendered with sample data at start-up, so that would be a bug, and a
candidate left untold without anyone knowing is worse than a refused move.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from config.settings import Settings
from notifications import ics
from notifications.models import MessageStatus, OutboxMessage, RecipientKind
from notifications.render import LANGUAGES, TEMPLATES, Renderer, one_line
from notifications.rules import Rule, Rules, load_rules
from workflow.events import DomainEvent, EventBus
from workflow.interviews import interviewer_ids
from workflow.models import (
    Application,
    Candidate,
    EntityType,
    Interview,
    Organisation,
    Posting,
    PostingAssignment,
    Role,
    User,
)
from workflow.pipeline import Pipeline
from workflow.pipeline_files import load_pipelines

log = logging.getLogger("vivier.notifications")

OUTBOX = OutboxMessage.__table__
NAME_MAX = 255  # OutboxMessage.to_name
KEY_MAX = 255  # OutboxMessage.dedup_key
WAITING_LISTED = 50  # names listed in a closed posting's summary; the rest are counted
# One plain address: no display name, comment, group, second address, space or line break.
ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}@[^\s@<>()\[\],;:\"\\.][^\s@<>()\[\],;:\"\\]*")
ICS_SUMMARY = {"fr": "Entretien : {title}", "en": "Interview: {title}"}
ICS_FILENAME = "invitation.ics"
ICS_DESCRIPTION = {
    "fr": "{org} : entretien pour « {title} » avec {candidate}.",
    "en": '{org}: interview for "{title}" with {candidate}.',
}


def subscribe(bus: EventBus, settings: Settings) -> None:
    """Queue the e-mails the rules ask for, on every domain event. Reads and checks the rules
    and the organisations' templates now: a mistake in them stops the start-up, not a move."""
    bus.subscribe(Notifier.from_settings(settings))


def deliverable(address: str) -> bool:
    """Whether `address` is one plain e-mail address, safe to put in a header and an envelope."""
    return (
        len(address) <= 320
        and address.isprintable()
        and ADDRESS.fullmatch(address) is not None
        and "." in address.rpartition("@")[2]
    )


def queue(session: Session, values: dict[str, Any]) -> bool:
    """Insert one outbox row unless its dedup_key is queued already; True if inserted."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(OUTBOX).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
    return session.execute(statement).rowcount == 1


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    id: int | None
    email: str
    name: str
    language: str
    greeting: str  # what the message calls them (a candidate's first name is in `candidate`)


@dataclass
class Facts:
    """What an event is about, read once for all its messages."""

    event: DomainEvent
    org: Organisation
    posting: Posting
    pipeline: Pipeline  # the application's (or the posting's) pipeline
    application: Application | None = None
    candidate: Candidate | None = None
    interview: Interview | None = None
    interviewers: list[User] = field(default_factory=list)


class Notifier:
    """The subscriber: rules, templates and pipelines loaded once, per process."""

    def __init__(
        self,
        rules: Rules,
        renderer: Renderer,
        pipelines: dict[str, Pipeline],
        settings: Settings,
    ) -> None:
        self.rules = rules
        self.renderer = renderer
        self.pipelines = pipelines
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        pipelines = load_pipelines(settings.pipelines_dir)
        renderer = Renderer(overrides_dir=settings.notifications_dir / "orgs")
        rules = load_rules(settings.notifications_dir, pipelines, renderer)
        return cls(rules, renderer, pipelines, settings)

    def __call__(self, session: Session, event: DomainEvent) -> None:
        moved = (event.event, event.from_state, event.to_state)
        if not self.rules.may_send(event.pipeline, event.name, *moved):
            return  # most transitions: nothing to send, nothing read
        org = session.get_one(Organisation, event.organisation_id)
        rules = [
            rule
            for rule in self.rules.for_event(org.slug, event.pipeline, event.name)
            if rule.matches(event.name, *moved)
        ]
        if not rules:
            return
        facts = self._facts(session, event, org)
        for rule in rules:
            self._send(session, facts, rule)

    # --- Reading what the event is about ------------------------------------------------------

    def _facts(self, session: Session, event: DomainEvent, org: Organisation) -> Facts:
        interview = None
        if event.entity_type is EntityType.posting:
            posting = session.get_one(Posting, event.entity_id)
            return Facts(event, org, posting, self.pipelines[event.pipeline])
        if event.entity_type is EntityType.interview:
            interview = session.get_one(Interview, event.entity_id)
            application_id = interview.application_id
        else:
            application_id = event.entity_id
        application = session.get_one(Application, application_id)
        posting = session.get_one(Posting, application.posting_id)
        facts = Facts(
            event,
            org,
            posting,
            self.pipelines[application.pipeline],
            application=application,
            candidate=session.get_one(Candidate, application.candidate_id),
            interview=interview,
        )
        if interview is not None:
            assert interview.id is not None
            ids = event.payload.get("interviewer_ids") or interviewer_ids(session, interview.id)
            facts.interviewers = _users(session, ids, org.id, active_only=False)
        return facts

    # --- Who ----------------------------------------------------------------------------------

    def _recipients(self, session: Session, facts: Facts, kind: str) -> list[Recipient]:
        posting, org = facts.posting, facts.org
        staff_language = _language(org.default_language, *_posting_languages(posting))
        if kind == "candidate":
            return [self._candidate(c, facts) for c in self._candidates(session, facts)]
        if kind == "contact":
            if not posting.contact_email:
                return []
            name = posting.contact_name or posting.contact_email
            return [
                Recipient(
                    RecipientKind.contact, None, posting.contact_email, posting.contact_name,
                    staff_language, name,
                )
            ]  # fmt: skip
        if kind == "owner":
            ids = [posting.owner_id] if posting.owner_id else []
        elif kind == "hr":
            ids = _human_resources(session, org.id)
        elif kind == "recruiters":
            ids = [posting.owner_id] if posting.owner_id else []
            ids += session.scalars(
                select(PostingAssignment.user_id)
                .where(PostingAssignment.posting_id == posting.id)
                .order_by(PostingAssignment.user_id)
            ).all()
        else:  # interviewers: those the reminder names, else the interview's
            listed = facts.event.payload.get("recipients")
            ids = listed["user_ids"] if listed else [u.id for u in facts.interviewers]
        users = _users(session, ids, org.id)
        return [
            Recipient(RecipientKind.user, u.id, u.email, u.name, staff_language, u.name)
            for u in users
        ]

    def _candidates(self, session: Session, facts: Facts) -> list[Candidate]:
        listed = facts.event.payload.get("recipients")
        if listed is None:
            found = [facts.candidate] if facts.candidate else []
        elif not listed["candidate_ids"]:
            found = []
        else:
            found = list(
                session.scalars(
                    select(Candidate)
                    .where(
                        Candidate.id.in_(listed["candidate_ids"]),
                        Candidate.organisation_id == facts.org.id,
                    )
                    .order_by(Candidate.id)
                )
            )
        return [c for c in found if c.anonymised_at is None]

    def _candidate(self, candidate: Candidate, facts: Facts) -> Recipient:
        language = _language(
            candidate.language, *_posting_languages(facts.posting), facts.org.default_language
        )
        name = f"{candidate.first_name} {candidate.last_name}"
        return Recipient(
            RecipientKind.candidate, candidate.id, candidate.email, name, language,
            candidate.first_name,
        )  # fmt: skip

    # --- What -----------------------------------------------------------------------------------

    def _send(self, session: Session, facts: Facts, rule: Rule) -> None:
        reason = facts.application.rejection_reason if facts.application else None
        template = rule.template_for(reason)
        if template not in TEMPLATES:
            template = rule.fallback or template
        seen: set[str] = set()  # one copy per address, e.g. owner and contact alike
        for kind in rule.to:
            for recipient in self._recipients(session, facts, kind):
                address = recipient.email.strip()
                if not deliverable(address):
                    log.warning(
                        "not queueing %s to %s %s: %r is not a deliverable address",
                        template, recipient.kind.value, recipient.id, address,
                    )  # fmt: skip
                    continue
                if address.lower() in seen:
                    continue
                seen.add(address.lower())
                self._queue_one(session, facts, rule, template, recipient, address)

    def _queue_one(
        self,
        session: Session,
        facts: Facts,
        rule: Rule,
        template: str,
        recipient: Recipient,
        address: str,
    ) -> None:
        lang = recipient.language
        context = self.context(session, facts, recipient)
        rendered = self.renderer.render(template, lang, context, facts.org.slug)
        attachments = []
        if rule.attach_ics and facts.interview is not None:
            attachments.append(self._invitation(facts, recipient, address))
        event = facts.event
        queue(
            session,
            {
                "organisation_id": facts.org.id,
                "application_id": facts.application.id if facts.application else None,
                "dedup_key": dedup_key(event, recipient, address, template),
                "template": template,
                "language": lang,
                "recipient_kind": recipient.kind,
                "recipient_id": recipient.id,
                "to_email": address,
                "to_name": one_line(recipient.name)[:NAME_MAX],
                "subject": rendered.subject,
                "text_body": rendered.text,
                "html_body": rendered.html,
                "attachments": attachments,
                "status": MessageStatus.queued,
                "attempts": 0,
                "next_attempt_at": event.at,
                "created_at": event.at,
            },
        )

    def _invitation(self, facts: Facts, recipient: Recipient, address: str) -> dict[str, str]:
        interview = facts.interview
        assert interview is not None and interview.id is not None
        cancelled = interview.cancelled_at is not None
        text = ics.calendar(
            ics.Invitation(
                interview_id=interview.id,
                sequence=interview.sequence,
                starts_at=interview.starts_at,
                ends_at=interview.ends_at,
                timezone=interview.timezone,
                summary=ICS_SUMMARY[recipient.language].format(title=facts.posting.title),
                description=_ics_description(facts, recipient.language),
                location=interview.location,
                video_link=interview.video_link,
                organiser_email=self.settings.mail_from,
                organiser_name=facts.org.name,
                attendee_email=address,
                attendee_name=recipient.name,
                cancelled=cancelled,
            ),
            facts.event.at,
        )
        return {
            "filename": ICS_FILENAME,
            "content_type": ics.content_type(cancelled),
            "text": text,
        }

    # --- The template's variables ----------------------------------------------------------------

    def context(self, session: Session, facts: Facts, recipient: Recipient) -> dict[str, Any]:
        """The variables of a message (notifications/render.py sample_context has the shape)."""
        event, lang = facts.event, recipient.language
        context: dict[str, Any] = {
            "org": {"name": facts.org.name, "slug": facts.org.slug},
            "recipient": {"name": recipient.greeting, "kind": recipient.kind.value},
            "trigger": {
                "name": event.name,
                "event": event.event or "",
                "reminder": event.name.removeprefix("reminder:")
                if event.name.startswith("reminder:")
                else "",
            },
            "posting": _posting(facts.posting),
        }
        if facts.application is None:
            context["summary"] = self._summary(session, facts, lang)
            return context
        assert facts.candidate is not None
        candidate = facts.candidate
        context["candidate"] = {
            "first_name": one_line(candidate.first_name),
            "last_name": one_line(candidate.last_name),
            "name": one_line(f"{candidate.first_name} {candidate.last_name}"),
        }
        context["application"] = self._application(facts, lang)
        if facts.interview is not None:
            context["interview"] = _interview(facts)
        if "data_request_id" in event.payload:
            context["data_request"] = _data_request(event.payload, facts.org)
        return context

    def _application(self, facts: Facts, lang: str) -> dict[str, Any]:
        application = facts.application
        assert application is not None
        zone = ZoneInfo(facts.posting.timezone)
        state = facts.pipeline.states[application.state]
        token = application.status_token
        return {
            "id": application.id,
            "state": application.state,
            "state_label": state.label[lang],
            "state_text": state.candidate[lang],
            "status_url": self.settings.status_url(token) if token else None,
            "staff_url": self.settings.staff_url(application.id),
            "rejection_reason": application.rejection_reason,
            "received_at": application.created_at.astimezone(zone),
            "state_entered_at": application.state_entered_at.astimezone(zone),
            "days_in_state": max((facts.event.at - application.state_entered_at).days, 0),
            "commitment_start": application.commitment_start,
            "commitment_end": application.commitment_end,
        }

    def _summary(self, session: Session, facts: Facts, lang: str) -> dict[str, Any]:
        """A closed posting's applications, and those still waiting for an answer: neither
        final nor holding a place, listed oldest first."""
        posting = facts.posting
        counts = dict(
            session.execute(
                select(Application.state, func.count())
                .where(Application.posting_id == posting.id)
                .group_by(Application.state)
            ).all()
        )
        pipeline = self.pipelines[posting.pipeline]
        answered = pipeline.final | pipeline.placed
        waiting_states = [s for s in pipeline.states if s not in answered and counts.get(s)]
        waiting_count = sum(counts[s] for s in waiting_states)
        rows = session.execute(
            select(
                Application.state, Application.created_at, Candidate.first_name,
                Candidate.last_name,
            )
            .join(Candidate, Candidate.id == Application.candidate_id)
            .where(Application.posting_id == posting.id, Application.state.in_(waiting_states))
            .order_by(Application.created_at, Application.id)
            .limit(WAITING_LISTED)
        ).all()  # fmt: skip
        zone = ZoneInfo(posting.timezone)
        return {
            "total": sum(counts.values()),
            "waiting_count": waiting_count,
            "by_state": [
                {"label": pipeline.states[s].label[lang], "count": counts[s]}
                for s in waiting_states
            ],
            "waiting": [
                {
                    "name": one_line(f"{first} {last}"),
                    "state_label": pipeline.states[state].label[lang],
                    "received_at": created.astimezone(zone).date(),
                }
                for state, created, first, last in rows
            ],
            "more": max(waiting_count - len(rows), 0),
        }


# --- Helpers ------------------------------------------------------------------------------------


def dedup_key(event: DomainEvent, recipient: Recipient, address: str, template: str) -> str:
    """Source record + recipient + template. The source: the transition record, the deadline
    of a reminder, or the interview's version (its sequence) for an interview's change."""
    if event.record_id is not None:
        source = f"transition:{event.record_id}"
    elif "deadline_id" in event.payload:
        source = f"deadline:{event.payload['deadline_id']}"
    elif "data_request_id" in event.payload:
        source = f"data_request:{event.payload['data_request_id']}"
    elif event.entity_type is EntityType.interview:
        what = event.name.removeprefix("interview:")
        source = f"interview:{event.entity_id}:{event.payload.get('sequence', 0)}:{what}"
    else:
        source = f"{event.name}:{event.entity_type.value}:{event.entity_id}:{event.at.isoformat()}"
    who = f"{recipient.kind.value}:{recipient.id if recipient.id is not None else address.lower()}"
    key = f"{source}:{who}:{template}"
    if len(key) > KEY_MAX:  # a long contact address: its digest instead
        digest = hashlib.sha256(who.encode()).hexdigest()[:32]
        key = f"{source}:{recipient.kind.value}:{digest}:{template}"
    return key


def _language(*choices: str | None) -> str:
    return next((c for c in choices if c in LANGUAGES), LANGUAGES[0])


def _posting_languages(posting: Posting) -> list[str]:
    return [
        entry.get("code", "")
        for entry in posting.languages or []
        if isinstance(entry, dict) and entry.get("level") == "required"
    ]


def _users(
    session: Session, ids: list[int], organisation_id: int, *, active_only: bool = True
) -> list[User]:
    """The users among `ids` of the organisation (active ones only, unless told), by id, once."""
    if not ids:
        return []
    query = select(User).where(User.id.in_(set(ids)), User.organisation_id == organisation_id)
    if active_only:
        query = query.where(User.is_active.is_(True))
    return list(session.scalars(query.order_by(User.id)))


def _human_resources(session: Session, organisation_id: int) -> list[int]:
    """The organisation's HR staff; its admins when it has none (someone must hear it)."""
    for role in (Role.hr, Role.admin):
        ids = list(
            session.scalars(
                select(User.id).where(
                    User.organisation_id == organisation_id,
                    User.role == role,
                    User.is_active.is_(True),
                )
            )
        )
        if ids:
            return ids
    return []


def _data_request(payload: dict[str, Any], org: Organisation) -> dict[str, Any]:
    """A data request's dates (workflow/data_requests.py facts), in the organisation's zone."""
    zone = ZoneInfo(org.timezone)
    return {
        name: datetime.fromisoformat(payload[name]).astimezone(zone)
        for name in ("requested_at", "due_at")
    }


def _posting(posting: Posting) -> dict[str, Any]:
    zone = ZoneInfo(posting.timezone)
    salary = None
    if posting.salary_currency and (posting.salary_min or posting.salary_max):
        salary = {
            "min": posting.salary_min,
            "max": posting.salary_max,
            "currency": posting.salary_currency,
            "period": posting.salary_period,
        }
    return {
        "id": posting.id,
        "ref": posting.ref,
        "title": one_line(posting.title),
        "kind": posting.kind.value,
        "location": posting.location,
        "contact_name": one_line(posting.contact_name),
        "contact_email": posting.contact_email if deliverable(posting.contact_email) else "",
        "commitment_months": posting.commitment_months,
        "start_date": posting.start_date,
        "start_asap": posting.start_asap,
        "closes_at": posting.closes_at.astimezone(zone) if posting.closes_at else None,
        "salary": salary,
    }


def _ics_description(facts: Facts, lang: str) -> str:
    assert facts.candidate is not None
    candidate = one_line(f"{facts.candidate.first_name} {facts.candidate.last_name}")
    text = ICS_DESCRIPTION[lang].format(
        org=facts.org.name, title=one_line(facts.posting.title), candidate=candidate
    )
    link = facts.interview.video_link if facts.interview else ""
    return f"{text}\n{link}" if link else text


def _interview(facts: Facts) -> dict[str, Any]:
    interview = facts.interview
    assert interview is not None
    zone = ZoneInfo(interview.timezone)
    name = facts.event.name
    return {
        "id": interview.id,
        "change": name.removeprefix("interview:") if name.startswith("interview:") else "reminder",
        "starts_at": interview.starts_at.astimezone(zone),
        "ends_at": interview.ends_at.astimezone(zone) if interview.ends_at else None,
        "timezone": interview.timezone,
        "location": interview.location,
        "video_link": interview.video_link,
        "sequence": interview.sequence,
        "cancelled": interview.cancelled_at is not None,
        "interviewers": [one_line(u.name) for u in facts.interviewers],
    }
