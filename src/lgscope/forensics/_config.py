"""Detector thresholds and the store-wide norms the growth detector compares against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

__all__ = [
    "ALL_KINDS",
    "ERROR",
    "GROWTH",
    "LOOP",
    "NO_PROGRESS",
    "OSCILLATION",
    "STUCK_INTERRUPT",
    "DetectorConfig",
    "StoreNorms",
]

LOOP = "loop"
OSCILLATION = "oscillation"
NO_PROGRESS = "no_progress"
STUCK_INTERRUPT = "stuck_interrupt"
ERROR = "error"
GROWTH = "growth"
ALL_KINDS = frozenset({LOOP, OSCILLATION, NO_PROGRESS, STUCK_INTERRUPT, ERROR, GROWTH})


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
    """A pending interrupt older than this is stuck."""
    recursion_limits: tuple[int, ...] = (25, 50, 100, 10007)
    """Recursion limits to recognize a run stopped by: 25 (the classic default), common custom
    values, and 10007 (LangGraph 1.2's default). Add yours if you set another one."""
    growth_factor: float = 5.0
    """A thread this many times the store's median message count or size is runaway growth…"""
    growth_min_messages: int = 40
    """…with at least this many messages…"""
    growth_min_bytes: int = 1_000_000
    """…or at least this many serialized bytes."""


@dataclass(frozen=True, slots=True)
class StoreNorms:
    """What a typical thread of the store looks like (medians over its threads)."""

    median_messages: float
    median_size: float
    threads: int = field(default=0)
