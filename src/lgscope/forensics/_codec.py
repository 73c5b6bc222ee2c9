"""Frozen dataclasses to JSON-safe data and back, driven by their type hints.

What a scan remembers between runs (`_state`) is the detectors' own result objects
(`Analysis`, `Thread`, `Finding`, …) written field by field: a field added to one of them is
carried without a change here. Nothing is ever unpickled: a state file is user-writable, and
decoding builds only the dataclasses it is asked for, from plain JSON values.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

__all__ = ["CodecError", "decode", "encode"]


class CodecError(ValueError):
    """Data that does not fit the type it is decoded as."""


def encode(obj: Any) -> Any:
    """JSON-safe data for ``obj``: dataclasses by field, datetimes as ISO text, tuples as lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    if isinstance(obj, Mapping):
        return {_key(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, frozenset | set):
        return sorted(encode(v) for v in obj)
    if isinstance(obj, Sequence) and not isinstance(obj, bytes | bytearray):
        return [encode(v) for v in obj]
    raise CodecError(f"cannot remember a {type(obj).__name__}")


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise CodecError(f"cannot remember a mapping keyed by {type(key).__name__}")
    return key


def decode(tp: Any, data: Any) -> Any:
    """The value of type ``tp`` that `encode` turned into ``data``; `CodecError` if it does not fit."""
    if tp is Any or tp is object:
        return data
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return decode(arg, data)
            except CodecError:
                continue
        raise CodecError(f"{data!r} fits none of {tp}")
    if origin is typing.Literal:
        if data not in typing.get_args(tp):
            raise CodecError(f"{data!r} is not one of {typing.get_args(tp)}")
        return data
    if origin in (tuple, list, frozenset, set) or origin in _SEQUENCES:
        if not isinstance(data, list):
            raise CodecError(f"expected a list, not {type(data).__name__}")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(data):
                raise CodecError(f"expected {len(args)} items, not {len(data)}")
            return tuple(decode(a, v) for a, v in zip(args, data, strict=True))
        item = args[0] if args else Any
        values = [decode(item, v) for v in data]
        if origin in (frozenset, set):
            return frozenset(values)
        return tuple(values) if origin in (tuple, *_SEQUENCES) else values
    if origin in (dict, *_MAPPINGS):
        if not isinstance(data, dict):
            raise CodecError(f"expected an object, not {type(data).__name__}")
        args = typing.get_args(tp)
        value = args[1] if len(args) == 2 else Any
        return {str(k): decode(value, v) for k, v in data.items()}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _decode_dataclass(tp, data)
        if tp is datetime:
            if not isinstance(data, str):
                raise CodecError(f"expected an ISO time, not {type(data).__name__}")
            try:
                return datetime.fromisoformat(data)
            except ValueError as exc:
                raise CodecError(str(exc)) from None
        if tp is timedelta:
            if not isinstance(data, int | float) or isinstance(data, bool):
                raise CodecError("expected seconds")
            return timedelta(seconds=data)
        if tp is float and isinstance(data, int) and not isinstance(data, bool):
            return float(data)
        if tp in (str, int, float, bool) and type(data) is tp:
            return data
        raise CodecError(f"expected {tp.__name__}, not {type(data).__name__}")
    raise CodecError(f"cannot decode {tp}")


_SEQUENCES: tuple[Any, ...] = (Sequence, typing.Sequence)
_MAPPINGS: tuple[Any, ...] = (Mapping, typing.Mapping)


def _decode_dataclass(tp: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise CodecError(f"expected an object for {tp.__name__}, not {type(data).__name__}")
    hints = _hints(tp)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(tp):
        if f.name in data:
            kwargs[f.name] = decode(hints[f.name], data[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise CodecError(f"{tp.__name__} lacks its {f.name!r}")
    try:
        return tp(**kwargs)
    except TypeError as exc:
        raise CodecError(str(exc)) from None


@functools.cache
def _hints(tp: type) -> dict[str, Any]:
    return typing.get_type_hints(tp)
