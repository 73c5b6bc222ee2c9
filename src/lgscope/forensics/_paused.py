"""Stuck runs: a thread left with tasks to run, no interrupt and no error, for too long.

A static ``interrupt_before`` / ``interrupt_after`` (the customer-support tutorial's approval)
stores no interrupt: the thread only shows tasks pending. So does a process killed mid-run.
Past ``stuck_after`` either needs a person; the evidence says which is likelier: a pending task
that never wrote anything, with no error, is a pause before it (or a crash before it began); a
step where some tasks wrote and others did not was cut short.
"""

from __future__ import annotations

from datetime import datetime

from lgscope.forensics._config import STUCK_RUN, DetectorConfig
from lgscope.forensics._error import recursion_stop
from lgscope.forensics._pass import NamespaceFacts
from lgscope.model import Finding
from lgscope.units import format_age

__all__ = ["paused_findings"]


def paused_findings(facts: NamespaceFacts, config: DetectorConfig, now: datetime) -> list[Finding]:
    """The root namespace's last checkpoint, when it has tasks pending, no interrupt and no error,
    and is older than ``stuck_after`` (a recursion-limit stop is an error instead)."""
    last = facts.last
    if facts.ns != "" or last is None or last.corrupt or not last.next:
        return []
    if last.interrupts or last.errors or recursion_stop(facts, config.recursion_limits) is not None:
        return []
    age = (now - last.ts).total_seconds()
    limit = config.stuck_after.total_seconds()
    if age < limit:
        return []
    wrote = sorted({w.node for w in last.writes if w.node})
    # a scan keeps only control writes: task_writes still counts the others
    started = bool(wrote) or last.task_writes > len(last.writes)
    waiting = [n for n in last.next if n not in wrote]
    after = [n for n in last.nodes if n != "__input__"]
    if not started:
        likely = "paused"
        summary = (
            f"paused before {', '.join(waiting)} for {format_age(age)}"
            + (f" (after {', '.join(after)})" if after else "")
            + f": nothing stored since — likely a static interrupt_before/after nobody resumed (or a "
            f"crash before {', '.join(waiting)} started)"
        )
    else:
        likely = "crashed"
        where = (
            f"in {', '.join(waiting)}: {', '.join(wrote)} finished"
            if wrote
            else f"with {', '.join(last.next)} pending: some finished"
        )
        summary = (
            f"stopped for {format_age(age)} {where}, the rest wrote nothing and no error — a crash or "
            "kill mid-step, or a run still going"
        )
    return [
        Finding(
            kind=STUCK_RUN,
            thread_id=facts.thread_id,
            checkpoint_ns="",
            first_checkpoint_id=last.checkpoint_id,
            last_checkpoint_id=last.checkpoint_id,
            severity="error" if age >= 3 * limit else "warning",
            summary=summary,
            evidence={
                "likely": likely,
                "next": list(last.next),
                "waiting": waiting,
                "started": wrote,
                "after": after,
                "age": format_age(age),
                "age_seconds": round(age, 3),
                "since": last.ts.isoformat(),
            },
        )
    ]
