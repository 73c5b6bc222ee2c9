"""``assert_*`` helpers: the forensics detectors, raised as test failures."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from lgscope._exceptions import UsageError
from lgscope.model import Finding, Step, ThreadHistory
from lgscope.testing._messages import format_failure
from lgscope.testing._targets import resolve
from lgscope.units import parse_duration

__all__ = [
    "assert_no_loops",
    "assert_no_oscillation",
    "assert_no_stuck_interrupts",
    "assert_state_evolves",
    "assert_terminates_within",
    "detector_config",
]


def detector_config(kinds: Iterable[str], thresholds: Mapping[str, Any]) -> Any:
    """A `DetectorConfig` running only ``kinds``, with ``thresholds`` over the defaults."""
    from lgscope.forensics import DetectorConfig

    base = thresholds.get("detector_config") or DetectorConfig()
    overrides = {k: v for k, v in thresholds.items() if k != "detector_config"}
    valid = {f.name for f in dataclasses.fields(base)} - {"detectors"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise UsageError(
            f"Unknown lgscope threshold {', '.join(map(repr, unknown))}; "
            f"the thresholds are: {', '.join(sorted(valid))}."
        )
    return dataclasses.replace(base, detectors=frozenset(kinds), **overrides)


def _findings(
    target: Any,
    config: Mapping[str, Any] | None,
    kinds: set[str],
    thresholds: Mapping[str, Any],
    now: datetime | None = None,
) -> tuple[list[ThreadHistory], list[Finding]]:
    from lgscope.forensics import detect

    histories = resolve(target, config)
    cfg = detector_config(kinds, thresholds)
    found = [f for h in histories for f in detect(h, cfg, now=now) if f.kind in kinds]
    return histories, found


def assert_no_loops(
    target: Any, config: Mapping[str, Any] | None = None, *, now: datetime | None = None, **thresholds: Any
) -> None:
    """Fail if a node cycle repeats (or the assistant repeats itself) past the loop thresholds."""
    __tracebackhide__ = True
    _, found = _findings(target, config, {"loop"}, thresholds, now)
    if found:
        raise AssertionError(format_failure("lgscope: the graph looped", found))


def assert_no_oscillation(
    target: Any, config: Mapping[str, Any] | None = None, *, now: datetime | None = None, **thresholds: Any
) -> None:
    """Fail if a state field flips back and forth between a few values."""
    __tracebackhide__ = True
    _, found = _findings(target, config, {"oscillation"}, thresholds, now)
    if found:
        raise AssertionError(format_failure("lgscope: a state field oscillated", found))


def assert_no_stuck_interrupts(
    target: Any,
    config: Mapping[str, Any] | None = None,
    *,
    older_than: timedelta | str = "24h",
    now: datetime | None = None,
    **thresholds: Any,
) -> None:
    """Fail if an interrupt has been pending longer than ``older_than`` (``30s``, ``2h``, a timedelta)."""
    __tracebackhide__ = True
    if isinstance(older_than, str):
        older_than = parse_duration(older_than)
    _, found = _findings(target, config, {"stuck_interrupt"}, {**thresholds, "stuck_after": older_than}, now)
    if found:
        raise AssertionError(format_failure("lgscope: interrupts are waiting with no answer", found))


def _steps_taken(root: Sequence[Step]) -> int:
    """Supersteps a namespace ran: its ``loop`` checkpoints, plus any the recorder's window let go
    (a gap in the parent chain, sized by LangGraph's step counter)."""
    taken = sum(1 for s in root if s.source == "loop")
    for before, after in itertools.pairwise(root):
        if after.parent_id != before.checkpoint_id:
            taken += max(0, after.step - before.step - 1)
    return taken


def _tail_cycle(root: Sequence[Step], max_period: int = 4) -> str | None:
    """The node cycle the end of a run repeats (``think → act, 12 times``), with its checkpoints."""
    seq = [s for s in root if s.source == "loop" and s.nodes]
    tokens = [s.nodes for s in seq]
    for period in range(1, min(max_period, len(tokens) // 3) + 1):
        n, i = period, len(tokens) - period - 1
        while i >= 0 and tokens[i] == tokens[i + period]:
            n, i = n + 1, i - 1
        repeats = n // period
        if repeats >= 3:
            cycle = " → ".join("+".join(t) for t in tokens[-period:])
            first, last = seq[-n].checkpoint_id, seq[-1].checkpoint_id
            return f"cycle: {cycle}, repeated {repeats} times\n    checkpoints: {first} → {last}"
    return None


def termination_problems(history: ThreadHistory, steps: int | None) -> list[str]:
    """A bullet (with its evidence) if the thread did not finish, or took more than ``steps``."""
    root = history.steps.get("", ())
    taken = _steps_taken(root)
    tail = " → ".join(n for s in root[-8:] for n in s.nodes)
    t = history.thread
    if t.status != "done":
        problem = (
            f"- thread {t.thread_id!r} did not terminate: status {t.status}"
            + (f", next {', '.join(t.next)}" if t.next else "")
            + f" after {taken} steps\n    last nodes: {tail}"
        )
        cycle = _tail_cycle(root)
        return [problem + (f"\n    {cycle}" if cycle is not None else "")]
    if steps is not None and taken > steps:
        return [
            f"- thread {t.thread_id!r} took {taken} steps, over the limit of {steps}\n"
            f"    checkpoints: {root[0].checkpoint_id} → {root[-1].checkpoint_id}\n    last nodes: {tail}"
        ]
    return []


def assert_terminates_within(target: Any, config: Mapping[str, Any] | None = None, *, steps: int) -> None:
    """Fail unless every thread finished (status ``done``) within ``steps`` supersteps."""
    __tracebackhide__ = True
    problems = [p for h in resolve(target, config) for p in termination_problems(h, steps)]
    if problems:
        heading = f"lgscope: the graph did not terminate within {steps} steps:"
        raise AssertionError("\n".join([heading, *problems]))


def assert_state_evolves(
    target: Any, config: Mapping[str, Any] | None = None, *, field: str, **thresholds: Any
) -> None:
    """Fail if ``field`` never changes value, or the run stalls (checkpoints that change nothing)."""
    __tracebackhide__ = True
    histories, found = _findings(target, config, {"no_progress"}, thresholds)
    problems = []
    for h in histories:
        root = [s for s in h.steps.get("", ()) if not s.corrupt]
        seen = [s.values[field] for s in root if field in s.values]
        if not seen:
            fields = sorted({k for s in root for k in s.values})
            problems.append(
                f"- thread {h.thread.thread_id!r} has no field {field!r}; its fields are {', '.join(fields)}"
            )
        elif all(v == seen[0] for v in seen[1:]):
            problems.append(
                f"- thread {h.thread.thread_id!r}: {field!r} stayed {seen[0]!r} over {len(root)} checkpoints"
            )
    if problems or found:
        text = f"lgscope: the state did not evolve ({field!r}):"
        if problems:
            text += "\n" + "\n".join(problems)
        if found:
            text += "\n" + format_failure("checkpoints that changed nothing", found)
        raise AssertionError(text)
