"""One pass over a namespace's steps that gathers what every detector needs, in bounded memory.

Detectors never hold steps. The pass reads each step's changes once (`Step.changes`: stored
bytes compared, nothing decoded), decodes only what changed — the appended items, a new
value, each distinct value once — and keeps a few small facts per step: digests, counts and
ids. The detectors (`_loop`, `_oscillation`, …) turn those facts into findings at the end.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lgscope.forensics._signature import fingerprint, is_message, key, list_keys, messages_of, short
from lgscope.model import ChannelChange, Step, TaskError
from lgscope.store._values import list_length

__all__ = ["NamespaceFacts", "Token"]

Digest = bytes

_MEMO_SIZE = 4096  # distinct stored values whose normal form is remembered
_VALUES_KEPT = 16  # distinct values of a field kept as evidence
_TEXT_LIMIT = 160
_FORKS_KEPT = 64  # interrupted checkpoints watched for a second resume
_FOLLOWED = 256  # recent checkpoints whose approval (branch) is known
_RECENT_TOKENS = 8  # a change repeated within this many node steps keeps its text
NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
"""The task id LangGraph stores a ``Command(resume=…)`` answer under before a task consumes it."""


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
    appended: bool
    """Told from items appended to a list (each append is a new value)."""


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
    after_good: bool
    """Whether its parent checkpoint was readable (a change after a corrupt one is unknown)."""


@dataclass(slots=True)
class FieldChange:
    """A change of a field's value (for the oscillation detector)."""

    checkpoint_id: str
    fp: Digest
    shapes: int
    """Index of the state's shape snapshot when it changed."""


@dataclass(frozen=True, slots=True)
class Ask:
    """An interrupt a node raised (for the interrupt-integrity detector)."""

    checkpoint_id: str
    interrupt_id: str
    node: str | None
    question: Digest
    """Its value's normal form."""
    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A resume whose stored answer differs from the one the task ran with."""

    checkpoint_id: str
    interrupt_id: str
    node: str | None
    given: str
    """The last answer given (``Command(resume=…)``)."""
    used: str
    """The answer the task ran with (its own stored resume)."""
    failed: bool
    """Whether a task of that checkpoint failed (LangGraph then replays the stored answer)."""


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
    failed: list[tuple[str, tuple[TaskError, ...]]] = field(default_factory=list)
    last: Step | None = None
    """The last step."""
    last_good: Step | None = None
    """The last step that is not corrupt."""
    starts: list[tuple[int, str]] = field(default_factory=list)
    """(step number, checkpoint id) of good steps a run started from (input, update, resume,
    interrupt)."""
    nodes: set[str] = field(default_factory=set)
    """Every node that ran (growth compares threads of the same graph)."""
    asks: list[Ask] = field(default_factory=list)
    """Every interrupt raised, in order."""
    answers: list[Answer] = field(default_factory=list)
    """Resumes whose answer the task did not run with."""
    forks: dict[str, list[str]] = field(default_factory=dict)
    """Interrupted checkpoints → the node steps that continued from each (two: resumed twice)."""
    branch_nodes: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    """(interrupted checkpoint, which continuation) → the nodes that ran until the next interrupt."""

    # -- the pass ------------------------------------------------------------------------

    _memo: OrderedDict[Digest, _Seen] = field(default_factory=OrderedDict)
    _shape: dict[str, Digest] = field(default_factory=dict)
    _shape_moved: bool = False
    """Whether `_shape` moved since `shapes` last took a snapshot of it."""
    _length: dict[str, int] = field(default_factory=dict)
    _recent: OrderedDict[str, bool] = field(default_factory=OrderedDict)
    """Recent checkpoint ids → whether they were corrupt (for parents)."""
    _branch_of: OrderedDict[str, tuple[str, int]] = field(default_factory=OrderedDict)
    _turns: list[tuple[int, int]] = field(default_factory=list)
    """(messages, content bytes) each finished user turn added."""
    _turn_messages: int = 0
    """Messages when the current turn started."""
    _turn_bytes: int = 0
    """Content bytes the current turn added so far."""
    _last_changes: deque[Digest] = field(default_factory=lambda: deque(maxlen=_RECENT_TOKENS))
    """The change of each of the last few tokens (a change seen again keeps its text)."""
    _counters: frozenset[str] | None = None
    _final: list[Mapping[str, Any]] | None = None

    def feed(self, step: Step) -> None:
        """Take one step (oldest first)."""
        self._counters = self._final = None
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
            return
        self.last_good = step
        if self.first_good is None:
            self.first_good = step.checkpoint_id
        if step.source in ("input", "update") or step.resumes or step.interrupts:
            self.starts.append((step.step, step.checkpoint_id))
            if step.source == "input":
                self._new_turn()
        if self.forks:  # after an interrupt: which approval each step continues
            self._follow(step)
        if step.interrupts:
            self._asked(step)
        self._turn_bytes += sum(c.size for c in step.changes)
        seen = {c.channel: self._see(c) for c in step.changes if c.kind != "same"}
        for ch, s in seen.items():
            if s.integer is not None:
                self.ints.setdefault(ch, []).append(s.integer)
            else:
                self.non_int.add(ch)
            if s.messages:
                self.message_channels.add(ch)
            if self._shape.get(ch) != s.shape:
                self._shape[ch] = s.shape
                self._shape_moved = True
        self._fields(step, seen)
        self._lengths(step)
        if step.source == "loop":
            self._token(step, seen, parent_corrupt)

    def _see(self, change: ChannelChange) -> _Seen:
        append = change.kind == "append"
        if append and change.channel in self.message_channels:
            # LangChain gives every message an id: appended messages never repeat their bytes,
            # and remembering them would only cost a digest of each
            return _judge(change, append)
        memo_key = change.digest + (b"+" if append else b"=")
        got = self._memo.get(memo_key)
        if got is not None:
            self._memo.move_to_end(memo_key)
            return got
        got = _judge(change, append)
        self._memo[memo_key] = got
        if len(self._memo) > _MEMO_SIZE:
            self._memo.popitem(last=False)
        return got

    def _token(self, step: Step, seen: Mapping[str, _Seen], parent_corrupt: bool) -> None:
        parts: list[tuple[str, Digest]] = []
        counts: list[tuple[str, int]] = []
        for ch, s in seen.items():
            if s.integer is None:
                parts.append((ch, s.norm))
            else:
                counts.append((ch, s.integer))
        if len(parts) > 1:
            parts.sort()
        if len(counts) > 1:
            counts.sort()
        change = _digest(b"".join([ch.encode() + b"\0" + d for ch, d in parts]))
        token = Token(step.checkpoint_id, step.nodes, change, tuple(counts), not parts, not parent_corrupt)
        self.nodes.update(step.nodes)
        if parts and change not in self.texts and change in self._last_changes:
            # a change seen again within a few steps: keep its text, a loop may show it
            channels = {ch for ch, _d in parts}
            delta = {c.channel: _what_changed(c) for c in step.changes if c.channel in channels}
            self.texts[change] = short(fingerprint(delta), _TEXT_LIMIT)
        self.tokens.append(token)
        self._last_changes.append(change)

    def _fields(self, step: Step, seen: Mapping[str, _Seen]) -> None:
        changed_fields = [ch for ch, s in seen.items() if not s.messages]
        if not changed_fields:
            return
        if self._shape_moved or not self.shapes:
            self.shapes.append(tuple(sorted(self._shape.items())))
            self._shape_moved = False
        index = len(self.shapes) - 1
        for ch in changed_fields:
            s = seen[ch]
            # a longer list never equals an earlier value: each append is a new one
            fp = _digest(f"{step.checkpoint_id}\0{ch}") if s.appended else s.norm
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

    def _asked(self, step: Step) -> None:
        self.forks[step.checkpoint_id] = []
        if len(self.forks) > _FORKS_KEPT:
            del self.forks[next(iter(self.forks))]
        given = [w.value for w in step.resumes if w.task_id == NULL_TASK_ID]
        failed = {e.task_id for e in step.errors}
        for intr in step.interrupts:
            self.asks.append(
                Ask(step.checkpoint_id, intr.id, intr.node, _norm_digest(intr.value), short(intr.value, 120))
            )
            used = [w.value for w in step.resumes if w.task_id == intr.task_id]
            if not given or not used or not isinstance(used[-1], list) or not used[-1]:
                continue
            answer = given[-1].get(intr.id) if isinstance(given[-1], Mapping) else given[-1]
            ran_with = used[-1][-1]
            if answer is not None and _norm_digest(answer) != _norm_digest(ran_with):
                self.answers.append(
                    Answer(
                        step.checkpoint_id,
                        intr.id,
                        intr.node,
                        short(json.dumps(answer, default=str, ensure_ascii=False), 80),
                        short(json.dumps(ran_with, default=str, ensure_ascii=False), 80),
                        bool(failed),
                    )
                )

    def _follow(self, step: Step) -> None:
        parent = step.parent_id or ""
        children = self.forks.get(parent)
        if children is not None and step.source == "loop":
            children.append(step.checkpoint_id)
            branch = (parent, len(children) - 1)
        else:
            got = self._branch_of.get(parent)
            if got is None:
                return
            branch = got
        self.branch_nodes.setdefault(branch, set()).update(step.nodes)
        if not step.interrupts:  # a new interrupt is a new approval
            self._branch_of[step.checkpoint_id] = branch
            if len(self._branch_of) > _FOLLOWED:
                self._branch_of.popitem(last=False)

    def _messages(self) -> int:
        return sum(self._length.get(ch, 0) for ch in self.message_channels)

    def _new_turn(self) -> None:
        if self._turns or self._turn_bytes:
            self._turns.append((self._messages() - self._turn_messages, self._turn_bytes))
        self._turn_messages, self._turn_bytes = self._messages(), 0

    # -- what detectors read ---------------------------------------------------------------

    def counters(self) -> frozenset[str]:
        """Integer fields that only ever go up: progress counters, which differ on every repeat.

        Computed once after the pass (several detectors ask)."""
        if self._counters is None:
            self._counters = frozenset(
                ch
                for ch, vs in self.ints.items()
                if ch not in self.non_int
                and len(vs) > 1
                and all(b >= a for a, b in zip(vs, vs[1:], strict=False))
            )
        return self._counters

    def stalled(self, counters: frozenset[str] | None = None) -> list[Token]:
        """The longest run of node steps that changed nothing but counters (oldest first)."""
        counters = self.counters() if counters is None else counters
        best: list[Token] = []
        run: list[Token] = []
        for t in self.tokens:
            if t.after_good and t.empty and all(ch in counters for ch, _v in t.ints):
                run.append(t)
                if len(run) > len(best):
                    best = run
            else:
                run = []
        return list(best)

    def turns(self) -> list[tuple[int, int]]:
        """(messages, content bytes) each user turn added, the current one last."""
        return [*self._turns, (self._messages() - self._turn_messages, self._turn_bytes)]

    def final_messages(self) -> list[Mapping[str, Any]]:
        """The messages of the last good state (taken out once after the pass: read-only)."""
        if self._final is None:
            self._final = messages_of(self.last_good.values) if self.last_good is not None else []
        return self._final


_EMPTY = _digest(b"")


def _judge(change: ChannelChange, append: bool) -> _Seen:
    """Decode a change and tell what the detectors compare of it."""
    value = change.value
    if append:
        items = value if isinstance(value, list) else [value]
        whole, last = list_keys(items)
        return _Seen(
            _digest(whole),
            _EMPTY if last is None else _digest(last),
            None,
            bool(items) and is_message(items[-1]),
            True,
            True,
        )
    if isinstance(value, list):
        messages = bool(value) and is_message(value[-1])
        if messages:
            # A message list set rather than appended to: a node replaced a message by reusing
            # its id (the SQL agent's query checker). What it says is the change, not the list.
            shape = _norm_digest(value[-1])
            return _Seen(shape, shape, None, messages, True, False)
        whole, last = list_keys(value)
        return _Seen(_digest(whole), _EMPTY if last is None else _digest(last), None, False, True, False)
    norm = _norm_digest(value)
    integer = value if type(value) is int else None
    return _Seen(norm, norm, integer, False, False, False)


def _what_changed(change: ChannelChange) -> Any:
    value = change.value
    if change.kind == "set" and isinstance(value, list) and value and is_message(value[-1]):
        return value[-1:]  # a replaced message: it is the change, not the whole conversation
    return value
