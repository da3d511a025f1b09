"""The demo loader on SQLite and PostgreSQL: every pipeline state filled through the service, the
seeds' facts, histories that replay, the date-shift rule, idempotence and the counts table."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select, text

from workflow.demo import KINDS, DemoSummary, load_demo
from workflow.models import (
    Application,
    Candidate,
    EntityType,
    Feedback,
    Interview,
    Organisation,
    PipelineCount,
    Posting,
    TransitionRecord,
)

TODAY = date(2026, 11, 25)
BRUSSELS = ZoneInfo("Europe/Brussels")
COORDINATIONS = {
    "aibf-usa": ("États-Unis", "bilingue français-anglais"),
    "aibf-grandlacs": ("Afrique des Grands-Lacs", "Burundi, la République démocratique du Congo"),
    "aibf-mexique": ("Mexique", "peuples autochtones"),
}


@pytest.fixture
def demo(workflow) -> DemoSummary:
    return load_demo(workflow, TODAY)


def demo_org_ids(session) -> list[int]:
    return session.scalars(
        select(Organisation.id).where(Organisation.slug.in_(["aibf", "omct"]))
    ).all()


def postings_by_ref(workflow) -> dict[str, Posting]:
    with workflow.sessions() as session:
        rows = session.scalars(
            select(Posting).where(Posting.organisation_id.in_(demo_org_ids(session)))
        ).all()
    return {p.ref: p for p in rows}


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=BRUSSELS).astimezone(UTC)


def histories(session, entity_type: EntityType) -> dict[int, list[TransitionRecord]]:
    rows = session.scalars(
        select(TransitionRecord)
        .where(
            TransitionRecord.entity_type == entity_type,
            TransitionRecord.organisation_id.in_(demo_org_ids(session)),
        )
        .order_by(TransitionRecord.id)
    ).all()
    result: dict[int, list[TransitionRecord]] = {}
    for row in rows:
        result.setdefault(row.entity_id, []).append(row)
    return result


def row_counts(workflow) -> dict[str, int]:
    with workflow.sessions() as session:
        names = inspect(session.connection()).get_table_names()
        return {n: session.scalar(text(f'SELECT count(*) FROM "{n}"')) for n in sorted(names)}


# A leap day and the day Brussels moves to summer time, besides an ordinary day.
@pytest.mark.parametrize("today", [TODAY, date(2028, 2, 29), date(2025, 3, 30)])
def test_every_state_of_both_pipelines_holds_an_application(workflow, pipelines, today):
    summary = load_demo(workflow, today)
    assert summary.created_anything
    with workflow.sessions() as session:
        rows = session.execute(
            select(Application.pipeline, Application.state)
            .where(Application.organisation_id.in_(demo_org_ids(session)))
            .distinct()
        ).all()
    for name in ("volunteer", "staff"):
        held = {state for pipeline, state in rows if pipeline == name}
        assert held == set(pipelines[name].states), name


def test_omct_posting_keeps_the_seed_facts_and_closes_21_days_after_today(workflow, demo):
    posting = postings_by_ref(workflow)["omct-director"]
    assert (posting.kind, posting.pipeline, posting.state) == ("staff", "staff", "published")
    assert (posting.salary_min, posting.salary_max, posting.salary_currency) == (4300, 5100, "EUR")
    assert (posting.salary_period, posting.salary_payments_per_year) == ("month", 12)
    assert posting.workload == [
        {"label": "HRD programme", "percent": 80},
        {"label": "EU advocacy", "percent": 20},
    ]
    assert posting.languages == [
        {"code": "en", "level": "required"},
        {"code": "fr", "level": "asset"},
        {"code": "es", "level": "asset"},
        {"code": "ru", "level": "asset"},
    ]
    assert len(posting.criteria) == 9
    assert posting.criteria[1].startswith("Au moins sept ans d'expérience")
    assert posting.contact_email == "applications@omct.org"
    assert posting.application_subject == "Director of the HRD Programme"
    assert posting.start_asap is True
    closing = datetime.combine(TODAY + timedelta(days=21), time(23, 59, 59), tzinfo=BRUSSELS)
    assert posting.closes_at == closing.astimezone(UTC)


def test_amnesty_call_is_three_volunteer_postings_sharing_the_seed_facts(workflow, demo):
    postings = postings_by_ref(workflow)
    for ref, (coordination, words) in COORDINATIONS.items():
        posting = postings[ref]
        assert (posting.kind, posting.pipeline, posting.state) == (
            "volunteer",
            "volunteer",
            "published",
        )
        assert coordination in posting.title and words in posting.description
        assert "La durée de ce bénévolat ne peut être inférieure à 24 mois" in posting.description
        assert (posting.commitment_months, posting.vacancies) == (24, 1)
        assert posting.contact_name == "Laurent Deutsch"
        assert "affiner nos attentes respectives" in posting.how_to_apply
        assert posting.languages == [
            {"code": "fr", "level": "required"},
            {"code": "en", "level": "required"},
        ]
        assert (
            len(posting.criteria) == 11 and "Bonne maîtrise de l\u2019anglais" in posting.criteria
        )
        assert posting.closes_at is None  # seed 001 has no closing date


def test_postings_were_published_six_to_eight_weeks_before_today(workflow, demo):
    with workflow.sessions() as session:
        records = histories(session, EntityType.posting)
    postings = postings_by_ref(workflow)
    for ref in [*COORDINATIONS, "omct-director"]:
        published = next(r.at for r in records[postings[ref].id] if r.event == "publish")
        assert timedelta(weeks=6) <= start_of(TODAY) - published <= timedelta(weeks=8), ref


@pytest.mark.parametrize("entity_type", [EntityType.application, EntityType.posting])
def test_each_history_replays_to_the_current_state_before_today(workflow, demo, entity_type):
    model = Application if entity_type is EntityType.application else Posting
    with workflow.sessions() as session:
        records = histories(session, entity_type)
        entities = session.scalars(
            select(model).where(model.organisation_id.in_(demo_org_ids(session)))
        ).all()
    assert len(entities) == demo.created[f"{entity_type.value}s"]
    for entity in entities:
        history = records[entity.id]
        assert (history[0].event, history[0].from_state) == ("create", None)
        for before, after in pairwise(history):
            assert after.from_state == before.to_state, (entity.id, after.event)
            assert after.at >= before.at
        assert history[-1].to_state == entity.state
        assert history[-1].at < start_of(TODAY)
        assert entity.version == len(history)


def test_second_run_creates_nothing(workflow, demo):
    before = row_counts(workflow)
    again = load_demo(workflow, TODAY)
    later = load_demo(workflow, TODAY + timedelta(days=40))
    assert row_counts(workflow) == before
    for summary in (again, later):
        assert not summary.created_anything
        assert summary.created == dict.fromkeys(KINDS, 0)
        assert summary.present == demo.created
    assert "created nothing" in str(again)


def test_first_run_counts_the_person_with_two_applications_once(workflow, demo):
    with workflow.sessions() as session:
        ids = demo_org_ids(session)
        candidates = session.scalar(
            select(func.count(Candidate.id)).where(Candidate.organisation_id.in_(ids))
        )
        applications = session.scalar(
            select(func.count(Application.id)).where(Application.organisation_id.in_(ids))
        )
    assert (demo.created["candidates"], demo.created["applications"]) == (
        candidates,
        applications,
    )
    assert applications == candidates + 1
    assert demo.created["organisations"] == 2 and demo.created["users"] == 10


def test_counts_table_equals_the_group_by(workflow, demo):
    with workflow.sessions() as session:
        ids = demo_org_ids(session)
        grouped = session.execute(
            select(Application.posting_id, Application.state, func.count())
            .where(Application.organisation_id.in_(ids))
            .group_by(Application.posting_id, Application.state)
        ).all()
        kept = session.execute(
            select(PipelineCount.posting_id, PipelineCount.state, PipelineCount.count)
            .join(Posting, Posting.id == PipelineCount.posting_id)
            .where(Posting.organisation_id.in_(ids), PipelineCount.count != 0)
        ).all()
    assert {(p, s): n for p, s, n in kept} == {(p, s): n for p, s, n in grouped}


def test_screening_decisions_are_documented_against_each_criterion(workflow, demo):
    postings = {p.id: p for p in postings_by_ref(workflow).values()}
    with workflow.sessions() as session:
        records = histories(session, EntityType.application)
        applications = session.scalars(
            select(Application).where(Application.organisation_id.in_(demo_org_ids(session)))
        ).all()
    decided = 0
    for application in applications:
        left_screening = any(r.from_state == "screening" for r in records[application.id])
        if not left_screening:
            continue
        decided += 1
        # Compared as sets: PostgreSQL's JSONB does not keep the keys' order.
        assert set(application.assessment) == set(postings[application.posting_id].criteria)
        assert all(
            isinstance(a["met"], bool) and a["note"] for a in application.assessment.values()
        )
        if application.rejection_reason == "not_qualified":
            assert not all(a["met"] for a in application.assessment.values())
    assert decided >= 10


def test_commitments_and_interviews_sit_where_the_shift_puts_them(workflow, demo):
    with workflow.sessions() as session:
        ids = demo_org_ids(session)
        apps = session.scalars(select(Application).where(Application.organisation_id.in_(ids)))
        by_state: dict[str, list[Application]] = {}
        for application in apps:
            by_state.setdefault(application.state, []).append(application)
        upcoming = session.scalars(
            select(Interview).where(
                Interview.organisation_id.in_(ids), Interview.starts_at > start_of(TODAY)
            )
        ).all()
        feedback_on_upcoming = session.scalar(
            select(func.count(Feedback.id)).where(
                Feedback.interview_id.in_([i.id for i in upcoming])
            )
        )
    (completed,) = by_state["completed"]
    assert completed.commitment_end < TODAY
    assert timedelta(days=700) < TODAY - completed.commitment_start < timedelta(days=760)
    assert all(a.commitment_end > TODAY for a in by_state["commitment"])
    assert upcoming and feedback_on_upcoming == 0


def test_today_defaults_to_the_workflow_clock_in_brussels(workflow):
    workflow.clock = lambda: datetime(2027, 1, 10, 23, 30, tzinfo=UTC)  # 00:30 on the 11th there
    summary = load_demo(workflow)
    assert summary.today == date(2027, 1, 11)
    posting = postings_by_ref(workflow)["omct-director"]
    assert posting.closes_at.astimezone(BRUSSELS).date() == date(2027, 2, 1)
