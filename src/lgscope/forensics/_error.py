"""Errors: failed tasks, and runs the recursion limit stopped.

A failed task leaves an ``__error__`` write. A ``GraphRecursionError`` leaves nothing: the loop
raises it before running the next step. We recognize it by its shape — a run that stopped with
tasks pending exactly ``recursion_limit + 1`` steps after it started — for the limits in
`DetectorConfig.recursion_limits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lgscope.forensics._config import ERROR, DetectorConfig
from lgscope.model import Finding, Step, ThreadHistory

__all__ = ["detect_errors"]


def _recursion_stop(steps: Sequence[Step], limits: Sequence[int]) -> tuple[Step, int] | None:
    last = steps[-1]
    if not last.next or last.pending_interrupts or last.errors:
        return None
    for start in reversed(steps[:-1]):
        if start.source in ("input", "update") or start.resumes or start.interrupts:
            ran = last.step - start.step - 1
            if ran in limits:
                return start, ran
    return None


def detect_errors(history: ThreadHistory, config: DetectorConfig, now: datetime) -> list[Finding]:
    """Failed tasks per namespace, and a recursion-limit stop of the root namespace."""
    out: list[Finding] = []
    tid = history.thread.thread_id
    for ns, steps in history.steps.items():
        failed = [s for s in steps if s.errors]
        if failed:
            last = failed[-1].errors[-1]
            unresolved = failed[-1] is steps[-1]
            out.append(
                Finding(
                    kind=ERROR,
                    thread_id=tid,
                    checkpoint_ns=ns,
                    first_checkpoint_id=failed[0].checkpoint_id,
                    last_checkpoint_id=failed[-1].checkpoint_id,
                    severity="error" if unresolved else "warning",
                    summary=f"node {last.node or '?'!r} failed: {last.error_type}: {last.message}"
                    + ("" if unresolved else " (the thread ran on afterwards)")
                    + (f"; {sum(len(s.errors) for s in failed)} failures in all" if len(failed) > 1 else ""),
                    evidence={
                        "errors": [
                            {
                                "node": e.node,
                                "type": e.error_type,
                                "message": e.message,
                                "checkpoint_id": e.checkpoint_id,
                            }
                            for s in failed
                            for e in s.errors
                        ],
                        "unresolved": unresolved,
                    },
                )
            )
    root = [s for s in history.steps.get("", ()) if not s.corrupt]
    stop = _recursion_stop(root, config.recursion_limits) if root else None
    if stop is not None:
        start, limit = stop
        out.append(
            Finding(
                kind=ERROR,
                thread_id=tid,
                checkpoint_ns="",
                first_checkpoint_id=start.checkpoint_id,
                last_checkpoint_id=root[-1].checkpoint_id,
                severity="error",
                summary=f"hit the recursion limit ({limit}, inferred) with {', '.join(root[-1].next)} still to run",
                evidence={
                    "recursion_limit": limit,
                    "steps": limit,
                    "next": list(root[-1].next),
                    "inferred": True,
                    "reason": (
                        "LangGraph raises GraphRecursionError from its loop, not from a task, so no "
                        f"__error__ write exists; this run stopped with tasks pending exactly {limit} "
                        "steps after its input, which is what that recursion limit does (a process "
                        "killed at that very step would look the same)"
                    ),
                },
            )
        )
    return out
