"""Decoding stored bytes into inert, JSON-safe data — never into objects.

LangGraph's `JsonPlusSerializer` rebuilds objects named inside msgpack and JSON data by
importing and calling them (CVE-2026-28277). lgscope reads the same bytes without
importing or calling anything named in them: a msgpack extension that names
``module.Name`` becomes ``{"__type__": "module.Name", ...its fields...}``, LangChain's
``{"lc": 1, "type": "constructor", ...}`` JSON stays a plain dict, and pickle is never
unpickled. A handful of plain value types (UUID, datetime, Decimal, set …) are rendered
by our own code as strings or lists; nothing named in the data chooses what runs.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import ormsgpack

from lgscope._exceptions import DecodeError

__all__ = ["TYPE_KEY", "Decoder", "decode_msgpack", "decode_typed", "describe_type"]

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
        parts = ormsgpack.unpackb(data, ext_hook=_ext_hook, option=ormsgpack.OPT_NON_STR_KEYS)
        dtype, shape = (parts[0], parts[1]) if isinstance(parts, list) and len(parts) > 1 else ("", [])
        return {TYPE_KEY: "numpy.ndarray", "dtype": str(dtype), "shape": list(shape)}
    if code == _EXT_DELTA_SNAPSHOT:
        inner = ormsgpack.unpackb(data, ext_hook=_ext_hook, option=ormsgpack.OPT_NON_STR_KEYS)
        return {TYPE_KEY: "langgraph.DeltaSnapshot", "value": inner}
    parts = ormsgpack.unpackb(data, ext_hook=_ext_hook, option=ormsgpack.OPT_NON_STR_KEYS)
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
        # keyed by the extension's bytes alone, one dict per extension code
        self._memo: dict[int, dict[bytes, Any]] = {}

    def _hook(self, code: int, data: bytes) -> Any:
        memo = self._memo.get(code)
        if memo is None:
            memo = self._memo[code] = {}
        value = memo.get(data, _MISSING)
        if value is _MISSING:
            value = memo[data] = _ext_hook(code, data)
        return value

    def decode_typed(self, type_: str | None, data: bytes | memoryview | None) -> Any:
        """Like `decode_typed`, sharing this decoder's memo."""
        if type_ == "msgpack" and data is not None:
            return decode_msgpack(bytes(data), self._hook)
        return decode_typed(type_, data)


def decode_msgpack(data: bytes, ext_hook: Callable[[int, bytes], Any] | None = None) -> Any:
    """Decode LangGraph msgpack bytes into inert data; raise `DecodeError` if corrupt."""
    try:
        return ormsgpack.unpackb(data, ext_hook=ext_hook or _ext_hook, option=ormsgpack.OPT_NON_STR_KEYS)
    except (ormsgpack.MsgpackDecodeError, ValueError, TypeError, IndexError) as exc:
        raise DecodeError(
            f"A msgpack blob of {len(data)} bytes is corrupt or truncated ({exc}); "
            "the rest of the history is still readable."
        ) from exc


def _decode_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(
            f"A JSON blob of {len(data)} bytes is corrupt or truncated ({exc}); "
            "the rest of the history is still readable."
        ) from exc


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
