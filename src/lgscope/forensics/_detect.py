"""`detect`: every selected detector over one thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lgscope.forensics._config import (
    ERROR,
    GROWTH,
    LOOP,
    NO_PROGRESS,
    OSCILLATION,
    STUCK_INTERRUPT,
    DetectorConfig,
    StoreNorms,
)
from lgscope.forensics._error import detect_errors
from lgscope.forensics._growth import growth_findings, size_of
from lgscope.forensics._loop import detect_loops
from lgscope.forensics._no_progress import detect_no_progress
from lgscope.forensics._oscillation import detect_oscillation
from lgscope.forensics._stuck import detect_stuck_interrupts
from lgscope.model import Finding, ThreadHistory

__all__ = ["DETECTORS", "SEVERITY_ORDER", "detect"]

Detector = Callable[[ThreadHistory, DetectorConfig, datetime], list[Finding]]

DETECTORS: dict[str, Detector] = {
    LOOP: detect_loops,
    OSCILLATION: detect_oscillation,
    NO_PROGRESS: detect_no_progress,
    STUCK_INTERRUPT: detect_stuck_interrupts,
    ERROR: detect_errors,
}
"""The per-thread detectors by kind; ``growth`` needs the store's norms and runs in `scan`."""

SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def detect(
    history: ThreadHistory,
    config: DetectorConfig | None = None,
    *,
    now: datetime | None = None,
    norms: StoreNorms | None = None,
) -> list[Finding]:
    """Run the configured detectors over one thread (``growth`` only when ``norms`` are given)."""
    config = config or DetectorConfig()
    now = now or datetime.now(UTC)
    found: list[Finding] = []
    for kind, detector in DETECTORS.items():
        if kind in config.detectors:
            found.extend(detector(history, config, now))
    if GROWTH in config.detectors and norms is not None:
        size = size_of(history)
        if size is not None:
            found.extend(growth_findings([size], norms, config))
    return found
