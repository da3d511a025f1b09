"""Stateful property tests: random events through the real transition service, on a real database.

Each default pipeline is driven by hypothesis with random events (allowed now or not), with or
without a reason, with stale versions, with guards satisfied or not. What should happen comes from
an independent model that reads the pipeline files with tomllib (tests/pipeline_spec.py), never from
workflow.pipeline or the transitions Machine. After every step the database must agree with the
model, the history must replay to the current state, and the counts table must equal the GROUP BY.

Every hypothesis example makes its own organisation and posting, so examples never see each other's
rows; the whole test still runs inside the `workflow` fixture's rolled-back transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from tests.factories import STAFF, add_feedback, make_application, make_org, make_posting, make_user
from tests.pipeline_spec import HISTORY, Move, PipelineSpec, load_spec
from workflow.errors import GuardFailed, StaleVersion, TransitionNotAllowed, UnknownEvent
from workflow.models import (
    Application,
    EntityType,
    PipelineCount,
    Posting,
    Role,
    TransitionRecord,
)
from workflow.service import Workflow

APP = EntityType.application
POSTING = EntityType.posting
UNKNOWN_EVENT = "teleport"
COMMITMENT_MONTHS = 24  # the posting factory leaves the default for volunteer calls
CLOSES_IN_DAYS = 60  # make_posting's default closing date: today + 60 days
PAST_CLOSING = "2001-01-01"
COMMITMENT_START = date(2026, 9, 1)
MAX_APPLICATIONS = 4  # per example: few enough that each one goes a long way

SETTINGS = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)

REASON = "checked with the team"
REASONS = st.one_of(st.just(REASON), st.just(REASON), st.sampled_from([None, "", "   "]))
VERSIONS = st.sampled_from(["current", "none"] * 3 + ["stale"])
APPLICATION_PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "commitment_start": st.dates(date(2025, 1, 1), date(2030, 12, 31)).map(date.isoformat),
        "rejection_reason": st.sampled_from(["not_qualified", "no_availability"]),
    },
)
POSTING_PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "closes_at": st.sampled_from(["future", PAST_CLOSING]),
        "force": st.just(True),
    },
)


def closing_instant(day: date, timezone: str = "Europe/Brussels") -> datetime:
    """What a date-only closing date means: 23:59:59 that day in the posting's zone, in UTC."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


@dataclass
class Entity:
    """The model's view of one application or posting."""

    id: int
    state: str
    version: int = 1
    history: list[tuple[str, str | None, str]] = field(default_factory=list)
    left: dict[str, str] = field(default_factory=dict)  # state -> the state left to enter it
    rejection_reason: str | None = None
    commitment_start: date | None = None
    feedback: bool = False
    closes_on: date | None = None  # postings only

    def record(self, event: str, source: str | None, dest: str) -> None:
        self.history.append((event, source, dest))
        if source is not None:
            self.left[dest] = source
            self.version += 1
        self.state = dest


class PipelineMachine(RuleBasedStateMachine):
    """Applications of one posting, moved by random events; subclasses choose the posting's part."""

    applications = Bundle("applications")

    def __init__(self, workflow: Workflow) -> None:
        super().__init__()
        self.workflow = workflow
        self.lifecycle = load_spec("posting")
        self.apps: dict[int, Entity] = {}
        self.rows: dict[int, Application] = {}

    def setup(self, pipeline: str, *, publish: bool) -> None:
        self.spec: PipelineSpec = load_spec(pipeline)
        self.org = make_org(self.workflow)
        self.interviewer = make_user(self.workflow, self.org, Role.interviewer)
        row = make_posting(self.workflow, self.org, pipeline=pipeline, publish=False)
        self.posting_row = row  # detached: the factories only read its id
        self.posting = Entity(
            row.id, self.lifecycle.initial, closes_on=date.today() + timedelta(CLOSES_IN_DAYS)
        )
        self.posting.record("create", None, self.lifecycle.initial)
        if publish:
            self.fire_and_check(self.posting, self.lifecycle, "publish", None, {}, "current")

    # --- Rules --------------------------------------------------------------------------------

    @precondition(lambda self: len(self.apps) < MAX_APPLICATIONS)
    @rule(target=applications)
    def apply(self) -> Any:
        failing = [g for g in self.spec.create_guards if self.guard_fails(g, None, None, {})]
        if failing:
            with pytest.raises(GuardFailed) as raised:
                make_application(self.workflow, self.posting_row)
            assert raised.value.guard == failing[0]
            return multiple()
        row = make_application(self.workflow, self.posting_row)
        app = Entity(row.id, self.spec.initial)
        app.record("create", None, self.spec.initial)
        self.apps[row.id] = app
        self.rows[row.id] = row
        return row.id

    @rule(
        app_id=applications,
        data=st.data(),
        reason=REASONS,
        version=VERSIONS,
        payload=APPLICATION_PAYLOADS,
    )
    def fire_application(self, app_id, data, reason, version, payload) -> None:
        """An event on an application; before one that needs feedback, maybe some is given."""
        app = self.apps[app_id]
        event = data.draw(self.events(self.spec, app.state, forward=4, allowed=2), label="event")
        move = self.spec.move(app.state, event)
        needs_feedback = move is not None and "has_feedback" in move.guards and not app.feedback
        if needs_feedback and data.draw(st.booleans(), label="feedback first"):
            self.give_feedback(app)
        self.fire_and_check(app, self.spec, event, reason, payload, version)

    @rule(app_id=applications, stages=st.integers(1, 3))
    def recruiter_takes_it_further(self, app_id, stages) -> None:
        """Up to `stages` steps of progress in a row, with feedback, reason and dates given."""
        app = self.apps[app_id]
        for _ in range(stages):
            forward = self.spec.forward(app.state)
            if not forward:
                return
            move = self.spec.move(app.state, forward[0])
            if "has_feedback" in move.guards and not app.feedback:
                self.give_feedback(app)
            payload = {"commitment_start": COMMITMENT_START.isoformat()}
            self.fire_and_check(app, self.spec, forward[0], REASON, payload, "current")

    @rule(app_id=applications, way_out=st.sampled_from(["reject", "withdraw"]))
    def turned_away_then_reopened(self, app_id, way_out) -> None:
        """Rejected (or withdrawn) and reopened at once: `reopen` must return to this stage, not
        to one the application left the same way earlier."""
        app = self.apps[app_id]
        self.fire_and_check(app, self.spec, way_out, REASON, {}, "current")
        self.fire_and_check(app, self.spec, "reopen", REASON, {}, "current")

    def give_feedback(self, app: Entity) -> None:
        add_feedback(self.workflow, self.rows[app.id], self.interviewer)
        app.feedback = True

    # --- The model ----------------------------------------------------------------------------

    @staticmethod
    def events(spec: PipelineSpec, state: str, *, forward: int, allowed: int) -> Any:
        """Any event of the pipeline (and an unknown one), leaning `allowed` times towards those
        allowed now and `forward` times towards the next stage of progress."""
        every = [*spec.events, UNKNOWN_EVENT]
        return st.sampled_from(
            spec.forward(state) * forward + spec.allowed(state) * allowed + every
        )

    def placed_count(self) -> int:
        return sum(a.state in self.spec.placed for a in self.apps.values())

    def guard_fails(
        self, guard: str, entity: Entity | None, reason: str | None, payload: dict
    ) -> bool:
        """The model's own reading of each guard the files name."""
        reason_ok = bool((reason or "").strip())
        today = date.today()
        if guard == "reason_given":
            return not reason_ok
        if guard == "has_feedback":
            return not entity.feedback
        if guard == "commitment_start_given":
            return "commitment_start" not in payload and entity.commitment_start is None
        if guard == "posting_open":
            return self.posting.state != "published" or self.posting.closes_on < today
        if guard == "closes_in_future":
            return self.posting.closes_on < today
        if guard == "new_closing_date":
            return payload.get("closes_at") in (None, PAST_CLOSING)
        if guard == "vacancies_filled":
            forced = payload.get("force") is True and reason_ok
            return self.placed_count() < 1 and not forced  # the factory's one vacancy
        raise AssertionError(f"the model does not know guard {guard!r}: teach it")

    def fire_and_check(
        self,
        entity: Entity,
        spec: PipelineSpec,
        event: str,
        reason: str | None,
        payload: dict,
        version: str,
    ) -> None:
        """Fire through the real service and check the answer against the model: an unknown
        event, then a stale version, then an event the file does not allow from the state, then
        the first failing guard (in file order) are refused; otherwise the move is the file's."""
        payload = dict(payload)
        if payload.get("closes_at") == "future":
            payload["closes_at"] = (date.today() + timedelta(days=90)).isoformat()
        expected_version = {
            "none": None,
            "current": entity.version,
            "stale": entity.version - 1 if entity.version > 1 else entity.version + 1,
        }[version]
        entity_type = POSTING if spec.entity == "posting" else APP

        def fire():
            return self.workflow.fire(
                entity_type,
                entity.id,
                event,
                STAFF,
                reason=reason,
                payload=payload,
                expected_version=expected_version,
            )

        if event not in spec.events:
            with pytest.raises(UnknownEvent):
                fire()
            return
        if version == "stale":
            with pytest.raises(StaleVersion) as stale:
                fire()
            assert (stale.value.expected, stale.value.actual) == (expected_version, entity.version)
            return
        move = spec.move(entity.state, event)
        if move is None:
            with pytest.raises(TransitionNotAllowed) as refused:
                fire()
            assert refused.value.state == entity.state
            assert refused.value.allowed == spec.allowed(entity.state)
            return
        failing = [g for g in move.guards if self.guard_fails(g, entity, reason, payload)]
        if failing:
            with pytest.raises(GuardFailed) as blocked:
                fire()
            assert blocked.value.guard == failing[0]
            return
        result = fire()
        source = entity.state
        dest = entity.left[source] if move.dest == HISTORY else move.dest
        self.apply_move(entity, spec, move, dest, reason, payload)
        assert (result.from_state, result.to_state, result.version) == (
            source,
            dest,
            entity.version,
        )

    def apply_move(
        self,
        entity: Entity,
        spec: PipelineSpec,
        move: Move,
        dest: str,
        reason: str | None,
        payload: dict,
    ) -> None:
        source = entity.state
        for effect in move.effects:
            if effect == "record_rejection_reason":
                entity.rejection_reason = payload.get("rejection_reason", "other")
            elif effect == "clear_rejection_reason":
                entity.rejection_reason = None
            elif effect == "set_closing_date":
                entity.closes_on = date.fromisoformat(payload["closes_at"])
            else:
                raise AssertionError(f"the model does not know effect {effect!r}: teach it")
        entity.record(move.event, source, dest)
        if dest == source:
            return
        for effect, params in spec.on_enter[dest]:
            if effect == "record_commitment":
                start = payload.get("commitment_start")
                entity.commitment_start = (
                    date.fromisoformat(start) if start else entity.commitment_start
                )
            elif effect == "reject_open_applications":
                self.cascade(params["reason"])
            else:
                raise AssertionError(f"the model does not know effect {effect!r}: teach it")

    def cascade(self, reason: str) -> None:
        """Every application neither final nor placed is rejected with the posting's reason."""
        for app_id in sorted(self.apps):
            app = self.apps[app_id]
            if app.state in self.spec.final | self.spec.placed:
                continue
            move = self.spec.move(app.state, "reject")
            assert move is not None, f"{self.spec.name}: no 'reject' from {app.state}"
            self.apply_move(app, self.spec, move, move.dest, reason, {"rejection_reason": reason})

    # --- Invariants ---------------------------------------------------------------------------

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        with self.workflow.sessions() as session:
            db = session.connection()  # plain Core queries: this runs after every step
            posting = db.execute(
                select(Posting.state, Posting.version, Posting.closes_at).where(
                    Posting.id == self.posting.id
                )
            ).one()
            apps = db.execute(
                select(
                    Application.id,
                    Application.state,
                    Application.version,
                    Application.rejection_reason,
                    Application.commitment_start,
                    Application.commitment_end,
                ).where(Application.posting_id == self.posting.id)
            ).all()
            records = db.execute(
                select(
                    TransitionRecord.entity_type,
                    TransitionRecord.entity_id,
                    TransitionRecord.event,
                    TransitionRecord.from_state,
                    TransitionRecord.to_state,
                )
                .where(TransitionRecord.organisation_id == self.org.id)
                .order_by(TransitionRecord.id)
            ).all()
            counts = db.execute(
                select(PipelineCount.state, PipelineCount.count).where(
                    PipelineCount.posting_id == self.posting.id
                )
            ).all()
            grouped = db.execute(
                select(Application.state, func.count())
                .where(Application.posting_id == self.posting.id)
                .group_by(Application.state)
            ).all()

        assert (posting.state, posting.version) == (self.posting.state, self.posting.version)
        assert posting.closes_at == closing_instant(self.posting.closes_on)
        expected = {
            a.id: (
                a.state,
                a.version,
                a.rejection_reason,
                a.commitment_start,
                a.commitment_start + relativedelta(months=COMMITMENT_MONTHS)
                if a.commitment_start
                else None,
            )
            for a in self.apps.values()
        }
        assert {row.id: tuple(row[1:]) for row in apps} == expected

        histories: dict[tuple[EntityType, int], list[tuple]] = defaultdict(list)
        for entity_type, entity_id, *rest in records:
            histories[(EntityType(entity_type), entity_id)].append(tuple(rest))
        entities = {(POSTING, self.posting.id): self.posting} | {
            (APP, a.id): a for a in self.apps.values()
        }
        assert set(histories) == set(entities)
        for key, entity in entities.items():
            replay = histories[key]
            assert replay[0][0:2] == ("create", None), (key, replay)
            for before, after in pairwise(replay):
                assert after[1] == before[2], (key, replay)
            assert replay[-1][2] == entity.state, (key, replay)
            assert len(replay) == entity.version, (key, replay)
            assert replay == entity.history, (key, replay)

        assert all(count >= 0 for _, count in counts), counts
        table = {state: count for state, count in counts if count}
        assert table == dict(grouped)
        assert table == dict(Counter(a.state for a in self.apps.values()))


class ApplicationMachine(PipelineMachine):
    """Applications of a published posting that stays published."""

    def __init__(self, workflow: Workflow, pipeline: str) -> None:
        super().__init__(workflow)
        self.setup(pipeline, publish=True)


class PostingMachine(PipelineMachine):
    """The posting's own lifecycle too: publish, unpublish, close, reopen, fill, cancel, archive,
    with the cascade that answers every open application."""

    def __init__(self, workflow: Workflow) -> None:
        super().__init__(workflow)

    @initialize(pipeline=st.sampled_from(["volunteer", "staff"]))
    def choose_pipeline(self, pipeline: str) -> None:
        self.setup(pipeline, publish=True)

    @precondition(lambda self: self.apps or self.posting.state != "published")
    @rule(data=st.data(), reason=REASONS, version=VERSIONS, payload=POSTING_PAYLOADS)
    def fire_posting(self, data, reason, version, payload) -> None:
        event = data.draw(
            self.events(self.lifecycle, self.posting.state, forward=0, allowed=1), label="event"
        )
        self.fire_and_check(self.posting, self.lifecycle, event, reason, payload, version)


@pytest.mark.parametrize("pipeline", ["volunteer", "staff"])
def test_application_pipeline_follows_its_file(workflow: Workflow, pipeline: str) -> None:
    run_state_machine_as_test(lambda: ApplicationMachine(workflow, pipeline), settings=SETTINGS)


def test_posting_lifecycle_and_cascade_follow_the_files(workflow: Workflow) -> None:
    # Longer runs: the cascade is worth most when it meets both placed and open applications.
    run_state_machine_as_test(
        lambda: PostingMachine(workflow), settings=settings(SETTINGS, stateful_step_count=30)
    )
