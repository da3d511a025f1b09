"""What was sent about an application (API and `vivier messages`), the dead messages HR sees and
re-sends. Outbox rows are written directly, as the queue leaves them: these tests do not depend
on the templates or the dispatcher."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine

from notifications.models import MessageStatus, OutboxMessage, RecipientKind
from notifications.scrub import scrub_messages
from tests.api_support import Api, problem
from tests.factories import add_feedback, make_application, make_org, make_posting, now
from workflow.db import make_engine, session_factory
from workflow.models import Application, Candidate, Role
from workflow.service import Workflow

_keys = itertools.count(1)
ICS = {"filename": "entretien.ics", "content_type": "text/calendar; method=REQUEST", "text": "X"}


def add_message(
    workflow: Workflow,
    application: Application | None,
    *,
    organisation_id: int | None = None,
    kind: RecipientKind = RecipientKind.candidate,
    recipient_id: int | None = None,
    to_email: str = "awa.diallo@example.org",
    to_name: str = "Awa Diallo",
    template: str = "application_received",
    subject: str = "Votre candidature, Awa Diallo",
    status: MessageStatus = MessageStatus.sent,
    mail_dir: Path | None = None,
    **fields: Any,
) -> OutboxMessage:
    """An outbox row as the queue and the dispatcher leave it; with `mail_dir`, its .eml file as
    the folder backend writes it (a sent message only)."""
    at = fields.pop("created_at", now())
    if recipient_id is None and kind is RecipientKind.candidate and application is not None:
        recipient_id = application.candidate_id
    message = OutboxMessage(
        organisation_id=organisation_id or (application and application.organisation_id),
        application_id=application and application.id,
        dedup_key=f"test:{next(_keys)}:{template}",
        template=template,
        language="fr",
        recipient_kind=kind,
        recipient_id=recipient_id,
        to_email=to_email,
        to_name=to_name,
        subject=subject,
        text_body=f"Bonjour {to_name},\n\nMerci pour votre candidature.",
        html_body=f"<p>Bonjour {to_name},</p>",
        status=status,
        next_attempt_at=at,
        created_at=at,
        sent_at=at + timedelta(seconds=5) if status is MessageStatus.sent else None,
        message_id=f"<{next(_keys)}@vivier.test>" if status is MessageStatus.sent else None,
    )
    for key, value in fields.items():
        setattr(message, key, value)
    with workflow.sessions.begin() as session:
        session.add(message)
    if mail_dir is not None and status is MessageStatus.sent:
        mail_dir.mkdir(parents=True, exist_ok=True)
        (mail_dir / f"{message.id:08d}.eml").write_text(
            f"To: {to_name} <{to_email}>\nSubject: {subject}\n\n{message.text_body}\n"
        )
    return message


def dead(workflow: Workflow, application: Application, **fields: Any) -> OutboxMessage:
    return add_message(
        workflow, application, status=MessageStatus.dead, attempts=8,
        last_error="550 5.1.1 <awa.diallo@example.org>: mailbox unavailable", **fields,
    )  # fmt: skip


def stored(workflow: Workflow, message_id: int) -> OutboxMessage:
    with workflow.sessions() as session:
        return session.get_one(OutboxMessage, message_id)


# --- An application's messages ----------------------------------------------------------------


def test_staff_who_see_the_application_see_what_was_sent_about_it(api: Api):
    workflow = api.workflow
    org = api.org()
    recruiter = api.staff(org, Role.recruiter)
    posting = make_posting(workflow, org, owner_id=recruiter.id)
    application = make_application(workflow, posting)
    early = now() - timedelta(hours=2)
    invitation = add_message(
        workflow, application, template="interview_scheduled", subject="Entretien le 10 mars",
        attachments=[ICS],
    )  # fmt: skip
    received = add_message(workflow, application, created_at=early)
    to_staff = add_message(
        workflow, application, kind=RecipientKind.user, recipient_id=recruiter.id,
        to_email=recruiter.user.email, to_name="Julien", template="new_application",
        subject="Nouvelle candidature : Awa Diallo", status=MessageStatus.queued,
    )  # fmt: skip
    failed = dead(workflow, application, template="rejected_not_qualified")
    add_message(workflow, make_application(workflow, posting), subject="Someone else's")

    listed = api.client.get(f"/applications/{application.id}/messages", headers=recruiter.headers)

    assert listed.status_code == 200
    rows = listed.json()
    assert [row["id"] for row in rows] == [received.id, invitation.id, to_staff.id, failed.id]
    first = rows[0]
    assert (first["template"], first["recipient_kind"], first["to_email"], first["to_name"]) == (
        "application_received", "candidate", "awa.diallo@example.org", "Awa Diallo",
    )  # fmt: skip
    assert (first["subject"], first["status"], first["attempts"]) == (
        "Votre candidature, Awa Diallo", "sent", 0,
    )  # fmt: skip
    assert datetime.fromisoformat(first["sent_at"]) == received.sent_at
    assert first["text_body"].startswith("Bonjour Awa Diallo")
    assert first["message_id"] == received.message_id
    assert rows[1]["attachments"] == ["entretien.ics"]
    assert (rows[2]["status"], rows[2]["sent_at"]) == ("queued", None)
    assert (rows[3]["status"], rows[3]["attempts"]) == ("dead", 8)
    assert rows[3]["last_error"].startswith("550 5.1.1")

    interviewer = api.staff(org, Role.interviewer)
    url = f"/applications/{application.id}/messages"
    problem(api.client.get(url, headers=interviewer.headers), 404)
    add_feedback(workflow, application, interviewer.user)
    assert len(api.client.get(url, headers=interviewer.headers).json()) == 4
    for role in Role:
        outsider = api.staff(api.org(), role)
        assert "Awa" not in problem(api.client.get(url, headers=outsider.headers), 404)["detail"]


def test_an_application_without_messages_answers_an_empty_list(api: Api):
    org = api.org()
    application = make_application(api.workflow, make_posting(api.workflow, org))
    hr = api.staff(org, Role.hr)
    response = api.client.get(f"/applications/{application.id}/messages", headers=hr.headers)
    assert (response.status_code, response.json()) == (200, [])
    problem(api.client.get("/applications/2147483648/messages", headers=hr.headers), 422)


# --- Dead messages ----------------------------------------------------------------------------


def test_hr_sees_the_dead_messages_and_resends_one(api: Api):
    workflow = api.workflow
    org = api.org()
    application = make_application(workflow, make_posting(workflow, org))
    add_message(workflow, application)
    older = dead(workflow, application, created_at=now() - timedelta(days=1))
    newer = dead(workflow, application, template="invited_to_interview")
    other_org = make_application(workflow, make_posting(workflow, api.org()))
    dead(workflow, other_org, subject="Not yours")
    hr = api.staff(org, Role.hr)

    listed = api.client.get("/messages?status=dead", headers=hr.headers)
    assert [row["id"] for row in listed.json()] == [newer.id, older.id]
    assert api.client.get("/messages", headers=hr.headers).json() == listed.json()
    sent = api.client.get("/messages?status=sent", headers=hr.headers).json()
    assert [row["status"] for row in sent] == ["sent"]

    moment = now().replace(microsecond=0) + timedelta(hours=1)
    with time_machine.travel(moment, tick=False):
        response = api.client.post(f"/messages/{older.id}/resend", headers=hr.headers)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["attempts"]) == ("queued", 0)
    again = stored(workflow, older.id)
    assert (again.status, again.attempts, again.next_attempt_at) == (
        MessageStatus.queued, 0, moment,
    )  # fmt: skip
    assert again.last_error == older.last_error  # why it had died, until the next attempt
    assert (again.lease_until, again.claimed_by) == (None, None)
    still_dead = api.client.get("/messages?status=dead", headers=hr.headers).json()
    assert [row["id"] for row in still_dead] == [newer.id]

    refused = problem(api.client.post(f"/messages/{older.id}/resend", headers=hr.headers), 409)
    assert refused["detail"] == f"message {older.id} is queued; only dead ones are resent"


def test_only_admin_and_hr_see_and_resend_dead_messages(api: Api):
    workflow = api.workflow
    org = api.org()
    message = dead(workflow, make_application(workflow, make_posting(workflow, org)))
    for role in (Role.recruiter, Role.interviewer):
        member = api.staff(org, role)
        problem(api.client.get("/messages?status=dead", headers=member.headers), 403)
        problem(api.client.post(f"/messages/{message.id}/resend", headers=member.headers), 403)
    assert stored(workflow, message.id).status is MessageStatus.dead
    admin = api.staff(org, Role.admin)
    assert api.client.post(f"/messages/{message.id}/resend", headers=admin.headers).is_success


def test_another_organisations_message_is_not_found(api: Api):
    workflow = api.workflow
    message = dead(workflow, make_application(workflow, make_posting(workflow, api.org())))
    for role in Role:
        outsider = api.staff(api.org(), role)
        response = api.client.post(f"/messages/{message.id}/resend", headers=outsider.headers)
        assert problem(response, 404)["detail"] == f"message {message.id} not found"
        if role in (Role.admin, Role.hr):
            assert api.client.get("/messages", headers=outsider.headers).json() == []
    assert stored(workflow, message.id).status is MessageStatus.dead
    hr = api.staff(api.org(), Role.hr)
    problem(api.client.post("/messages/2147483647/resend", headers=hr.headers), 404)


def test_a_message_scrubbed_by_retention_cannot_be_resent(api: Api, tmp_path: Path):
    workflow = api.workflow
    org = api.org()
    application = make_application(workflow, make_posting(workflow, org))
    message = dead(workflow, application)
    with workflow.sessions.begin() as session:
        scrub_messages(
            session, org.id, application.id, application.candidate_id,
            candidate_anonymised=True, mail_dir=tmp_path,
        )  # fmt: skip
    hr = api.staff(org, Role.hr)
    refused = problem(api.client.post(f"/messages/{message.id}/resend", headers=hr.headers), 409)
    assert "scrubbed by retention" in refused["detail"]
    assert stored(workflow, message.id).status is MessageStatus.dead


def test_listing_refuses_bad_parameters(api: Api):
    hr = api.staff(api.org(), Role.hr)
    assert problem(api.client.get("/messages?status=lost", headers=hr.headers), 422)["field"] == (
        "status"
    )
    assert problem(api.client.get("/messages?limit=0", headers=hr.headers), 422)["field"] == "limit"


# --- vivier messages --------------------------------------------------------------------------


def test_vivier_messages_lists_what_the_candidate_and_staff_were_sent(
    vivier, empty_database_url, pipelines
):
    assert vivier("db", "upgrade")[0] == 0
    engine = make_engine(empty_database_url)
    try:
        workflow = Workflow(session_factory(engine), pipelines)
        org = make_org(workflow)
        application = make_application(workflow, make_posting(workflow, org))
        quiet = make_application(workflow, make_posting(workflow, org))
        with workflow.sessions() as session:
            candidate = session.get_one(Candidate, application.candidate_id)
        received = add_message(workflow, application, to_email=candidate.email)
        add_message(
            workflow, application, kind=RecipientKind.contact, to_email="rh@example.org",
            to_name="", template="new_application", subject="Nouvelle candidature",
            status=MessageStatus.queued,
        )  # fmt: skip
        dead(workflow, application, template="rejected_not_qualified", subject="Votre candidature")
    finally:
        engine.dispose()

    code, out, err = vivier("messages", str(application.id))

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 7
    assert lines[0].startswith(f"{received.created_at:%Y-%m-%d %H:%M} UTC  sent")
    assert lines[0].endswith(
        f"application_received         candidate Awa Diallo <{candidate.email}>"
    )
    assert lines[1].strip() == (
        f"subject: Votre candidature, Awa Diallo  (fr, sent {received.sent_at:%Y-%m-%d %H:%M})"
    )
    assert "queued new_application" in lines[2] and lines[2].endswith("contact   rh@example.org")
    assert lines[3].strip() == "subject: Nouvelle candidature  (fr, not sent yet)"
    assert "dead   rejected_not_qualified" in lines[4]
    assert lines[5].strip() == "subject: Votre candidature  (fr, 8 failed attempts)"
    assert lines[6].strip().startswith("last error: 550 5.1.1")
    assert vivier("messages", str(quiet.id))[1] == f"no messages about application {quiet.id}\n"
    code, _, err = vivier("messages", "999999")
    assert (code, err) == (1, "error: application 999999 not found\n")
