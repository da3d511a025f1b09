"""HR's reports on a real database (SQLite and PostgreSQL), fed through the transition service."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from tests.factories import STAFF, add_feedback, make_application, make_org, make_posting, make_user
from workflow.models import EntityType, Role
from workflow.reports import (
    StageConversion,
    StageTime,
    commitments_ending,
    conversion,
    counts_by_group_by,
    idle_applications,
    open_states,
    organisation_counts,
    posting_counts,
    time_in_stage,
)

APP = EntityType.application
T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def at(when: datetime):
    return time_machine.travel(when, tick=False)


def fire(workflow, application, *events, **kwargs):
    for event in events:
        workflow.fire(APP, application.id, event, STAFF, **kwargs)


def report(workflow, fn, *args, **kwargs):
    with workflow.sessions() as session:
        return fn(session, *args, **kwargs)


def to_commitment(workflow, org, posting, start: date):
    """A volunteer taken through interview, acceptance and training into the commitment."""
    application = make_application(workflow, posting)
    fire(workflow, application, "screen", "invite")
    add_feedback(workflow, application, make_user(workflow, org, Role.interviewer))
    fire(workflow, application, "accept", "start_training")
    fire(workflow, application, "start_commitment", payload={"commitment_start": str(start)})
    return application


# --- Counts -----------------------------------------------------------------------------------


def test_counts_table_matches_group_by_after_moves_and_a_fill_cascade(workflow):
    org = make_org(workflow)
    volunteers = make_posting(workflow, org, vacancies=1)
    staff = make_posting(workflow, org, pipeline="staff")
    empty = make_posting(workflow, org, publish=False)
    placed, screened, gone, _waiting = (make_application(workflow, volunteers) for _ in range(4))
    fire(workflow, placed, "screen", "invite")
    add_feedback(workflow, placed, make_user(workflow, org, Role.interviewer))
    fire(workflow, placed, "accept")
    fire(workflow, screened, "screen")
    fire(workflow, gone, "withdraw")
    workflow.fire(EntityType.posting, volunteers.id, "close", STAFF)
    workflow.fire(EntityType.posting, volunteers.id, "fill", STAFF)  # rejects screened, waiting
    back, reopened = make_application(workflow, staff), make_application(workflow, staff)
    fire(workflow, back, "screen", "invite")
    fire(workflow, back, "back", reason="invited too early")
    fire(workflow, reopened, "reject", reason="no")
    fire(workflow, reopened, "reopen", reason="rejected by mistake")

    rows = report(workflow, posting_counts, org.id)
    assert [(r.posting_id, r.state, r.pipeline, r.counts, r.total) for r in rows] == [
        (volunteers.id, "filled", "volunteer", {"accepted": 1, "rejected": 2, "withdrawn": 1}, 4),
        (staff.id, "published", "staff", {"received": 1, "screening": 1}, 2),
        (empty.id, "draft", "volunteer", {}, 0),
    ]
    assert (rows[0].ref, rows[0].title) == (volunteers.ref, volunteers.title)
    from_table = {(r.posting_id, s): n for r in rows for s, n in r.counts.items()}
    assert from_table == report(workflow, counts_by_group_by, organisation_id=org.id)
    assert report(workflow, organisation_counts, org.id) == {
        "accepted": 1,
        "received": 1,
        "rejected": 2,
        "screening": 1,
        "withdrawn": 1,
    }
    only_staff = report(workflow, posting_counts, org.id, posting_id=staff.id)
    assert [r.posting_id for r in only_staff] == [staff.id]
    assert report(workflow, counts_by_group_by, posting_id=staff.id) == {
        (staff.id, "received"): 1,
        (staff.id, "screening"): 1,
    }


# --- Conversion -------------------------------------------------------------------------------


def test_conversion_counts_every_stage_ever_reached(workflow, pipelines):
    org = make_org(workflow)
    posting, other = make_posting(workflow, org), make_posting(workflow, org)
    accepted, sent_back, rejected, _new = (make_application(workflow, posting) for _ in range(4))
    fire(workflow, accepted, "screen", "invite")
    add_feedback(workflow, accepted, make_user(workflow, org, Role.interviewer))
    fire(workflow, accepted, "accept")
    fire(workflow, sent_back, "screen", "invite")
    fire(workflow, sent_back, "back", reason="not ready")  # still reached the interview once
    fire(workflow, rejected, "screen")
    fire(workflow, rejected, "reject", reason="profile does not match")
    fire(workflow, make_application(workflow, other), "screen")

    def figures(**kwargs):
        rows = report(workflow, conversion, org.id, pipelines["volunteer"], **kwargs)
        return [(r.from_stage, r.to_stage, r.reached, r.advanced, r.rate) for r in rows]

    assert figures(posting_id=posting.id) == [
        ("received", "screening", 4, 3, 0.75),
        ("screening", "interview", 3, 2, 2 / 3),
        ("interview", "accepted", 2, 1, 0.5),
        ("accepted", "training", 1, 0, 0.0),
        ("training", "commitment", 0, 0, None),
        ("commitment", "completed", 0, 0, None),
    ]
    assert figures()[0] == ("received", "screening", 5, 4, 0.8)
    staff = report(workflow, conversion, org.id, pipelines["staff"])
    assert staff[0] == StageConversion("received", "screening", 0, 0, None)


# --- Time in stage ----------------------------------------------------------------------------


def test_time_in_stage_median_p90_and_open_stays(workflow, pipelines, backend):
    with at(T0):
        org = make_org(workflow)
        posting = make_posting(workflow, org, pipeline="staff")
        interviewer = make_user(workflow, org, Role.interviewer)
        apps = [make_application(workflow, posting) for _ in range(5)]
    for days, application in enumerate(apps, start=1):  # received for 1, 2, 3, 4 and 5 days
        with at(T0 + days * DAY):
            fire(workflow, application, "screen")
    first = apps[0]
    with at(T0 + 7 * DAY):
        fire(workflow, first, "invite")  # screening for 6 days
    with at(T0 + 8 * DAY):
        fire(workflow, first, "next_round")  # stays in interview: must not split the stay
        add_feedback(workflow, first, interviewer)
    with at(T0 + 10 * DAY):
        fire(workflow, first, "make_offer")  # interview for 3 days

    staff = pipelines["staff"]
    rows = report(workflow, time_in_stage, org.id, staff, T0 + 20 * DAY)
    # PostgreSQL interpolates (percentile_cont: 4 + 0.6 days); SQLite takes the nearest rank.
    received_p90 = {"postgresql": timedelta(days=4.6), "sqlite": 5 * DAY}[backend]
    assert rows == [
        StageTime("received", 5, 3 * DAY, received_p90, 0, None),
        StageTime("screening", 1, 6 * DAY, 6 * DAY, 4, 18 * DAY),
        StageTime("interview", 1, 3 * DAY, 3 * DAY, 0, None),
        StageTime("offer", 0, None, None, 1, 10 * DAY),
    ]
    # As of an earlier moment, the later history is not there yet.
    earlier = report(workflow, time_in_stage, org.id, staff, T0 + 9 * DAY, posting_id=posting.id)
    assert earlier[2] == StageTime("interview", 0, None, None, 1, 2 * DAY)
    assert earlier[3] == StageTime("offer", 0, None, None, 0, None)


def test_time_in_stage_with_hours_and_minutes(workflow, pipelines):
    with at(T0):
        org = make_org(workflow)
        application = make_application(workflow, make_posting(workflow, org))
    with at(T0 + timedelta(hours=5, minutes=30, seconds=1.25)):
        fire(workflow, application, "screen")
    rows = report(workflow, time_in_stage, org.id, pipelines["volunteer"], T0 + 2 * DAY)
    assert rows[0].median == rows[0].p90 == timedelta(hours=5, minutes=30, seconds=1.25)


# --- Commitments and idle applications --------------------------------------------------------


def test_commitments_ending_within_90_days(workflow):
    org = make_org(workflow)
    posting = make_posting(workflow, org, title="Volunteer coordinator")
    today = date(2031, 3, 2)
    in_30 = to_commitment(workflow, org, posting, date(2029, 4, 1))  # ends 2031-04-01
    in_90 = to_commitment(workflow, org, posting, date(2029, 5, 31))  # ends 2031-05-31
    to_commitment(workflow, org, posting, date(2029, 3, 1))  # ended yesterday
    to_commitment(workflow, org, posting, date(2029, 6, 1))  # ends in 91 days
    left = to_commitment(workflow, org, posting, date(2029, 4, 10))
    fire(workflow, left, "end_early", reason="moved abroad")

    rows = report(workflow, commitments_ending, org.id, today, 90)
    assert [(r.application_id, r.commitment_end, r.days_left) for r in rows] == [
        (in_30.id, date(2031, 4, 1), 30),
        (in_90.id, date(2031, 5, 31), 90),
    ]
    assert rows[0].posting_title == "Volunteer coordinator"
    assert rows[0].candidate_name.startswith("Prénom")
    assert report(workflow, commitments_ending, org.id, today, 29) == []


def test_idle_applications_oldest_first(workflow, pipelines):
    waiting = open_states(pipelines.values())
    # Placed candidates (an offer made, accepted, training, committed) have their answer.
    assert waiting == {"received", "screening", "interview"}
    with at(T0):
        org = make_org(workflow)
        posting = make_posting(workflow, org)
        received, screened, withdrawn = (make_application(workflow, posting) for _ in range(3))
    with at(T0 + DAY):
        fire(workflow, screened, "screen")
    with at(T0 + 3 * DAY):
        fire(workflow, withdrawn, "withdraw")  # final: nobody is waiting on it
    with at(T0 + 10 * DAY):
        make_application(workflow, posting)  # recent

    now = T0 + 15 * DAY
    rows = report(workflow, idle_applications, org.id, now, 7, waiting)
    assert [(r.application_id, r.state, r.days_idle) for r in rows] == [
        (received.id, "received", 15),
        (screened.id, "screening", 14),
    ]
    assert rows[0].state_entered_at == T0
    assert rows[0].posting_id == posting.id
    # Exactly 14 days is not "more than 14 days".
    rows = report(workflow, idle_applications, org.id, now, 14, waiting)
    assert [r.application_id for r in rows] == [received.id]


# --- Isolation --------------------------------------------------------------------------------


def populate(workflow, org):
    """A mix of everything the reports show: counts, history, a commitment ending, idle rows."""
    with at(T0):
        posting = make_posting(workflow, org)
        to_commitment(workflow, org, posting, date(2029, 4, 11))  # ends 2031-04-11
        screened, _ = make_application(workflow, posting), make_application(workflow, posting)
    with at(T0 + 2 * DAY):
        fire(workflow, screened, "screen")


def every_report(workflow, org, pipelines):
    now = T0 + 30 * DAY
    volunteer = pipelines["volunteer"]
    waiting = open_states(pipelines.values())
    with workflow.sessions() as session:
        return {
            "postings": posting_counts(session, org.id),
            "organisation": organisation_counts(session, org.id),
            "group_by": counts_by_group_by(session, organisation_id=org.id),
            "conversion": conversion(session, org.id, volunteer),
            "time": time_in_stage(session, org.id, volunteer, now),
            "commitments": commitments_ending(session, org.id, now.date(), 90),
            "idle": idle_applications(session, org.id, now, 7, waiting),
        }


def test_reports_never_show_another_organisation(workflow, pipelines):
    mine, theirs = make_org(workflow), make_org(workflow)
    populate(workflow, mine)
    before = every_report(workflow, mine, pipelines)
    assert all(before.values()), "every report has something to show"
    assert every_report(workflow, theirs, pipelines)["postings"] == []
    populate(workflow, theirs)
    assert every_report(workflow, mine, pipelines) == before
    assert every_report(workflow, theirs, pipelines)["organisation"] == before["organisation"]


@pytest.mark.parametrize("within", [0, 1])
def test_commitment_ending_today_is_included(workflow, within):
    org = make_org(workflow)
    posting = make_posting(workflow, org)
    application = to_commitment(workflow, org, posting, date(2029, 3, 2))
    rows = report(workflow, commitments_ending, org.id, date(2031, 3, 2), within)
    assert [(r.application_id, r.days_left) for r in rows] == [(application.id, 0)]
