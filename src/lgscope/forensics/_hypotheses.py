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
            f"{n} thread(s) run checkpoints that change nothing (or only an attempt counter): a node polls, "
            "waits or retries without writing anything new, so the graph spins. Fix: back off between polls, "
            "write progress into state, or give up after a limit."
        )
    if kind == "stuck_interrupt":
        nodes = sorted({str(f.evidence.get("node")) for f in findings})
        return (
            f"{n} interrupt(s) at {', '.join(nodes)} wait for a human who never answered: the threads hold "
            "resources and users wait forever. Fix: route approvals to someone on call, and auto-reject or "
            "escalate stale ones with `lgscope sweep --older-than 24h`."
        )
    if kind == "stuck_run":
        paused = sorted(
            {
                w
                for f in findings
                if f.evidence.get("likely") == "paused"
                for w in f.evidence.get("waiting", [])
            }
        )
        crashed = sum(1 for f in findings if f.evidence.get("likely") == "crashed")
        parts = []
        if paused:
            parts.append(
                f"paused before {', '.join(paused)} with nothing stored: a static interrupt_before/after that "
                "nobody resumed (LangGraph stores no interrupt for those, so they read as running)"
            )
        if crashed:
            parts.append(f"{crashed} stopped mid-step with some tasks' writes saved: a crash or a kill")
        return (
            f"{n} thread(s) left with tasks pending: " + "; ".join(parts) + ". Fix: resume or close them "
            "(`lgscope sweep` escalates static pauses), and alert on lgscope_oldest_stuck_run_seconds."
        )
    if kind == "interrupt_integrity":
        patterns = sorted({str(f.evidence.get("pattern")) for f in findings})
        return (
            f"{n} approval(s) did not happen as the person answering believes ({', '.join(patterns)}): "
            "LangGraph runs two resumes of one interrupt both (the history forks, side effects run twice), "
            "replays a stored answer after a failed resume, and lets a node ask again forever. Fix: answer "
            "through `lgscope.approvals.resume` (one resume per interrupt, under a lock), make side effects "
            "idempotent, and bound re-asks."
        )
    if kind == "error":
        return (
            f"{n} thread(s) failed: a task raised, or the run hit the recursion limit. Failed threads stay "
            "resumable from their last checkpoint once the cause is fixed."
        )
    if kind == "growth":
        return (
            f"{n} thread(s) added far more in one turn than threads of the same graph do: a turn that never "
            "stops gathering (tool results, retries) slows every checkpoint write and model call. Fix: bound "
            "the tool calls per turn, summarize or trim, or start new threads per task."
        )
    return f"{n} finding(s)."
