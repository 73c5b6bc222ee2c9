"""``assert_*`` helpers: the forensics detectors, raised as test failures."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from lgscope._exceptions import UsageError
from lgscope.model import Finding, ThreadHistory
from lgscope.testing._messages import format_failure
from lgscope.testing._targets import resolve

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
        from lgscope.cli._common import parse_duration

        older_than = parse_duration(older_than)
    _, found = _findings(target, config, {"stuck_interrupt"}, {**thresholds, "stuck_after": older_than}, now)
    if found:
        raise AssertionError(format_failure("lgscope: interrupts are waiting with no answer", found))


def assert_terminates_within(target: Any, config: Mapping[str, Any] | None = None, *, steps: int) -> None:
    """Fail unless every thread finished (status ``done``) within ``steps`` supersteps."""
    __tracebackhide__ = True
    problems = []
    for h in resolve(target, config):
        root = h.steps.get("", ())
        taken = sum(1 for s in root if s.source == "loop")
        tail = " → ".join(n for s in root[-8:] for n in s.nodes)
        t = h.thread
        if t.status != "done":
            problems.append(
                f"- thread {t.thread_id!r} did not terminate: status {t.status}"
                + (f", next {', '.join(t.next)}" if t.next else "")
                + f" after {taken} steps\n    last nodes: {tail}"
            )
        elif taken > steps:
            problems.append(
                f"- thread {t.thread_id!r} took {taken} steps, over the limit of {steps}\n"
                f"    checkpoints: {root[0].checkpoint_id} → {root[-1].checkpoint_id}\n    last nodes: {tail}"
            )
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
