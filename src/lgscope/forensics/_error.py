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
from lgscope.forensics._pass import NamespaceFacts
from lgscope.model import Finding

__all__ = ["error_findings", "recursion_stop"]


def recursion_stop(facts: NamespaceFacts, limits: Sequence[int]) -> tuple[str, int] | None:
    """(start checkpoint id, limit) when the namespace's last run looks stopped by a recursion limit."""
    last = facts.last_good
    if last is None or not last.next or last.pending_interrupts or last.errors:
        return None
    for step, checkpoint_id in reversed(facts.starts):
        if checkpoint_id == last.checkpoint_id:
            continue
        ran = last.step - step - 1
        if ran in limits:
            return checkpoint_id, ran
    return None


def error_findings(facts: NamespaceFacts, config: DetectorConfig, now: datetime) -> list[Finding]:
    """Failed tasks of a namespace, and a recursion-limit stop of the root namespace."""
    out: list[Finding] = []
    failed = facts.failed
    if failed:
        last = failed[-1][1][-1]
        unresolved = facts.last is not None and failed[-1][0] == facts.last.checkpoint_id
        out.append(
            Finding(
                kind=ERROR,
                thread_id=facts.thread_id,
                checkpoint_ns=facts.ns,
                first_checkpoint_id=failed[0][0],
                last_checkpoint_id=failed[-1][0],
                severity="error" if unresolved else "warning",
                summary=f"node {last.node or '?'!r} failed: {last.error_type}: {last.message}"
                + ("" if unresolved else " (the thread ran on afterwards)")
                + (f"; {sum(len(e) for _c, e in failed)} failures in all" if len(failed) > 1 else ""),
                evidence={
                    "errors": [e.to_dict() for _cid, errors in failed for e in errors],
                    "unresolved": unresolved,
                },
            )
        )
    stop = recursion_stop(facts, config.recursion_limits) if facts.ns == "" else None
    if stop is not None and facts.last_good is not None:
        start, limit = stop
        pending = facts.last_good.next
        out.append(
            Finding(
                kind=ERROR,
                thread_id=facts.thread_id,
                checkpoint_ns="",
                first_checkpoint_id=start,
                last_checkpoint_id=facts.last_good.checkpoint_id,
                severity="error",
                summary=f"hit the recursion limit ({limit}, inferred) with {', '.join(pending)} still to run",
                evidence={
                    "recursion_limit": limit,
                    "steps": limit,
                    "next": list(pending),
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
