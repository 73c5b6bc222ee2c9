"""`detect`: every selected detector over one thread, in one pass over each namespace."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lgscope.forensics._config import (
    ERROR,
    GROWTH,
    INTERRUPT_INTEGRITY,
    LOOP,
    NO_PROGRESS,
    OSCILLATION,
    STUCK_INTERRUPT,
    STUCK_RUN,
    DetectorConfig,
    StoreNorms,
)
from lgscope.forensics._error import error_findings, recursion_stop
from lgscope.forensics._growth import ThreadSize, judge, size_of
from lgscope.forensics._interrupts import interrupt_findings
from lgscope.forensics._loop import loop_findings
from lgscope.forensics._no_progress import no_progress_findings
from lgscope.forensics._oscillation import oscillation_findings
from lgscope.forensics._pass import NamespaceFacts
from lgscope.forensics._paused import paused_findings
from lgscope.forensics._stuck import stuck_findings
from lgscope.model import Finding, Thread, ThreadHistory

__all__ = ["DETECTORS", "SEVERITY_ORDER", "Analysis", "analyze", "detect"]

NamespaceDetector = Callable[[NamespaceFacts, DetectorConfig, datetime], list[Finding]]

DETECTORS: dict[str, NamespaceDetector] = {
    LOOP: loop_findings,
    OSCILLATION: oscillation_findings,
    NO_PROGRESS: no_progress_findings,
    STUCK_INTERRUPT: stuck_findings,
    STUCK_RUN: paused_findings,
    INTERRUPT_INTEGRITY: interrupt_findings,
    ERROR: error_findings,
}
"""The detectors over what a pass over one namespace gathered, by kind; ``growth`` compares a
thread with the whole store and runs in `scan`."""

SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one pass over a thread found, and what it read."""

    thread: Thread
    """The thread's summary, its corrupt count taken from the pass."""
    findings: list[Finding]
    checkpoints: int
    corrupt: int
    size: ThreadSize | None
    """What growth compares across the store (None for a thread with no good root step)."""
    stopped_by_limit: bool = False
    """The root namespace's last run stopped at a recursion limit: an error, never a stuck run,
    however long it waits (an incremental scan judges age from the last step alone)."""


def analyze(
    history: ThreadHistory, config: DetectorConfig | None = None, *, now: datetime | None = None
) -> Analysis:
    """Read each namespace of ``history`` once and run the configured detectors over it.

    Memory stays bounded however long the thread: steps are read one at a time (a history
    from a store streams them) and only small facts about each are kept.
    """
    config = config or DetectorConfig()
    now = now or datetime.now(UTC)
    thread = history.thread
    found: list[Finding] = []
    checkpoints = corrupt = 0
    size: ThreadSize | None = None
    stopped = False
    asked: set[object] = set()  # an interrupt raised in a subgraph is stored in its parent too
    for ns in [*thread.namespaces, *(n for n in history.steps if n not in thread.namespaces)]:
        facts = NamespaceFacts(thread.thread_id, ns)
        for step in history.steps.get(ns, ()):
            facts.feed(step)
        checkpoints += facts.steps
        corrupt += facts.corrupt
        for kind, detector in DETECTORS.items():
            if kind in config.detectors:
                found.extend(f for f in detector(facts, config, now) if _first(f, asked))
        if ns == "":
            size = size_of(facts, thread)
            stopped = recursion_stop(facts, config.recursion_limits) is not None
    if thread.corrupt != corrupt:
        thread = dataclasses.replace(thread, corrupt=corrupt)
    return Analysis(thread, found, checkpoints, corrupt, size, stopped)


def _first(finding: Finding, seen: set[object]) -> bool:
    if finding.kind not in (STUCK_INTERRUPT, INTERRUPT_INTEGRITY):
        return True
    key = (finding.kind, finding.evidence.get("pattern"), finding.evidence.get("interrupt_id"))
    if key in seen:
        return False
    seen.add(key)
    return True


def detect(
    history: ThreadHistory,
    config: DetectorConfig | None = None,
    *,
    now: datetime | None = None,
    norms: StoreNorms | None = None,
) -> list[Finding]:
    """Run the configured detectors over one thread (``growth`` only when ``norms`` are given: the
    typical largest turn of threads of the same graph, e.g. `norms_of` their sizes)."""
    config = config or DetectorConfig()
    analysis = analyze(history, config, now=now)
    found = analysis.findings
    if GROWTH in config.detectors and norms is not None and analysis.size is not None:
        grown = judge(analysis.size, norms, config)
        if grown is not None:
            found.append(grown)
    return found
