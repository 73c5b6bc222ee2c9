"""Two trajectories from one fork point: the recorded one and the replayed one, side by side."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lgscope.model import Step
from lgscope.store import Store

__all__ = ["AlignedStep", "Trajectory", "align", "first_divergence", "trajectory"]


@dataclass(frozen=True, slots=True)
class Trajectory:
    """A thread's root-graph steps after a fork point, on the line that ends at its latest
    checkpoint."""

    nodes: tuple[str, ...]
    """Each step's node(s), ``a+b`` for a step where several ran."""
    checkpoint_ids: tuple[str, ...]
    final: dict[str, Any]
    """The state at the latest checkpoint."""
    on_line: bool = True
    """False when the fork point is not an ancestor of the latest checkpoint (then ``nodes`` is
    empty)."""


@dataclass(frozen=True, slots=True)
class AlignedStep:
    """One row of two node sequences aligned (None: the other side has no step here)."""

    recorded: str | None
    replayed: str | None

    @property
    def same(self) -> bool:
        return self.recorded == self.replayed

    def to_dict(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "replayed": self.replayed, "same": self.same}


def _label(step: Step) -> str:
    return "+".join(step.nodes) or "-"


def trajectory(store: Store, thread_id: str, after: str, *, skip_updates: bool = False) -> Trajectory:
    """The steps of ``thread_id`` after checkpoint ``after`` (``skip_updates``: leave out the
    ``update`` checkpoints right after it, a fork's patch). Only labels and ids are held."""
    parent: dict[str, str | None] = {}
    label: dict[str, str] = {}
    source: dict[str, str] = {}
    last: str | None = None
    for step in store.steps(thread_id, "", control_only=True):
        parent[step.checkpoint_id] = step.parent_id
        label[step.checkpoint_id] = _label(step)
        source[step.checkpoint_id] = step.source
        last = step.checkpoint_id
    line: list[str] = []
    at = last
    while at is not None and at != after and at in parent and len(line) <= len(parent):
        line.append(at)
        at = parent[at]
    on_line = at == after
    ids = list(reversed(line)) if on_line else []
    if skip_updates:
        while ids and source[ids[0]] == "update":
            ids.pop(0)
    final = dict(store.step(thread_id, last, "").values) if last is not None else {}
    return Trajectory(tuple(label[c] for c in ids), tuple(ids), final, on_line)


def align(recorded: Sequence[str], replayed: Sequence[str]) -> tuple[AlignedStep, ...]:
    """The two node sequences aligned: equal runs side by side, the rest paired in order."""
    rows: list[AlignedStep] = []
    matcher = difflib.SequenceMatcher(None, list(recorded), list(replayed), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(
                AlignedStep(recorded[i], replayed[j])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        left, right = list(recorded[i1:i2]), list(replayed[j1:j2])
        for k in range(max(len(left), len(right))):
            rows.append(AlignedStep(left[k] if k < len(left) else None, right[k] if k < len(right) else None))
    return tuple(rows)


def first_divergence(rows: Sequence[AlignedStep]) -> int | None:
    """The first row where the two sides differ, or None when they agree throughout."""
    return next((i for i, row in enumerate(rows) if not row.same), None)
