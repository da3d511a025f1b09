"""An independent reading of the pipeline files, for tests that check the engine against them.

Tests compare the real transition service with what the TOML files say, read here with tomllib
alone: nothing comes from workflow.pipeline or the transitions Machine, so a bug in the loader or
in the Machine cannot agree with itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PIPELINES_DIR = Path(__file__).resolve().parent.parent / "config" / "pipelines"
HISTORY = "=history"


@dataclass(frozen=True)
class Move:
    """One declared transition from one source state."""

    event: str
    source: str
    dest: str  # a state, or HISTORY
    guards: tuple[str, ...]
    effects: tuple[str, ...]


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    entity: str
    initial: str
    states: frozenset[str]
    final: frozenset[str]
    placed: frozenset[str]
    progress: tuple[str, ...]
    create_guards: tuple[str, ...]
    moves: dict[tuple[str, str], Move]  # (source, event) -> Move
    on_enter: dict[str, tuple[tuple[str, dict], ...]]  # state -> ((effect, params), ...)

    @property
    def events(self) -> list[str]:
        return sorted({event for _, event in self.moves})

    def allowed(self, state: str) -> list[str]:
        return sorted(event for source, event in self.moves if source == state)

    def move(self, state: str, event: str) -> Move | None:
        return self.moves.get((state, event))

    def forward(self, state: str) -> list[str]:
        """The events from `state` to the next stage of progress (none after the last one)."""
        if state not in self.progress[:-1]:
            return []
        following = self.progress[self.progress.index(state) + 1]
        return sorted(
            m.event for m in self.moves.values() if (m.source, m.dest) == (state, following)
        )


@cache
def load_spec(name: str) -> PipelineSpec:
    raw = tomllib.loads((PIPELINES_DIR / f"{name}.toml").read_text(encoding="utf-8"))
    moves: dict[tuple[str, str], Move] = {}
    for t in raw["transitions"]:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for source in sources:
            assert (source, t["event"]) not in moves, f"{name}: duplicate {source}/{t['event']}"
            moves[(source, t["event"])] = Move(
                event=t["event"],
                source=source,
                dest=t["dest"],
                guards=tuple(t.get("guards", ())),
                effects=tuple(e["do"] for e in t.get("effects", ())),
            )
    on_enter = {
        state: tuple(
            (e["do"], {k: v for k, v in e.items() if k != "do"}) for e in body.get("on_enter", ())
        )
        for state, body in raw["states"].items()
    }
    return PipelineSpec(
        name=raw["name"],
        entity=raw["entity"],
        initial=raw["initial"],
        states=frozenset(raw["states"]),
        final=frozenset(raw.get("final", ())),
        placed=frozenset(raw.get("placed", ())),
        progress=tuple(raw.get("progress", ())),
        create_guards=tuple(raw.get("create_guards", ())),
        moves=moves,
        on_enter=on_enter,
    )
