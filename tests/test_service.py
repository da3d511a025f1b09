"""The transition service against a real database (SQLite and PostgreSQL)."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests.factories import (
    STAFF,
    add_feedback,
    make_application,
    make_org,
    make_posting,
    make_user,
)
from workflow.context import Actor
from workflow.errors import (
    AlreadyExists,
    GuardFailed,
    InvalidInput,
    NotFound,
    StaleVersion,
    TransitionNotAllowed,
    UnknownEvent,
)
from workflow.models import (
    Application,
    Candidate,
    Deadline,
    DeadlineStatus,
    EntityType,
    PipelineCount,
    Posting,
    Role,
    TransitionRecord,
)

APP = EntityType.application
POSTING = EntityType.posting


def history(workflow, entity_type, entity_id) -> list[tuple]:
    with workflow.sessions() as session:
        rows = session.scalars(
            select(TransitionRecord)
            .where(
                TransitionRecord.entity_type == entity_type, TransitionRecord.entity_id == entity_id
            )
            .order_by(TransitionRecord.id)
        ).all()
        return [(r.event, r.from_state, r.to_state, r.reason) for r in rows]


def load(workflow, model, entity_id):
    with workflow.sessions() as session:
        return session.get(model, entity_id)


def advance(workflow, application, *events, **kwargs):
    for event in events:
        workflow.fire(APP, application.id, event, STAFF, **kwargs)


@pytest.fixture
def org(workflow):
    return make_org(workflow)


@pytest.fixture
def posting(workflow, org):
    return make_posting(workflow, org)


def test_fire_moves_state_and_appends_history(workflow, posting):
    application = make_application(workflow, posting)
    result = workflow.fire(APP, application.id, "screen", Actor.user(7), reason="looks right")
    assert (result.from_state, result.to_state, result.version) == ("received", "screening", 2)
    stored = load(workflow, Application, application.id)
    assert (stored.state, stored.version) == ("screening", 2)
    assert history(workflow, APP, application.id) == [
        ("create", None, "received", None),
        ("screen", "received", "screening", "looks right"),
    ]


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ("teleport", UnknownEvent),
        ("complete", TransitionNotAllowed),
        ("accept", TransitionNotAllowed),
    ],
)
def test_refused_event_writes_nothing(workflow, posting, event, error):
    application = make_application(workflow, posting)
    with pytest.raises(error) as raised:
        workflow.fire(APP, application.id, event, STAFF)
    if error is TransitionNotAllowed:
        assert raised.value.allowed == ["reject", "screen", "withdraw"]
        assert "allowed now: reject, screen, withdraw" in str(raised.value)
    assert load(workflow, Application, application.id).version == 1
    assert len(history(workflow, APP, application.id)) == 1


def test_stale_version_is_refused(workflow, posting):
    application = make_application(workflow, posting)
    workflow.fire(APP, application.id, "screen", STAFF, expected_version=1)
    with pytest.raises(StaleVersion, match="version 2, not 1"):
        workflow.fire(APP, application.id, "invite", STAFF, expected_version=1)
    assert load(workflow, Application, application.id).state == "screening"


def test_other_organisation_gets_not_found(workflow, posting):
    application = make_application(workflow, posting)
    other = make_org(workflow)
    with pytest.raises(NotFound):
        workflow.fire(APP, application.id, "screen", STAFF, organisation_id=other.id)
    assert load(workflow, Application, application.id).state == "received"


def test_accept_needs_interview_feedback(workflow, org, posting):
    application = make_application(workflow, posting)
    advance(workflow, application, "screen", "invite")
    with pytest.raises(GuardFailed) as raised:
        workflow.fire(APP, application.id, "accept", STAFF)
    assert raised.value.guard == "has_feedback"
    add_feedback(workflow, application, make_user(workflow, org, Role.interviewer))
    assert workflow.fire(APP, application.id, "accept", STAFF).to_state == "accepted"


def test_reason_required_and_rejection_reason_recorded(workflow, posting):
    application = make_application(workflow, posting)
    with pytest.raises(GuardFailed, match="needs a reason"):
        workflow.fire(APP, application.id, "reject", STAFF)
    with pytest.raises(InvalidInput) as raised:
        workflow.fire(
            APP, application.id, "reject", STAFF, reason="x", payload={"rejection_reason": "No!"}
        )
    assert raised.value.field == "payload.rejection_reason"
    workflow.fire(
        APP,
        application.id,
        "reject",
        STAFF,
        reason="profile does not match",
        payload={"rejection_reason": "not_qualified"},
    )
    assert load(workflow, Application, application.id).rejection_reason == "not_qualified"


def test_reopen_returns_to_the_stage_it_left(workflow, posting):
    application = make_application(workflow, posting)
    advance(workflow, application, "screen", "invite")
    workflow.fire(APP, application.id, "reject", STAFF, reason="no")
    workflow.fire(APP, application.id, "reopen", STAFF, reason="rejected by mistake")
    stored = load(workflow, Application, application.id)
    assert (stored.state, stored.rejection_reason) == ("interview", None)
    assert history(workflow, APP, application.id)[-1] == (
        "reopen",
        "rejected",
        "interview",
        "rejected by mistake",
    )


def test_back_moves_one_stage_with_a_reason(workflow, posting):
    application = make_application(workflow, posting)
    advance(workflow, application, "screen", "invite")
    workflow.fire(APP, application.id, "back", STAFF, reason="invited too early")
    assert load(workflow, Application, application.id).state == "screening"


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2026, 1, 31), 24, date(2028, 1, 31)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2028, 2, 29), 24, date(2030, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
    ],
)
def test_commitment_records_start_and_end(workflow, org, start, months, end):
    posting = make_posting(workflow, org, commitment_months=months)
    application = make_application(workflow, posting)
    advance(workflow, application, "screen", "invite")
    add_feedback(workflow, application, make_user(workflow, org, Role.interviewer))
    advance(workflow, application, "accept", "start_training")
    with pytest.raises(GuardFailed, match="commitment start"):
        workflow.fire(APP, application.id, "start_commitment", STAFF)
    workflow.fire(
        APP,
        application.id,
        "start_commitment",
        STAFF,
        payload={"commitment_start": start.isoformat()},
    )
    stored = load(workflow, Application, application.id)
    assert (stored.commitment_start, stored.commitment_end) == (start, end)


def test_volunteer_commitment_defaults_to_24_months(workflow, org):
    posting = make_posting(workflow, org)
    assert load(workflow, Posting, posting.id).commitment_months == 24


def test_filled_posting_answers_every_open_candidate(workflow, org):
    posting = make_posting(workflow, org, vacancies=1)
    placed, waiting, screened, gone = (make_application(workflow, posting) for _ in range(4))
    advance(workflow, placed, "screen", "invite")
    add_feedback(workflow, placed, make_user(workflow, org, Role.interviewer))
    advance(workflow, placed, "accept")
    advance(workflow, screened, "screen")
    advance(workflow, gone, "withdraw")
    workflow.fire(POSTING, posting.id, "close", STAFF)
    workflow.fire(POSTING, posting.id, "fill", STAFF)
    states = {a.id: load(workflow, Application, a.id) for a in (placed, waiting, screened, gone)}
    assert states[placed.id].state == "accepted"
    assert states[gone.id].state == "withdrawn"
    for answered in (waiting, screened):
        assert states[answered.id].state == "rejected"
        assert states[answered.id].rejection_reason == "posting_filled"
        assert history(workflow, APP, answered.id)[-1][0::3] == ("reject", "posting_filled")


def test_fill_needs_every_vacancy_unless_forced_with_reason(workflow, org):
    posting = make_posting(workflow, org, vacancies=2)
    make_application(workflow, posting)
    workflow.fire(POSTING, posting.id, "close", STAFF)
    with pytest.raises(GuardFailed) as raised:
        workflow.fire(POSTING, posting.id, "fill", STAFF)
    assert raised.value.guard == "vacancies_filled"
    assert "0 of 2" in raised.value.message
    with pytest.raises(GuardFailed):
        workflow.fire(POSTING, posting.id, "fill", STAFF, payload={"force": True})
    workflow.fire(
        POSTING, posting.id, "fill", STAFF, payload={"force": True}, reason="one vacancy frozen"
    )
    assert load(workflow, Posting, posting.id).state == "filled"


def test_cancelled_posting_rejects_with_its_own_reason(workflow, org):
    posting = make_posting(workflow, org)
    application = make_application(workflow, posting)
    workflow.fire(POSTING, posting.id, "cancel", STAFF, reason="budget")
    assert load(workflow, Application, application.id).rejection_reason == "posting_cancelled"


def test_duplicate_application_is_refused_by_normalised_email(workflow, posting):
    make_application(workflow, posting, email="Jane.Doe@Example.org")
    with pytest.raises(AlreadyExists):
        make_application(workflow, posting, email="  jane.doe@example.ORG ")
    with workflow.sessions() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Candidate)
                .where(
                    Candidate.email_normalised == "jane.doe@example.org",
                    Candidate.organisation_id == posting.organisation_id,
                )
            )
            == 1
        )


def test_same_person_applies_to_two_postings_as_one_candidate(workflow, org):
    first, second = make_posting(workflow, org), make_posting(workflow, org)
    a = make_application(workflow, first, email="sam@example.org")
    b = make_application(workflow, second, email="SAM@example.org")
    assert a.candidate_id == b.candidate_id


@pytest.mark.parametrize(
    ("closes_on", "last_second_utc"),
    [
        # 31 March 2027 in Brussels is summer time (UTC+2), the clocks having moved on the 28th.
        (date(2027, 3, 31), datetime(2027, 3, 31, 21, 59, 59, tzinfo=UTC)),
        # 31 January is winter time (UTC+1).
        (date(2027, 1, 31), datetime(2027, 1, 31, 22, 59, 59, tzinfo=UTC)),
    ],
)
def test_closing_date_runs_to_end_of_day_in_posting_zone(workflow, org, closes_on, last_second_utc):
    with time_machine.travel(datetime(2027, 1, 1, tzinfo=UTC), tick=False):
        posting = make_posting(workflow, org, closes_on=closes_on)
    assert load(workflow, Posting, posting.id).closes_at == last_second_utc
    with time_machine.travel(last_second_utc + timedelta(microseconds=500000), tick=False):
        make_application(workflow, posting)
    closed = time_machine.travel(last_second_utc + timedelta(seconds=1), tick=False)
    with closed, pytest.raises(GuardFailed) as raised:
        make_application(workflow, posting)
    assert raised.value.guard == "posting_open"


def test_draft_posting_takes_no_application(workflow, org):
    posting = make_posting(workflow, org, publish=False)
    with pytest.raises(GuardFailed, match="draft"):
        make_application(workflow, posting)


def test_reopen_posting_needs_a_later_closing_date_and_moves_the_deadline(workflow, org):
    posting = make_posting(workflow, org)
    workflow.fire(POSTING, posting.id, "close", STAFF)
    with pytest.raises(GuardFailed, match="new closing date"):
        workflow.fire(POSTING, posting.id, "reopen", STAFF)
    with pytest.raises(GuardFailed, match="not in the future"):
        workflow.fire(POSTING, posting.id, "reopen", STAFF, payload={"closes_at": "2001-01-01"})
    with pytest.raises(InvalidInput) as raised:
        workflow.fire(POSTING, posting.id, "reopen", STAFF, payload={"closes_at": "soon"})
    assert raised.value.field == "payload.closes_at"
    workflow.fire(POSTING, posting.id, "reopen", STAFF, payload={"closes_at": "2099-06-30"})
    with workflow.sessions() as session:
        deadlines = session.scalars(
            select(Deadline).where(
                Deadline.entity_type == POSTING, Deadline.entity_id == posting.id
            )
        ).all()
    pending = [d for d in deadlines if d.status == DeadlineStatus.pending]
    assert [(d.kind, d.due_at) for d in pending] == [
        ("close", datetime(2099, 6, 30, 21, 59, 59, tzinfo=UTC))
    ]
    assert {d.status for d in deadlines} == {DeadlineStatus.pending, DeadlineStatus.cancelled}


def test_leaving_a_state_cancels_its_deadlines(workflow, posting):
    application = make_application(workflow, posting)
    advance(workflow, application, "screen")
    with workflow.sessions() as session:
        rows = session.execute(
            select(Deadline.state, Deadline.status)
            .where(Deadline.entity_type == APP, Deadline.entity_id == application.id)
            .order_by(Deadline.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("received", DeadlineStatus.cancelled),
        ("screening", DeadlineStatus.pending),
    ]


def test_counts_follow_every_move(workflow, posting):
    a, b = make_application(workflow, posting), make_application(workflow, posting)
    advance(workflow, a, "screen", "invite")
    workflow.fire(APP, b.id, "withdraw", Actor.candidate(b.candidate_id))
    with workflow.sessions() as session:
        counts = dict(
            session.execute(
                select(PipelineCount.state, PipelineCount.count).where(
                    PipelineCount.posting_id == posting.id, PipelineCount.count != 0
                )
            ).all()
        )
    assert counts == {"interview": 1, "withdrawn": 1}


def test_history_is_append_only(workflow, posting):
    make_application(workflow, posting)
    with (
        workflow.sessions() as session,
        pytest.raises(DBAPIError, match="append-only"),
        session.begin_nested(),
    ):
        session.execute(text("UPDATE transition_record SET reason = 'rewritten'"))
    with (
        workflow.sessions() as session,
        pytest.raises(DBAPIError, match="append-only"),
        session.begin_nested(),
    ):
        session.execute(text("DELETE FROM transition_record"))


def test_domain_event_published_in_the_transaction(workflow, posting):
    seen = []
    workflow.bus.subscribe(
        lambda session, event: seen.append((event.name, event.event, event.to_state))
    )
    application = make_application(workflow, posting)
    workflow.fire(APP, application.id, "screen", STAFF)
    assert seen == [("created", "create", "received"), ("transitioned", "screen", "screening")]


def test_failing_subscriber_rolls_the_transition_back(workflow, posting):
    application = make_application(workflow, posting)

    def broken(session, event):
        raise RuntimeError("mail queue down")

    workflow.bus.subscribe(broken)
    with pytest.raises(RuntimeError):
        workflow.fire(APP, application.id, "screen", STAFF)
    assert load(workflow, Application, application.id).state == "received"
    assert len(history(workflow, APP, application.id)) == 1


def test_options_show_each_event_and_what_blocks_it(workflow, posting):
    application = make_application(workflow, posting)
    advance(workflow, application, "screen", "invite")
    with workflow.sessions() as session:
        options = workflow.options_in(session, APP, application.id, STAFF)
    blocked = {o.event: (o.dest, o.blocked_by.guard if o.blocked_by else None) for o in options}
    assert blocked == {
        "accept": ("accepted", "has_feedback"),
        "back": ("screening", "reason_given"),
        "reject": ("rejected", "reason_given"),
        "withdraw": ("withdrawn", None),
    }
