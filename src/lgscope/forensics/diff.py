"""State diffs: nested, list-aware, and message-aware (messages match by id, not position)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lgscope.forensics._signature import is_message
from lgscope.model import Step

__all__ = ["Change", "diff", "diff_steps", "format_change", "format_path", "summarize"]

Kind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two states."""

    path: tuple[str | int, ...]
    """Where: keys and list positions from the top (``("messages", 3, "content")``)."""
    kind: Kind
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": list(self.path), "kind": self.kind, "old": self.old, "new": self.new}


def _message_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(is_message(m) and m.get("id") for m in value)


def _diff_messages(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]], path: tuple[str | int, ...]
) -> list[Change]:
    old_by_id = {m["id"]: (i, m) for i, m in enumerate(old)}
    new_ids = {m["id"] for m in new}
    out = [Change((*path, i), "removed", m, None) for i, m in enumerate(old) if m["id"] not in new_ids]
    for i, m in enumerate(new):
        before = old_by_id.get(m["id"])
        if before is None:
            out.append(Change((*path, i), "added", None, m))
        elif before[1] != m:
            out.extend(diff(before[1], m, (*path, i)))
    return out


def diff(old: Any, new: Any, path: tuple[str | int, ...] = ()) -> list[Change]:
    """Every difference between ``old`` and ``new`` (decoded state values)."""
    if old == new:
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[Change] = []
        for key in [*old.keys(), *(k for k in new if k not in old)]:
            if key not in new:
                if _message_list(old[key]):
                    out.extend(_diff_messages(old[key], [], (*path, key)))
                else:
                    out.append(Change((*path, key), "removed", old[key], None))
            elif key not in old:
                if _message_list(new[key]):
                    out.extend(_diff_messages([], new[key], (*path, key)))
                else:
                    out.append(Change((*path, key), "added", None, new[key]))
            else:
                out.extend(diff(old[key], new[key], (*path, key)))
        return out
    if isinstance(old, list) and isinstance(new, list):
        if (_message_list(old) or not old) and (_message_list(new) or not new) and (old or new):
            return _diff_messages(old, new, path)
        out = []
        for i in range(min(len(old), len(new))):
            out.extend(diff(old[i], new[i], (*path, i)))
        out.extend(Change((*path, i), "added", None, new[i]) for i in range(len(old), len(new)))
        out.extend(Change((*path, i), "removed", old[i], None) for i in range(len(new), len(old)))
        return out
    return [Change(path, "changed", old, new)]


def diff_steps(a: Step, b: Step) -> list[Change]:
    """How the state of ``b`` differs from ``a``'s."""
    return diff(dict(a.values), dict(b.values))


def format_path(path: Sequence[str | int]) -> str:
    """``messages[3].content``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(state)"


def summarize(value: Any, limit: int = 80) -> str:
    """A one-line rendering; messages as ``ai "text"`` with their tool calls."""
    if is_message(value):
        content = value.get("content")
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        calls = value.get("tool_calls") or []
        call_text = " ".join(
            f"{c.get('name')}({json.dumps(c.get('args'), default=str)})"
            for c in calls
            if isinstance(c, Mapping)
        )
        body = " ".join(
            part for part in (json.dumps(text[:limit], ensure_ascii=False) if text else "", call_text) if part
        )
        return f"{value.get('type')} {body}".strip()
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_change(change: Change) -> str:
    """One line: ``messages[3] added: ai "…"`` or ``status: "draft" → "review"``."""
    where = format_path(change.path)
    if change.kind == "added":
        return f"{where} added: {summarize(change.new)}"
    if change.kind == "removed":
        return f"{where} removed: {summarize(change.old)}"
    return f"{where}: {summarize(change.old)} → {summarize(change.new)}"
