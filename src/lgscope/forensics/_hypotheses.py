"""A root-cause hypothesis per finding kind, worded from the finding's own evidence."""

from __future__ import annotations

from collections.abc import Sequence

from lgscope.model import Finding

__all__ = ["hypothesis"]


def hypothesis(kind: str, findings: Sequence[Finding]) -> str:
    """What most likely causes this pattern, and what to do about it."""
    n = len(findings)
    first = findings[0].evidence if findings else {}
    if kind == "loop":
        cycles = sorted({" → ".join(f.evidence.get("cycle", [])) for f in findings} - {""})
        cycle = "; ".join(cycles) or "the same assistant message"
        return (
            f"{n} thread(s) repeat the same work ({cycle}) with identical state changes: the node's output (often a tool "
            "result) does not change the next decision, so the graph re-plans the same call. Typical causes: "
            "a tool that returns an empty or unhelpful result the prompt does not handle, or a router with no "
            "exit for it. Fix: add a stop condition (max tool calls, or detect a repeated call and answer), "
            "and set recursion_limit low enough to fail fast."
        )
    if kind == "oscillation":
        field = first.get("field", "a field")
        return (
            f"{n} thread(s) flip {field!r} back and forth while the rest of the state returns to the same "
            "values: two nodes (or a node and a reviewer) disagree and neither converges. Fix: give the loop a "
            "memory (what was tried), a round limit, or a tie-breaker."
        )
    if kind == "no_progress":
        return (
            f"{n} thread(s) run checkpoints that change nothing: a node polls or waits without writing, so "
            "the graph spins. Fix: back off between polls, write progress into state, or give up after a limit."
        )
    if kind == "stuck_interrupt":
        nodes = sorted({str(f.evidence.get("node")) for f in findings})
        return (
            f"{n} interrupt(s) at {', '.join(nodes)} wait for a human who never answered: the threads hold "
            "resources and users wait forever. Fix: route approvals to someone on call, and auto-reject or "
            "escalate stale ones with `lgscope sweep --older-than 24h`."
        )
    if kind == "error":
        return (
            f"{n} thread(s) failed: a task raised, or the run hit the recursion limit. Failed threads stay "
            "resumable from their last checkpoint once the cause is fixed."
        )
    if kind == "growth":
        return (
            f"{n} thread(s) grew far past the store's norm: histories that never get trimmed slow every "
            "checkpoint write and model call. Fix: summarize or trim messages, or start new threads per task."
        )
    return f"{n} finding(s)."
