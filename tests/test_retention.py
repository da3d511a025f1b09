"""Retention (issue 5): an application that ended (rejected, withdrawn, offer declined) loses its
personal data when its retention period has passed, while the history's facts and the reports'
counts stay. On SQLite and PostgreSQL; the sweeper is called directly with `now`."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from sqlalchemy import select, text

from api.wiring import build_container
from config.settings import Settings
from tests.api_support import Api
from tests.factories import STAFF, add_feedback, make_org, make_posting, make_user, now
from tests.test_api_public import PDF, stored_files, submit
from workflow import reports
from workflow.db import make_engine, session_factory
from workflow.documents import new_storage_name
from workflow.errors import PipelineError
from workflow.events import DomainEvent
from workflow.models import (
    Application,
    Candidate,
    CandidateCreate,
    Deadline,
    DeadlineStatus,
    Document,
    EntityType,
    Feedback,
    Interview,
    Note,
    Organisation,
    Posting,
    Role,
    TransitionRecord,
)
from workflow.pipeline_files import load_pipeline
from workflow.retention import REMOVED_NOTE
from workflow.scheduler import sweep
from workflow.service import Workflow

APP = EntityType.application
PIPELINES = Path(__file__).parent.parent / "config" / "pipelines"
SIX_MONTHS, TWO_YEARS = relativedelta(months=6), relativedelta(months=24)
_people = itertools.count(1)


# --- Helpers ----------------------------------------------------------------------------------


def apply(
    workflow: Workflow, posting: Posting, *, email: str | None = None, talent_pool: bool = False
) -> Application:
    consents = [{"kind": "privacy", "text_version": "2024-01", "given_at": now().isoformat()}]
    if talent_pool:
        consents.append(consents[0] | {"kind": "talent_pool"})
    person = CandidateCreate(
        first_name="Awa",
        last_name="Diallo",
        email=email or f"awa.diallo.{next(_people)}@example.org",
        phone="+32 470 12 34 56",
        consents=consents,
    )
    with workflow.sessions.begin() as session:
        return workflow.apply_in(session, posting.id, person)


def reject(workflow: Workflow, application: Application) -> None:
    workflow.fire(
        APP, application.id, "reject", STAFF, reason="Profil trop éloigné des critères.",
        payload={"rejection_reason": "not_qualified"},
    )  # fmt: skip


def retention_deadlines(workflow: Workflow, application_id: int) -> list[Deadline]:
    with workflow.sessions() as session:
        return list(
            session.scalars(
                select(Deadline)
                .where(
                    Deadline.entity_type == APP,
                    Deadline.entity_id == application_id,
                    Deadline.kind == "retention",
                )
                .order_by(Deadline.id)
            )
        )


def pending_retention(workflow: Workflow, application_id: int) -> Deadline:
    (pending,) = [
        d
        for d in retention_deadlines(workflow, application_id)
        if d.status is DeadlineStatus.pending
    ]
    return pending


def candidate_of(workflow: Workflow, application: Application) -> Candidate:
    with workflow.sessions() as session:
        return session.get_one(Candidate, application.candidate_id)


def history(workflow: Workflow, org: Organisation) -> list[tuple[Any, ...]]:
    """Every history row of the organisation, every column."""
    with workflow.sessions() as session:
        rows = session.scalars(
            select(TransitionRecord)
            .where(TransitionRecord.organisation_id == org.id)
            .order_by(TransitionRecord.id)
        ).all()
        return [tuple(row.model_dump().values()) for row in rows]


def counts(workflow: Workflow, org: Organisation) -> tuple[Any, ...]:
    with workflow.sessions() as session:
        return (
            reports.posting_counts(session, org.id),
            reports.organisation_counts(session, org.id),
        )


def published(workflow: Workflow) -> list[DomainEvent]:
    """Every domain event published from now on (the bus is the test's own)."""
    events: list[DomainEvent] = []
    workflow.bus.subscribe(lambda _session, event: events.append(event))
    return events


def staff_notes(workflow: Workflow, application: Application) -> list[tuple[int, str, datetime]]:
    with workflow.sessions() as session:
        notes = session.scalars(
            select(Note).where(Note.application_id == application.id).order_by(Note.id)
        ).all()
        return [(n.author_id, n.body, n.created_at) for n in notes]


def feedback_of(workflow: Workflow, application: Application) -> list[tuple[str, str]]:
    with workflow.sessions() as session:
        rows = session.execute(
            select(Feedback.recommendation, Feedback.notes)
            .join(Interview, Interview.id == Feedback.interview_id)
            .where(Interview.application_id == application.id)
        ).all()
        return [(r.recommendation.value, r.notes) for r in rows]


def documents_of(workflow: Workflow, application: Application) -> list[str]:
    with workflow.sessions() as session:
        return list(
            session.scalars(
                select(Document.storage_name).where(Document.application_id == application.id)
            )
        )


def add_staff_data(workflow: Workflow, org: Organisation, application: Application) -> None:
    """What staff write about a candidate: a note, an interviewer's feedback, an assessment."""
    author = make_user(workflow, org, Role.recruiter)
    feedback = add_feedback(workflow, application, make_user(workflow, org, Role.interviewer))
    with workflow.sessions.begin() as session:
        session.add(
            Note(
                organisation_id=application.organisation_id,
                application_id=application.id,
                author_id=author.id,
                body="A appelé : disponible dès septembre, ancienne collègue de notre trésorière.",
                created_at=now(),
            )
        )
        stored = session.get_one(Feedback, feedback.id)
        stored.notes = "Très bon contact ; hésite à cause de sa santé."
        session.get_one(Application, application.id).assessment = {
            "Disponibilité": {"met": True, "note": "Disponible deux soirs par semaine."}
        }


def add_document(workflow: Workflow, application: Application, folder: Path) -> str:
    """A stored CV, as the upload route leaves it: a row and its file."""
    name = new_storage_name("pdf")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(PDF)
    with workflow.sessions.begin() as session:
        session.add(
            Document(
                organisation_id=application.organisation_id,
                application_id=application.id,
                kind="cv",
                storage_name=name,
                content_type="application/pdf",
                size=len(PDF),
                sha256="0" * 64,
                created_at=now(),
            )
        )
    return name


@pytest.fixture
def storage(workflow: Workflow, tmp_path: Path) -> Path:
    """The workflow's storage folder, as api.wiring sets it from the settings."""
    workflow.storage_dir = tmp_path / "files"
    return workflow.storage_dir


# --- Scheduling -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pipeline", "events"),
    [
        ("volunteer", ["reject"]),
        ("volunteer", ["screen", "withdraw"]),
        ("staff", ["reject"]),
        ("staff", ["withdraw"]),
        ("staff", ["screen", "invite", "make_offer", "decline_offer"]),
    ],
)
def test_ending_a_candidacy_schedules_its_retention_six_months_later(workflow, pipeline, events):
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline=pipeline)
    application = apply(workflow, posting)
    for event in events:
        if event == "make_offer":
            add_feedback(workflow, application, make_user(workflow, org, Role.interviewer))
        reason = "Profil trop éloigné." if event == "reject" else None
        workflow.fire(APP, application.id, event, STAFF, reason=reason)
    with workflow.sessions() as session:
        ended = session.get_one(Application, application.id)
    deadline = pending_retention(workflow, application.id)
    assert (deadline.action, deadline.event, deadline.state) == ("anonymise", None, ended.state)
    assert deadline.due_at == ended.state_entered_at + SIX_MONTHS


def test_talent_pool_consent_keeps_the_data_24_months(workflow):
    org = make_org(workflow)
    posting = make_posting(workflow, org)
    pooled, other = apply(workflow, posting, talent_pool=True), apply(workflow, posting)
    reject(workflow, pooled)
    reject(workflow, other)
    with workflow.sessions() as session:
        pooled_at = session.get_one(Application, pooled.id).state_entered_at
        other_at = session.get_one(Application, other.id).state_entered_at
    assert pending_retention(workflow, pooled.id).due_at == pooled_at + TWO_YEARS
    assert pending_retention(workflow, other.id).due_at == other_at + SIX_MONTHS


def test_placed_candidates_get_no_retention_deadline(workflow):
    """A hired person's data is a personnel file, kept under another regime."""
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline="staff")
    application = apply(workflow, posting)
    add_feedback(workflow, application, make_user(workflow, org, Role.interviewer))
    for event in ("screen", "invite", "make_offer", "hire"):
        workflow.fire(APP, application.id, event, STAFF)
    assert retention_deadlines(workflow, application.id) == []


def test_reopening_cancels_the_retention_and_nothing_is_anonymised(workflow, storage):
    org = make_org(workflow)
    posting = make_posting(workflow, org)
    application = apply(workflow, posting)
    reject(workflow, application)
    due = pending_retention(workflow, application.id).due_at
    workflow.fire(APP, application.id, "reopen", STAFF, reason="Rejetée par erreur.")

    (deadline,) = retention_deadlines(workflow, application.id)
    assert deadline.status is DeadlineStatus.cancelled
    sweep(workflow, now=due + timedelta(days=1), organisation_id=org.id)
    candidate = candidate_of(workflow, application)
    assert (candidate.first_name, candidate.anonymised_at) == ("Awa", None)


# --- Anonymising ------------------------------------------------------------------------------


def test_retention_anonymises_the_candidate_and_deletes_their_files_keeping_the_facts(api: Api):
    """Through the public form (CV and cover letter, status link), then staff's note, feedback
    and assessment; rejected; the sweep at the due time scrubs it all but the history."""
    workflow = api.workflow
    workflow.storage_dir = api.settings.effective_storage_dir
    events = published(workflow)
    org = api.org()
    posting = make_posting(workflow, org)
    files = {
        "cv": ("cv.pdf", PDF, "application/pdf"),
        "cover_letter": ("lettre.pdf", PDF, "application/pdf"),
    }
    receipt = submit(api, posting.id, files=files, phone="+32 470 12 34 56").json()
    status_url = "/public/applications/" + receipt["status_url"].rsplit("/", 1)[1]
    with workflow.sessions() as session:
        application = session.get_one(Application, receipt["application_id"])
    add_staff_data(workflow, org, application)
    reject(workflow, application)
    assert len(stored_files(api)) == 2 and api.client.get(status_url).status_code == 200
    due = pending_retention(workflow, application.id).due_at

    # Just before: the posting closes meanwhile (its own deadline), the data stays.
    sweep(workflow, now=due - timedelta(seconds=1), organisation_id=org.id)
    assert candidate_of(workflow, application).last_name == "Diallo"
    assert len(stored_files(api)) == 2 and len(documents_of(workflow, application)) == 2
    assert pending_retention(workflow, application.id).due_at == due
    facts, before = history(workflow, org), counts(workflow, org)
    notes_before = staff_notes(workflow, application)
    events.clear()

    result = sweep(workflow, now=due, organisation_id=org.id)

    assert result.done == 1
    candidate = candidate_of(workflow, application)
    placeholder = f"anonymised-{candidate.id}@invalid"
    assert (candidate.first_name, candidate.last_name, candidate.phone) == ("", "", "")
    assert (candidate.email, candidate.email_normalised) == (placeholder, placeholder)
    assert (candidate.consents, candidate.anonymised_at) == ([], due)
    assert stored_files(api) == [] and documents_of(workflow, application) == []
    assert staff_notes(workflow, application) == [
        (author, REMOVED_NOTE, at) for author, _, at in notes_before
    ]
    assert feedback_of(workflow, application) == [("yes", "")]
    with workflow.sessions() as session:
        scrubbed = session.get_one(Application, application.id)
        assert (scrubbed.assessment, scrubbed.status_token) == ({}, None)
        assert (scrubbed.state, scrubbed.rejection_reason) == ("rejected", "not_qualified")
    assert api.client.get(status_url).status_code == 404
    assert history(workflow, org) == facts
    assert counts(workflow, org) == before
    (deadline,) = retention_deadlines(workflow, application.id)
    assert (deadline.status, deadline.done_at, deadline.last_error) == (
        DeadlineStatus.done, due, None,
    )  # fmt: skip
    (event,) = events
    assert (event.name, event.entity_type, event.entity_id) == ("anonymised", APP, application.id)
    assert (event.actor.kind.value, event.at) == ("system", due)
    assert event.payload == {
        "candidate_id": candidate.id,
        "candidate_anonymised": True,
        "documents_deleted": 2,
    }


def test_a_file_already_gone_does_not_stop_the_retention(workflow, storage):
    org = make_org(workflow)
    application = apply(workflow, make_posting(workflow, org))
    kept, lost = (
        add_document(workflow, application, storage),
        add_document(workflow, application, storage),
    )
    (storage / lost).unlink()
    reject(workflow, application)
    result = sweep(
        workflow, now=pending_retention(workflow, application.id).due_at, organisation_id=org.id
    )
    assert result.done >= 1 and result.failed == result.retried == 0
    assert not (storage / kept).exists() and documents_of(workflow, application) == []
    assert candidate_of(workflow, application).anonymised_at is not None


def test_candidate_still_applying_elsewhere_is_kept_until_the_last_retention(workflow, storage):
    """Only the ended application is scrubbed while another one still needs the person; the last
    application's own retention anonymises them."""
    org = make_org(workflow)
    first, second = make_posting(workflow, org), make_posting(workflow, org)
    email = f"awa.{next(_people)}@example.org"
    ended, open_ = apply(workflow, first, email=email), apply(workflow, second, email=email)
    name_first = add_document(workflow, ended, storage)
    name_second = add_document(workflow, open_, storage)
    add_staff_data(workflow, org, ended)
    events = published(workflow)
    reject(workflow, ended)
    due = pending_retention(workflow, ended.id).due_at

    sweep(workflow, now=due, organisation_id=org.id)

    assert candidate_of(workflow, ended).last_name == "Diallo"
    assert not (storage / name_first).exists() and (storage / name_second).exists()
    assert documents_of(workflow, ended) == [] and documents_of(workflow, open_) == [name_second]
    assert [body for _, body, _ in staff_notes(workflow, ended)] == [REMOVED_NOTE]
    (deadline,) = retention_deadlines(workflow, ended.id)
    assert deadline.status is DeadlineStatus.done
    assert deadline.last_error == (
        f"candidate {ended.candidate_id} kept: application {open_.id} is still open (received)"
    )
    (event,) = [e for e in events if e.name == "anonymised"]
    assert event.payload["candidate_anonymised"] is False

    # The other one ends too: both wait for their retention, the later one anonymises.
    workflow.fire(APP, open_.id, "withdraw", STAFF)
    later = pending_retention(workflow, open_.id).due_at
    sweep(workflow, now=later, organisation_id=org.id)
    candidate = candidate_of(workflow, open_)
    assert (candidate.last_name, candidate.anonymised_at) == ("", later)
    assert not (storage / name_second).exists()


def test_two_ended_applications_the_first_retention_waits_for_the_second(workflow, storage):
    org = make_org(workflow)
    email = f"awa.{next(_people)}@example.org"
    first = apply(workflow, make_posting(workflow, org), email=email)
    second = apply(workflow, make_posting(workflow, org), email=email)
    reject(workflow, first)
    with time_machine.travel(now() + timedelta(days=3)):
        reject(workflow, second)
    first_due = pending_retention(workflow, first.id).due_at
    second_due = pending_retention(workflow, second.id).due_at
    assert first_due < second_due

    sweep(workflow, now=first_due, organisation_id=org.id)
    (deadline,) = retention_deadlines(workflow, first.id)
    assert "waits for its own retention deadline" in (deadline.last_error or "")
    assert candidate_of(workflow, first).anonymised_at is None

    sweep(workflow, now=second_due, organisation_id=org.id)
    assert candidate_of(workflow, first).anonymised_at == second_due


def test_a_candidate_hired_elsewhere_keeps_their_personal_data(workflow, storage):
    org = make_org(workflow)
    email = f"awa.{next(_people)}@example.org"
    rejected = apply(workflow, make_posting(workflow, org), email=email)
    hired = apply(workflow, make_posting(workflow, org, pipeline="staff"), email=email)
    add_feedback(workflow, hired, make_user(workflow, org, Role.interviewer))
    for event in ("screen", "invite", "make_offer", "hire"):
        workflow.fire(APP, hired.id, event, STAFF)
    reject(workflow, rejected)
    sweep(workflow, now=pending_retention(workflow, rejected.id).due_at, organisation_id=org.id)
    assert candidate_of(workflow, rejected).last_name == "Diallo"
    (deadline,) = retention_deadlines(workflow, rejected.id)
    assert deadline.last_error.endswith(f"application {hired.id} ended hired, whose data is kept")


def test_an_application_no_longer_in_its_final_state_is_skipped(workflow, storage):
    """A deadline the reopen could not cancel (written by hand here) is moot, not run."""
    org = make_org(workflow)
    application = apply(workflow, make_posting(workflow, org))
    reject(workflow, application)
    due = pending_retention(workflow, application.id).due_at
    workflow.fire(APP, application.id, "reopen", STAFF, reason="Rejetée par erreur.")
    with workflow.sessions.begin() as session:
        session.add(
            Deadline(
                organisation_id=org.id, entity_type=APP, entity_id=application.id,
                kind="retention", action="anonymise", state="rejected", due_at=due,
                created_at=now(), updated_at=now(),
            )
        )  # fmt: skip
    sweep(workflow, now=due, organisation_id=org.id)
    skipped = retention_deadlines(workflow, application.id)[-1]
    assert skipped.status is DeadlineStatus.skipped
    assert "left state 'rejected'" in (skipped.last_error or "")
    assert candidate_of(workflow, application).anonymised_at is None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_candidate_row_held_elsewhere_leaves_the_retention_for_later(shared_workflow, engine):
    """PostgreSQL: a transaction holding the candidate makes the sweep pass the deadline by
    (busy, not an attempt), and the next sweep does it."""
    workflow = shared_workflow
    org = make_org(workflow)
    application = apply(workflow, make_posting(workflow, org))
    reject(workflow, application)
    due = pending_retention(workflow, application.id).due_at
    with engine.connect() as other:
        other.execute(
            text("SELECT id FROM candidate WHERE id = :id FOR UPDATE"),
            {"id": application.candidate_id},
        )
        held = sweep(workflow, now=due, organisation_id=org.id)
        assert held.busy == 1 and held.done == 1  # the posting's close is done, not the retention
        assert pending_retention(workflow, application.id).attempts == 0
        other.rollback()
    assert sweep(workflow, now=due, organisation_id=org.id).done == 1
    assert candidate_of(workflow, application).anonymised_at == due


# --- Where it shows ---------------------------------------------------------------------------


def test_hr_sees_the_retention_to_come_over_http(api: Api):
    org = api.org()
    application = apply(api.workflow, make_posting(api.workflow, org))
    reject(api.workflow, application)
    hr = api.staff(org, "hr")
    listed = api.client.get("/deadlines", headers=hr.headers).json()
    (retention,) = [d for d in listed if d["kind"] == "retention"]
    assert (retention["entity_id"], retention["event"], retention["action"]) == (
        application.id, None, "anonymise",
    )  # fmt: skip


def test_vivier_deadlines_says_what_the_retention_will_do(vivier, empty_database_url, pipelines):
    assert vivier("db", "upgrade")[0] == 0
    engine = make_engine(empty_database_url)
    try:
        workflow = Workflow(session_factory(engine), pipelines)
        application = apply(workflow, make_posting(workflow, make_org(workflow)))
        reject(workflow, application)
    finally:
        engine.dispose()
    code, out, _ = vivier("deadlines")
    assert code == 0
    (line,) = [line for line in out.splitlines() if "retention" in line]
    assert f"application {application.id}" in line and line.endswith("runs anonymise")


def test_the_wiring_gives_retention_the_uploads_folder(tmp_path):
    container = build_container(Settings(var_dir=tmp_path, storage_dir=tmp_path / "uploads"))
    try:
        assert container.workflow.storage_dir == tmp_path / "uploads"
    finally:
        container.engine.dispose()


# --- Pipeline files ---------------------------------------------------------------------------

RETENTION = 'offset = "6mo", talent_pool_offset = "24mo", action = "anonymise"'


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (RETENTION.replace('"anonymise"', '"shred"'),
         r"deadline 'retention': unknown action 'shred'; known actions: anonymise"),
        (RETENTION + ', event = "reopen"', r"deadline 'retention': give 'event' or 'action', not both"),
        (RETENTION.replace('"24mo"', '"two years"'), r"offset 'two years' is not like"),
    ],
)  # fmt: skip
def test_deadline_action_mistakes_name_file_and_line(tmp_path, new, message):
    text_ = (PIPELINES / "volunteer.toml").read_text(encoding="utf-8")
    assert text_.count(RETENTION) == 2
    path = tmp_path / "volunteer.toml"
    path.write_text(text_.replace(RETENTION, new, 1), encoding="utf-8")
    with pytest.raises(PipelineError, match=message) as raised:
        load_pipeline(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert str(raised.value).startswith(f"{path}:{raised.value.line}:")
    assert lines[raised.value.line - 1] == "[states.rejected]"


def test_actions_and_the_talent_pool_offset_are_for_applications(tmp_path):
    text_ = (PIPELINES / "posting.toml").read_text(encoding="utf-8")
    old = 'event = "close"'
    assert old in text_
    path = tmp_path / "posting.toml"
    path.write_text(text_.replace(old, 'action = "anonymise"', 1), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"action 'anonymise' applies to application pipelines"):
        load_pipeline(path)
    path.write_text(text_.replace(old, old + ', talent_pool_offset = "1mo"', 1), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"talent_pool_offset needs a candidate"):
        load_pipeline(path)
