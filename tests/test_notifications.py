"""Queueing e-mails (issue 6): which events send which message to whom, in which language, with
which calendar file, exactly once per source record; and that nothing a candidate types can add
a header or a recipient, or reach the HTML unescaped.

Time is fixed at NOW, ten days before Belgium moves to summer time (29 March 2026), so an interview
moved across the change shows the right hours in its .ics. The sweeper is called with the `now` it
should see, limited to the test's organisation. Rule files of the tests' own are written in
tmp_path; the defaults are config/notifications/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from icalendar import Calendar
from sqlalchemy import select

import notifications
from api.security import issue_token
from config.settings import Settings
from notifications.backends import Outgoing, SmtpBackend, build
from notifications.dispatcher import Options, drain
from notifications.models import OutboxMessage, RecipientKind
from notifications.queue import deliverable
from tests.api_support import Api, Staff
from tests.factories import (
    STAFF,
    add_feedback,
    make_application,
    make_org,
    make_posting,
    make_user,
)
from tests.smtp_support import SmtpServer
from tests.test_api_public import PDF, form
from workflow import interviews
from workflow.context import Actor
from workflow.events import DomainEvent
from workflow.interviews import ReminderHours
from workflow.models import (
    Application,
    Candidate,
    CandidateCreate,
    EntityType,
    Organisation,
    Posting,
    Role,
    User,
)
from workflow.scheduler import sweep
from workflow.service import Workflow

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
HOURS = ReminderHours(interview=24, feedback=24)
# Monday 30 March 2026, 10:00 in Brussels: summer time (UTC+2) since the day before.
SUMMER = datetime(2026, 3, 30, 10, 0, tzinfo=BRUSSELS)
# Friday 27 March 2026, 14:00 in Brussels: still winter time (UTC+1).
WINTER = datetime(2026, 3, 27, 14, 0, tzinfo=BRUSSELS)
CONTACT = "benevolat@example.org"


@pytest.fixture(autouse=True)
def fixed_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path)


@pytest.fixture
def notified(workflow: Workflow, settings: Settings) -> Workflow:
    """The test's workflow with the notifications subscribed, as the wiring does."""
    notifications.install(workflow.bus, settings)
    return workflow


def messages(workflow: Workflow, organisation_id: int) -> list[OutboxMessage]:
    with workflow.sessions() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.organisation_id == organisation_id)
                .order_by(OutboxMessage.id)
            )
        )


def sent(workflow: Workflow, organisation_id: int, after: int = 0) -> list[tuple[str, str, str]]:
    """(template, address, language) of the organisation's messages, from the `after`-th on."""
    return [(m.template, m.to_email, m.language) for m in messages(workflow, organisation_id)][
        after:
    ]


def ics_of(message: OutboxMessage) -> Calendar:
    [attachment] = message.attachments
    assert attachment["filename"].endswith(".ics")
    return Calendar.from_ical(attachment["text"])


# --- The volunteer journey, through the API -----------------------------------------------------


class Journey:
    """A volunteer call with an owner, a contact address and a panel of two, on the real app."""

    def __init__(self, api: Api) -> None:
        self.api = api
        notifications.install(api.workflow.bus, api.settings)
        self.org = api.org(default_language="fr")
        self.owner = api.staff(self.org, "recruiter")
        self.panel = [api.staff(self.org, "interviewer") for _ in range(2)]
        self.posting = make_posting(
            api.workflow, self.org, owner_id=self.owner.id, title="Accueil des nouveaux membres",
            contact_name="Équipe bénévolat", contact_email=CONTACT,
        )  # fmt: skip

    def apply(self, first_name: str, email: str, language: str) -> int:
        response = self.api.client.post(
            f"/public/postings/{self.posting.id}/applications",
            data=form(first_name=first_name, last_name="Sow", email=email, language=language),
            files={"cv": ("cv.pdf", PDF, "application/pdf")},
        )
        assert response.status_code == 201, response.text
        return response.json()["application_id"]

    def move(self, application_id: int, event: str, **body: Any) -> None:
        response = self.api.client.post(
            f"/applications/{application_id}/events/{event}",
            json=body or None,
            headers=self.owner.headers,
        )
        assert response.status_code == 200, (event, response.text)

    def call(self, method: str, path: str, staff: Staff | None = None, **body: Any) -> Any:
        headers = (staff or self.owner).headers
        response = self.api.client.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def log_in_again(self) -> None:
        """New tokens for the owner and the panel: theirs expire an hour after NOW."""
        for staff in (self.owner, *self.panel):
            with self.api.workflow.sessions.begin() as session:
                token = issue_token(session, staff.user, datetime.now(UTC), timedelta(hours=1))
            staff.headers["Authorization"] = f"Bearer {token.raw}"

    def sweep(self, at: datetime) -> None:
        sweep(self.api.workflow, now=at, organisation_id=self.org.id)

    @property
    def panel_emails(self) -> list[str]:
        return [member.user.email for member in self.panel]


def test_a_volunteer_journey_tells_each_person_each_step_in_their_language(api: Api) -> None:
    j = Journey(api)
    owner = j.owner.user.email
    awa = j.apply("Awa", "awa.sow@example.org", "en")
    ben = j.apply("Benoît", "benoit.sow@example.org", "fr")
    assert sent(api.workflow, j.org.id) == [
        ("application_received", "awa.sow@example.org", "en"),
        ("new_application", CONTACT, "fr"),
        ("new_application", owner, "fr"),
        ("application_received", "benoit.sow@example.org", "fr"),
        ("new_application", CONTACT, "fr"),
        ("new_application", owner, "fr"),
    ]
    for application_id in (awa, ben):
        j.move(application_id, "screen")
        j.move(application_id, "invite")
    not_qualified = {"rejection_reason": "not_qualified"}
    j.move(ben, "reject", reason="Profil trop éloigné", payload=not_qualified)
    interview = j.call(
        "POST", f"/applications/{awa}/interviews", starts_at=SUMMER.isoformat(),
        timezone="Europe/Brussels", location="Rue Berckmans 9, Bruxelles",
        interviewer_ids=[member.id for member in j.panel],
    )  # fmt: skip
    j.call("PATCH", f"/interviews/{interview['id']}", starts_at=WINTER.isoformat())
    assert sent(api.workflow, j.org.id, after=6) == [
        ("invited_to_interview", "awa.sow@example.org", "en"),
        ("invited_to_interview", "benoit.sow@example.org", "fr"),
        ("rejected_not_qualified", "benoit.sow@example.org", "fr"),
        ("interview_scheduled", "awa.sow@example.org", "en"),
        *[("interviewer_invitation", email, "fr") for email in j.panel_emails],
        ("interview_rescheduled", "awa.sow@example.org", "en"),
        *[("interviewer_invitation", email, "fr") for email in j.panel_emails],
    ]

    # The day before, everyone is reminded; after it, the one without feedback is asked for it.
    j.sweep(WINTER - timedelta(hours=23))
    with time_machine.travel(WINTER + timedelta(hours=2), tick=False):
        j.log_in_again()
        j.call("PUT", f"/interviews/{interview['id']}/feedback", j.panel[0], recommendation="yes")
        j.sweep(WINTER + timedelta(hours=26))
        j.move(awa, "accept")
        j.move(awa, "start_training")
        j.move(awa, "start_commitment", payload={"commitment_start": "2026-04-10"})
    j.sweep(datetime(2026, 7, 11, tzinfo=UTC))  # the posting has closed, three months have passed
    assert sent(api.workflow, j.org.id, after=15) == [
        ("interview_reminder", "awa.sow@example.org", "en"),
        *[("interviewer_reminder", email, "fr") for email in j.panel_emails],
        ("feedback_reminder", j.panel_emails[1], "fr"),
        ("accepted", "awa.sow@example.org", "en"),
        ("commitment_started", "awa.sow@example.org", "en"),
        ("posting_closed", owner, "fr"),
        ("commitment_3_months", "awa.sow@example.org", "en"),
        ("volunteer_milestone", owner, "fr"),
    ]

    by_template = {(m.template, m.to_email): m for m in messages(api.workflow, j.org.id)}
    received = by_template["application_received", "awa.sow@example.org"]
    assert received.subject == "Application received: Accueil des nouveaux membres"
    assert received.to_name == "Awa Sow" and received.recipient_kind is RecipientKind.candidate
    with api.workflow.sessions() as session:
        token = session.get_one(Application, awa).status_token
    status_url = api.settings.status_url(token)
    assert status_url in received.text_body and f'href="{status_url}"' in received.html_body
    rejected = by_template["rejected_not_qualified", "benoit.sow@example.org"]
    assert rejected.text_body.startswith("Bonjour Benoît,")
    assert "critères" in rejected.text_body and "Profil trop éloigné" not in rejected.text_body
    started = by_template["commitment_started", "awa.sow@example.org"]
    assert "starts on 10 April 2026 and runs until 10 April 2028" in started.text_body
    new = by_template["new_application", CONTACT]
    assert new.subject == "Nouvelle candidature : Benoît Sow, Accueil des nouveaux membres"
    assert new.recipient_kind is RecipientKind.contact and new.to_name == "Équipe bénévolat"
    staff_url = f"{api.settings.public_base_url}/app/applications/{new.application_id}"
    assert staff_url in new.text_body and f'href="{staff_url}"' in new.html_body
    reminder = by_template["interview_reminder", "awa.sow@example.org"]
    assert "Friday, 27 March 2026 at 14:00 (Central European Standard Time)" in reminder.text_body


def test_the_journeys_messages_reach_a_real_smtp_server(
    api: Api, smtp: SmtpServer, tmp_path: Path
) -> None:
    """What was queued is what a mail server receives: each message once, to its person, in
    their language, with the .ics of the interview attached."""
    j = Journey(api)
    awa = j.apply("Awa", "awa.sow@example.org", "en")
    ben = j.apply("Benoît", "benoit.sow@example.org", "fr")
    for application_id in (awa, ben):
        j.move(application_id, "screen")
        j.move(application_id, "invite")
    j.move(ben, "reject", reason="r", payload={"rejection_reason": "not_qualified"})
    j.call(
        "POST", f"/applications/{awa}/interviews", starts_at=SUMMER.isoformat(),
        timezone="Europe/Brussels", location="Rue Berckmans 9, Bruxelles",
        interviewer_ids=[member.id for member in j.panel],
    )  # fmt: skip
    queued = messages(api.workflow, j.org.id)

    backend = SmtpBackend(smtp.settings(tmp_path))
    drain(api.workflow.sessions, backend, Options.from_settings(api.settings))

    received = [(r.rcpt_tos, r.subject) for r in smtp.inbox.received]
    assert sorted(received) == sorted(([m.to_email], m.subject) for m in queued)
    subjects = smtp.inbox.by_recipient()
    assert (
        subjects["awa.sow@example.org"][0] == "Application received: Accueil des nouveaux membres"
    )
    assert subjects["benoit.sow@example.org"][0].startswith("Candidature reçue")
    invitation = next(
        r.message for r in smtp.inbox.received
        if r.rcpt_tos == ["awa.sow@example.org"] and r.message.get_content_type() != "text/plain"
        and any(part.get_content_type() == "text/calendar" for part in r.message.walk())
    )  # fmt: skip
    [calendar] = [p for p in invitation.walk() if p.get_content_type() == "text/calendar"]
    event = Calendar.from_ical(calendar.get_content()).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == SUMMER


def test_an_interview_moved_and_cancelled_updates_the_same_calendar_event(
    notified: Workflow, settings: Settings
) -> None:
    org, application, panel = interview_setup(notified)
    with notified.sessions.begin() as session:
        interview = interviews.schedule(
            session, notified, application.id, starts_at=WINTER, ends_at=WINTER + timedelta(hours=1),
            timezone="Europe/Brussels", location="Rue Berckmans 9", interviewer_ids=[panel.id],
            actor=STAFF, organisation_id=org.id, reminders=HOURS,
        )  # fmt: skip
    for change in ({"starts_at": SUMMER, "ends_at": SUMMER + timedelta(minutes=90)}, None):
        with notified.sessions.begin() as session:
            if change:
                interviews.reschedule(
                    session, notified, interview.id, change, actor=STAFF, organisation_id=org.id,
                    reminders=HOURS,
                )  # fmt: skip
            else:
                interviews.cancel(
                    session, notified, interview.id, actor=STAFF, organisation_id=org.id
                )
    to_candidate = [m for m in messages(notified, org.id) if m.recipient_kind.value == "candidate"]
    assert [m.template for m in to_candidate] == [
        "application_received", "invited_to_interview",
        "interview_scheduled", "interview_rescheduled", "interview_cancelled",
    ]  # fmt: skip
    calendars = [ics_of(m) for m in to_candidate[2:]]
    events = [cal.events[0] for cal in calendars]
    assert len({str(e["UID"]) for e in events}) == 1
    assert str(events[0]["UID"]) == f"vivier-interview-{interview.id}@vivier.example.org"
    assert [e["SEQUENCE"] for e in events] == [0, 1, 2]
    assert [str(c["METHOD"]) for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
    assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert [m.attachments[0]["content_type"] for m in to_candidate[2:]] == [
        "text/calendar; method=REQUEST", "text/calendar; method=REQUEST",
        "text/calendar; method=CANCEL",
    ]  # fmt: skip
    # Times in the interview's zone, with its VTIMEZONE: 14:00 CET, then 10:00 CEST (UTC+2).
    first, moved = events[0], events[1]
    assert first.start == WINTER and first.start.utcoffset() == timedelta(hours=1)
    assert moved.start == SUMMER and moved.start.utcoffset() == timedelta(hours=2)
    assert moved.end == SUMMER + timedelta(minutes=90)
    assert str(moved["DTSTART"].params["TZID"]) == "Europe/Brussels"
    assert [tz.tz_name for tz in calendars[1].timezones] == ["Europe/Brussels"]
    assert "DTSTART;TZID=Europe/Brussels:20260330T100000" in to_candidate[3].attachments[0]["text"]
    assert str(events[0]["ATTENDEE"]) == "mailto:" + to_candidate[2].to_email
    # The interviewer's invitation is the same event.
    to_panel = [m for m in messages(notified, org.id) if m.to_email == panel.email]
    assert [m.template for m in to_panel] == ["interviewer_invitation"] * 3
    assert [str(ics_of(m).events[0]["UID"]) for m in to_panel] == [str(events[0]["UID"])] * 3
    assert to_panel[2].subject.startswith("Entretien annulé")


def interview_setup(workflow: Workflow) -> tuple[Organisation, Application, User]:
    org = make_org(workflow)
    posting = make_posting(workflow, org)
    application = make_application(workflow, posting, language="en")
    for event in ("screen", "invite"):
        workflow.fire(EntityType.application, application.id, event, STAFF)
    return org, application, make_user(workflow, org, Role.interviewer)


# --- Exactly once per source record -------------------------------------------------------------


def test_an_event_published_again_queues_nothing_more_but_a_new_record_does(notified: Workflow):
    seen: list[DomainEvent] = []
    notified.bus.subscribe(lambda _session, event: seen.append(event))
    org = make_org(notified)
    owner = make_user(notified, org)
    posting = make_posting(notified, org, owner_id=owner.id, contact_email=CONTACT)
    application = make_application(notified, posting)
    reject = {"reason": "Hors profil", "payload": {"rejection_reason": "not_qualified"}}
    notified.fire(EntityType.application, application.id, "reject", STAFF, **reject)
    make_application(notified, posting)
    sweep(notified, now=NOW + timedelta(days=11), organisation_id=org.id)  # an idle reminder
    before = messages(notified, org.id)
    assert [m.template for m in before] == [
        "application_received", "new_application", "new_application", "rejected_not_qualified",
        "application_received", "new_application", "new_application", "idle_application",
    ]  # fmt: skip
    with notified.sessions.begin() as session:  # a retried transaction, a deadline tried twice
        for event in list(seen):
            notified.bus.publish(session, event)
    assert messages(notified, org.id) == before

    # A way back is a new record: the candidate is told again.
    notified.fire(EntityType.application, application.id, "reopen", STAFF, reason="Erreur")
    notified.fire(EntityType.application, application.id, "reject", STAFF, **reject)
    again = [m.template for m in messages(notified, org.id)[len(before) :]]
    assert again == ["reopened", "rejected_not_qualified"]


# --- Answers: each reason its own text; a posting's end answers everyone -----------------------


def test_each_rejection_reason_has_its_own_text_and_an_unknown_one_the_general_text(
    notified: Workflow,
) -> None:
    org = make_org(notified)
    posting = make_posting(notified, org)
    reasons = ["not_qualified", "no_availability", "interview_outcome", "a_reason_of_our_own"]
    for reason in reasons:
        application = make_application(notified, posting)
        notified.fire(
            EntityType.application, application.id, "reject", STAFF, reason="Notre décision",
            payload={"rejection_reason": reason},
        )  # fmt: skip
    make_application(notified, posting, language="en")  # still open when the call is cancelled
    notified.fire(EntityType.posting, posting.id, "cancel", STAFF, reason="Budget supprimé")
    answers = [m for m in messages(notified, org.id) if m.template.startswith("rejected_")]
    assert [m.template for m in answers] == [
        "rejected_not_qualified", "rejected_no_availability", "rejected_interview_outcome",
        "rejected_other", "rejected_posting_cancelled",
    ]  # fmt: skip
    assert len({m.text_body.split("\n\n")[1] for m in answers}) == len(answers)
    assert "24 mois" in answers[1].text_body  # the posting's commitment
    assert answers[-1].language == "en"
    assert answers[-1].subject == f"{posting.title}: call cancelled"


def test_a_closed_posting_tells_its_owner_who_still_waits_and_filling_it_answers_them(
    notified: Workflow,
) -> None:
    org = make_org(notified)
    owner, interviewer = make_user(notified, org), make_user(notified, org, Role.interviewer)
    posting = make_posting(notified, org, owner_id=owner.id, vacancies=1)
    placed, waiting, screened = (make_application(notified, posting) for _ in range(3))
    for application, events in ((placed, ["screen", "invite", "accept"]), (screened, ["screen"])):
        for event in events:
            if event == "accept":
                add_feedback(notified, application, interviewer)
            notified.fire(EntityType.application, application.id, event, STAFF)
    notified.fire(EntityType.posting, posting.id, "close", STAFF)
    [closed] = [m for m in messages(notified, org.id) if m.template == "posting_closed"]
    assert closed.to_email == owner.email and closed.application_id is None
    assert closed.subject == f"Appel clôturé : {posting.title}, 2 sans réponse"
    assert candidate_name(notified, waiting) in closed.text_body
    assert candidate_name(notified, screened) in closed.text_body
    assert candidate_name(notified, placed) not in closed.text_body
    assert "- Candidature reçue : 1" in closed.text_body
    assert "- En cours d'examen : 1" in closed.text_body

    notified.fire(EntityType.posting, posting.id, "fill", STAFF)
    filled = [m for m in messages(notified, org.id) if m.template == "rejected_posting_filled"]
    assert sorted(m.application_id for m in filled) == sorted([waiting.id, screened.id])


def candidate_name(workflow: Workflow, application: Application) -> str:
    with workflow.sessions() as session:
        candidate = session.get_one(Candidate, application.candidate_id)
        return f"{candidate.first_name} {candidate.last_name}"


def test_a_staff_candidate_hears_of_the_offer_with_the_salary_in_their_language(
    notified: Workflow,
) -> None:
    org = make_org(notified)
    interviewer = make_user(notified, org, Role.interviewer)
    posting = make_posting(
        notified, org, pipeline="staff", title="Programme Director", salary_min=5200,
        salary_max=6100, salary_currency="EUR", salary_period="month",
    )  # fmt: skip
    fr, en = make_application(notified, posting), make_application(notified, posting, language="en")
    for application, last in ((fr, "hire"), (en, "decline_offer")):
        for event in ("screen", "invite", "make_offer", last):
            if event == "make_offer":
                add_feedback(notified, application, interviewer)
            notified.fire(EntityType.application, application.id, event, STAFF)
    told = {(m.application_id, m.template): m for m in messages(notified, org.id)}
    # French groups thousands with a narrow no-break space, and puts a no-break space before €.
    assert "de 5\u202f200\xa0€ à 6\u202f100\xa0€ par mois" in told[fr.id, "offer"].text_body
    assert "is €5,200 to €6,100 a month" in told[en.id, "offer"].text_body
    assert told[fr.id, "hired"].subject == "Bienvenue : Programme Director"
    assert told[en.id, "offer_declined"].subject == "Your answer to our offer: Programme Director"


# --- Languages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "posting_languages", "org_language", "expected"),
    [
        ("en", [{"code": "fr", "level": "required"}], "fr", "en"),
        ("de", [{"code": "en", "level": "required"}, {"code": "fr", "level": "asset"}], "fr", "en"),
        ("de", [{"code": "nl", "level": "required"}, {"code": "fr", "level": "asset"}], "en", "en"),
        ("de", [], "fr", "fr"),
    ],
)
def test_the_candidate_is_written_to_in_their_language_else_the_postings_else_the_orgs(
    notified: Workflow, candidate: str, posting_languages: list, org_language: str, expected: str
) -> None:
    org = make_org(notified, default_language=org_language)
    posting = make_posting(notified, org, languages=posting_languages, contact_email=CONTACT)
    make_application(notified, posting, language=candidate)
    acknowledgement, to_contact = messages(notified, org.id)
    assert acknowledgement.template == "application_received"
    assert acknowledgement.language == expected
    assert (to_contact.template, to_contact.language) == ("new_application", org_language)
    assert to_contact.subject.startswith(
        {"fr": "Nouvelle candidature", "en": "New application"}[org_language]
    )


# --- Safety ---------------------------------------------------------------------------------------


def apply_as(workflow: Workflow, posting: Posting, **person: str) -> Application:
    """A candidate row made as the service makes it, without the public form's checks."""
    fields = {"first_name": "Eve", "last_name": "Sow", "email": "eve@example.org"} | person
    with workflow.sessions.begin() as session:
        return workflow.apply_in(session, posting.id, CandidateCreate(**fields, language="fr"))


def as_sent(message: OutboxMessage, settings: Settings) -> Any:
    """The message as the dispatcher builds it, parsed back by a mail reader."""
    outgoing = Outgoing(
        id=message.id, dedup_key=message.dedup_key, to_email=message.to_email,
        to_name=message.to_name, subject=message.subject, text_body=message.text_body,
        html_body=message.html_body, created_at=message.created_at,
        attachments=message.attachments,
    )  # fmt: skip
    return message_from_bytes(build(outgoing, settings.mail_from, NOW), policy=policy.default)


def test_line_breaks_in_a_name_cannot_add_a_header_or_a_recipient(
    notified: Workflow, settings: Settings
) -> None:
    org = make_org(notified)
    posting = make_posting(
        notified, org, contact_email=CONTACT, contact_name="RH\r\nCc: mallory@evil.example"
    )
    apply_as(
        notified, posting, first_name="Eve\r\nBcc: mallory@evil.example",
        last_name="Sow\nX-Injected: yes\r\n\r\n<p>body</p>",
    )  # fmt: skip
    queued = messages(notified, org.id)
    assert [m.template for m in queued] == ["application_received", "new_application"]
    for message in queued:
        assert not any(c in message.to_name + message.subject for c in "\r\n")
        parsed = as_sent(message, settings)
        assert parsed["Bcc"] is None and parsed["Cc"] is None and parsed["X-Injected"] is None
        assert [a.addr_spec for a in parsed["To"].addresses] == [message.to_email]
        assert "mallory" not in message.to_email
    assert queued[0].to_name == "Eve Bcc: mallory@evil.example Sow X-Injected: yes <p>body</p>"
    assert "Nouvelle candidature : Eve Bcc: mallory@evil.example Sow" in queued[1].subject
    assert queued[1].to_name == "RH Cc: mallory@evil.example"


@pytest.mark.parametrize(
    "address",
    [
        "eve@example.org\r\nBcc: mallory@evil.example",
        "eve@example.org\nBcc: mallory@evil.example",
        "eve@example.org, mallory@evil.example",
        "Eve <eve@example.org>",
        "eve@example.org;mallory@evil.example",
        "eve@localhost",
    ],
)
def test_a_crafted_address_is_never_written_to_and_the_application_still_goes_through(
    notified: Workflow, address: str
) -> None:
    org = make_org(notified)
    posting = make_posting(notified, org, contact_email=CONTACT)
    application = apply_as(notified, posting, email=address)
    assert application.id is not None and not deliverable(address)
    assert [(m.template, m.to_email) for m in messages(notified, org.id)] == [
        ("new_application", CONTACT)
    ]


def test_what_a_candidate_typed_is_escaped_in_the_html_part(notified: Workflow) -> None:
    org = make_org(notified)
    posting = make_posting(notified, org, contact_email=CONTACT)
    apply_as(notified, posting, first_name="<script>alert(1)</script>", last_name="O'Hara & <b>Co")
    acknowledgement, to_contact = messages(notified, org.id)
    for message in (acknowledgement, to_contact):
        assert "<script>" not in message.html_body and "<b>Co" not in message.html_body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html_body
    assert "O&#39;Hara &amp; &lt;b&gt;Co" in to_contact.html_body
    assert acknowledgement.text_body.startswith("Bonjour <script>alert(1)</script>,")


def test_people_who_cannot_be_written_to_are_skipped_and_the_move_happens(
    notified: Workflow,
) -> None:
    org = make_org(notified)
    owner = make_user(notified, org)
    posting = make_posting(notified, org, owner_id=owner.id, contact_email="")
    with notified.sessions.begin() as session:
        session.get_one(User, owner.id).is_active = False
    application = make_application(notified, posting)
    with notified.sessions.begin() as session:
        session.get_one(Candidate, application.candidate_id).anonymised_at = NOW
    notified.fire(EntityType.application, application.id, "withdraw", Actor.system())
    assert [m.template for m in messages(notified, org.id)] == ["application_received"]
