"""Oscillation: a field flipping between a few values while the rest of the state cycles with it.

A field that alternates as a matter of course — a ``turn`` flag going user/assistant while
each turn adds a new message — is progress, not oscillation. The default tells them apart by
the rest of the state: at each flip, the other fields (the last item of each list, counters
left out) must also take no more than ``oscillation_max_values`` distinct shapes. A chat adds a
different message every turn, so its ``turn`` flag is never flagged; a reviewer bouncing the
same draft back and forth is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lgscope.forensics._config import OSCILLATION, DetectorConfig
from lgscope.forensics._signature import counter_fields, is_message, key, short
from lgscope.model import Finding, Step, ThreadHistory

__all__ = ["detect_oscillation"]


def _candidate_fields(steps: Sequence[Step]) -> list[str]:
    fields: dict[str, None] = {}
    for s in steps:
        for k, v in s.values.items():
            if isinstance(v, list) and v and is_message(v[-1]):
                continue  # message lists grow; they do not flip
            fields.setdefault(k, None)
    return list(fields)


def _rest(values: Mapping[str, Any], skip: set[str]) -> str | bytes:
    shape = {k: (v[-1] if isinstance(v, list) and v else v) for k, v in values.items() if k not in skip}
    return key(shape)


def _field_finding(
    history: ThreadHistory, ns: str, steps: Sequence[Step], field: str, skip: set[str], config: DetectorConfig
) -> Finding | None:
    changes: list[tuple[Step, str | bytes, Any]] = []
    for s in steps:
        if field not in s.values:
            continue
        fp = key(s.values[field])
        if not changes or changes[-1][1] != fp:
            changes.append((s, fp, s.values[field]))
    if len(changes) <= config.oscillation_min_flips:
        return None  # too few changes to flip often enough
    rests = [_rest(st.values, skip | {field}) for st, _, _ in changes]
    best: tuple[int, int] | None = None
    for i in range(len(changes)):
        values, shapes = {changes[i][1]}, {rests[i]}
        j = i
        while j + 1 < len(changes):
            nxt_values, nxt_shapes = values | {changes[j + 1][1]}, shapes | {rests[j + 1]}
            if (
                len(nxt_values) > config.oscillation_max_values
                or len(nxt_shapes) > config.oscillation_max_values
            ):
                break
            values, shapes, j = nxt_values, nxt_shapes, j + 1
        seq = [fp for _, fp, _ in changes[i : j + 1]]
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
    shown: list[Any] = []
    for _, fp, value in window:
        if fp not in [key(v) for v in shown]:
            shown.append(value)
    flips = best[1] - best[0]
    return Finding(
        kind=OSCILLATION,
        thread_id=history.thread.thread_id,
        checkpoint_ns=ns,
        first_checkpoint_id=window[0][0].checkpoint_id,
        last_checkpoint_id=window[-1][0].checkpoint_id,
        severity="warning",
        summary=f"{field!r} flipped {flips} times between {' ⇄ '.join(short(v, 40) for v in shown)}",
        evidence={"field": field, "flips": flips, "values": shown},
    )


def detect_oscillation(history: ThreadHistory, config: DetectorConfig, now: datetime) -> list[Finding]:
    """One finding per oscillating field and namespace."""
    out: list[Finding] = []
    for ns, steps in history.steps.items():
        live = [s for s in steps if not s.corrupt]
        fields = _candidate_fields(live)
        skip = set(counter_fields(live))
        for field in fields:
            if field in skip:
                continue
            finding = _field_finding(history, ns, live, field, skip, config)
            if finding is not None:
                out.append(finding)
    return out
