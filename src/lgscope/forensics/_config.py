"""Detector thresholds and the store-wide norms the growth detector compares against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

__all__ = [
    "ALL_KINDS",
    "ERROR",
    "GROWTH",
    "INTERRUPT_INTEGRITY",
    "LOOP",
    "NO_PROGRESS",
    "OSCILLATION",
    "STUCK_INTERRUPT",
    "STUCK_RUN",
    "DetectorConfig",
    "StoreNorms",
]

LOOP = "loop"
OSCILLATION = "oscillation"
NO_PROGRESS = "no_progress"
STUCK_INTERRUPT = "stuck_interrupt"
ERROR = "error"
GROWTH = "growth"
STUCK_RUN = "stuck_run"
INTERRUPT_INTEGRITY = "interrupt_integrity"
ALL_KINDS = frozenset(
    {LOOP, OSCILLATION, NO_PROGRESS, STUCK_INTERRUPT, STUCK_RUN, INTERRUPT_INTEGRITY, ERROR, GROWTH}
)


@dataclass(frozen=True, kw_only=True)
class DetectorConfig:
    """Thresholds of every detector; the defaults are what ``lgscope scan`` uses."""

    detectors: frozenset[str] = ALL_KINDS
    """Which detectors run."""
    loop_min_repeats: int = 3
    """A node cycle must repeat this many times in a row, with the same state changes."""
    loop_max_period: int = 4
    """The longest node cycle looked for."""
    loop_similarity: float = 0.95
    """Assistant messages at least this similar (0–1) count as repeats of each other."""
    loop_min_similar_messages: int = 3
    """This many near-duplicate assistant messages in a row are a loop."""
    oscillation_min_flips: int = 4
    """A field must change this many times between the same few values."""
    oscillation_max_values: int = 2
    """…among at most this many distinct values."""
    no_progress_min_steps: int = 4
    """This many checkpoints in a row that change no user field."""
    stuck_after: timedelta = timedelta(hours=24)
    """A pending interrupt older than this is stuck; so is a run left with tasks pending (a static
    ``interrupt_before`` pause, or a crash)."""
    interrupt_max_asks: int = 3
    """One node raising the same question this many times in a row is asking again and again."""
    recursion_limits: tuple[int, ...] = (25, 50, 100, 10007)
    """Recursion limits to recognize a run stopped by: 25 (the classic default), common custom
    values, and 10007 (LangGraph 1.2's default). Add yours if you set another one."""
    growth_factor: float = 5.0
    """A thread whose largest turn added this many times the messages or bytes of the typical
    largest turn of threads of the same graph is runaway growth…"""
    growth_min_messages: int = 40
    """…with at least this many messages added in that turn…"""
    growth_min_bytes: int = 1_000_000
    """…or at least this many content bytes added in that turn."""


@dataclass(frozen=True, slots=True)
class StoreNorms:
    """What a typical turn of a graph's threads looks like: medians over those threads of the most
    messages and content bytes one turn added."""

    median_messages: float
    """Median of the messages the largest turn added."""
    median_size: float
    """Median of the content bytes the largest turn added."""
    threads: int = field(default=0)
    """How many threads the medians are over (fewer than 3: no norm)."""
