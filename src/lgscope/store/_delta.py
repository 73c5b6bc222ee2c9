"""LangGraph's ``DeltaChannel`` (beta): values rebuilt from ancestor writes, read-only.

A delta channel stores no value in most checkpoints: only every ``snapshot_frequency`` updates
a ``_DeltaSnapshot`` blob (msgpack extension 7), and the metadata field
``counters_since_delta_snapshot`` in between. The value at a checkpoint is the nearest snapshot
(or nothing) with the channel's writes folded in, oldest first: each checkpoint's writes make
its child. lgscope folds them as LangGraph would for message lists (``add_messages``: a message
whose id is known replaces it, a ``RemoveMessage`` removes it); for any other reducer it cannot
know, it concatenates the writes in order and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lgscope.model import ChannelChange, is_bookkeeping
from lgscope.store._values import ValueCache, digest_of_value
from lgscope.store.decode import TYPE_KEY

if TYPE_CHECKING:
    from lgscope.store._raw import RawCheckpoint, RawWrite

__all__ = ["ADD_MESSAGES", "FOLDED", "DeltaChannels", "fold"]

ADD_MESSAGES = "rebuilt from ancestor writes (add_messages)"
FOLDED = "rebuilt from ancestor writes, folded in order (lgscope cannot know this reducer)"
SNAPSHOT = "from its delta snapshot"

_EXT_DELTA_SNAPSHOT = 7
_NONE = object()
_REMOVE_ALL = "__remove_all__"


def is_snapshot(data: bytes | None) -> bool:
    """Whether stored msgpack bytes are a ``_DeltaSnapshot`` (extension type 7)."""
    if not data:
        return False
    b = data[0]
    if 0xD4 <= b <= 0xD8:  # fixext 1..16
        return len(data) > 1 and data[1] == _EXT_DELTA_SNAPSHOT
    width = {0xC7: 1, 0xC8: 2, 0xC9: 4}.get(b)
    return width is not None and len(data) > 1 + width and data[1 + width] == _EXT_DELTA_SNAPSHOT


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str) and "content" in value


def _add_messages(existing: Sequence[Any], new: Iterable[Any]) -> list[Any]:
    out = list(existing)
    index = {m.get("id"): i for i, m in enumerate(out) if isinstance(m, dict) and m.get("id")}
    removed: set[int] = set()
    for m in new:
        mid = m.get("id") if isinstance(m, dict) else None
        if isinstance(m, dict) and m.get("type") == "remove":
            if mid == _REMOVE_ALL:
                out, index, removed = [], {}, set()
            elif mid in index:
                removed.add(index[mid])
            continue
        if mid is not None and mid in index:
            out[index[mid]] = m
        else:
            if mid is not None:
                index[mid] = len(out)
            out.append(m)
    return [m for i, m in enumerate(out) if i not in removed] if removed else out


def _overwrite(value: Any) -> tuple[bool, Any]:
    if isinstance(value, dict) and str(value.get(TYPE_KEY, "")).endswith("Overwrite"):
        return True, value.get(
            "value", value.get("args", [None])[0] if isinstance(value.get("args"), list) else None
        )
    return False, None


def fold(base: Any, writes: Sequence[Any]) -> tuple[Any, str]:
    """``base`` with ``writes`` applied in order, and how (add_messages, or folded in order)."""
    value = base
    how = FOLDED
    for write in writes:
        is_overwrite, replacement = _overwrite(write)
        if is_overwrite:
            value = replacement
            continue
        items = write if isinstance(write, list) else [write]
        current = value if isinstance(value, list) else ([] if value is None else [value])
        if items and all(_is_message(m) for m in items) and all(_is_message(m) for m in current):
            value, how = _add_messages(current, items), ADD_MESSAGES
        else:
            value = [*current, *items]
    if how == FOLDED and isinstance(value, list) and value and all(_is_message(m) for m in value):
        how = ADD_MESSAGES
    return value, how


class DeltaChannels:
    """Rebuilds the delta channels of one namespace's checkpoints as a stream visits them."""

    def __init__(self, cache: ValueCache, lookup: Callable[[str], RawCheckpoint | None] | None) -> None:
        self._cache = cache
        self._lookup = lookup
        self._values: dict[str, Any] = {}
        self._at: str | None = None
        self._seen = 0  # checkpoints visited: a stream's first few are checked for snapshots
        self._delta = False  # whether this stream has shown a delta channel

    def channels(self, raw: RawCheckpoint) -> list[str]:
        """The delta channels of a checkpoint."""
        counters = raw.metadata.get("counters_since_delta_snapshot")
        counted = counters if isinstance(counters, Mapping) else {}
        self._seen += 1
        # A delta channel shows its counters in the metadata of every checkpoint but a
        # snapshot's; a stream that showed none in its first checkpoints has no delta channel.
        if counted:
            self._delta = True
        elif not self._delta and self._seen > 2:
            return []
        if not counted and not (
            any(b[0] == "msgpack" and is_snapshot(b[1]) for b in raw.blobs.values())
            if raw.blobs is not None
            else any(
                isinstance(v, dict) and v.get(TYPE_KEY) == "langgraph.DeltaSnapshot"
                for v in (raw.values or {}).values()
            )
        ):
            return []  # not a delta-channel thread: the common case, told without a loop over versions
        ck = raw.checkpoint or {}
        held = raw.channels()
        out = []
        for ch in ck.get("channel_versions") or {}:
            if is_bookkeeping(ch):
                continue
            if self._snapshot(raw, ch) is not _NONE:
                out.append(ch)
            elif ch not in held and ch in counted:
                out.append(ch)
        return out

    def _snapshot(self, raw: RawCheckpoint, channel: str) -> Any:
        """The value a channel's delta snapshot holds in ``raw``, or `_NONE`."""
        if raw.blobs is not None:
            blob = raw.blobs.get(channel)
            if blob is None or blob[0] != "msgpack" or not is_snapshot(blob[1]):
                return _NONE
            snap = self._cache.decode_or_mark(*blob)
        else:
            snap = (raw.values or {}).get(channel, _NONE)
            if not (isinstance(snap, dict) and snap.get(TYPE_KEY) == "langgraph.DeltaSnapshot"):
                return _NONE
        return snap.get("value") if isinstance(snap, dict) else snap

    def visit(
        self,
        raw: RawCheckpoint,
        parent_versions: Mapping[str, Any],
        changed: Sequence[str],
        parent_writes: Sequence[tuple[RawWrite, Any, str | None]] | None = None,
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, ChannelChange]]:
        """The rebuilt values of ``raw``'s delta channels, how each was rebuilt, and the changes
        of those among ``changed``."""
        channels = self.channels(raw)
        if not channels:
            self._values, self._at = {}, raw.checkpoint_id
            return {}, {}, {}
        continuous = self._at is not None and self._at == raw.parent_id
        before = dict(self._values) if continuous else None
        writes: dict[str, list[Any]] | None = None
        if parent_writes is not None and all(
            w.is_decoded or w.value is not None or w.type is None
            for w, _v, _e in parent_writes
            if w.channel in channels
        ):
            writes = {}
            for w, value, _err in parent_writes:
                writes.setdefault(w.channel, []).append(value)
        values: dict[str, Any] = {}
        how: dict[str, str] = {}
        changes: dict[str, ChannelChange] = {}
        for ch in channels:
            snap = self._snapshot(raw, ch)
            if snap is not _NONE:
                values[ch] = snap
                how[ch] = SNAPSHOT
                old = before.get(ch) if before is not None else None
            else:
                if before is None:
                    before = self._rebuild(raw.parent_id, channels) if raw.parent_id else {}
                old = before.get(ch)
                if ch in changed and raw.parent_id:
                    if writes is None:
                        writes = self._writes_of(raw.parent_id)
                    values[ch], how[ch] = fold(old, writes.get(ch, []))
                else:
                    values[ch], how[ch] = (old if old is not None else []), ADD_MESSAGES
                    if values[ch] and not all(_is_message(m) for m in values[ch]):
                        how[ch] = FOLDED
            if ch in changed:
                changes[ch] = _change(ch, old, values[ch])
        self._values, self._at = values, raw.checkpoint_id
        return values, how, changes

    def _writes_of(self, checkpoint_id: str) -> dict[str, list[Any]]:
        raw = self._lookup(checkpoint_id) if self._lookup is not None else None
        out: dict[str, list[Any]] = {}
        for w in raw.writes if raw is not None else ():
            value = w.decoded if w.is_decoded else self._cache.decode_or_mark(w.type or "", w.value)
            out.setdefault(w.channel, []).append(value)
        return out

    def _rebuild(self, checkpoint_id: str, channels: Sequence[str]) -> dict[str, Any]:
        """The delta channels' values at a checkpoint the stream did not visit: back to the
        nearest snapshot (or the start), then forward."""
        chain: list[RawCheckpoint] = []
        cid: str | None = checkpoint_id
        while cid and self._lookup is not None and len(chain) < 20_000:
            raw = self._lookup(cid)
            if raw is None:
                break
            chain.append(raw)
            if all(self._snapshot(raw, ch) is not _NONE for ch in channels):
                break
            cid = raw.parent_id
        inner = DeltaChannels(self._cache, self._lookup)
        inner._at = chain[-1].parent_id if chain else None
        inner._values = {}
        versions: Mapping[str, Any] = {}
        for raw in reversed(chain):
            current = (raw.checkpoint or {}).get("channel_versions") or {}
            changed = [ch for ch, v in current.items() if versions.get(ch) != v]
            inner.visit(raw, versions, changed)
            versions = current
        return inner._values


def _change(channel: str, old: Any, new: Any) -> ChannelChange:
    if old == new:
        return ChannelChange(channel, "same", 0, 0, lambda: digest_of_value(new), lambda: new)
    if isinstance(old, list) and isinstance(new, list) and len(new) > len(old) and new[: len(old)] == old:
        added = new[len(old) :]
        return ChannelChange(channel, "append", len(added), 0, lambda: digest_of_value(added), lambda: added)
    return ChannelChange(channel, "set", 0, 0, lambda: digest_of_value(new), lambda: new)
