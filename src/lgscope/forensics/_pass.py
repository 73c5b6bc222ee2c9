"""One pass over a namespace's steps that gathers what every detector needs, in bounded memory.

Detectors never hold steps. The pass reads each step's changes once (`Step.changes`: stored
bytes compared, nothing decoded), decodes only what changed — the appended items, a new
value, each distinct value once — and keeps a few small facts per step: digests, counts and
ids. The detectors (`_loop`, `_oscillation`, …) turn those facts into findings at the end.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lgscope.forensics._signature import fingerprint, is_message, key, messages_of, short
from lgscope.model import ChannelChange, Step, TaskError
from lgscope.store._values import list_length

__all__ = ["NamespaceFacts", "Token"]

Digest = bytes

_MEMO_SIZE = 4096  # distinct stored values whose normal form is remembered
_VALUES_KEPT = 16  # distinct values of a field kept as evidence
_TEXT_LIMIT = 160


def _digest(data: bytes | str) -> Digest:
    return hashlib.blake2b(data if isinstance(data, bytes) else data.encode(), digest_size=16).digest()


def _norm_digest(value: Any) -> Digest:
    """Equal for values that differ only in ids, timings and token counts."""
    k = key(value)
    return _digest(k)


@dataclass(slots=True)
class _Seen:
    """A changed value, as the detectors compare it."""

    norm: Digest
    """Its normal form's digest (ids, timings and counts left out)."""
    shape: Digest
    """For a list, the normal form of its last item; else the value's."""
    integer: int | None
    """The value, when it is an int (counters are told by these)."""
    messages: bool
    """A list whose last item is a message."""
    is_list: bool


@dataclass(slots=True)
class Token:
    """What one node step did, for the loop detector."""

    checkpoint_id: str
    nodes: tuple[str, ...]
    change: Digest
    """Digest of the non-integer changes (normalized)."""
    ints: tuple[tuple[str, int], ...]
    """Integer changes, kept apart until it is known which fields are counters."""
    empty: bool
    """Whether the step changed nothing but integers."""


@dataclass(slots=True)
class FieldChange:
    """A change of a field's value (for the oscillation detector)."""

    checkpoint_id: str
    fp: Digest
    shapes: int
    """Index of the state's shape snapshot when it changed."""


@dataclass(slots=True)
class NamespaceFacts:
    """What a pass over one namespace gathered."""

    thread_id: str
    ns: str
    steps: int = 0
    corrupt: int = 0
    tokens: list[Token] = field(default_factory=list)
    texts: dict[Digest, str] = field(default_factory=dict)
    """Short text of a change seen more than once (loop evidence)."""
    ints: dict[str, list[int]] = field(default_factory=dict)
    non_int: set[str] = field(default_factory=set)
    field_changes: dict[str, list[FieldChange]] = field(default_factory=dict)
    field_values: dict[str, dict[Digest, Any]] = field(default_factory=dict)
    message_channels: set[str] = field(default_factory=set)
    shapes: list[tuple[tuple[str, Digest], ...]] = field(default_factory=list)
    list_lengths: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    """(checkpoint id, length of each list channel) of each good step where one changed."""
    first_good: str | None = None
    """The first step that is not corrupt."""
    stall_best: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    stall_run: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    failed: list[tuple[str, tuple[TaskError, ...]]] = field(default_factory=list)
    last: Step | None = None
    """The last step."""
    last_good: Step | None = None
    """The last step that is not corrupt."""
    starts: list[tuple[int, str]] = field(default_factory=list)
    """(step number, checkpoint id) of good steps a run started from (input, update, resume,
    interrupt)."""

    # -- the pass ------------------------------------------------------------------------

    _memo: OrderedDict[Digest, _Seen] = field(default_factory=OrderedDict)
    _shape: dict[str, Digest] = field(default_factory=dict)
    _length: dict[str, int] = field(default_factory=dict)
    _recent: OrderedDict[str, bool] = field(default_factory=OrderedDict)
    """Recent checkpoint ids → whether they were corrupt (for parents)."""

    def feed(self, step: Step) -> None:
        """Take one step (oldest first)."""
        self.steps += 1
        self.last = step
        parent_corrupt = self._recent.get(step.parent_id or "", True)
        self._recent[step.checkpoint_id] = bool(step.corrupt)
        if len(self._recent) > 64:
            self._recent.popitem(last=False)
        if step.errors:
            self.failed.append((step.checkpoint_id, step.errors))
        if step.corrupt:
            self.corrupt += 1
            self.stall_run = []
            return
        self.last_good = step
        if self.first_good is None:
            self.first_good = step.checkpoint_id
        if step.source in ("input", "update") or step.resumes or step.interrupts:
            self.starts.append((step.step, step.checkpoint_id))
        seen = {c.channel: self._see(c) for c in step.changes if c.kind != "same"}
        for ch, s in seen.items():
            if s.integer is not None:
                self.ints.setdefault(ch, []).append(s.integer)
            else:
                self.non_int.add(ch)
            if s.messages:
                self.message_channels.add(ch)
            self._shape[ch] = s.shape
        self._fields(step, seen)
        self._lengths(step)
        if step.source == "loop":
            self._token(step, seen)
            self._stall(step, parent_corrupt)

    def _see(self, change: ChannelChange) -> _Seen:
        memo_key = change.digest + (b"+" if change.kind == "append" else b"=")
        got = self._memo.get(memo_key)
        if got is not None:
            self._memo.move_to_end(memo_key)
            return got
        value = change.value
        if change.kind == "append":
            items = value if isinstance(value, list) else [value]
            got = _Seen(
                _norm_digest(items),
                _norm_digest(items[-1]) if items else _EMPTY,
                None,
                bool(items) and is_message(items[-1]),
                True,
            )
        elif isinstance(value, list):
            got = _Seen(
                _norm_digest(value),
                _norm_digest(value[-1]) if value else _EMPTY,
                None,
                bool(value) and is_message(value[-1]),
                True,
            )
        else:
            norm = _norm_digest(value)
            integer = value if type(value) is int else None
            got = _Seen(norm, norm, integer, False, False)
        self._memo[memo_key] = got
        if len(self._memo) > _MEMO_SIZE:
            self._memo.popitem(last=False)
        return got

    def _token(self, step: Step, seen: Mapping[str, _Seen]) -> None:
        parts = sorted((ch, s.norm) for ch, s in seen.items() if s.integer is None)
        change = _digest(b"".join(ch.encode() + b"\0" + d for ch, d in parts))
        ints = tuple(sorted((ch, s.integer) for ch, s in seen.items() if s.integer is not None))
        token = Token(step.checkpoint_id, step.nodes, change, ints, not parts)
        if parts and change not in self.texts and any(t.change == change for t in self.tokens[-8:]):
            # a change seen again within a few steps: keep its text, a loop may show it
            delta = {c.channel: c.value for c in step.changes if c.channel in dict(parts)}
            self.texts[change] = short(fingerprint(delta), _TEXT_LIMIT)
        self.tokens.append(token)

    def _stall(self, step: Step, parent_corrupt: bool) -> None:
        unchanged = not parent_corrupt and all(c.kind == "same" for c in step.changes)
        if unchanged:
            self.stall_run.append((step.checkpoint_id, step.nodes))
            if len(self.stall_run) > len(self.stall_best):
                self.stall_best = list(self.stall_run)
        else:
            self.stall_run = []

    def _fields(self, step: Step, seen: Mapping[str, _Seen]) -> None:
        if not seen:
            return
        changed_fields = [ch for ch, s in seen.items() if not s.messages]
        if not changed_fields:
            return
        self.shapes.append(tuple(sorted(self._shape.items())))
        index = len(self.shapes) - 1
        for ch in changed_fields:
            s = seen[ch]
            # a longer list never equals an earlier value: each append is a new one
            fp = _digest(f"{step.checkpoint_id}\0{ch}") if s.is_list and _appended(step, ch) else s.norm
            history = self.field_changes.setdefault(ch, [])
            if history and history[-1].fp == fp:
                continue
            history.append(FieldChange(step.checkpoint_id, fp, index))
            kept = self.field_values.setdefault(ch, {})
            if s.norm not in kept and len(kept) < _VALUES_KEPT and not s.is_list:
                kept[s.norm] = step.values.get(ch)

    def _lengths(self, step: Step) -> None:
        # lengths change only where a channel changed: kept at those steps only
        moved = False
        for c in step.changes:
            n = list_length(step.values, c.channel)
            if n is not None and self._length.get(c.channel) != n:
                self._length[c.channel] = n
                moved = True
        if moved:
            self.list_lengths.append((step.checkpoint_id, dict(self._length)))

    # -- what detectors read ---------------------------------------------------------------

    def counters(self) -> frozenset[str]:
        """Integer fields that only ever go up: progress counters, which differ on every repeat."""
        return frozenset(
            ch
            for ch, vs in self.ints.items()
            if ch not in self.non_int
            and len(vs) > 1
            and all(b >= a for a, b in zip(vs, vs[1:], strict=False))
        )

    def final_messages(self) -> list[Mapping[str, Any]]:
        """The messages of the last good state."""
        return messages_of(self.last_good.values) if self.last_good is not None else []


_EMPTY = _digest(b"")


def _appended(step: Step, channel: str) -> bool:
    return any(c.channel == channel and c.kind == "append" for c in step.changes)
