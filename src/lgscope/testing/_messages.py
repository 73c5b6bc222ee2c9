"""Failure messages a person can act on: a heading, then one bullet per finding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from lgscope.model import Finding

__all__ = ["format_failure"]

_SHOWN_EVIDENCE = ("cycle", "repeats", "field", "values", "excerpt", "steps", "age", "node", "interrupt_id")
_MAX_VALUE = 200


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _bullet(f: Finding) -> list[str]:
    ns = f" ns {f.checkpoint_ns!r}" if f.checkpoint_ns else ""
    lines = [f"- [{f.kind}] thread {f.thread_id!r}{ns}: {f.summary}"]
    lines.append(f"    checkpoints: {f.first_checkpoint_id} → {f.last_checkpoint_id}")
    for key in _SHOWN_EVIDENCE:
        if key in f.evidence:
            value = f.evidence[key]
            if key == "cycle" and isinstance(value, list | tuple):
                lines.append(f"    cycle: {' → '.join(map(str, value))}")
            else:
                lines.append(f"    {key}: {_short(value)}")
    return lines


def format_failure(heading: str, findings: Sequence[Finding]) -> str:
    """``heading (N findings):`` then a bullet per finding with its checkpoints and evidence."""
    count = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
    lines = [f"{heading} ({count}):"]
    for f in findings:
        lines.extend(_bullet(f))
    return "\n".join(lines)
