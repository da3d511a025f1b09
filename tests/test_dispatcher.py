"""The e-mail dispatcher (issue 6, Outbox and dispatcher; Backends), on SQLite and PostgreSQL.

A real SMTP server (aiosmtpd, on a free local port, in a thread) receives what the SMTP backend
sends; the folder backend's files are parsed back with the `email` package. Time is never waited
for: rounds are run with a `now`. Each test has a database of its own, since the dispatcher
delivers every organisation's messages. Messages are queued directly as outbox rows (rendered
content), as the notifications' subscriber leaves them.
"""

from __future__ import annotations

import email
import multiprocessing
import os
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.app import create_app
from api.wiring import build_container
from config.settings import Settings
from notifications import history
from notifications.backends import FolderBackend, SmtpBackend
from notifications.dispatcher import (
    Dispatcher,
    DispatcherAlreadyRunning,
    Options,
    RoundResult,
    deliver,
    drain,
    lock_single_dispatcher,
)
from notifications.models import MessageStatus, OutboxMessage, RecipientKind
from tests.factories import make_org
from workflow.db import make_engine, session_factory
from workflow.migrate import upgrade
from workflow.service import Workflow

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
MAIL_FROM = Settings().mail_from


# --- The outbox -----------------------------------------------------------------------------------


@dataclass
class Outbox:
    url: str
    sessions: sessionmaker[Session]
    organisation_id: int

    def queue(
        self,
        recipients: list[str],
        count: int,
        *,
        at: datetime = T0,
        subject: str = "message {k}",
        **fields: Any,
    ) -> list[int]:
        """`count` messages, the k-th to recipients[k % len(recipients)], due at `at`."""
        tag = uuid.uuid4().hex[:8]
        rows = [
            OutboxMessage(
                **{
                    "organisation_id": self.organisation_id,
                    "dedup_key": f"test:{tag}:{k}",
                    "template": "test",
                    "language": "fr",
                    "recipient_kind": RecipientKind.candidate,
                    "to_email": recipients[k % len(recipients)],
                    "to_name": f"Personne {k}",
                    "subject": subject.format(k=k),
                    "text_body": f"Bonjour, ceci est le message {k}.",
                    "html_body": f"<p>Bonjour, ceci est le message {k}.</p>",
                    "attachments": [],
                    "next_attempt_at": at,
                    "created_at": at,
                }
                | fields
            )
            for k in range(count)
        ]
        with self.sessions.begin() as session:
            session.add_all(rows)
        return [row.id for row in rows]

    def get(self, message_id: int) -> OutboxMessage:
        with self.sessions() as session:
            return session.get(OutboxMessage, message_id)

    def all(self) -> list[OutboxMessage]:
        with self.sessions() as session:
            return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def statuses(self) -> Counter[MessageStatus]:
        return Counter(m.status for m in self.all())


@pytest.fixture
def outbox(empty_database_url: str, pipelines) -> Iterator[Outbox]:
    """A migrated database of the test's own, with one organisation."""
    engine = make_engine(empty_database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    org = make_org(Workflow(sessions, pipelines))
    yield Outbox(empty_database_url, sessions, org.id)
    engine.dispose()


def options(**changes: Any) -> Options:
    return Options(mail_from=MAIL_FROM, **changes)


def run_until_empty(outbox: Outbox, backend: Any, opts: Options, start: datetime, step: timedelta):
    """Drain at start, start + step, ... until nothing is queued (at most 50 steps)."""
    for k in range(50):
        at = start + k * step
        drain(outbox.sessions, backend, opts, clock=lambda at=at: at)
        if not outbox.statuses()[MessageStatus.queued]:
            return at
    pytest.fail(f"still queued after 50 steps: {outbox.statuses()}")


# --- SMTP: down, refusals, dead, resend -----------------------------------------------------------


def test_smtp_down_for_an_hour_then_up_delivers_everything_in_order(outbox, smtp, tmp_path):
    recipients = [f"person{k}@example.org" for k in range(12)]
    outbox.queue(recipients, 60)
    backend = SmtpBackend(smtp.settings(tmp_path))
    opts = options(batch=10, max_attempts=3)
    smtp.down()

    first = deliver(outbox.sessions, backend, opts, now=T0)
    assert (first.claimed, first.sent, first.retried, first.dead) == (10, 0, 10, 0)
    assert "ConnectionRefusedError" in first.down
    at = T0
    # An hour against a server that is down. A round that finds the server down stops there
    # (a running dispatcher tries the next batch a second later): here, a round a minute.
    for minutes in range(1, 61):
        at = T0 + timedelta(minutes=minutes)
        drain(outbox.sessions, backend, opts, clock=lambda at=at: at)
    stored = outbox.all()
    assert {m.status for m in stored} == {MessageStatus.queued}  # nothing dead, nothing lost
    assert {m.attempts for m in stored} == {0}  # the server's failure, not the messages'
    tried = [m for m in stored if m.last_error is not None]  # the rest wait behind them
    assert len(tried) >= len(recipients)
    assert all("ConnectionRefusedError" in m.last_error for m in tried)
    # Tried again later and later while the server stays down: over 10 minutes apart by now.
    assert max(m.next_attempt_at for m in tried) - at > timedelta(minutes=10)

    smtp.up()
    smtp.inbox.refuse("person1@example.org", "451 4.3.0 try again later", times=1)  # a hiccup
    run_until_empty(outbox, backend, opts, at + timedelta(minutes=31), timedelta(minutes=31))

    stored = outbox.all()
    assert {m.status for m in stored} == {MessageStatus.sent}
    received = Counter(item.message_id for item in smtp.inbox.received)
    assert sorted(received) == sorted(m.message_id for m in stored)
    assert set(received.values()) == {1}  # each once
    for k, address in enumerate(recipients):
        expected = [f"message {n}" for n in range(k, 60, len(recipients))]
        assert smtp.inbox.by_recipient()[address] == expected, address


def test_a_refused_message_holds_back_its_recipients_later_ones(outbox, smtp, tmp_path):
    a1, b1, a2, b2 = outbox.queue(["a@example.org", "b@example.org"], 4)
    smtp.inbox.refuse("a@example.org", "451 4.7.1 greylisted, try again later", times=1)
    backend = SmtpBackend(smtp.settings(tmp_path))

    result = deliver(outbox.sessions, backend, options(), now=T0)
    assert (result.claimed, result.sent, result.retried, result.dead) == (2, 1, 1, 0)
    assert [item.subject for item in smtp.inbox.received] == ["message 1"]  # b1
    refused = outbox.get(a1)
    assert (refused.status, refused.attempts) == (MessageStatus.queued, 1)
    assert refused.last_error == "SMTP 451 4.7.1 greylisted, try again later"
    assert T0 + timedelta(seconds=15) <= refused.next_attempt_at <= T0 + timedelta(seconds=30)

    # Before a1's retry is due, b's next message goes, and a2 waits behind a1.
    soon = T0 + timedelta(seconds=10)
    assert drain(outbox.sessions, backend, options(), clock=lambda: soon).sent == 1
    assert [item.subject for item in smtp.inbox.received] == ["message 1", "message 3"]
    assert outbox.get(a2).status is MessageStatus.queued
    later = T0 + timedelta(minutes=1)
    assert drain(outbox.sessions, backend, options(), clock=lambda: later).sent == 2
    assert smtp.inbox.by_recipient()["a@example.org"] == ["message 0", "message 2"]
    assert {outbox.get(i).status for i in (a1, b1, a2, b2)} == {MessageStatus.sent}


def test_dead_after_max_attempts_then_resent(outbox, smtp, tmp_path):
    [flaky] = outbox.queue(["flaky@example.org"], 1)
    [gone] = outbox.queue(["gone@example.org"], 1)
    smtp.inbox.refuse("flaky@example.org", "451 4.2.2 mailbox full")
    smtp.inbox.refuse("gone@example.org", "550 5.1.1 no such user")
    backend = SmtpBackend(smtp.settings(tmp_path))
    opts = options(max_attempts=3)

    for hours in range(3):
        deliver(outbox.sessions, backend, opts, now=T0 + timedelta(hours=hours))
    dead = outbox.get(flaky)
    assert (dead.status, dead.attempts, dead.sent_at) == (MessageStatus.dead, 3, None)
    assert dead.last_error == "SMTP 451 4.2.2 mailbox full"
    permanent = outbox.get(gone)  # a 5xx reply is final: dead at the first attempt
    assert (permanent.status, permanent.attempts) == (MessageStatus.dead, 1)
    assert permanent.last_error == "SMTP 550 5.1.1 no such user"
    assert deliver(outbox.sessions, backend, opts, now=T0 + timedelta(days=1)).claimed == 0
    assert smtp.inbox.received == []

    smtp.inbox.replies.clear()  # the mailbox has room again
    later = T0 + timedelta(days=2)
    with outbox.sessions.begin() as session:
        history.resend(session, flaky, later)
    assert deliver(outbox.sessions, backend, opts, now=later).sent == 1
    resent = outbox.get(flaky)
    assert (resent.status, resent.sent_at) == (MessageStatus.sent, later)
    assert [item.message_id for item in smtp.inbox.received] == [resent.message_id]
    assert outbox.get(gone).status is MessageStatus.dead


def test_crafted_names_and_addresses_add_no_header_and_no_recipient(outbox, smtp, tmp_path):
    evil = "victim@example.org"
    [by_name] = outbox.queue(["ana@example.org"], 1, to_name=f"Ana\r\nBcc: {evil}")
    [by_list] = outbox.queue(["bo@example.org"], 1, to_name=f"Bo <bo@evil.example>, {evil}")
    [by_subject] = outbox.queue(["chloe@example.org"], 1, subject=f"Hello\r\nBcc: {evil}")
    refused = [
        outbox.queue([address], 1)[0]
        for address in (
            f"dan@example.org, {evil}",
            f"dan@example.org\r\nBcc: {evil}",
            "Dan <dan@example.org>",
            "dan@example.org>\r\nRCPT TO:<victim@example.org",
        )
    ]
    [exe] = outbox.queue(
        ["eve@example.org"],
        1,
        attachments=[{"filename": "cv.exe", "content_type": "application/x-msdownload", "text": "MZ"}],
    )  # fmt: skip
    backend = SmtpBackend(smtp.settings(tmp_path))

    result = deliver(outbox.sessions, backend, options(), now=T0)
    assert (result.sent, result.dead) == (3, 5)
    received = {item.rcpt_tos[0]: item for item in smtp.inbox.received}
    assert sorted(received) == ["ana@example.org", "bo@example.org", "chloe@example.org"]
    for address, item in received.items():
        assert item.rcpt_tos == [address]  # the envelope: the stored address, nothing else
        assert item.message["Bcc"] is None
        assert [a.addr_spec for a in item.message["To"].addresses] == [address]
        assert "\n" not in item.subject and "\r" not in item.subject
    assert received["ana@example.org"].message["To"].addresses[0].display_name == (
        f"Ana Bcc: {evil}"
    )
    assert received["bo@example.org"].message["To"].addresses[0].display_name == (
        f"Bo <bo@evil.example>, {evil}"
    )
    assert received["chloe@example.org"].subject == f"Hello Bcc: {evil}"
    for message_id in refused:
        assert outbox.get(message_id).status is MessageStatus.dead
        assert outbox.get(message_id).last_error.startswith("not a deliverable address")
    assert outbox.get(exe).last_error.startswith("attachment refused (only .ics)")
    assert {by_name, by_list, by_subject} == {
        m.id for m in outbox.all() if m.status is MessageStatus.sent
    }


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_certificates_are_verified(outbox, smtp, certificate, tmp_path, monkeypatch, security):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    smtp.down()
    if security == "starttls":
        smtp.up(tls_context=context, require_starttls=True)
    else:
        smtp.up(ssl_context=context)
    [message] = outbox.queue(["ana@example.org"], 1)
    backend = SmtpBackend(smtp.settings(tmp_path, smtp_security=security))

    # A certificate no authority vouches for: nothing is sent (the password would go with it).
    result = deliver(outbox.sessions, backend, options(), now=T0)
    assert "CERTIFICATE_VERIFY_FAILED" in result.down
    assert outbox.get(message).status is MessageStatus.queued
    assert smtp.inbox.received == []
    # Once the authority is trusted (here through SSL_CERT_FILE), it goes.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    result = deliver(outbox.sessions, backend, options(), now=T0 + timedelta(hours=1))
    assert (result.sent, result.down) == (1, None)
    assert [item.rcpt_tos for item in smtp.inbox.received] == [["ana@example.org"]]


# --- The folder backend ---------------------------------------------------------------------------


def invitation() -> str:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Vivier//test//FR")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = icalendar.Event()
    event.add("uid", "interview-7@vivier.example.org")
    event.add("sequence", 2)
    event.add("summary", "Entretien : Éducation à la citoyenneté")
    event.add("dtstart", datetime(2026, 12, 3, 13, 30, tzinfo=UTC))
    event.add("dtend", datetime(2026, 12, 3, 14, 30, tzinfo=UTC))
    calendar.add_component(event)
    return calendar.to_ical().decode()


def test_the_folder_backend_writes_readable_eml_files(outbox, tmp_path):
    ics = {
        "filename": "entretien.ics",
        "content_type": "text/calendar; method=REQUEST",
        "text": invitation(),
    }
    [message_id] = outbox.queue(
        ["zoe.muller@example.org"],
        1,
        to_name="Zoë Müller",
        subject="Votre entretien « Éducation » du 3 décembre",
        attachments=[ics],
    )
    mail_dir = tmp_path / "mail"
    result = deliver(outbox.sessions, FolderBackend(mail_dir), options(), now=T0)
    assert (result.sent, result.dead, result.retried) == (1, 0, 0)

    stored = outbox.get(message_id)
    path = mail_dir / f"{message_id:08d}.eml"
    assert [p.name for p in mail_dir.iterdir()] == [path.name]  # no temporary file left
    with path.open("rb") as handle:
        parsed = email.message_from_binary_file(handle, policy=policy.default)
    assert parsed["Message-ID"] == stored.message_id
    assert parsed["Subject"] == "Votre entretien « Éducation » du 3 décembre"
    [to] = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë Müller", "zoe.muller@example.org")
    assert parsed["From"] == MAIL_FROM
    assert parsed["Date"].datetime == T0
    assert parsed["Auto-Submitted"] == "auto-generated"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert text.replace("\r\n", "\n") == stored.text_body
    assert html.replace("\r\n", "\n") == stored.html_body
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "entretien.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    [event] = calendar.walk("VEVENT")
    assert str(event["uid"]) == "interview-7@vivier.example.org"
    assert event["summary"] == "Entretien : Éducation à la citoyenneté"
    assert event.decoded("dtstart") == datetime(2026, 12, 3, 13, 30, tzinfo=UTC)
    # Readable as it is, in an editor: quoted-printable text, not base64.
    assert "Bonjour, ceci est le message 0." in path.read_text("utf-8")


def test_an_unwritable_mail_folder_is_retried_not_lost(outbox, tmp_path):
    ids = outbox.queue(["ana@example.org", "bo@example.org", "chloe@example.org"], 3)
    blocked = tmp_path / "mail"
    blocked.write_text("a file where the folder should be")
    opts = options(max_attempts=1)

    result = deliver(outbox.sessions, FolderBackend(blocked), opts, now=T0)
    assert (result.retried, result.dead, result.sent) == (3, 0, 0)
    assert "FileExistsError" in result.down
    blocked.unlink()
    run_until_empty(
        outbox, FolderBackend(blocked), opts, T0 + timedelta(hours=1), timedelta(hours=1)
    )
    assert sorted(p.name for p in blocked.iterdir()) == [f"{i:08d}.eml" for i in ids]


# --- The clock, the command line and serve ----------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_clock_catches_up_then_waits_for_the_next_retry(outbox, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    [due] = outbox.queue(["ana@example.org"], 1, at=now - timedelta(minutes=5))
    [later] = outbox.queue(["bo@example.org"], 1, at=now + timedelta(hours=1))
    settings = Settings(var_dir=tmp_path, dispatcher_interval_s=7)
    woken: list[RoundResult] = []
    dispatcher = Dispatcher(outbox.sessions, settings, clock=lambda: now, on_wake=woken.append)
    try:
        caught_up = dispatcher.start(paused=True)
        assert (caught_up.sent, woken) == (1, [caught_up])
        assert (tmp_path / "mail" / f"{due:08d}.eml").exists()
        jobs = {job.id: job for job in dispatcher.jobs()}
        interval = jobs.pop(Dispatcher.INTERVAL_JOB)
        assert interval.trigger.interval == timedelta(seconds=7)
        [at_next_due] = jobs.values()
        assert at_next_due.trigger.run_date == outbox.get(later).next_attempt_at
        with pytest.raises(DispatcherAlreadyRunning, match="already running on this SQLite"):
            Dispatcher(outbox.sessions, settings).start(paused=True)
    finally:
        dispatcher.stop()
    assert outbox.get(later).status is MessageStatus.queued


def test_vivier_dispatcher_once_sends_what_is_due(vivier, outbox, tmp_path, monkeypatch):
    monkeypatch.setenv("VIVIER_VAR_DIR", str(tmp_path / "var"))
    ids = outbox.queue(["ana@example.org"], 2, at=datetime.now(UTC))
    code, out, err = vivier("dispatcher", "--once")
    assert (code, err) == (0, "")
    assert "2 sent, 0 to retry, 0 dead" in out
    assert f"to .eml files in {tmp_path / 'var' / 'mail'}" in out
    assert sorted(p.name for p in (tmp_path / "var" / "mail").iterdir()) == [
        f"{i:08d}.eml" for i in ids
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_second_dispatcher_on_sqlite_is_refused_in_one_line(vivier, outbox, monkeypatch):
    monkeypatch.setenv("VIVIER_SERVE_SCHEDULER", "false")  # only the dispatcher's lock counts
    engine = make_engine(outbox.url)
    held = lock_single_dispatcher(engine)  # as a running `vivier dispatcher` holds it
    try:
        for command in (["dispatcher"], ["serve", "--no-demo"]):
            code, _, err = vivier(*command)
            assert code == 1, command
            assert err.startswith("error: a dispatcher is already running on this SQLite")
            assert "use PostgreSQL to run several" in err and err.count("\n") == 1
    finally:
        held.close()
        engine.dispose()


def test_serve_runs_the_dispatcher_beside_the_scheduler(outbox, tmp_path, monkeypatch):
    monkeypatch.setenv("VIVIER_DATABASE_URL", outbox.url)
    monkeypatch.setenv("VIVIER_VAR_DIR", str(tmp_path))
    [queued] = outbox.queue(["ana@example.org"], 1, at=datetime.now(UTC))
    container = build_container(Settings())
    try:
        with TestClient(create_app(container, background=True)) as client:
            assert client.get("/health").status_code == 200
            # Started with the app: its catch-up has delivered what was due.
            assert (tmp_path / "mail" / f"{queued:08d}.eml").exists()
        assert outbox.get(queued).status is MessageStatus.sent
        off = Settings(serve_dispatcher=False)
        [waiting] = outbox.queue(["bo@example.org"], 1, at=datetime.now(UTC))
        container.settings = off
        with TestClient(create_app(container, background=True)):
            pass
        assert outbox.get(waiting).status is MessageStatus.queued
    finally:
        container.engine.dispose()


# --- Several processes on PostgreSQL --------------------------------------------------------------

BATCH = 1_000


@pytest.mark.postgres_only
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_dispatcher_killed_mid_batch_loses_nothing(outbox, smtp, tmp_path):
    now = datetime.now(UTC)
    outbox.queue([f"person{k}@example.org" for k in range(250)], BATCH, at=now)
    smtp.inbox.pause_at = 125  # the 25th message of the third batch of 50
    env = os.environ | {
        "VIVIER_DATABASE_URL": outbox.url,
        "VIVIER_VAR_DIR": str(tmp_path),
        "VIVIER_EMAIL_BACKEND": "smtp",
        "VIVIER_SMTP_HOST": "127.0.0.1",
        "VIVIER_SMTP_PORT": str(smtp.port),
        "VIVIER_SMTP_SECURITY": "none",
    }
    log = tmp_path / "dispatcher.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("vivier")), "dispatcher"],
            cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        assert smtp.inbox.paused.wait(60), log.read_text()
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    smtp.inbox.resume.set()
    assert outbox.statuses() == {MessageStatus.sent: 100, MessageStatus.queued: BATCH - 100}

    # Restarted once the killed dispatcher's lease has expired.
    settings = smtp.settings(tmp_path)
    after_lease = now + timedelta(seconds=settings.dispatcher_lease_s + 60)
    result = drain(
        outbox.sessions, SmtpBackend(settings), Options.from_settings(settings),
        clock=lambda: after_lease,
    )  # fmt: skip
    assert result.sent == BATCH - 100
    stored = outbox.all()
    assert {m.status for m in stored} == {MessageStatus.sent}
    received = Counter(item.message_id for item in smtp.inbox.received)
    assert set(received) == {m.message_id for m in stored}  # none lost
    duplicates = sum(count - 1 for count in received.values())
    # The 25 messages of the batch in flight sent before the kill, and no other.
    assert duplicates == 25 <= settings.dispatcher_batch


def _dispatcher_process(url: str, port: int, name: str, barrier: Any, answers: Any) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    settings = Settings(
        email_backend="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_security="none"
    )
    backend, opts = SmtpBackend(settings), Options.from_settings(settings)
    with engine.connect():
        pass  # connected before the start signal
    barrier.wait(timeout=60)
    sent = 0
    while True:
        sent += drain(sessions, backend, opts, worker_id=name).sent
        with sessions() as session:
            queued = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == MessageStatus.queued)
            )
        if not queued:
            break
        time.sleep(0.01)  # the rest is leased to the other dispatcher
    answers.put((name, sent))
    engine.dispose()


@pytest.mark.postgres_only
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_dispatchers_never_send_the_same_message_twice(outbox, smtp):
    recipients = [f"person{k}@example.org" for k in range(100)]
    outbox.queue(recipients, BATCH, at=datetime.now(UTC) - timedelta(seconds=1))
    context = multiprocessing.get_context("spawn")
    barrier, answers = context.Barrier(2), context.Queue()
    names = ["dispatcher-a", "dispatcher-b"]
    processes = [
        context.Process(
            target=_dispatcher_process, args=(outbox.url, smtp.port, name, barrier, answers)
        )
        for name in names
    ]
    for process in processes:
        process.start()
    sent = dict(answers.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    stored = outbox.all()
    assert {m.status for m in stored} == {MessageStatus.sent}
    received = Counter(item.message_id for item in smtp.inbox.received)
    assert set(received) == {m.message_id for m in stored}
    assert set(received.values()) == {1}, "a message was sent twice"
    by_worker = Counter(m.claimed_by for m in stored)
    assert by_worker == sent and sum(sent.values()) == BATCH
    assert set(by_worker) == set(names) and min(by_worker.values()) > 0, by_worker
    for k, address in enumerate(recipients):  # in order per recipient, across both
        expected = [f"message {n}" for n in range(k, BATCH, len(recipients))]
        assert smtp.inbox.by_recipient()[address] == expected, address
