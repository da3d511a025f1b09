"""Reading pipeline files: TOML in config/pipelines/, validated once at start-up. Every problem is a
PipelineError naming the file, the line and the transition: unknown states, unreachable states,
non-final states with no way out, duplicate (source, event), unknown guards and effects, missing
texts, stages without a way back, deadlines on unknown fields or with unknown actions."""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, get_args

from dateutil.relativedelta import relativedelta

from workflow.dates import parse_offset
from workflow.effects import EFFECTS, effect_parameters
from workflow.errors import PipelineError
from workflow.guards import GUARDS
from workflow.models import Application, EntityType, Posting
from workflow.pipeline import (
    HISTORY,
    DeadlineSpec,
    EffectSpec,
    Pipeline,
    StateDef,
    TransitionDef,
)
from workflow.retention import ACTIONS

LANGUAGES = ("en", "fr")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
TOP_KEYS = {
    "name", "entity", "description", "initial", "final", "progress", "placed",
    "create_guards", "states", "transitions",
}  # fmt: skip
STATE_KEYS = {"label", "candidate", "on_enter", "deadlines"}
TRANSITION_KEYS = {"event", "source", "dest", "guards", "effects"}
DEADLINE_KEYS = {"kind", "at", "offset", "event", "if_future", "action", "talent_pool_offset"}


def _date_fields(model: type) -> frozenset[str]:
    def is_date(annotation: Any) -> bool:
        return annotation in (date, datetime) or any(
            a in (date, datetime) for a in get_args(annotation)
        )

    return frozenset(n for n, f in model.model_fields.items() if is_date(f.annotation))


DATE_FIELDS = {
    EntityType.application: _date_fields(Application),
    EntityType.posting: _date_fields(Posting),
}


def load_pipelines(directory: Path) -> dict[str, Pipeline]:
    """Every *.toml in `directory`, validated, by name. Also checks the files against each other."""
    pipelines: dict[str, Pipeline] = {}
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise PipelineError(directory, "no pipeline files (*.toml) in this folder")
    for path in files:
        pipeline = load_pipeline(path)
        if pipeline.name in pipelines:
            other = pipelines[pipeline.name].path
            raise PipelineError(path, f"pipeline name {pipeline.name!r} is also used by {other}")
        pipelines[pipeline.name] = pipeline
    check_together(pipelines)
    return pipelines


def load_pipeline(path: Path) -> Pipeline:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PipelineError(path, f"cannot read: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PipelineError(path, f"invalid TOML: {exc}") from None
    return _Loader(path, text, raw).build()


def check_together(pipelines: dict[str, Pipeline]) -> None:
    """A posting's filled/cancelled cascade rejects open applications: every application pipeline
    must have `reject` from each stage that is neither final nor placed."""
    for pipeline in pipelines.values():
        if pipeline.entity is not EntityType.application:
            continue
        for state in pipeline.states:
            if state in pipeline.final or state in pipeline.placed:
                continue
            if pipeline.transition(state, "reject") is None:
                raise PipelineError(
                    pipeline.path,
                    f"state {state!r} is open (neither final nor placed) but has no 'reject' "
                    "transition: a filled or cancelled posting could not answer its candidates",
                )


class _Loader:
    def __init__(self, path: Path, text: str, raw: dict[str, Any]) -> None:
        self.path = path
        self.raw = raw
        self.lines = text.splitlines()

    # Line numbers, so an error points into the file.
    def _line_of_state(self, name: str) -> int | None:
        pattern = re.compile(rf"^\s*\[states\.{re.escape(name)}\]")
        return next((i + 1 for i, line in enumerate(self.lines) if pattern.match(line)), None)

    def _line_of_transition(self, index: int) -> int | None:
        starts = [i + 1 for i, line in enumerate(self.lines) if line.strip() == "[[transitions]]"]
        return starts[index] if index < len(starts) else None

    def _line_of_key(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        return next((i + 1 for i, line in enumerate(self.lines) if pattern.match(line)), None)

    def fail(self, message: str, line: int | None = None) -> PipelineError:
        return PipelineError(self.path, message, line)

    def build(self) -> Pipeline:
        raw = self.raw
        unknown = set(raw) - TOP_KEYS
        if unknown:
            raise self.fail(
                f"unknown key(s) {sorted(unknown)}; expected some of {sorted(TOP_KEYS)}"
            )
        for key in ("name", "entity", "initial", "states", "transitions"):
            if key not in raw:
                raise self.fail(f"missing required key {key!r}")
        name = self._identifier(raw["name"], "name", self._line_of_key("name"))
        try:
            entity = EntityType(raw["entity"])
        except ValueError:
            raise self.fail(
                f"entity {raw['entity']!r} must be 'application' or 'posting'",
                self._line_of_key("entity"),
            ) from None
        states = self._states(raw["states"], entity)
        known = set(states)
        initial = self._known_state(raw["initial"], known, "initial", self._line_of_key("initial"))
        final = frozenset(self._state_list("final", known))
        progress = tuple(self._state_list("progress", known))
        placed = frozenset(self._state_list("placed", known))
        create_guards = tuple(self._guards(raw.get("create_guards", []), "create_guards"))
        transitions = self._transitions(raw["transitions"], known)
        pipeline = Pipeline(
            name=name,
            entity=entity,
            description=str(raw.get("description", "")),
            initial=initial,
            final=final,
            progress=progress,
            placed=placed,
            create_guards=create_guards,
            states=states,
            transitions=transitions,
            path=self.path,
        )
        self._check_graph(pipeline)
        self._check_deadlines(pipeline)
        return pipeline

    def _identifier(self, value: Any, what: str, line: int | None) -> str:
        if not isinstance(value, str) or not NAME.match(value):
            raise self.fail(f"{what} {value!r} must be a lower-case name like 'screening'", line)
        return value

    def _known_state(self, value: Any, known: set[str], what: str, line: int | None) -> str:
        if value not in known:
            raise self.fail(f"{what}: unknown state {value!r}; states are {sorted(known)}", line)
        return value

    def _state_list(self, key: str, known: set[str]) -> list[str]:
        values = self.raw.get(key, [])
        line = self._line_of_key(key)
        if not isinstance(values, list):
            raise self.fail(f"{key} must be a list of state names", line)
        return [self._known_state(v, known, key, line) for v in values]

    def _guards(self, names: Any, where: str, line: int | None = None) -> list[str]:
        if not isinstance(names, list):
            raise self.fail(f"{where}: guards must be a list of names", line)
        for name in names:
            if name not in GUARDS:
                raise self.fail(
                    f"{where}: unknown guard {name!r}; known guards: {', '.join(sorted(GUARDS))}",
                    line,
                )
        return names

    def _effects(self, specs: Any, where: str, line: int | None) -> tuple[EffectSpec, ...]:
        if not isinstance(specs, list):
            raise self.fail(f"{where}: effects must be a list of {{ do = NAME, ... }} tables", line)
        result = []
        for spec in specs:
            if not isinstance(spec, dict) or "do" not in spec:
                raise self.fail(f"{where}: each effect is a table with 'do' = NAME", line)
            params = {k: v for k, v in spec.items() if k != "do"}
            name = spec["do"]
            if name not in EFFECTS:
                raise self.fail(
                    f"{where}: unknown effect {name!r}; known effects: {', '.join(sorted(EFFECTS))}",
                    line,
                )
            required, optional = effect_parameters(name)
            if missing := required - set(params):
                raise self.fail(f"{where}: effect {name!r} needs {sorted(missing)}", line)
            if extra := set(params) - required - optional:
                raise self.fail(f"{where}: effect {name!r} takes no {sorted(extra)}", line)
            result.append(EffectSpec(name, params))
        return tuple(result)

    def _states(self, raw_states: Any, entity: EntityType) -> dict[str, StateDef]:
        if not isinstance(raw_states, dict) or not raw_states:
            raise self.fail("states must be a table of [states.NAME] sections")
        states = {}
        for name, body in raw_states.items():
            line = self._line_of_state(name)
            self._identifier(name, "state name", line)
            if not isinstance(body, dict):
                raise self.fail(f"state {name!r} must be a table", line)
            if unknown := set(body) - STATE_KEYS:
                raise self.fail(f"state {name!r}: unknown key(s) {sorted(unknown)}", line)
            texts = {key: self._texts(body.get(key), f"state {name!r}: {key}", line)
                     for key in ("label", "candidate")}  # fmt: skip
            states[name] = StateDef(
                name=name,
                label=texts["label"],
                candidate=texts["candidate"],
                on_enter=self._effects(body.get("on_enter", []), f"state {name!r}", line),
                deadlines=tuple(
                    self._deadline(d, name, entity, line) for d in body.get("deadlines", [])
                ),
            )
        return states

    def _texts(self, value: Any, where: str, line: int | None) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.fail(f"{where} is missing: give {{ en = '...', fr = '...' }}", line)
        for language in LANGUAGES:
            if not str(value.get(language, "")).strip():
                raise self.fail(f"{where} has no {language!r} text", line)
        return {k: str(v) for k, v in value.items()}

    def _deadline(
        self, spec: Any, state: str, entity: EntityType, line: int | None
    ) -> DeadlineSpec:
        where = f"state {state!r}: deadline"
        if not isinstance(spec, dict) or "kind" not in spec or "at" not in spec:
            raise self.fail(f"{where}: each deadline is {{ kind = ..., at = FIELD, ... }}", line)
        if unknown := set(spec) - DEADLINE_KEYS:
            raise self.fail(f"{where} {spec['kind']!r}: unknown key(s) {sorted(unknown)}", line)
        kind = self._identifier(spec["kind"], f"{where} kind", line)
        if spec["at"] not in DATE_FIELDS[entity]:
            raise self.fail(
                f"{where} {kind!r}: 'at' = {spec['at']!r} is not a date field of {entity.value}; "
                f"one of {sorted(DATE_FIELDS[entity])}",
                line,
            )
        offset = self._offset(spec.get("offset", "0d"), f"{where} {kind!r}", line)
        if_future = spec.get("if_future", False)
        if not isinstance(if_future, bool):
            raise self.fail(f"{where} {kind!r}: if_future must be true or false", line)
        action = self._action(spec, f"{where} {kind!r}", entity, line)
        talent_pool_offset = None
        if "talent_pool_offset" in spec:
            if entity is not EntityType.application:
                raise self.fail(
                    f"{where} {kind!r}: talent_pool_offset needs a candidate (applications only)",
                    line,
                )
            talent_pool_offset = self._offset(spec["talent_pool_offset"], f"{where} {kind!r}", line)
        return DeadlineSpec(
            kind, spec["at"], offset, spec.get("event"), if_future, action, talent_pool_offset
        )

    def _offset(self, value: Any, where: str, line: int | None) -> relativedelta:
        try:
            return parse_offset(str(value))
        except ValueError as exc:
            raise self.fail(f"{where}: {exc}", line) from None

    def _action(
        self, spec: dict[str, Any], where: str, entity: EntityType, line: int | None
    ) -> str | None:
        """A deadline fires an event (a transition) or runs a named action, not both."""
        action = spec.get("action")
        if action is None:
            return None
        if spec.get("event") is not None:
            raise self.fail(f"{where}: give 'event' or 'action', not both", line)
        if action not in ACTIONS:
            raise self.fail(
                f"{where}: unknown action {action!r}; known actions: {', '.join(sorted(ACTIONS))}",
                line,
            )
        if ACTIONS[action].entity is not entity:
            raise self.fail(
                f"{where}: action {action!r} applies to {ACTIONS[action].entity.value} pipelines",
                line,
            )
        return action

    def _transitions(self, raw: Any, known: set[str]) -> tuple[TransitionDef, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail("transitions must be a non-empty list of [[transitions]] tables")
        result: list[TransitionDef] = []
        seen: dict[tuple[str, str], int] = {}
        for index, body in enumerate(raw):
            line = self._line_of_transition(index)
            if unknown := set(body) - TRANSITION_KEYS:
                raise self.fail(f"transition #{index + 1}: unknown key(s) {sorted(unknown)}", line)
            event = self._identifier(body.get("event"), f"transition #{index + 1}: event", line)
            sources = body.get("source")
            sources = sources if isinstance(sources, list) else [sources]
            dest = body.get("dest")
            where = f"transition {event!r} ({', '.join(map(str, sources))} -> {dest})"
            for source in sources:
                self._known_state(source, known, f"{where}: source", line)
            if dest != HISTORY:
                self._known_state(dest, known, f"{where}: dest", line)
            guards = tuple(self._guards(body.get("guards", []), where, line))
            effects = self._effects(body.get("effects", []), where, line)
            for source in sources:
                if (source, event) in seen:
                    raise self.fail(
                        f"{where}: duplicate (source, event) ({source!r}, {event!r}); "
                        f"first declared at line {seen[(source, event)]}",
                        line,
                    )
                seen[(source, event)] = line or 0
                result.append(TransitionDef(event, source, dest, guards, effects))
        return tuple(result)

    def _check_graph(self, p: Pipeline) -> None:
        reachable, frontier = {p.initial}, [p.initial]
        while frontier:
            state = frontier.pop()
            for t in p.transitions:
                if t.source == state and t.dest != HISTORY and t.dest not in reachable:
                    reachable.add(t.dest)
                    frontier.append(t.dest)
        if unreachable := sorted(set(p.states) - reachable):
            raise self.fail(
                f"unreachable state(s) {unreachable}: no transition leads there from {p.initial!r}",
                self._line_of_state(unreachable[0]),
            )
        for state in p.states:
            if state not in p.final and not any(t.source == state for t in p.transitions):
                raise self.fail(
                    f"state {state!r} is not final and has no way out", self._line_of_state(state)
                )
        for earlier, later in pairwise(p.progress):
            if not any(t.source == later and t.dest == earlier for t in p.transitions):
                raise self.fail(
                    f"stage {later!r} has no declared way back to {earlier!r} "
                    "(people make mistakes: add a transition from it back to the stage before)",
                    self._line_of_state(later),
                )
        for t in p.transitions:
            if t.dest == HISTORY and t.source not in p.final:
                raise self.fail(
                    f"transition {t.event!r} ({t.source} -> {HISTORY}): only a final state "
                    "can return to the stage it left",
                )

    def _check_deadlines(self, p: Pipeline) -> None:
        for state in p.states.values():
            for spec in state.deadlines:
                if spec.event is not None and p.transition(state.name, spec.event) is None:
                    raise self.fail(
                        f"state {state.name!r}: deadline {spec.kind!r} fires {spec.event!r}, "
                        f"which is not a transition from {state.name!r}",
                        self._line_of_state(state.name),
                    )
