"""Frozen dataclasses to JSON-safe data and back, driven by their type hints.

What a scan remembers between runs (`_state`) is the detectors' own result objects
(`Analysis`, `Thread`, `Finding`, …) written field by field: a field added to one of them is
carried without a change here. Nothing is ever unpickled: a state file is user-writable, and
decoding builds only the dataclasses it is asked for, from plain JSON values. A decoder is
made once per type (a state file holds one record per thread, and every one is read).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

__all__ = ["CodecError", "decode", "decoder", "encode"]

Decoder = Callable[[Any], Any]


class CodecError(ValueError):
    """Data that does not fit the type it is decoded as."""


def encode(obj: Any) -> Any:
    """JSON-safe data for ``obj``: dataclasses by field, datetimes as ISO text, tuples as lists."""
    if obj is None or type(obj) in (str, int, float, bool):
        return obj
    cls: type = type(obj)
    names = _field_names(cls)
    if names is not None:
        return {name: encode(getattr(obj, name)) for name in names}
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return encode(obj.value)
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Mapping):
        return {_key(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, frozenset | set):
        return sorted(encode(v) for v in obj)
    if isinstance(obj, Sequence) and not isinstance(obj, bytes | bytearray):
        return [encode(v) for v in obj]
    raise CodecError(f"cannot remember a {type(obj).__name__}")


@functools.cache
def _field_names(tp: type) -> tuple[str, ...] | None:
    return tuple(f.name for f in dataclasses.fields(tp)) if dataclasses.is_dataclass(tp) else None


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise CodecError(f"cannot remember a mapping keyed by {type(key).__name__}")
    return key


def decode(tp: Any, data: Any) -> Any:
    """The value of type ``tp`` that `encode` turned into ``data``; `CodecError` if it does not fit."""
    return decoder(tp)(data)


@functools.cache
def decoder(tp: Any) -> Decoder:
    """A function that decodes `encode`'s data of type ``tp`` (made once per type)."""
    if tp is Any or tp is object:
        return _same
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union(args)
    if origin is typing.Literal:
        return _literal(frozenset(args))
    if origin is tuple and args and args[-1] is not Ellipsis:
        return _fixed_tuple(tuple(decoder(a) for a in args))
    if origin in (tuple, list, frozenset, set, Sequence, typing.Sequence):
        return _sequence(
            decoder(args[0]) if args else _same,
            frozenset if origin in (frozenset, set) else list if origin is list else tuple,
        )
    if origin in (dict, Mapping, typing.Mapping):
        return _mapping(decoder(args[1]) if len(args) == 2 else _same)
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _dataclass(tp)
        if tp is datetime:
            return _datetime
        if issubclass(tp, enum.Enum):
            return _enum(tp)
        if tp is timedelta:
            return _timedelta
        if tp is float:
            return _float
        if tp in (str, int, bool):
            return _exactly(tp)
    return _never(tp)  # a type no record can hold a value of (an empty list of them decodes)


def _enum(tp: type[enum.Enum]) -> Decoder:
    def decode_enum(data: Any) -> Any:
        try:
            return tp(data)
        except ValueError:
            raise CodecError(f"{data!r} is no {tp.__name__}") from None

    return decode_enum


def _never(tp: Any) -> Decoder:
    def decode_never(data: Any) -> Any:
        raise CodecError(f"cannot decode {tp}")

    return decode_never


def _same(data: Any) -> Any:
    return data


_IDENTITY: tuple[Decoder, ...] = (_same,)


def _union(args: tuple[Any, ...]) -> Decoder:
    optional = type(None) in args
    options = [decoder(a) for a in args if a is not type(None)]

    def decode_union(data: Any) -> Any:
        if data is None and optional:
            return None
        for option in options:
            try:
                return option(data)
            except CodecError:
                continue
        raise CodecError(f"{data!r} fits none of {args}")

    return decode_union


def _literal(allowed: frozenset[Any]) -> Decoder:
    def decode_literal(data: Any) -> Any:
        if data not in allowed:
            raise CodecError(f"{data!r} is not one of {sorted(map(str, allowed))}")
        return data

    return decode_literal


def _fixed_tuple(items: tuple[Decoder, ...]) -> Decoder:
    def decode_fixed(data: Any) -> Any:
        if type(data) is not list or len(data) != len(items):
            raise CodecError(f"expected a list of {len(items)}")
        return tuple(d(v) for d, v in zip(items, data, strict=True))

    return decode_fixed


def _sequence(item: Decoder, make: Callable[[Any], Any]) -> Decoder:
    def decode_sequence(data: Any) -> Any:
        if type(data) is not list:
            raise CodecError(f"expected a list, not {type(data).__name__}")
        return make(data if item is _same else map(item, data))

    return decode_sequence


def _mapping(value: Decoder) -> Decoder:
    def decode_mapping(data: Any) -> Any:
        if type(data) is not dict:
            raise CodecError(f"expected an object, not {type(data).__name__}")
        return data if value is _same else {k: value(v) for k, v in data.items()}

    return decode_mapping


def _dataclass(tp: type) -> Decoder:
    # one function per dataclass, its fields spelled out: a state file decodes thousands of these
    hints = typing.get_type_hints(tp)
    env: dict[str, Any] = {"tp": tp, "CodecError": CodecError, "_missing": _missing}
    lines = [
        "def decode_dataclass(data):",
        "    if type(data) is not dict:",
        f"        raise CodecError('expected an object for {tp.__name__}')",
        "    kwargs = {}",
    ]
    for n, f in enumerate(dataclasses.fields(tp)):
        field_decoder = decoder(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        env[f"d{n}"] = field_decoder
        value = "v" if field_decoder in _IDENTITY else f"d{n}(v)"
        check = {str: "str", int: "int", bool: "bool"}.get(hints[f.name])
        lines += [
            f"    v = data.get({f.name!r}, _missing)",
            "    if v is not _missing:",
            f"        kwargs[{f.name!r}] = " + (f"v if type(v) is {check} else d{n}(v)" if check else value),
        ]
        if required:
            lines += ["    else:", f"        raise CodecError('{tp.__name__} lacks its {f.name}')"]
    lines.append("    return tp(**kwargs)")
    exec("\n".join(lines), env)  # noqa: S102 - our own source, from the dataclass's field names
    made: Decoder = env["decode_dataclass"]
    return made


_missing = object()


def _datetime(data: Any) -> datetime:
    if type(data) is not str:
        raise CodecError("expected an ISO time")
    try:
        return datetime.fromisoformat(data)
    except ValueError as exc:
        raise CodecError(str(exc)) from None


def _timedelta(data: Any) -> timedelta:
    if type(data) not in (int, float):
        raise CodecError("expected seconds")
    return timedelta(seconds=data)


def _float(data: Any) -> float:
    if type(data) not in (int, float):
        raise CodecError("expected a number")
    return float(data)


def _exactly(tp: type) -> Decoder:
    def decode_exactly(data: Any) -> Any:
        if type(data) is not tp:
            raise CodecError(f"expected {tp.__name__}, not {type(data).__name__}")
        return data

    return decode_exactly
