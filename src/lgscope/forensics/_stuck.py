"""Stuck interrupts: a human was asked and nobody answered."""

from __future__ import annotations

from datetime import datetime

from lgscope.forensics._config import STUCK_INTERRUPT, DetectorConfig
from lgscope.forensics._pass import NamespaceFacts
from lgscope.forensics._signature import short
from lgscope.model import Finding
from lgscope.units import format_age

__all__ = ["stuck_findings"]


def stuck_findings(facts: NamespaceFacts, config: DetectorConfig, now: datetime) -> list[Finding]:
    """One finding per pending interrupt of a namespace older than ``stuck_after``."""
    out: list[Finding] = []
    limit = config.stuck_after.total_seconds()
    for intr in facts.last.pending_interrupts if facts.last is not None else ():
        age = intr.age(now).total_seconds()
        if age < limit:
            continue
        out.append(
            Finding(
                kind=STUCK_INTERRUPT,
                thread_id=intr.thread_id,
                checkpoint_ns=intr.checkpoint_ns,
                first_checkpoint_id=intr.checkpoint_id,
                last_checkpoint_id=intr.checkpoint_id,
                severity="error" if age >= 3 * limit else "warning",
                summary=f"interrupt at {intr.node or '?'} has waited {format_age(age)} for an answer",
                evidence={
                    "interrupt_id": intr.id,
                    "node": intr.node,
                    "age": format_age(age),
                    "age_seconds": round(age, 3),
                    "value": short(intr.value, 200),
                    "created_at": intr.created_at.isoformat(),
                },
            )
        )
    return out
