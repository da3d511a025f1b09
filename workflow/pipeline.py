"""Pipelines are data: TOML files in config/pipelines/, read and validated once at start-up by
workflow/pipeline_files.py into the objects below.

A file declares states (labels and candidate-facing sentences in French and English, `on_enter`
effects, `deadlines` active while the entity is in that state), the initial and final states, the
ordered stages of progress, and transitions {event, source, dest, guards, effects}.

One `transitions.Machine` is built per pipeline (model=None, auto_transitions=False): it answers
"which events are allowed from this state". Guards run by name from workflow.guards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from transitions import Machine

from workflow.models import EntityType

HISTORY = "=history"  # dest of `reopen`: the state the entity left, taken from its history


@dataclass(frozen=True)
class EffectSpec:
    do: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadlineSpec:
    kind: str
    at: str
    offset: relativedelta
    event: str | None = None
    # Only schedule it when its time is still ahead on entering the state (a scheduled publish
    # must not fire again when a posting is unpublished after it opened).
    if_future: bool = False
    # A named domain action the sweeper runs (workflow/retention.py ACTIONS), instead of an event.
    action: str | None = None
    # Used instead of `offset` when the candidate consented to the talent pool (applications).
    talent_pool_offset: relativedelta | None = None


@dataclass(frozen=True)
class StateDef:
    name: str
    label: dict[str, str]
    candidate: dict[str, str]
    on_enter: tuple[EffectSpec, ...] = ()
    deadlines: tuple[DeadlineSpec, ...] = ()


@dataclass(frozen=True)
class TransitionDef:
    event: str
    source: str
    dest: str  # a state, or HISTORY
    guards: tuple[str, ...] = ()
    effects: tuple[EffectSpec, ...] = ()


@dataclass
class Pipeline:
    name: str
    entity: EntityType
    description: str
    initial: str
    final: frozenset[str]
    progress: tuple[str, ...]
    placed: frozenset[str]
    create_guards: tuple[str, ...]
    states: dict[str, StateDef]
    transitions: tuple[TransitionDef, ...]
    path: Path
    machine: Machine = field(init=False, repr=False)
    _by_source_event: dict[tuple[str, str], TransitionDef] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_source_event = {(t.source, t.event): t for t in self.transitions}
        self.machine = Machine(
            model=None,
            states=list(self.states),
            initial=self.initial,
            auto_transitions=False,
            transitions=[self._machine_transition(t) for t in self.transitions],
        )

    @staticmethod
    def _machine_transition(t: TransitionDef) -> dict[str, Any]:
        # A history destination is only known at run time: the Machine sees an internal move.
        dest = None if t.dest == HISTORY else t.dest
        return {"trigger": t.event, "source": t.source, "dest": dest, "conditions": list(t.guards)}

    @property
    def events(self) -> list[str]:
        return sorted({t.event for t in self.transitions})

    def allowed_events(self, state: str) -> list[str]:
        """The events the pipeline declares from `state` (before guards), sorted."""
        return sorted(self.machine.get_triggers(state))

    def transition(self, state: str, event: str) -> TransitionDef | None:
        return self._by_source_event.get((state, event))

    def is_final(self, state: str) -> bool:
        return state in self.final

    def to_mermaid(self) -> str:
        """A Mermaid state diagram, drawn by transitions' own GraphMachine on a throwaway model."""
        from transitions.extensions import GraphMachine

        class _Model:
            pass

        graph = GraphMachine(
            model=_Model(),
            title=self.name,
            states=list(self.states),
            initial=self.initial,
            auto_transitions=False,
            transitions=[self._machine_transition(t) for t in self.transitions],
            graph_engine="mermaid",
            show_conditions=True,
        )
        return graph.get_graph().draw(None)
