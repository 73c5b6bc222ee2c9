"""The domain model: what a checkpoint history means, independent of where it is stored.

Every store backend turns its rows into these frozen types; forensics, the TUI, the
sweeper and the exporters read nothing else. Stored values appear here as inert,
JSON-safe data (see `lgscope.store.decode`): dicts, lists, strings, numbers, booleans,
``None``; objects that were serialized by type name appear as ``{"__type__": "mod.Name", ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "BOOKKEEPING_PREFIXES",
    "ChannelChange",
    "Finding",
    "Interrupt",
    "Severity",
    "Step",
    "TaskError",
    "Thread",
    "ThreadHistory",
    "ThreadStatus",
    "Write",
    "is_bookkeeping",
    "node_from_task_path",
]


class ThreadStatus(StrEnum):
    """A thread's state from its latest checkpoints; members compare equal to their names."""

    DONE = "done"
    """Nothing left to run."""
    INTERRUPTED = "interrupted"
    """An interrupt is pending."""
    RUNNING = "running"
    """Tasks pending and no interrupt: in flight, crashed, or paused by a static
    ``interrupt_before``."""
    ERROR = "error"
    """The last task failed."""


Severity = Literal["info", "warning", "error", "critical"]

BOOKKEEPING_PREFIXES = ("branch:", "join:", "__")
"""Channel name prefixes LangGraph uses for control flow rather than user state."""

INTERRUPT = "__interrupt__"
RESUME = "__resume__"
ERROR = "__error__"
TASKS = "__pregel_tasks"


def is_bookkeeping(channel: str) -> bool:
    """True for LangGraph's control-flow channels (``branch:to:x``, ``__start__``, …).

    ``__root__`` (the state of a graph whose state is not a dict) is user state.
    """
    return channel != "__root__" and channel.startswith(BOOKKEEPING_PREFIXES)


def node_from_task_path(task_path: str) -> str | None:
    """The node a pull task's path names (``~__pregel_pull, agent`` → ``agent``), else None."""
    if task_path.startswith("~__pregel_pull, "):
        return task_path[len("~__pregel_pull, ") :].split(",", 1)[0].strip() or None
    return None


@dataclass(frozen=True, slots=True)
class Write:
    """One pending write a task stored against a checkpoint."""

    task_id: str
    """The task that wrote it."""
    task_path: str
    """LangGraph's task path, e.g. ``~__pregel_pull, agent``; empty when the store lacks it."""
    idx: int
    """Position among the task's writes (negative for special writes such as interrupts)."""
    channel: str
    """The channel written (``messages``, ``__interrupt__``, ``branch:to:tools``, …)."""
    value: Any
    """The decoded, inert value."""
    type: str = "msgpack"
    """The serializer's type tag of the stored bytes."""
    size: int = 0
    """Serialized size in bytes."""
    node: str | None = None
    """The node that wrote it, when it can be told."""


@dataclass(frozen=True, slots=True)
class Interrupt:
    """An interrupt raised by a task (``interrupt(value)`` inside a node)."""

    id: str
    """The interrupt id; resume several at once with ``Command(resume={id: value})``."""
    value: Any
    """What the interrupt asked, decoded and inert."""
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    """The checkpoint the interrupt is stored against (the one a resume continues from)."""
    task_id: str
    node: str | None
    """The node that raised it, when it can be told."""
    created_at: datetime
    """When it was raised: the timestamp of its checkpoint."""

    def age(self, now: datetime | None = None) -> timedelta:
        """How long it has waited, as of ``now`` (default: the current time)."""
        return (now or datetime.now(UTC)) - self.created_at

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """The stable JSON form, wherever an interrupt is shown."""
        return {
            "id": self.id,
            "node": self.node,
            "checkpoint_ns": self.checkpoint_ns,
            "checkpoint_id": self.checkpoint_id,
            "created_at": _iso(self.created_at),
            "age_seconds": round(self.age(now).total_seconds(), 3),
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class TaskError:
    """A task that failed: an ``__error__`` write."""

    task_id: str
    node: str | None
    checkpoint_id: str
    error_type: str
    """The exception's class name, e.g. ``GraphRecursionError`` or ``ValueError``."""
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form, wherever a failed task is shown."""
        return {
            "node": self.node,
            "type": self.error_type,
            "message": self.message,
            "checkpoint_id": self.checkpoint_id,
        }


ChangeKind = Literal["set", "append", "same"]


class ChannelChange:
    """How one user-state channel moved from the parent checkpoint, told from stored bytes.

    Nothing is decoded until `value` is read; `digest` compares changes without decoding.
    """

    __slots__ = ("_digest", "_load", "channel", "items", "kind", "size")

    channel: str
    kind: ChangeKind
    """``same``: written again with the bytes it had; ``append``: the parent's list with `items`
    more at its end; ``set``: any other new value."""
    items: int
    """How many items were appended (``append``), else 0."""
    size: int
    """Stored bytes of what changed: the appended items, or the new value (0 for ``same``)."""

    def __init__(
        self,
        channel: str,
        kind: ChangeKind,
        items: int,
        size: int,
        digest: Callable[[], bytes] | bytes,
        load: Callable[[], Any],
    ) -> None:
        self.channel, self.kind, self.items, self.size = channel, kind, items, size
        self._digest, self._load = digest, load

    @property
    def digest(self) -> bytes:
        """A digest of the stored bytes of what changed: equal digests, equal changes."""
        if not isinstance(self._digest, bytes):
            self._digest = self._digest()
        return self._digest

    @property
    def value(self) -> Any:
        """What changed, decoded: the appended items (a list) or the new value."""
        return self._load()

    def __repr__(self) -> str:
        return f"ChannelChange({self.channel!r}, {self.kind!r}, items={self.items}, size={self.size})"


@dataclass(frozen=True, slots=True)
class Step:
    """One checkpoint of one namespace, and what produced it."""

    thread_id: str
    checkpoint_ns: str
    """``""`` for the root graph; ``node:<task id>`` (nested with ``|``) for subgraphs."""
    checkpoint_id: str
    parent_id: str | None
    step: int
    """LangGraph's step counter (``-1`` for the input checkpoint)."""
    source: str
    """``input``, ``loop``, ``update`` or ``fork``."""
    ts: datetime
    nodes: tuple[str, ...]
    """The node(s) whose writes produced this checkpoint, from the parent checkpoint's writes
    (``("__input__",)`` for input, the ``as_node`` for ``update_state``)."""
    values: Mapping[str, Any]
    """User-state channels (bookkeeping channels left out), each decoded when first read."""
    changed: tuple[str, ...]
    """User-state channels whose version moved since the parent checkpoint."""
    versions: Mapping[str, Any]
    """Every channel's version, bookkeeping included."""
    next: tuple[str, ...]
    """Nodes this checkpoint triggers (what runs next from it)."""
    writes: tuple[Write, ...] = ()
    """Pending writes stored against this checkpoint by the tasks that ran from it."""
    interrupts: tuple[Interrupt, ...] = ()
    resumes: tuple[Write, ...] = ()
    errors: tuple[TaskError, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    size: int = 0
    """Serialized bytes of the checkpoint (with the channel blobs it introduced) and metadata."""
    corrupt: str | None = None
    """Why this checkpoint could not be decoded; its values are then empty."""
    changes: tuple[ChannelChange, ...] = field(default=(), compare=False, repr=False)
    """How each channel in `changed` moved, from the stored bytes (nothing decoded)."""
    task_writes: int = field(default=0, compare=False, repr=False)
    """How many writes tasks stored against this checkpoint, counted even where `writes` keeps
    only interrupt, resume and error writes (scans): on a thread's last checkpoint, more than
    those means some pending task finished while others did not (a crash, not a pause)."""

    @property
    def pending_interrupts(self) -> tuple[Interrupt, ...]:
        """Interrupts of this checkpoint that no resume answered (or whose answering task failed:
        LangGraph still reports those as pending, and replays the stored answer on the next resume)."""
        if not self.interrupts:
            return ()
        answered = {w.task_id for w in self.resumes}
        for w in self.resumes:
            if isinstance(w.value, Mapping):
                answered.update(str(k) for k in w.value)
        failed = {e.task_id for e in self.errors}
        return tuple(
            i
            for i in self.interrupts
            if (i.id not in answered and i.task_id not in answered) or i.task_id in failed
        )

    def to_row(self) -> dict[str, Any]:
        """The flat form, a row of a table (`lgscope.forensics.frames`): counts, not contents."""
        return {
            "thread_id": self.thread_id,
            "checkpoint_ns": self.checkpoint_ns,
            "checkpoint_id": self.checkpoint_id,
            "parent_id": self.parent_id,
            "step": self.step,
            "source": self.source,
            "ts": self.ts,
            "nodes": self.nodes,
            "changed": self.changed,
            "next": self.next,
            "size_bytes": self.size,
            "interrupts": len(self.interrupts),
            "resumes": len(self.resumes),
            "errors": len(self.errors),
            "corrupt": self.corrupt is not None,
        }

    def to_dict(self, *, full: bool = False, now: datetime | None = None) -> dict[str, Any]:
        """The stable JSON form (``lgscope show --format json``); ``full`` adds the state, the
        metadata and every pending write (and which channels were rebuilt, not stored)."""
        pending = {i.id for i in self.pending_interrupts}
        out: dict[str, Any] = {
            "checkpoint_id": self.checkpoint_id,
            "parent_id": self.parent_id,
            "checkpoint_ns": self.checkpoint_ns,
            "step": self.step,
            "source": self.source,
            "ts": self.ts.isoformat(),
            "nodes": list(self.nodes),
            "changed": list(self.changed),
            "next": list(self.next),
            "size_bytes": self.size,
            "interrupts": [{**i.to_dict(now), "pending": i.id in pending} for i in self.interrupts],
            "pending_interrupts": sorted(pending),
            "resumes": [w.value for w in self.resumes],
            "errors": [e.to_dict() for e in self.errors],
            "corrupt": self.corrupt,
        }
        if full:
            out["values"] = dict(self.values)
            rebuilt = getattr(self.values, "rebuilt_how", None)  # a DeltaChannel's, from the store
            if rebuilt:
                out["rebuilt"] = dict(rebuilt)
            out["metadata"] = dict(self.metadata)
            out["writes"] = [
                {
                    "task_id": w.task_id,
                    "node": w.node,
                    "task_path": w.task_path,
                    "idx": w.idx,
                    "channel": w.channel,
                    "value": w.value,
                }
                for w in self.writes
            ]
        return out


@dataclass(frozen=True, slots=True)
class Thread:
    """A thread's summary: what an operator looks at first."""

    thread_id: str
    namespaces: tuple[str, ...]
    """``""`` first, then subgraph namespaces."""
    status: ThreadStatus
    checkpoints: int
    """Checkpoints in all namespaces."""
    created_at: datetime | None
    updated_at: datetime | None
    pending_interrupts: tuple[Interrupt, ...] = ()
    next: tuple[str, ...] = ()
    """Nodes the latest root checkpoint triggers."""
    size: int = 0
    """Serialized bytes of the whole history."""
    corrupt: int = 0
    """Checkpoints that could not be decoded: in a summary (`threads`, `load`), the latest of each
    namespace; in a scan's result, every one the scan read."""
    last_checkpoint_id: str | None = None
    """The latest checkpoint of the root namespace."""

    def to_row(self, now: datetime) -> dict[str, Any]:
        """The flat form, a row of a table (`lgscope.forensics.frames`): counts, not contents."""
        return {
            "thread_id": self.thread_id,
            "status": self.status.value,
            "checkpoints": self.checkpoints,
            "namespaces": len(self.namespaces),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "size_bytes": self.size,
            "pending_interrupts": len(self.pending_interrupts),
            "oldest_pending_age_s": max(
                (i.age(now).total_seconds() for i in self.pending_interrupts), default=None
            ),
            "next": self.next,
        }

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """The stable JSON form (``lgscope threads --format json``)."""
        now = now or datetime.now(UTC)
        return {
            "thread_id": self.thread_id,
            "status": self.status.value,
            "checkpoints": self.checkpoints,
            "namespaces": list(self.namespaces),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "last_checkpoint_id": self.last_checkpoint_id,
            "next": list(self.next),
            "size_bytes": self.size,
            "corrupt_checkpoints": self.corrupt,
            "pending_interrupts": [i.to_dict(now) for i in self.pending_interrupts],
        }


@dataclass(frozen=True, slots=True)
class ThreadHistory:
    """A thread and all its steps, namespace by namespace (oldest first in each)."""

    thread: Thread
    steps: Mapping[str, Sequence[Step]]
    """Each namespace's steps, oldest first. From a store they are read as they are iterated
    (`lgscope.store.StoredSteps`): iterate them rather than hold them."""

    def all_steps(self) -> Iterator[Step]:
        """Every step, root namespace first, one at a time."""
        return (s for ns in self.thread.namespaces for s in self.steps.get(ns, ()))


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a forensics detector found in a thread."""

    kind: str
    """``loop``, ``oscillation``, ``no_progress``, ``stuck_interrupt``, ``error``, ``growth``."""
    thread_id: str
    checkpoint_ns: str
    first_checkpoint_id: str
    """The first checkpoint of the evidence."""
    last_checkpoint_id: str
    """The last checkpoint of the evidence."""
    severity: Severity
    summary: str
    """One line a person can act on."""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    """Structured, JSON-safe detail (the cycle, the values, the ages …)."""

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (``lgscope scan --format json``)."""
        return {
            "kind": self.kind,
            "thread_id": self.thread_id,
            "checkpoint_ns": self.checkpoint_ns,
            "first_checkpoint_id": self.first_checkpoint_id,
            "last_checkpoint_id": self.last_checkpoint_id,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": dict(self.evidence),
        }


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None
