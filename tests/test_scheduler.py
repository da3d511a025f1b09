"""The sweeper and its clock (issue 5), on SQLite and PostgreSQL.

Time is never waited for: the sweeper is called directly with `now`, the clock is started paused
and its jobs inspected. Each test's sweep is limited to its own organisation, since the session's
database holds other tests' committed rows.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, text, update

from tests.factories import (
    STAFF,
    add_feedback,
    make_application,
    make_org,
    make_posting,
    make_user,
)
from workflow.context import Actor
from workflow.db import make_engine, session_factory
from workflow.events import DomainEvent
from workflow.migrate import upgrade
from workflow.models import (
    ActorKind,
    Application,
    ClaimOutcome,
    Deadline,
    DeadlineClaim,
    DeadlineStatus,
    EntityType,
    Posting,
    TransitionRecord,
)
from workflow.scheduler import (
    OVERDUE_PAUSE,
    Scheduler,
    SchedulerAlreadyRunning,
    SweepResult,
    backoff,
    lock_single_scheduler,
    sweep,
)
from workflow.service import Workflow

APP = EntityType.application
POSTING = EntityType.posting


def deadlines_of(workflow: Workflow, entity_type: EntityType, entity_id: int) -> list[Deadline]:
    with workflow.sessions() as session:
        return list(
            session.scalars(
                select(Deadline)
                .where(Deadline.entity_type == entity_type, Deadline.entity_id == entity_id)
                .order_by(Deadline.id)
            )
        )


def the_deadline(workflow: Workflow, entity_type: EntityType, entity_id: int, kind: str):
    found = [d for d in deadlines_of(workflow, entity_type, entity_id) if d.kind == kind]
    assert len(found) == 1, found
    return found[0]


def claims_of(workflow: Workflow, deadline_id: int) -> list[DeadlineClaim]:
    with workflow.sessions() as session:
        return list(
            session.scalars(
                select(DeadlineClaim)
                .where(DeadlineClaim.deadline_id == deadline_id)
                .order_by(DeadlineClaim.id)
            )
        )


def history(workflow: Workflow, entity_type: EntityType, entity_id: int) -> list[tuple]:
    with workflow.sessions() as session:
        rows = session.scalars(
            select(TransitionRecord)
            .where(
                TransitionRecord.entity_type == entity_type,
                TransitionRecord.entity_id == entity_id,
            )
            .order_by(TransitionRecord.id)
        ).all()
        return [(r.event, r.to_state, r.actor_kind, r.reason) for r in rows]


def add_deadline(workflow: Workflow, org_id: int, entity_type, entity_id, **fields) -> Deadline:
    """A deadline row as the service writes them (for cases the pipelines cannot reach)."""
    stamp = datetime.now(UTC)
    with workflow.sessions.begin() as session:
        deadline = Deadline(
            organisation_id=org_id,
            entity_type=entity_type,
            entity_id=entity_id,
            created_at=stamp,
            updated_at=stamp,
            **fields,
        )
        session.add(deadline)
    return deadline


def nothing() -> SweepResult:
    return SweepResult()


# --- Catch-up, exactly once ---------------------------------------------------------------------


def test_closing_date_passed_while_nothing_ran_is_closed_once(workflow):
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline="staff")
    close = the_deadline(workflow, POSTING, posting.id, "close")
    assert (close.status, close.event, close.due_at) == (
        DeadlineStatus.pending,
        "close",
        posting.closes_at,
    )
    later = posting.closes_at + timedelta(days=3)  # the scheduler was down for three days

    assert sweep(workflow, now=later, organisation_id=org.id) == SweepResult(done=1)
    assert sweep(workflow, now=later, organisation_id=org.id) == nothing()
    assert sweep(workflow, now=later + timedelta(days=9), organisation_id=org.id) == nothing()

    events = history(workflow, POSTING, posting.id)
    assert [e for e in events if e[0] == "close"] == [
        ("close", "closed", ActorKind.system, "deadline close")
    ]
    close = the_deadline(workflow, POSTING, posting.id, "close")
    assert (close.status, close.done_at, close.attempts) == (DeadlineStatus.done, later, 0)
    claims = claims_of(workflow, close.id)
    assert [(c.outcome, c.claimed_at) for c in claims] == [(ClaimOutcome.done, later)]


def test_catch_up_takes_the_oldest_first_and_not_what_is_not_due(workflow):
    org = make_org(workflow)
    postings = [make_posting(workflow, org, pipeline="staff") for _ in range(3)]
    base = datetime.now(UTC)
    dues = [base - timedelta(hours=1), base - timedelta(days=2), base + timedelta(hours=1)]
    with workflow.sessions.begin() as session:
        for posting, due in zip(postings, dues, strict=True):
            session.execute(
                update(Deadline)
                .where(Deadline.entity_type == POSTING, Deadline.entity_id == posting.id)
                .values(due_at=due)
            )

    assert sweep(workflow, now=base, organisation_id=org.id) == SweepResult(done=2)
    with workflow.sessions() as session:
        order = session.scalars(
            select(Deadline.entity_id)
            .join(DeadlineClaim, DeadlineClaim.deadline_id == Deadline.id)
            .where(Deadline.organisation_id == org.id)
            .order_by(DeadlineClaim.id)
        ).all()
    assert order == [postings[1].id, postings[0].id]
    assert the_deadline(workflow, POSTING, postings[2].id, "close").status is DeadlineStatus.pending


# --- Moot deadlines -----------------------------------------------------------------------------


def test_closing_by_hand_cancels_the_deadline_and_the_sweep_has_nothing_to_do(workflow):
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline="staff")
    workflow.fire(POSTING, posting.id, "close", STAFF)
    assert the_deadline(workflow, POSTING, posting.id, "close").status is DeadlineStatus.cancelled
    later = posting.closes_at + timedelta(days=1)
    assert sweep(workflow, now=later, organisation_id=org.id) == nothing()


def test_a_deadline_whose_action_is_no_longer_allowed_is_skipped_with_the_reason(workflow):
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline="staff")
    workflow.fire(POSTING, posting.id, "close", STAFF)  # closed by hand
    past = datetime.now(UTC) - timedelta(minutes=5)
    not_allowed = add_deadline(
        workflow, org.id, POSTING, posting.id, kind="close_again", event="close", state="closed",
        due_at=past,
    )  # fmt: skip
    guarded = add_deadline(
        workflow, org.id, POSTING, posting.id, kind="auto_fill", event="fill", state="closed",
        due_at=past,
    )  # fmt: skip
    left = add_deadline(
        workflow, org.id, POSTING, posting.id, kind="late_close", event="close",
        state="published", due_at=past,
    )  # fmt: skip
    now = datetime.now(UTC)

    assert sweep(workflow, now=now, organisation_id=org.id) == SweepResult(skipped=3)

    reasons = {}
    for deadline in (not_allowed, guarded, left):
        stored = the_deadline(workflow, POSTING, posting.id, deadline.kind)
        assert (stored.status, stored.done_at, stored.attempts) == (DeadlineStatus.skipped, now, 0)
        [claim] = claims_of(workflow, stored.id)
        assert (claim.outcome, claim.error) == (ClaimOutcome.skipped, stored.last_error)
        reasons[deadline.kind] = stored.last_error
    assert "event 'close' is not allowed from state 'closed'" in reasons["close_again"]
    assert "guard 'vacancies_filled' refused" in reasons["auto_fill"]
    assert "left state 'published' (now 'closed')" in reasons["late_close"]
    assert [e[0] for e in history(workflow, POSTING, posting.id)] == ["create", "publish", "close"]


# --- Failures: retried with backoff, then failed, never lost --------------------------------------


class FlakyMailer:
    """A subscriber to reminders that raises for its first `failures` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.delivered: list[DomainEvent] = []

    def __call__(self, session, event: DomainEvent) -> None:
        if not event.name.startswith("reminder:"):
            return
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"mail server down (call {self.calls})")
        self.delivered.append(event)


def test_an_action_failing_twice_then_succeeding_is_retried_with_backoff(workflow):
    org = make_org(workflow)
    application = make_application(workflow, make_posting(workflow, org))
    mailer = FlakyMailer(failures=2)
    workflow.bus.subscribe(mailer)
    reminder = the_deadline(workflow, APP, application.id, "idle_reminder")
    t0 = reminder.due_at + timedelta(seconds=1)

    assert sweep(workflow, now=t0, organisation_id=org.id) == SweepResult(retried=1)
    stored = the_deadline(workflow, APP, application.id, "idle_reminder")
    assert (stored.status, stored.attempts) == (DeadlineStatus.pending, 1)
    assert stored.due_at == t0 + backoff(1) == t0 + timedelta(minutes=1)
    assert stored.last_error == "RuntimeError: mail server down (call 1)"
    assert sweep(workflow, now=t0 + timedelta(seconds=59), organisation_id=org.id) == nothing()

    t1 = t0 + timedelta(minutes=1)
    assert sweep(workflow, now=t1, organisation_id=org.id) == SweepResult(retried=1)
    stored = the_deadline(workflow, APP, application.id, "idle_reminder")
    assert (stored.attempts, stored.due_at) == (2, t1 + timedelta(minutes=2))

    t2 = t1 + timedelta(minutes=2)
    assert sweep(workflow, now=t2, organisation_id=org.id) == SweepResult(done=1)
    stored = the_deadline(workflow, APP, application.id, "idle_reminder")
    assert (stored.status, stored.attempts, stored.done_at) == (DeadlineStatus.done, 2, t2)
    assert [c.outcome for c in claims_of(workflow, stored.id)] == [
        ClaimOutcome.retry,
        ClaimOutcome.retry,
        ClaimOutcome.done,
    ]
    assert len(mailer.delivered) == 1


def test_after_max_attempts_the_deadline_is_failed_and_kept(workflow):
    org = make_org(workflow)
    application = make_application(workflow, make_posting(workflow, org))
    workflow.bus.subscribe(FlakyMailer(failures=10**6))
    now = the_deadline(workflow, APP, application.id, "idle_reminder").due_at
    outcomes = []
    for _ in range(3):
        result = sweep(workflow, now=now, organisation_id=org.id, max_attempts=3)
        outcomes.append(result)
        now += backoff(3)  # beyond any backoff so far
    assert outcomes == [SweepResult(retried=1), SweepResult(retried=1), SweepResult(failed=1)]
    stored = the_deadline(workflow, APP, application.id, "idle_reminder")
    assert (stored.status, stored.attempts) == (DeadlineStatus.failed, 3)
    assert stored.last_error == "RuntimeError: mail server down (call 3)"
    assert sweep(workflow, now=now + timedelta(days=30), organisation_id=org.id) == nothing()
    assert [c.outcome for c in claims_of(workflow, stored.id)][-1] is ClaimOutcome.failed


class Crash(BaseException):
    """Stands for the process dying mid-work: not an Exception, so nothing handles it."""


def test_a_crash_in_the_middle_of_the_work_loses_nothing(workflow):
    org = make_org(workflow)
    application = make_application(workflow, make_posting(workflow, org))

    def crash(session, event: DomainEvent) -> None:
        if event.name.startswith("reminder:"):
            raise Crash

    workflow.bus.subscribe(crash)
    reminder = the_deadline(workflow, APP, application.id, "idle_reminder")
    with pytest.raises(Crash):
        sweep(workflow, now=reminder.due_at, organisation_id=org.id)
    stored = the_deadline(workflow, APP, application.id, "idle_reminder")
    assert (stored.status, stored.attempts, stored.due_at) == (
        DeadlineStatus.pending,
        0,
        reminder.due_at,
    )
    assert claims_of(workflow, reminder.id) == []
    restarted = Workflow(workflow.sessions, workflow.pipelines)  # without the fault
    assert sweep(restarted, now=reminder.due_at, organisation_id=org.id) == SweepResult(done=1)


# --- Kinds of deadline ----------------------------------------------------------------------------


def test_commitment_end_moves_the_volunteer_to_completed(workflow):
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline="volunteer", commitment_months=24)
    application = make_application(workflow, posting)
    for event in ("screen", "invite"):
        workflow.fire(APP, application.id, event, STAFF)
    add_feedback(workflow, application, make_user(workflow, org))
    for event in ("accept", "start_training"):
        workflow.fire(APP, application.id, event, STAFF)
    start = date.today() - relativedelta(months=24)
    workflow.fire(
        APP, application.id, "start_commitment", STAFF, payload={"commitment_start": start}
    )
    end = the_deadline(workflow, APP, application.id, "commitment_end")
    assert (end.status, end.event) == (DeadlineStatus.pending, "complete")

    now = datetime.now(UTC) + timedelta(days=1)
    assert sweep(workflow, now=now, organisation_id=org.id) == SweepResult(done=1)

    with workflow.sessions() as session:
        assert session.get(Application, application.id).state == "completed"
    assert history(workflow, APP, application.id)[-1] == (
        "complete",
        "completed",
        ActorKind.system,
        "deadline commitment_end",
    )
    assert the_deadline(workflow, APP, application.id, "commitment_end").status is (
        DeadlineStatus.done
    )


def test_idle_reminder_is_published_as_a_domain_event_and_marked_done(workflow):
    org = make_org(workflow)
    application = make_application(workflow, make_posting(workflow, org))
    seen: list[DomainEvent] = []
    workflow.bus.subscribe(lambda session, event: seen.append(event))
    reminder = the_deadline(workflow, APP, application.id, "idle_reminder")
    assert reminder.event is None
    now = reminder.due_at + timedelta(hours=2)

    assert sweep(workflow, now=now, organisation_id=org.id) == SweepResult(done=1)

    [event] = seen
    assert (event.name, event.entity_type, event.entity_id, event.pipeline) == (
        "reminder:idle_reminder",
        APP,
        application.id,
        "volunteer",
    )
    assert (event.actor, event.at, event.payload["deadline_id"]) == (
        Actor.system(),
        now,
        reminder.id,
    )
    with workflow.sessions() as session:
        assert session.get(Application, application.id).state == "received"  # not a transition
    assert the_deadline(workflow, APP, application.id, "idle_reminder").status is (
        DeadlineStatus.done
    )


# --- The clock ------------------------------------------------------------------------------------


@pytest.fixture
def own_workflow(empty_database_url, pipelines):
    """A Workflow on a database of the test's own: a scheduler sweeps every organisation."""
    engine = make_engine(empty_database_url)
    upgrade(engine)
    yield Workflow(session_factory(engine), pipelines)
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_clock_is_two_jobs_whatever_the_number_of_deadlines(own_workflow):
    workflow = own_workflow
    org = make_org(workflow)
    postings = [make_posting(workflow, org, pipeline="staff") for _ in range(5)]
    for posting in postings:
        make_application(workflow, posting)  # + an idle reminder each
    overdue = add_deadline(
        workflow, org.id, POSTING, postings[0].id, kind="missed", event=None, state="published",
        due_at=datetime.now(UTC) - timedelta(days=1),
    )  # fmt: skip
    swept: list[SweepResult] = []
    scheduler = Scheduler(workflow, interval_s=30, on_sweep=swept.append)
    try:
        assert scheduler.start(paused=True) == SweepResult(done=1)  # the catch-up
        assert swept == [SweepResult(done=1)]
        assert [c.outcome for c in claims_of(workflow, overdue.id)] == [ClaimOutcome.done]
        jobs = {job.id: job for job in scheduler.jobs()}
        assert len(jobs) == 2
        interval = jobs.pop(Scheduler.INTERVAL_JOB)
        assert interval.trigger.interval == timedelta(seconds=30)
        [at_next_due] = jobs.values()
        with workflow.sessions() as session:
            pending_min = session.scalar(
                select(func.min(Deadline.due_at)).where(Deadline.status == DeadlineStatus.pending)
            )
        assert pending_min is not None
        assert at_next_due.trigger.run_date == pending_min
        with pytest.raises(SchedulerAlreadyRunning, match="already running on this SQLite"):
            Scheduler(workflow).start(paused=True)
    finally:
        scheduler.stop()
    # Stopped: the lock is free again.
    lock = lock_single_scheduler(workflow.sessions.kw["bind"])
    assert lock is not None
    lock.close()


@pytest.mark.postgres_only
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_deadline_whose_entity_is_being_changed_is_left_for_the_next_sweep(
    shared_workflow, engine
):
    """The sweeper never waits for an entity's lock while it holds the deadline's row (the
    transition holding it would want the deadline to cancel it: a deadlock); it passes."""
    workflow = shared_workflow
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline="staff")
    later = posting.closes_at + timedelta(minutes=1)
    with engine.connect() as other:
        other.execute(
            text("SELECT id FROM posting WHERE id = :id FOR NO KEY UPDATE"), {"id": posting.id}
        )
        assert sweep(workflow, now=later, organisation_id=org.id) == SweepResult(busy=1)
        close = the_deadline(workflow, POSTING, posting.id, "close")
        assert (close.status, close.attempts, claims_of(workflow, close.id)) == (
            DeadlineStatus.pending,
            0,
            [],
        )
        other.rollback()
    assert sweep(workflow, now=later, organisation_id=org.id) == SweepResult(done=1)


# --- Several processes on PostgreSQL --------------------------------------------------------------

BULK = 10_000


def _sweeper_process(url: str, now: datetime, name: str, barrier: Any, answers: Any) -> None:
    from config.settings import PIPELINES_DIR
    from workflow.pipeline_files import load_pipelines

    engine = make_engine(url)
    workflow = Workflow(session_factory(engine), load_pipelines(PIPELINES_DIR))
    with engine.connect():
        pass  # connected before the start signal
    barrier.wait(timeout=60)
    result = sweep(workflow, now=now, worker_id=name)
    answers.put((name, result.done, result.settled))
    engine.dispose()


@pytest.mark.postgres_only
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_processes_do_each_of_10000_deadlines_exactly_once(own_workflow, empty_database_url):
    workflow = own_workflow
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline="staff")
    now = datetime.now(UTC)
    with workflow.sessions.begin() as session:
        # Reminders (not transitions, which a second firing would refuse anyway): one pending
        # deadline per (entity, kind), as the partial unique index wants.
        session.execute(
            text(
                "INSERT INTO deadline (organisation_id, entity_type, entity_id, kind, event, "
                "state, due_at, status, attempts, created_at, updated_at) "
                "SELECT :org, 'posting', :posting, 'bulk_' || g, NULL, 'published', "
                "CAST(:now AS timestamptz) - g * interval '1 second', 'pending', 0, :now, :now "
                "FROM generate_series(1, :count) AS g"
            ),
            {"org": org.id, "posting": posting.id, "now": now, "count": BULK},
        )
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    answers = context.Queue()
    names = ["sweeper-a", "sweeper-b"]
    processes = [
        context.Process(
            target=_sweeper_process, args=(empty_database_url, now, name, barrier, answers)
        )
        for name in names
    ]
    for process in processes:
        process.start()
    results = {}
    for _ in processes:
        name, done, settled = answers.get(timeout=120)
        results[name] = (done, settled)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    with workflow.sessions() as session:
        statuses = dict(
            session.execute(
                select(Deadline.status, func.count()).where(Deadline.kind.like("bulk_%"))
                .group_by(Deadline.status)
            ).all()
        )  # fmt: skip
        per_deadline = session.execute(
            select(DeadlineClaim.deadline_id, func.count())
            .group_by(DeadlineClaim.deadline_id)
            .having(func.count() > 1)
        ).all()
        claims = session.scalar(select(func.count()).select_from(DeadlineClaim))
        by_worker = dict(
            session.execute(
                select(DeadlineClaim.claimed_by, func.count()).group_by(DeadlineClaim.claimed_by)
            ).all()
        )
    assert statuses == {DeadlineStatus.done: BULK}
    assert per_deadline == [], "a deadline was claimed twice"
    assert claims == BULK
    assert set(by_worker) == set(names), by_worker
    assert all(count > 0 for count in by_worker.values()), by_worker
    assert sum(done for done, _ in results.values()) == BULK
    assert {name: done for name, (done, _) in results.items()} == by_worker


# --- The command line -----------------------------------------------------------------------------


def test_vivier_deadlines_lists_pending_and_failed(vivier, empty_database_url, pipelines):
    assert vivier("db", "upgrade")[0] == 0
    engine = make_engine(empty_database_url)
    workflow = Workflow(session_factory(engine), pipelines)
    try:
        org = make_org(workflow, slug="amnesty-be")
        posting = make_posting(workflow, org, pipeline="staff")
        application = make_application(workflow, posting)
        workflow.bus.subscribe(FlakyMailer(failures=10))
        due = the_deadline(workflow, APP, application.id, "idle_reminder").due_at
        sweep(workflow, now=due, max_attempts=1)
    finally:
        engine.dispose()

    code, out, err = vivier("deadlines")
    assert (code, err) == (0, "")
    assert f"{posting.closes_at:%Y-%m-%d %H:%M}  pending   amnesty-be" in out
    assert f"posting {posting.id}" in out and "close" in out and "fires close" in out
    assert "failed" in out and "idle_reminder" in out and "reminder" in out
    assert "last error: RuntimeError: mail server down (call 1)" in out

    code, out, _ = vivier("deadlines", "--status", "failed", "--posting", str(posting.id))
    assert code == 0 and "fires close" not in out and f"application {application.id}" in out
    code, out, _ = vivier("deadlines", "--status", "done")
    assert (code, out.strip()) == (0, "no done deadlines")
    code, _, err = vivier("deadlines", "--org", "nobody")
    assert code != 0 and "no organisation with slug 'nobody'" in err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_vivier_scheduler_once_and_a_second_scheduler_on_sqlite_is_refused(
    vivier, empty_database_url
):
    assert vivier("db", "upgrade")[0] == 0
    code, out, err = vivier("scheduler", "--once")
    assert (code, err) == (0, "")
    assert "caught up on sqlite:///" in out and "0 done" in out
    engine = make_engine(empty_database_url)
    held = lock_single_scheduler(engine)  # as a running `vivier scheduler` holds it
    try:
        code, out, err = vivier("scheduler")
        assert code == 1
        assert err.startswith("error: a scheduler is already running on this SQLite database")
        assert "use PostgreSQL to run several" in err and err.count("\n") == 1
    finally:
        held.close()
        engine.dispose()


def test_sweep_result_reads_well():
    assert str(SweepResult(done=2, skipped=1, retried=3, failed=0, busy=1)) == (
        "2 done, 1 skipped, 3 to retry, 0 failed, 1 busy"
    )


def test_posting_model_is_untouched_by_the_sweeper(workflow):
    # The close fired by the sweeper goes through the service: the version moves like any close.
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline="staff")
    sweep(workflow, now=posting.closes_at, organisation_id=org.id)
    with workflow.sessions() as session:
        stored = session.get(Posting, posting.id)
    assert (stored.state, stored.version, stored.state_entered_at) == (
        "closed",
        3,
        posting.closes_at,
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_next_wake_is_the_next_due_time_even_after_a_sweep_without_progress(own_workflow):
    workflow = own_workflow
    org = make_org(workflow)
    posting = make_posting(workflow, org, pipeline="staff")
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)  # before the close
    soon = add_deadline(
        workflow, org.id, POSTING, posting.id, kind="soon", event=None, state="published",
        due_at=now + timedelta(milliseconds=300),
    )  # fmt: skip
    scheduler = Scheduler(workflow)
    workflow.clock = lambda: now
    try:
        scheduler.plan_next(progress=False)
        [job] = scheduler.jobs()
        assert job.trigger.run_date == soon.due_at  # not held back by the overdue pause
        with workflow.sessions.begin() as session:
            session.execute(update(Deadline).where(Deadline.id == soon.id).values(due_at=now))
        scheduler.plan_next(progress=False)  # still due, so held elsewhere: pause, don't spin
        [job] = scheduler.jobs()
        assert job.trigger.run_date == now + OVERDUE_PAUSE
    finally:
        scheduler.stop()
