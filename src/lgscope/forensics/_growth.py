"""Runaway growth: a thread far larger than the store's typical thread."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from lgscope.forensics._config import GROWTH, DetectorConfig, StoreNorms
from lgscope.forensics._pass import NamespaceFacts
from lgscope.model import Finding, Thread

__all__ = ["ThreadSize", "growth_findings", "norms_of", "size_of"]


@dataclass(frozen=True, slots=True)
class ThreadSize:
    """The few numbers growth needs, kept per thread during a scan."""

    thread_id: str
    messages: int
    size: int
    first_checkpoint_id: str
    last_checkpoint_id: str


def size_of(root: NamespaceFacts, thread: Thread) -> ThreadSize | None:
    """What growth needs of a thread, from the pass over its root namespace."""
    if root.last_good is None or root.first_good is None:
        return None
    return ThreadSize(
        thread.thread_id,
        len(root.final_messages()),
        thread.size,
        root.first_good,
        root.last_good.checkpoint_id,
    )


def norms_of(sizes: Sequence[ThreadSize]) -> StoreNorms:
    if not sizes:
        return StoreNorms(0.0, 0.0, 0)
    return StoreNorms(
        statistics.median(s.messages for s in sizes), statistics.median(s.size for s in sizes), len(sizes)
    )


def growth_findings(sizes: Sequence[ThreadSize], norms: StoreNorms, config: DetectorConfig) -> list[Finding]:
    """Threads past ``growth_factor`` times the median message count or size (and the minimums)."""
    if norms.threads < 3:
        return []  # no norm to speak of
    out = []
    for s in sizes:
        reasons = []
        if s.messages >= config.growth_min_messages and s.messages > config.growth_factor * max(
            norms.median_messages, 1
        ):
            reasons.append(
                f"{s.messages} messages, {s.messages / max(norms.median_messages, 1):.0f}× the median"
            )
        if s.size >= config.growth_min_bytes and s.size > config.growth_factor * max(norms.median_size, 1):
            reasons.append(f"{s.size:,} bytes, {s.size / max(norms.median_size, 1):.0f}× the median")
        if reasons:
            out.append(
                Finding(
                    kind=GROWTH,
                    thread_id=s.thread_id,
                    checkpoint_ns="",
                    first_checkpoint_id=s.first_checkpoint_id,
                    last_checkpoint_id=s.last_checkpoint_id,
                    severity="warning",
                    summary="runaway growth: " + "; ".join(reasons),
                    evidence={
                        "messages": s.messages,
                        "size_bytes": s.size,
                        "median_messages": norms.median_messages,
                        "median_size_bytes": norms.median_size,
                    },
                )
            )
    return out
