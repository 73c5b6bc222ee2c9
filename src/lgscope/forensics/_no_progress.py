"""No progress: checkpoints in a row that change no user field's value (counters aside: an attempt
counter going up is not progress)."""

from __future__ import annotations

from datetime import datetime

from lgscope.forensics._config import NO_PROGRESS, DetectorConfig
from lgscope.forensics._pass import NamespaceFacts
from lgscope.model import Finding

__all__ = ["no_progress_findings"]


def no_progress_findings(facts: NamespaceFacts, config: DetectorConfig, now: datetime) -> list[Finding]:
    """The longest run of a namespace of at least ``no_progress_min_steps`` stalled checkpoints."""
    best = facts.stalled()
    if len(best) < config.no_progress_min_steps:
        return []
    nodes = [n for t in best for n in t.nodes]
    counted = sorted({ch for t in best for ch, _v in t.ints})
    but = f" but {', '.join(counted)}" if counted else ""
    return [
        Finding(
            kind=NO_PROGRESS,
            thread_id=facts.thread_id,
            checkpoint_ns=facts.ns,
            first_checkpoint_id=best[0].checkpoint_id,
            last_checkpoint_id=best[-1].checkpoint_id,
            severity="warning",
            summary=f"{len(best)} checkpoints in a row changed nothing{but} (nodes: {', '.join(sorted(set(nodes)))})",
            evidence={"steps": len(best), "nodes": nodes, "counters": counted},
        )
    ]
