"""Decoding stored bytes into inert, JSON-safe data — never into objects.

LangGraph's `JsonPlusSerializer` rebuilds objects named inside msgpack and JSON data by
importing and calling them (CVE-2026-28277). lgscope reads the same bytes without
importing or calling anything named in them: a msgpack extension that names
``module.Name`` becomes ``{"__type__": "module.Name", ...its fields...}``, LangChain's
``{"lc": 1, "type": "constructor", ...}`` JSON stays a plain dict, and pickle is never
unpickled. A handful of plain value types (UUID, datetime, Decimal, set …) are rendered
by our own code as strings or lists; nothing named in the data chooses what runs.

Hostile nesting is bounded: a decoded value nests at most `MAX_DEPTH` containers deep, counted
across extensions (each extension's bytes are decoded by a nested call, which would otherwise
start its own depth count and let 40 wrappers of 400 arrays overflow the C stack), and JSON the
same. Deeper values raise `DecodeError`: the step is shown as corrupt, the rest still reads.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import threading
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import ormsgpack

from lgscope._exceptions import DecodeError
from lgscope.store._msgpack import max_depth, shrink

__all__ = [
    "BIG_BLOB",
    "BIG_VALUE",
    "MAX_DEPTH",
    "SAFE_TYPES",
    "SHOWN_CHARS",
    "TYPE_KEY",
    "Decoder",
    "decode_msgpack",
    "decode_typed",
    "describe_type",
    "foreign_types",
    "json_depth",
    "loads_json",
    "loads_json_inert",
    "unsafe_types",
]

TYPE_KEY = "__type__"
"""The key under which the type name of a serialized object is kept."""

_EXT_CONSTRUCTOR_SINGLE_ARG = 0
_EXT_CONSTRUCTOR_POS_ARGS = 1
_EXT_CONSTRUCTOR_KW_ARGS = 2
_EXT_METHOD_SINGLE_ARG = 3
_EXT_PYDANTIC_V1 = 4
_EXT_PYDANTIC_V2 = 5
_EXT_NUMPY_ARRAY = 6
_EXT_DELTA_SNAPSHOT = 7

_BYTES_SHOWN = 4096

MAX_DEPTH = 200
"""How deeply a decoded value may nest (containers, extensions included); deeper is corrupt."""
_MAX_EXT_NESTING = 32  # extensions inside extensions: each is a nested decoder call

# Bytes that can open a msgpack container or extension: a value cannot nest deeper than their count.
_OPENERS = bytes(
    1
    if 0x80 <= b <= 0x9F or b in (0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xDC, 0xDD, 0xDE, 0xDF)
    else 0
    for b in range(256)
)
_CHUNK = 1 << 20
_TOP_DEPTH = 120  # of MAX_DEPTH, what the outermost call may use: the rest is left to extensions
_ORMSGPACK_DEPTH = 1022  # the deepest ormsgpack decodes in one call
_PADDING = b"\x91" * _ORMSGPACK_DEPTH
_PAD_MAX = 64 << 20  # larger data is measured by `max_depth` instead of padded (a copy)
_SCAN_VALUES = 256  # values `max_depth` may read before padding is cheaper

BIG_BLOB = 32 << 20
"""A stored value larger than this (bytes) is decoded with each string or binary over `BIG_VALUE`
bytes shown by its size and first `SHOWN_CHARS` characters: memory stays near the stored size."""
BIG_VALUE = 1 << 20
SHOWN_CHARS = 4096


class _DepthState(threading.local):
    def __init__(self) -> None:  # per thread; instance attributes are the fast ones to read
        self.base = 0  # depth already used by the enclosing (outer) decoder calls
        self.used = 0  # the deepest depth any call reached
        self.level = 0  # nested decoder calls
        self.trusted = False  # inside data with fewer opener bytes than the depth left: no checks
        self.error: DecodeError | None = None  # from an extension hook: ormsgpack says only "ext_hook failed"


_STATE = _DepthState()


def _too_deep(size: int) -> DecodeError:
    error = _STATE.error = DecodeError(
        f"A msgpack blob of {size} bytes nests deeper than {MAX_DEPTH} levels (hostile or corrupt); "
        "the rest of the history is still readable."
    )
    return error


def _openers(data: bytes, limit: int) -> int:
    """How many bytes of ``data`` could open a container (an upper bound on its depth), counted
    up to ``limit + 1``."""
    if len(data) <= _CHUNK:
        return data.translate(_OPENERS).count(1)
    count = 0
    for start in range(0, len(data), _CHUNK):
        count += data[start : start + _CHUNK].translate(_OPENERS).count(1)
        if count > limit:
            break
    return count


def _unpack(data: bytes, hook: Callable[[int, bytes], Any]) -> Any:
    """One ormsgpack call, its depth bounded by what the enclosing calls left of `MAX_DEPTH`.

    ormsgpack stops at 1,022 levels per call; padding the data with single-item arrays makes
    that limit ours, checked at C speed. An extension's bytes are decoded by a nested call (the
    hook), which starts below everything its enclosing call may have used.
    """
    state = _STATE
    if state.trusted:  # nested in data too small to nest deeper than allowed: nothing to check
        return ormsgpack.unpackb(data, ext_hook=hook, option=ormsgpack.OPT_NON_STR_KEYS)
    base, level = state.base, state.level
    allowed = MAX_DEPTH - base
    if not level and allowed > _TOP_DEPTH:
        allowed = _TOP_DEPTH
    if level >= _MAX_EXT_NESTING or allowed < 0:
        raise _too_deep(len(data))
    bound = data.translate(_OPENERS).count(1) if len(data) <= _CHUNK else _openers(data, allowed)
    pad = 0
    # Every level, through extensions too (their bytes lie inside these), takes an opener byte:
    # when there are no more of them than levels left, nothing decoded from here can nest deeper.
    trusted = bound <= allowed
    if not trusted:
        # measured exactly when that is quick (a checkpoint of messages: each message is one
        # extension); else padded, which costs a fixed ~30 µs
        bound = max_depth(data, allowed, _SCAN_VALUES)
        if bound < 0:
            bound = allowed
            if len(data) <= _PAD_MAX:
                pad = _ORMSGPACK_DEPTH - allowed
            elif max_depth(data, allowed) > allowed:
                raise _too_deep(len(data))
        elif bound > allowed:
            raise _too_deep(len(data))
    state.base, state.level, state.trusted = base + bound, level + 1, trusted
    if base + bound > state.used:
        state.used = base + bound
    try:
        value = ormsgpack.unpackb(
            _PADDING[:pad] + data if pad else data, ext_hook=hook, option=ormsgpack.OPT_NON_STR_KEYS
        )
    except ValueError as exc:
        if state.error is not None:
            raise state.error from None
        if pad and "Recursion limit" in str(exc):
            raise _too_deep(len(data)) from None
        raise
    finally:
        state.base, state.level, state.trusted = base, level, False
    for _ in range(pad):
        value = value[0]
    return value


# Types rendered as their plain value. The keys only select *our* rendering below.
_AS_STRING = frozenset(
    {
        ("uuid", "UUID"),
        ("decimal", "Decimal"),
        ("pathlib", "Path"),
        ("pathlib", "PosixPath"),
        ("pathlib", "WindowsPath"),
        ("pathlib", "PurePath"),
        ("pathlib", "PurePosixPath"),
        ("pathlib", "PureWindowsPath"),
        ("ipaddress", "IPv4Address"),
        ("ipaddress", "IPv6Address"),
        ("ipaddress", "IPv4Network"),
        ("ipaddress", "IPv6Network"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("zoneinfo", "ZoneInfo"),
        ("re", "compile"),
    }
)
_AS_LIST = frozenset(
    {
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("collections", "deque"),
        ("builtins", "tuple"),
    }
)


def _uuid_text(payload: Any) -> str:
    try:
        return str(uuid.UUID(str(payload)))
    except ValueError:
        return str(payload)


def _plain(module: str, name: str, arg: Any) -> Any:
    if (module, name) in _AS_STRING:
        return str(arg[0]) if isinstance(arg, list) and len(arg) == 1 else arg
    if (module, name) in _AS_LIST:
        return list(arg) if isinstance(arg, list | tuple) else arg
    return _NOT_PLAIN


_NOT_PLAIN = object()
_MISSING = object()


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_NUMPY_ARRAY:
        parts = _unpack(data, _ext_hook)
        dtype, shape = (parts[0], parts[1]) if isinstance(parts, list) and len(parts) > 1 else ("", [])
        return {TYPE_KEY: "numpy.ndarray", "dtype": str(dtype), "shape": list(shape)}
    if code == _EXT_DELTA_SNAPSHOT:
        inner = _unpack(data, _ext_hook)
        return {TYPE_KEY: "langgraph.DeltaSnapshot", "value": inner}
    parts = _unpack(data, _ext_hook)
    if not isinstance(parts, list) or len(parts) < 3:
        return {TYPE_KEY: f"msgpack-ext-{code}", "value": parts}
    module, name, payload = str(parts[0]), str(parts[1]), parts[2]
    type_name = f"{module}.{name}"
    if code == _EXT_CONSTRUCTOR_SINGLE_ARG:
        if (module, name) == ("uuid", "UUID"):
            return _uuid_text(payload)
        if (module, name) in _AS_STRING:
            return str(payload)
        if (module, name) in _AS_LIST:
            return list(payload) if isinstance(payload, list | tuple) else payload
        return {TYPE_KEY: type_name, "value": payload}
    if code == _EXT_CONSTRUCTOR_POS_ARGS:
        plain = _plain(module, name, payload)
        if plain is not _NOT_PLAIN:
            return plain
        return {TYPE_KEY: type_name, "args": payload}
    if code == _EXT_METHOD_SINGLE_ARG:
        if (module, name) in _AS_STRING:
            return str(payload)
        method = str(parts[3]) if len(parts) > 3 else ""
        return {TYPE_KEY: type_name, "method": method, "value": payload}
    # Keyword constructors, pydantic v1/v2 and dataclasses: the fields, tagged with the type.
    if isinstance(payload, dict):
        out: dict[str, Any] = {TYPE_KEY: type_name}
        out.update(payload)
        return out
    return {TYPE_KEY: type_name, "value": payload}


class Decoder:
    """`decode_typed` with a memo of decoded msgpack extensions, keyed by their bytes.

    SQLite stores every message again in every checkpoint; with one `Decoder` per thread each
    distinct message is decoded once. Decoded values are shared between steps: treat them as
    read-only.
    """

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        # keyed by the extension's bytes alone, one dict per extension code: (value, its depth)
        self._memo: dict[int, dict[bytes, tuple[Any, int]]] = {}

    def _hook(self, code: int, data: bytes) -> Any:
        memo = self._memo.get(code)
        if memo is None:
            memo = self._memo[code] = {}
        state = _STATE
        hit = memo.get(data)
        if hit is None and state.trusted:
            value = _ext_hook(code, data)
            memo[data] = (value, data.translate(_OPENERS).count(1))  # its depth is at most that
            return value
        if hit is None:
            outer, base = state.used, state.base
            state.used = base
            try:
                value = _ext_hook(code, data)
                memo[data] = (value, state.used - base)
            finally:
                if outer > state.used:
                    state.used = outer
            return value
        value, depth = hit
        if state.trusted:
            return value
        # a value decoded once may be met again deeper down: its depth still counts
        depth += state.base
        if depth > MAX_DEPTH:
            raise _too_deep(len(data))
        if depth > state.used:
            state.used = depth
        return value

    def decode_typed(self, type_: str | None, data: bytes | memoryview | None) -> Any:
        """Like `decode_typed`, sharing this decoder's memo."""
        if type_ == "msgpack" and data is not None:
            return decode_msgpack(bytes(data), self._hook)
        return decode_typed(type_, data)


def _placeholder(kind: str, payload: bytes) -> bytes:
    if kind == "str":
        head = payload[: SHOWN_CHARS * 4].decode("utf-8", "replace")[:SHOWN_CHARS]
        shown: dict[str, Any] = {TYPE_KEY: "str", "size": len(payload), "text": head, "truncated": True}
    else:
        shown = _bytes_value(payload[:_BYTES_SHOWN], "bytes")
        shown.update(size=len(payload), truncated=True)
    return ormsgpack.packb(shown)


def decode_msgpack(data: bytes, ext_hook: Callable[[int, bytes], Any] | None = None) -> Any:
    """Decode LangGraph msgpack bytes into inert data; raise `DecodeError` if corrupt.

    In a value larger than `BIG_BLOB`, strings and binaries over `BIG_VALUE` are shown cut
    (``{"__type__": "str", "size": …, "text": first SHOWN_CHARS, "truncated": true}``).
    """
    _STATE.error = None
    if len(data) > BIG_BLOB:
        try:
            data = shrink(data, BIG_VALUE, _placeholder)
        except (IndexError, struct.error):
            pass  # truncated: the decoder below says so
    try:
        return _unpack(data, ext_hook or _ext_hook)
    except DecodeError:
        _STATE.error = None
        raise
    except RecursionError:
        raise _too_deep(len(data)) from None
    except (ormsgpack.MsgpackDecodeError, ValueError, TypeError, IndexError) as exc:
        raise DecodeError(
            f"A msgpack blob of {len(data)} bytes is corrupt or truncated ({exc}); "
            "the rest of the history is still readable."
        ) from exc


def json_depth(text: str | bytes, limit: int = MAX_DEPTH) -> int:
    """An upper bound on how deeply a JSON text nests, exact (brackets outside strings) when it
    could pass ``limit``; at most ``limit + 1``. Iterative."""
    if isinstance(text, str):
        data = text.encode("utf-8", "surrogatepass")
    elif isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
    else:
        return 0
    opened = data.count(b"[") + data.count(b"{")
    if opened <= limit:
        return opened  # an upper bound, and cheap: most texts stop here
    depth = deepest = 0
    in_string = escaped = False
    for b in data:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return limit + 1
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest


_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_B = re.compile(rb"\d{19}")


def fast_json(text: str | bytes) -> Any:
    """``json.loads``, by orjson where it reads the same: not where the text holds a run of 19
    digits (an integer past 64 bits, which orjson reads as a float) or what orjson refuses (NaN,
    Infinity; errors are then json's own). No depth check: see `loads_json`."""
    long = (_LONG_DIGITS_B if isinstance(text, bytes) else _LONG_DIGITS).search(text)  # type: ignore[arg-type]
    if long is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def loads_json(text: str | bytes, what: str = "A JSON blob") -> Any:
    """``json.loads`` that refuses nesting past `MAX_DEPTH` (with `DecodeError`) instead of
    exhausting the stack; NaN and Infinity are read as floats, as the standard library does."""
    size = len(text)
    if json_depth(text) > MAX_DEPTH:
        raise DecodeError(
            f"{what} of {size} bytes nests deeper than {MAX_DEPTH} levels (hostile or corrupt); "
            "the rest of the history is still readable."
        )
    try:
        return fast_json(text)
    except RecursionError:
        raise DecodeError(
            f"{what} of {size} bytes nests too deeply to read; the rest of the history is still readable."
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(
            f"{what} of {size} bytes is corrupt or truncated ({exc}); the rest of the history is still readable."
        ) from exc


def _decode_json(data: bytes) -> Any:
    return loads_json(data)


def loads_json_inert(text: str | bytes) -> Any:
    """`loads_json` for a database driver's JSON columns: what cannot be read safely becomes an
    inert ``{"__type__": "json", "undecoded": …}`` placeholder instead of failing the query."""
    try:
        return loads_json(text, "A JSON value")
    except DecodeError as exc:
        return {TYPE_KEY: "json", "size": len(text), "undecoded": str(exc)}


def _bytes_value(data: bytes, type_: str) -> dict[str, Any]:
    shown = data[:_BYTES_SHOWN]
    out: dict[str, Any] = {
        TYPE_KEY: type_,
        "size": len(data),
        "base64": base64.b64encode(shown).decode("ascii"),
    }
    if len(data) > _BYTES_SHOWN:
        out["truncated"] = True
    return out


def _undecoded(type_: str, data: bytes, why: str) -> dict[str, Any]:
    return {TYPE_KEY: type_, "size": len(data), "undecoded": why}


_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "msgpack": decode_msgpack,
    "json": _decode_json,
    "null": lambda _data: None,
    "empty": lambda _data: None,
    "bytes": lambda data: _bytes_value(data, "bytes"),
    "bytearray": lambda data: _bytes_value(data, "bytearray"),
    "pickle": lambda data: _undecoded("pickle", data, "pickle is never unpickled by lgscope"),
}


def decode_typed(type_: str | None, data: bytes | memoryview | None) -> Any:
    """Decode one ``(type, bytes)`` pair as stored by a LangGraph saver.

    Unknown serializer types (encrypted ones such as ``msgpack+aes``, custom serdes) come
    back as an inert ``{"__type__": type, "undecoded": …}`` placeholder; corrupt bytes raise
    `DecodeError`.
    """
    raw = bytes(data) if data is not None else b""
    if type_ is None:
        return None if not raw else _undecoded("unknown", raw, "no serializer type stored")
    decoder = _DECODERS.get(type_)
    if decoder is None:
        return _undecoded(type_, raw, f"serializer type {type_!r} is not one lgscope reads")
    return decoder(raw)


def describe_type(value: Any) -> str | None:
    """The type name kept in a decoded value (``langchain_core.messages.ai.AIMessage``), if any."""
    if isinstance(value, dict):
        name = value.get(TYPE_KEY)
        return name if isinstance(name, str) else None
    return None


SAFE_TYPES: frozenset[str] = frozenset(
    f"{module}.{name}"
    for module, names in {
        "langchain_core.messages.ai": ("AIMessage", "AIMessageChunk"),
        "langchain_core.messages.base": ("BaseMessage", "BaseMessageChunk"),
        "langchain_core.messages.chat": ("ChatMessage", "ChatMessageChunk"),
        "langchain_core.messages.function": ("FunctionMessage", "FunctionMessageChunk"),
        "langchain_core.messages.human": ("HumanMessage", "HumanMessageChunk"),
        "langchain_core.messages.modifier": ("RemoveMessage",),
        "langchain_core.messages.system": ("SystemMessage", "SystemMessageChunk"),
        "langchain_core.messages.tool": ("ToolMessage", "ToolMessageChunk"),
        "langchain_core.documents.base": ("Document",),
        "langgraph.types": (
            "Command",
            "Interrupt",
            "Overwrite",
            "PregelTask",
            "Send",
            "StateSnapshot",
            "TimeoutPolicy",
        ),
        "langgraph.store.base": ("GetOp", "Item"),
        "datetime": ("timedelta", "timezone"),
        "ipaddress": ("IPv4Interface", "IPv6Interface"),
        "numpy": ("ndarray",),
        "langgraph": ("DeltaSnapshot",),
    }.items()
    for name in names
)
"""Types LangGraph's serializer rebuilds without running code chosen by the data: its own safe
list (`SAFE_MSGPACK_TYPES` in langgraph-checkpoint 4.x; the plain value types among them, UUID,
datetime …, decode to strings and carry no type name here), numpy arrays and delta snapshots,
which it rebuilds by a fixed recipe. Anything else named in stored bytes is a module and a
callable it would import and call."""


_PLACEHOLDERS = frozenset({"str", "bytes", "bytearray"})  # lgscope's own: a value shown cut


def foreign_types(value: Any, *, lc: bool = False) -> set[str]:
    """The names in a decoded value of types outside `SAFE_TYPES` (``pickle`` and serializer types
    lgscope cannot read included); with ``lc``, LangChain ``constructor`` ids too (which LangGraph
    revives from JSON-typed values). Iterative: any nesting depth."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get(TYPE_KEY)
            if isinstance(name, str) and name not in SAFE_TYPES and name not in _PLACEHOLDERS:
                found.add(name)
            if lc and item.get("lc") is not None and item.get("type") == "constructor":
                ident = item.get("id")
                found.add(".".join(map(str, ident)) if isinstance(ident, list) else "a LangChain constructor")
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


_PLAIN_SERIALIZATIONS = frozenset({None, "null", "empty", "bytes", "bytearray"})


def unsafe_types(type_: str | None, data: bytes | memoryview | None) -> set[str]:
    """What LangGraph's serializer would import and call to load this stored ``(type, bytes)``:
    ``pickle``, a serializer type lgscope cannot look into (say ``msgpack+aes``), or the names of
    types outside `SAFE_TYPES`. A value lgscope cannot decode is ``undecodable <type>``."""
    if type_ in _PLAIN_SERIALIZATIONS:
        return set()
    if type_ not in ("msgpack", "json"):
        return {str(type_)}
    try:
        value = decode_typed(type_, data)
    except DecodeError:
        return {f"undecodable {type_}"}
    return foreign_types(value, lc=type_ == "json")
