"""Stored channel values, decoded only when read, and at most once per distinct stored bytes.

A history is a stream of checkpoints whose values are mostly the same bytes again (SQLite
stores the whole state in every checkpoint; Postgres one blob per channel version). A
`ValueCache` decodes each distinct value once while its budget lasts, so a thread's decoded
history is never held whole; `LazyValues` is one checkpoint's state over that cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import ormsgpack

from lgscope._exceptions import DecodeError
from lgscope.model import is_bookkeeping
from lgscope.store._msgpack import array_info
from lgscope.store.decode import TYPE_KEY, Decoder, decode_typed

__all__ = ["BOOKKEEPING", "LazyValues", "ValueCache", "digest_of", "list_length"]

Blob = tuple[str, bytes | None]
"""A stored value: the serializer's type tag and its bytes."""

_BUDGET = 64 * 1024 * 1024
"""Bytes of stored values whose decoding a cache keeps (the keys held; the values are larger)."""


def digest_of(data: bytes) -> bytes:
    """A 16-byte digest of stored bytes: what equality of stored values is checked by."""
    return hashlib.blake2b(data, digest_size=16).digest()


def digest_of_value(value: Any) -> bytes:
    """A digest of a decoded value (stores that hand out decoded values only)."""
    try:
        data = ormsgpack.packb(value, option=ormsgpack.OPT_NON_STR_KEYS)
    except (TypeError, ValueError):  # ints past 64 bits and the like
        data = repr(value).encode("utf-8", "replace")
    return digest_of(data)


class ValueCache:
    """Decodes stored values into inert data, remembering each distinct value while it fits.

    Decoded values are shared between the steps that hold the same bytes: treat them as
    read-only.
    """

    __slots__ = ("_budget", "_decoder", "_held", "_memo")

    def __init__(self, budget: int = _BUDGET) -> None:
        self._budget = budget
        self._decoder = Decoder()
        self._memo: dict[bytes, Any] = {}
        self._held = 0

    def decode(self, type_: str, data: bytes | None) -> Any:
        """The value ``(type_, data)`` holds; raises `DecodeError` if the bytes are corrupt."""
        if data is None or type_ != "msgpack":
            return decode_typed(type_, data)
        value = self._memo.get(data, _MISSING)
        if value is _MISSING:
            value = self._decoder.decode_typed(type_, data)
            if len(data) * 4 <= self._budget:
                if self._held + len(data) > self._budget:
                    # Forget everything rather than track recency: a stream moves on and rarely
                    # comes back, and this keeps the bookkeeping at one dict.
                    self._memo.clear()
                    self._decoder = Decoder()
                    self._held = 0
                self._memo[data] = value
                self._held += len(data)
        return value

    def decode_or_mark(self, type_: str, data: bytes | None) -> Any:
        """Like `decode`, but a corrupt value comes back as an inert marker saying why."""
        try:
            return self.decode(type_, data)
        except DecodeError as exc:
            return {TYPE_KEY: "corrupt", "error": str(exc)}


_MISSING = object()


class _Bookkeeping(dict[str, bool]):
    """``is_bookkeeping`` by channel name: names repeat in every checkpoint of a store."""

    def __missing__(self, channel: str) -> bool:
        value = is_bookkeeping(channel)
        if len(self) < 65536:
            self[channel] = value
        return value


BOOKKEEPING = _Bookkeeping()


class LazyValues(Mapping[str, Any]):
    """One checkpoint's user-state channels, each decoded when first read.

    ``rebuilt`` holds channels whose value is not stored in the checkpoint but rebuilt from
    earlier writes (LangGraph's ``DeltaChannel``), and says how in ``rebuilt_how``.
    """

    __slots__ = ("_blobs", "_cache", "_keys", "rebuilt", "rebuilt_how")

    def __init__(
        self,
        blobs: Mapping[str, Blob],
        cache: ValueCache,
        rebuilt: Mapping[str, Any] | None = None,
        rebuilt_how: Mapping[str, str] | None = None,
    ) -> None:
        self._blobs = blobs
        self._cache = cache
        self.rebuilt: Mapping[str, Any] = rebuilt or {}
        self.rebuilt_how: Mapping[str, str] = rebuilt_how or {}
        keys = [ch for ch in blobs if not BOOKKEEPING[ch]]
        self._keys = tuple(keys + [ch for ch in self.rebuilt if ch not in blobs])

    def __getitem__(self, channel: str) -> Any:
        if channel in self.rebuilt:
            return self.rebuilt[channel]
        if channel not in self._keys:
            raise KeyError(channel)
        type_, data = self._blobs[channel]
        return self._cache.decode_or_mark(type_, data)

    def __contains__(self, channel: object) -> bool:
        return channel in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def blob(self, channel: str) -> Blob | None:
        """The stored ``(type, bytes)`` of a channel, undecoded (None for a rebuilt one)."""
        return self._blobs.get(channel) if channel in self._keys and channel not in self.rebuilt else None

    def __repr__(self) -> str:
        return f"LazyValues({list(self._keys)!r})"


def list_length(values: Mapping[str, Any], channel: str) -> int | None:
    """How many items a list channel holds, read from the stored header where there is one."""
    if isinstance(values, LazyValues) and channel not in values.rebuilt:
        blob = values.blob(channel)
        if blob is None:
            return None
        if blob[0] == "msgpack" and blob[1] is not None:
            info = array_info(blob[1])
            return None if info is None else info[0]
    value = values.get(channel)
    return len(value) if isinstance(value, list) else None
