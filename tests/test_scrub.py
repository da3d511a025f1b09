"""Retention reaches the e-mails (issue 5): when the sweep anonymises an application, every message
about it loses its subject, bodies and attachments, the candidate's lose their address too, and
the .eml copies are deleted; status, template and times stay. Through the real sweep, on SQLite and
PostgreSQL, with outbox rows written as the queue and the dispatcher leave them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

import notifications
from api.wiring import build_container
from config.settings import Settings
from notifications import scrub
from notifications.models import MessageStatus, OutboxMessage, RecipientKind
from notifications.scrub import NEVER_SENT, SCRUBBED
from tests.factories import STAFF, make_application, make_org, make_posting, make_user, now
from tests.test_messages import ICS, add_message, dead
from tests.test_retention import (
    APP,
    apply,
    candidate_of,
    pending_retention,
    reject,
    retention_deadlines,
)
from workflow.migrate import upgrade
from workflow.models import (
    Application,
    Candidate,
    DeadlineStatus,
    EntityType,
    Organisation,
    Role,
)
from workflow.scheduler import sweep
from workflow.service import Workflow

POSTING = EntityType.posting


@pytest.fixture
def mail_dir(workflow: Workflow, tmp_path: Path) -> Path:
    """The .eml folder, with the scrubber subscribed as the wiring does."""
    settings = Settings(var_dir=tmp_path)
    scrub.subscribe(workflow.bus, settings)
    return settings.effective_mail_dir


def row(workflow: Workflow, message: OutboxMessage) -> OutboxMessage:
    with workflow.sessions() as session:
        return session.get_one(OutboxMessage, message.id)


def eml(mail_dir: Path, message: OutboxMessage) -> Path:
    return mail_dir / f"{message.id:08d}.eml"


def unchanged(message: OutboxMessage) -> dict[str, Any]:
    return message.model_dump()


class Sent:
    """The messages of one application, as the notifications would have left them."""

    def __init__(self, workflow: Workflow, org: Organisation, application: Application, mail_dir):
        with workflow.sessions() as session:
            candidate = session.get_one(Candidate, application.candidate_id)
        self.email, self.name = candidate.email, f"{candidate.first_name} {candidate.last_name}"
        who = {"to_email": self.email, "to_name": self.name, "mail_dir": mail_dir}
        recruiter = make_user(workflow, org, Role.recruiter)
        self.received = add_message(workflow, application, **who)
        self.invited = add_message(
            workflow, application, template="interview_scheduled", attachments=[ICS],
            subject=f"Entretien, {self.name}", **who,
        )  # fmt: skip
        self.to_staff = add_message(
            workflow, application, kind=RecipientKind.user, recipient_id=recruiter.id,
            to_email=recruiter.email, to_name=recruiter.name, template="new_application",
            subject=f"Nouvelle candidature : {self.name}", mail_dir=mail_dir,
        )  # fmt: skip
        self.to_contact = add_message(
            workflow, application, kind=RecipientKind.contact, to_email="rh@example.org",
            to_name="", template="new_application", subject=f"Candidature de {self.name}",
            mail_dir=mail_dir,
        )  # fmt: skip
        self.undelivered = dead(workflow, application, to_email=self.email, to_name=self.name)
        self.waiting = add_message(
            workflow, application, status=MessageStatus.queued, attempts=2,
            template="idle_reminder", last_error="421 try later", **who,
        )  # fmt: skip

    @property
    def to_candidate(self) -> list[OutboxMessage]:
        return [self.received, self.invited, self.undelivered, self.waiting]

    @property
    def all(self) -> list[OutboxMessage]:
        return [*self.to_candidate, self.to_staff, self.to_contact]


def assert_scrubbed(workflow: Workflow, sent: Sent, candidate_id: int, mail_dir: Path) -> None:
    for before in sent.all:
        after = row(workflow, before)
        assert (after.subject, after.text_body, after.html_body) == (SCRUBBED,) * 3
        assert after.attachments == []
        assert sent.email not in str(after.model_dump()) and "Diallo" not in str(after.model_dump())
        # What HR still sees: that it was sent (or not), what, when, and how often it was tried.
        kept = ("template", "language", "created_at", "sent_at", "message_id", "attempts")
        assert [getattr(after, f) for f in kept] == [getattr(before, f) for f in kept]
        assert not eml(mail_dir, before).exists()
    for before in sent.to_candidate:
        after = row(workflow, before)
        assert (after.to_email, after.to_name) == (f"anonymised-{candidate_id}@invalid", "")
    for before in (sent.to_staff, sent.to_contact):
        after = row(workflow, before)
        assert (after.to_email, after.to_name) == (before.to_email, before.to_name)


# --- Through the sweep ------------------------------------------------------------------------


def test_retention_scrubs_every_message_about_the_application_and_its_eml_files(
    workflow: Workflow, mail_dir: Path
):
    org = make_org(workflow)
    posting = make_posting(workflow, org)
    application = apply(workflow, posting)
    sent = Sent(workflow, org, application, mail_dir)
    neighbour = apply(workflow, posting)
    theirs = add_message(workflow, neighbour, to_email="someone@example.org", mail_dir=mail_dir)
    assert all(eml(mail_dir, m).exists() for m in (sent.received, sent.to_staff, theirs))
    reject(workflow, application)
    due = pending_retention(workflow, application.id).due_at

    sweep(workflow, now=due - timedelta(seconds=1), organisation_id=org.id)
    assert row(workflow, sent.received).subject == sent.received.subject
    assert eml(mail_dir, sent.received).exists()

    sweep(workflow, now=due, organisation_id=org.id)

    candidate = candidate_of(workflow, application)
    assert candidate.anonymised_at == due
    assert_scrubbed(workflow, sent, candidate.id, mail_dir)
    statuses = [row(workflow, m).status for m in sent.all]
    assert statuses == [MessageStatus.sent, MessageStatus.sent, MessageStatus.dead,
                        MessageStatus.cancelled, MessageStatus.sent, MessageStatus.sent]  # fmt: skip
    # Never sent, and nothing left to send: cancelled, saying why (not queued to "@invalid").
    waiting = row(workflow, sent.waiting)
    assert (waiting.last_error, waiting.lease_until, waiting.claimed_by) == (NEVER_SENT, None, None)
    assert row(workflow, sent.undelivered).last_error == SCRUBBED  # the refusal quoted the address
    assert unchanged(row(workflow, theirs)) == unchanged(theirs)
    assert eml(mail_dir, theirs).exists()


def test_a_kept_candidate_keeps_the_other_applications_messages_until_their_own_retention(
    workflow: Workflow, mail_dir: Path
):
    org = make_org(workflow)
    email = f"awa.kept.{now().timestamp()}@example.org"
    ended = apply(workflow, make_posting(workflow, org), email=email)
    still_open = apply(workflow, make_posting(workflow, org), email=email)
    first, second = Sent(workflow, org, ended, mail_dir), Sent(workflow, org, still_open, mail_dir)
    pool = add_message(
        workflow, None, organisation_id=org.id, recipient_id=ended.candidate_id, to_email=email,
        template="talent_pool_news", mail_dir=mail_dir,
    )  # fmt: skip
    reject(workflow, ended)

    sweep(workflow, now=pending_retention(workflow, ended.id).due_at, organisation_id=org.id)

    assert candidate_of(workflow, ended).anonymised_at is None
    for message in first.all:
        assert row(workflow, message).text_body == SCRUBBED
    for message in [*second.all, pool]:
        assert unchanged(row(workflow, message)) == unchanged(message)
    assert eml(mail_dir, second.received).exists() and eml(mail_dir, pool).exists()

    # Written about the first application after its scrub (a late reminder to staff): the
    # candidate's own anonymisation takes it too, with everything else addressed to them.
    late = add_message(
        workflow, ended, kind=RecipientKind.user, to_email="rh@example.org",
        subject="Rappel : Awa Diallo", mail_dir=mail_dir,
    )  # fmt: skip
    workflow.fire(APP, still_open.id, "withdraw", STAFF)
    later = pending_retention(workflow, still_open.id).due_at
    sweep(workflow, now=later, organisation_id=org.id)

    candidate = candidate_of(workflow, still_open)
    assert candidate.anonymised_at == later
    assert_scrubbed(workflow, second, candidate.id, mail_dir)
    for message in (pool, late):
        after = row(workflow, message)
        assert (after.subject, after.text_body) == (SCRUBBED, SCRUBBED)
        assert not eml(mail_dir, message).exists()
    assert row(workflow, pool).to_email == f"anonymised-{candidate.id}@invalid"
    assert row(workflow, late).to_email == "rh@example.org"


def test_a_failed_retention_leaves_the_messages_and_its_retry_scrubs_them(
    workflow: Workflow, mail_dir: Path
):
    """The scrub is in the retention's transaction: when something after it fails, the rows roll
    back with the rest (the .eml copies are gone already) and the retried deadline finishes."""
    org = make_org(workflow)
    application = apply(workflow, make_posting(workflow, org))
    sent = Sent(workflow, org, application, mail_dir)
    failing = [True]

    def after_scrub(_session: Any, event: Any) -> None:
        if event.name == "anonymised" and failing[0]:
            raise RuntimeError("a later subscriber failed")

    workflow.bus.subscribe(after_scrub)
    reject(workflow, application)
    due = pending_retention(workflow, application.id).due_at

    assert sweep(workflow, now=due, organisation_id=org.id).retried == 1
    assert unchanged(row(workflow, sent.received)) == unchanged(sent.received)
    assert candidate_of(workflow, application).anonymised_at is None
    assert not eml(mail_dir, sent.received).exists()

    failing[0] = False
    retry_at = pending_retention(workflow, application.id).due_at
    assert sweep(workflow, now=retry_at, organisation_id=org.id).done == 1
    assert_scrubbed(workflow, sent, application.candidate_id, mail_dir)
    (deadline,) = retention_deadlines(workflow, application.id)
    assert deadline.status is DeadlineStatus.done


def test_the_wiring_subscribes_the_scrubber(empty_database_url: str, tmp_path: Path):
    """Every process built by build_container (serve, scheduler, CLI) scrubs: the subscriber
    comes from notifications.install, with the settings' mail folder."""
    container = build_container(Settings(database_url=empty_database_url, var_dir=tmp_path))
    try:
        upgrade(container.engine)
        workflow = container.workflow
        org = make_org(workflow)
        application = apply(workflow, make_posting(workflow, org))
        mail_dir = container.settings.effective_mail_dir
        message = add_message(workflow, application, mail_dir=mail_dir)
        reject(workflow, application)
        sweep(workflow, now=pending_retention(workflow, application.id).due_at)
        assert row(workflow, message).text_body == SCRUBBED
        assert not eml(mail_dir, message).exists()
    finally:
        container.engine.dispose()


def test_nothing_the_notifications_queued_names_the_candidate_after_retention(
    workflow: Workflow, tmp_path: Path
):
    """Through the real queue (notifications.install): the acknowledgement, the owner's "new
    application", the rejection and the summary of the closed call (a posting's message, naming
    who still waited) all lose the candidate. A summary sent before they applied stays."""
    notifications.install(workflow.bus, Settings(var_dir=tmp_path))
    org = make_org(workflow)
    owner = make_user(workflow, org, Role.recruiter)
    posting = make_posting(workflow, org, owner_id=owner.id)
    other = make_application(workflow, posting)
    workflow.fire(POSTING, posting.id, "close", STAFF)
    reopened = {"closes_at": (date.today() + timedelta(days=90)).isoformat()}
    with time_machine.travel(now() + timedelta(minutes=5)):
        workflow.fire(POSTING, posting.id, "reopen", STAFF, payload=reopened)
        application = apply(workflow, posting)
        workflow.fire(POSTING, posting.id, "close", STAFF)
        reject(workflow, application)
    before = outbox(workflow, org)
    summaries = [m for m in before if m.template == "posting_closed"]
    assert len(summaries) == 2 and all(m.application_id is None for m in summaries)
    naming = [m for m in before if names_her(m)]
    assert {m.template for m in naming} >= {"application_received", "posting_closed"}
    assert len(naming) >= 4

    sweep(workflow, now=pending_retention(workflow, application.id).due_at, organisation_id=org.id)

    after = {m.id: m for m in outbox(workflow, org)}
    assert not [m for m in after.values() if names_her(m)]
    assert {after[m.id].text_body for m in naming} == {SCRUBBED}
    first_summary = after[summaries[0].id]
    assert unchanged(first_summary) == unchanged(summaries[0])  # sent before she applied
    for message in before:
        if message.application_id == other.id:
            assert unchanged(after[message.id]) == unchanged(message)


def names_her(message: OutboxMessage) -> bool:
    """Whether the row holds Awa Diallo's name or address anywhere (the other one is Prénom N)."""
    text = str(message.model_dump()).lower()
    return "awa" in text or "diallo" in text


def outbox(workflow: Workflow, org: Organisation) -> list[OutboxMessage]:
    with workflow.sessions() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.organisation_id == org.id)
                .order_by(OutboxMessage.id)
            )
        )
