"""What a step changed, normalized so that repeats of the same work compare equal."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import ormsgpack

__all__ = [
    "assistant_texts",
    "assistant_texts_of",
    "fingerprint",
    "is_message",
    "key",
    "list_keys",
    "messages_of",
    "short",
]

# Ids, timings and token counts differ on every call even when the work is the same.
_VOLATILE = frozenset(
    {"id", "tool_call_id", "run_id", "response_metadata", "usage_metadata", "additional_kwargs", "__type__"}
)


_MESSAGE_TYPES = frozenset({"human", "ai", "tool", "system", "function", "chat", "AIMessageChunk", "remove"})

# What a message says: a provider's reply differs on every call in everything else (ids, run ids,
# usage and token counts, timings, the model's metadata) even when it says the same thing.
_MESSAGE_KEYS = frozenset({"type", "content", "name", "tool_calls", "invalid_tool_calls", "status"})


def is_message(value: Any) -> bool:
    """A decoded LangChain message: a dict with a message ``type`` and ``content``."""
    if type(value) is not dict and not isinstance(value, Mapping):  # exact check first: it is fast
        return False
    kind = value.get("type")
    return type(kind) is str and kind in _MESSAGE_TYPES and "content" in value


def _normalize(value: Any) -> Any:
    # Exact type checks first: decoded state is plain dicts and lists, and ABC checks are slow.
    t = type(value)
    if t is dict:
        if is_message(value):
            return {k: _normalize(v) for k, v in value.items() if k in _MESSAGE_KEYS and v}
        return {k: _normalize(v) for k, v in value.items() if k not in _VOLATILE}
    if t is list or t is tuple:
        return [_normalize(v) for v in value]
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: _normalize(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    return value


_PRIMITIVE = (str, int, float, bool, type(None))
_PACK = ormsgpack.OPT_SORT_KEYS


def fingerprint(value: Any) -> str:
    """A stable text for comparing values, ignoring ids and timings."""
    if value is None or isinstance(value, str | int | float | bool):
        return f"{type(value).__name__}:{value}"
    if not value:
        return "{}" if isinstance(value, Mapping) else "[]"
    return json.dumps(_normalize(value), sort_keys=True, default=str, ensure_ascii=False)


def key(value: Any) -> str | bytes:
    """Like `fingerprint` for comparing (equal values, equal keys), but much cheaper to compute."""
    if type(value) in _PRIMITIVE:
        return f"{type(value).__name__}:{value}"
    try:
        return ormsgpack.packb(_normalize(value), option=_PACK)
    except (TypeError, ValueError):  # ints past 64 bits, unsortable mixed keys
        return fingerprint(value)


def list_keys(items: list[Any]) -> tuple[str | bytes, str | bytes | None]:
    """``key(items)`` and ``key(items[-1])`` (None for an empty list), each item normalized once."""
    try:
        normal = [_normalize(v) for v in items]
        whole = ormsgpack.packb(normal, option=_PACK)
        if not items:
            return whole, None
        last = items[-1]
        if type(last) in _PRIMITIVE:
            return whole, f"{type(last).__name__}:{last}"
        return whole, ormsgpack.packb(normal[-1], option=_PACK)
    except (TypeError, ValueError):  # as `key` does: text keys for what msgpack cannot pack
        return key(items), key(items[-1]) if items else None


def messages_of(values: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The messages of a state: every list channel made of messages, in order."""
    out: list[Mapping[str, Any]] = []
    for value in values.values():
        if isinstance(value, list) and value and is_message(value[-1]):
            out.extend(m for m in value if is_message(m))
    return out


def assistant_texts(values: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(position, text) of every assistant message with text content."""
    return assistant_texts_of(messages_of(values))


def assistant_texts_of(messages: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """`assistant_texts` of messages already taken out of a state (`messages_of`)."""
    out = []
    for i, m in enumerate(messages):
        if m.get("type") in ("ai", "AIMessageChunk"):
            content = m.get("content")
            if isinstance(content, list):
                content = " ".join(
                    str(p.get("text", "")) if isinstance(p, Mapping) else str(p) for p in content
                )
            if isinstance(content, str) and content.strip():
                out.append((i, content))
    return out


def short(value: Any, limit: int = 120) -> str:
    """A one-line excerpt of a value."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
