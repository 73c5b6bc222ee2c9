"""Oscillation: a field flipping between a few values while the rest of the state cycles with it.

A field that alternates as a matter of course — a ``turn`` flag going user/assistant while
each turn adds a new message — is progress, not oscillation. The default tells them apart by
the rest of the state: at each flip, the other fields (the last item of each list, counters
left out) must also take no more than ``oscillation_max_values`` distinct shapes. A chat adds a
different message every turn, so its ``turn`` flag is never flagged; a reviewer bouncing the
same draft back and forth is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lgscope.forensics._config import OSCILLATION, DetectorConfig
from lgscope.forensics._pass import Digest, NamespaceFacts
from lgscope.forensics._signature import short
from lgscope.model import Finding

__all__ = ["oscillation_findings"]


def _field_finding(
    facts: NamespaceFacts, field: str, skip: frozenset[str], config: DetectorConfig
) -> Finding | None:
    changes = facts.field_changes.get(field, [])
    if len(changes) <= config.oscillation_min_flips:
        return None  # too few changes to flip often enough
    leave_out = skip | {field}
    rests = [tuple(kv for kv in facts.shapes[c.shapes] if kv[0] not in leave_out) for c in changes]
    best: tuple[int, int] | None = None
    for i in range(len(changes)):
        values: set[Digest] = {changes[i].fp}
        shapes: set[object] = {rests[i]}
        j = i
        while j + 1 < len(changes):
            nxt_values, nxt_shapes = values | {changes[j + 1].fp}, shapes | {rests[j + 1]}
            if (
                len(nxt_values) > config.oscillation_max_values
                or len(nxt_shapes) > config.oscillation_max_values
            ):
                break
            values, shapes, j = nxt_values, nxt_shapes, j + 1
        seq = [c.fp for c in changes[i : j + 1]]
        recurring = len(values) >= 2 and all(seq.count(v) >= 2 for v in values)
        if (
            j - i >= config.oscillation_min_flips
            and recurring
            and (best is None or j - i > best[1] - best[0])
        ):
            best = (i, j)
    if best is None:
        return None
    window = changes[best[0] : best[1] + 1]
    kept = facts.field_values.get(field, {})
    shown: list[Any] = []
    order: list[Digest] = []
    for c in window:
        if c.fp not in order:
            order.append(c.fp)
            shown.append(kept.get(c.fp))
    flips = best[1] - best[0]
    return Finding(
        kind=OSCILLATION,
        thread_id=facts.thread_id,
        checkpoint_ns=facts.ns,
        first_checkpoint_id=window[0].checkpoint_id,
        last_checkpoint_id=window[-1].checkpoint_id,
        severity="warning",
        summary=f"{field!r} flipped {flips} times between {' ⇄ '.join(short(v, 40) for v in shown)}",
        evidence={"field": field, "flips": flips, "values": shown},
    )


def oscillation_findings(facts: NamespaceFacts, config: DetectorConfig, now: datetime) -> list[Finding]:
    """One finding per oscillating field of a namespace."""
    skip = facts.counters()
    out: list[Finding] = []
    for field in facts.field_changes:
        if field in skip or field in facts.message_channels:
            continue
        finding = _field_finding(facts, field, skip, config)
        if finding is not None:
            out.append(finding)
    return out
