"""No progress: checkpoints in a row that change no user field's value."""

from __future__ import annotations

from datetime import datetime

from lgscope.forensics._config import NO_PROGRESS, DetectorConfig
from lgscope.forensics._pass import NamespaceFacts
from lgscope.model import Finding

__all__ = ["no_progress_findings"]


def no_progress_findings(facts: NamespaceFacts, config: DetectorConfig, now: datetime) -> list[Finding]:
    """The longest run of a namespace of at least ``no_progress_min_steps`` stalled checkpoints."""
    best = facts.stall_best
    if len(best) < config.no_progress_min_steps:
        return []
    nodes = [n for _cid, ns in best for n in ns]
    return [
        Finding(
            kind=NO_PROGRESS,
            thread_id=facts.thread_id,
            checkpoint_ns=facts.ns,
            first_checkpoint_id=best[0][0],
            last_checkpoint_id=best[-1][0],
            severity="warning",
            summary=f"{len(best)} checkpoints in a row changed nothing (nodes: {', '.join(sorted(set(nodes)))})",
            evidence={"steps": len(best), "nodes": nodes},
        )
    ]
