"""No progress: checkpoints in a row that change no user field's value."""

from __future__ import annotations

from datetime import datetime

from lgscope.forensics._config import NO_PROGRESS, DetectorConfig
from lgscope.forensics._signature import root_loop_steps
from lgscope.model import Finding, Step, ThreadHistory

__all__ = ["detect_no_progress"]


def _unchanged(step: Step, parent: Step | None) -> bool:
    if parent is None or parent.corrupt:
        return False
    return all(step.values.get(ch) == parent.values.get(ch) for ch in step.changed)


def detect_no_progress(history: ThreadHistory, config: DetectorConfig, now: datetime) -> list[Finding]:
    """The longest run per namespace of at least ``no_progress_min_steps`` stalled checkpoints."""
    out: list[Finding] = []
    for ns, steps in history.steps.items():
        by_id = {s.checkpoint_id: s for s in steps}
        best: list[Step] = []
        run: list[Step] = []
        for s in root_loop_steps(steps):
            if _unchanged(s, by_id.get(s.parent_id or "")):
                run.append(s)
                if len(run) > len(best):
                    best = list(run)
            else:
                run = []
        if len(best) >= config.no_progress_min_steps:
            nodes = [n for s in best for n in s.nodes]
            out.append(
                Finding(
                    kind=NO_PROGRESS,
                    thread_id=history.thread.thread_id,
                    checkpoint_ns=ns,
                    first_checkpoint_id=best[0].checkpoint_id,
                    last_checkpoint_id=best[-1].checkpoint_id,
                    severity="warning",
                    summary=(
                        f"{len(best)} checkpoints in a row changed nothing "
                        f"(nodes: {', '.join(sorted(set(nodes)))})"
                    ),
                    evidence={"steps": len(best), "nodes": nodes},
                )
            )
    return out
