"""The read-only `Store` every backend implements."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import overload

from lgscope._exceptions import CheckpointNotFound, ThreadNotFound
from lgscope.model import Step, Thread, ThreadHistory
from lgscope.store._raw import (
    RawCheckpoint,
    build_steps,
    build_thread,
    iter_steps,
    ts_from_checkpoint_id,
)
from lgscope.store._values import ValueCache

__all__ = ["NamespaceTip", "Store", "StoredSteps", "ThreadIndexEntry"]


@dataclass(frozen=True, slots=True)
class ThreadIndexEntry:
    """What a backend knows about a thread without decoding it."""

    thread_id: str
    namespaces: tuple[str, ...]
    checkpoints: int
    size: int
    last_checkpoint_id: str
    first_checkpoint_id: str

    @property
    def updated_at(self) -> datetime | None:
        return ts_from_checkpoint_id(self.last_checkpoint_id)


@dataclass(frozen=True, slots=True)
class NamespaceTip:
    """Where one namespace of a thread stands, from the primary-key indexes alone (no row read).

    Two tips that are equal mean nothing was added to, or deleted from, that namespace in
    between: a new checkpoint moves `last_checkpoint_id`, a pruned one changes `checkpoints`,
    a pending write stored against the latest checkpoint (an interrupt, a resume, an error)
    changes `writes`.
    """

    thread_id: str
    checkpoint_ns: str
    last_checkpoint_id: str
    checkpoints: int
    writes: int
    """Pending writes stored against the latest checkpoint."""


class Store(ABC):
    """A read-only view of a LangGraph checkpoint store.

    Open one with `lgscope.store.open_store`. Nothing here writes to the underlying store.
    Use as a context manager, or call `close()`.
    """

    kind: str = "store"
    """``sqlite``, ``postgres``, ``saver`` or ``export``."""

    def __init__(self, url: str) -> None:
        self.url = url
        """Where the store is, for people (passwords removed)."""

    # -- what a backend provides -------------------------------------------------------

    @abstractmethod
    def _index(self) -> Iterator[ThreadIndexEntry]:
        """Every thread, cheaply: no blob decoding."""

    @abstractmethod
    def _raw_thread(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        """Every checkpoint of a thread by namespace, oldest first; empty if unknown."""

    def _raw_latest(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        """The latest checkpoint of each namespace (backends override to read less)."""
        return {ns: raws[-1:] for ns, raws in self._raw_thread(thread_id).items() if raws}

    def _iter_raw(self, thread_id: str, ns: str, *, control_only: bool) -> Iterator[RawCheckpoint]:
        """One namespace's checkpoints with their writes, oldest first (backends override to
        stream; ``control_only``: only control writes need their values)."""
        yield from self._raw_thread(thread_id).get(ns, ())

    def _raw_one(self, thread_id: str, ns: str, checkpoint_id: str) -> RawCheckpoint | None:
        """One checkpoint with its writes (backends override to read just it)."""
        for raw in self._iter_raw(thread_id, ns, control_only=False):
            if raw.checkpoint_id == checkpoint_id:
                return raw
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def tips(self, thread_id: str | None = None) -> Iterator[NamespaceTip] | None:
        """Every namespace's tip (of one thread, if given), ordered by thread id then namespace,
        read from the indexes alone (what incremental scans and `tail` poll); None where a
        backend cannot."""
        return None

    def data_version(self) -> object | None:
        """A token that changes whenever another connection may have committed to the store, so a
        poll can skip the index query while it stays the same; None where a backend cannot tell."""
        return None

    def identity(self) -> str | None:
        """Something that changes when the store at `url` is replaced by another one (a new
        file, a recreated table); None where a backend cannot tell."""
        return None

    # -- the public API ----------------------------------------------------------------

    def index(self, *, since: datetime | None = None) -> list[ThreadIndexEntry]:
        """Every thread with its counts, without decoding (``since`` filters by last update)."""
        entries = list(self._index())
        if since is not None:
            entries = [e for e in entries if (e.updated_at is None or e.updated_at >= since)]
        return sorted(entries, key=lambda e: e.thread_id)

    def thread_ids(self, *, since: datetime | None = None) -> list[str]:
        """Ids of every thread (updated since ``since``), sorted."""
        return [e.thread_id for e in self.index(since=since)]

    def threads(self, *, since: datetime | None = None) -> Iterator[Thread]:
        """A summary of every thread, decoding only each namespace's latest checkpoint."""
        for entry in self.index(since=since):
            yield self._summarize(entry)

    def thread(self, thread_id: str) -> Thread:
        """One thread's summary; `ThreadNotFound` if the store has no such thread."""
        for entry in self._index_for(thread_id):
            return self._summarize(entry)
        raise self._not_found(thread_id)

    def load(self, thread_id: str, *, control_only: bool = False) -> ThreadHistory:
        """A whole thread, every namespace; `ThreadNotFound` if unknown.

        Its steps are read from the store each time they are iterated, one at a time, so
        holding a history costs nothing however long the thread is. ``control_only``: each
        step's writes are only its interrupt, resume and error writes (what detectors need).
        """
        entry = self._entry(thread_id)
        thread = self._summarize(entry)
        return ThreadHistory(
            thread=thread,
            steps={
                ns: StoredSteps(self, thread_id, ns, count, control_only=control_only)
                for ns, count in self._ns_counts(entry).items()
            },
        )

    def history(self, thread_id: str, ns: str = "") -> tuple[Step, ...]:
        """One namespace of a thread, oldest first, all at once (stream long ones with `steps`)."""
        return tuple(self.steps(thread_id, ns))

    def steps(self, thread_id: str, ns: str = "", *, control_only: bool = False) -> StoredSteps:
        """One namespace's steps, oldest first, read from the store as they are iterated: memory
        stays flat however long the thread. Each step's values are decoded when read."""
        entry = self._entry(thread_id)
        counts = self._ns_counts(entry)
        if ns not in counts:
            known = ", ".join(repr(n) for n in entry.namespaces) or "none"
            raise ThreadNotFound(f"Thread {thread_id!r} has no namespace {ns!r}; its namespaces are {known}.")
        return StoredSteps(self, thread_id, ns, counts[ns], control_only=control_only)

    def _stream(self, thread_id: str, ns: str, control_only: bool) -> Iterator[Step]:
        return iter_steps(
            self._iter_raw(thread_id, ns, control_only=control_only),
            control_writes_only=control_only,
            cache=ValueCache(),
            lookup=lambda cid: self._raw_one(thread_id, ns, cid),
        )

    def _entry(self, thread_id: str) -> ThreadIndexEntry:
        for entry in self._index_for(thread_id):
            return entry
        raise self._not_found(thread_id)

    def _ns_counts(self, entry: ThreadIndexEntry) -> dict[str, int]:
        """Checkpoints per namespace of a thread (backends override to count without reading)."""
        return {
            ns: sum(1 for _ in self._iter_raw(entry.thread_id, ns, control_only=True))
            for ns in entry.namespaces
        }

    def step(self, thread_id: str, checkpoint_id: str, ns: str | None = None) -> Step:
        """One checkpoint (searched in every namespace unless ``ns`` is given)."""
        namespaces = self._entry(thread_id).namespaces if ns is None else (ns,)
        for namespace in namespaces:
            raw = self._raw_one(thread_id, namespace, checkpoint_id)
            if raw is not None:
                return self._full_step(raw)
        raise CheckpointNotFound(
            f"Thread {thread_id!r} has no checkpoint {checkpoint_id!r}; "
            f"list them with: lgscope show STORE --thread {thread_id}."
        )

    def _full_step(self, raw: RawCheckpoint) -> Step:
        parent = self._raw_one(raw.thread_id, raw.checkpoint_ns, raw.parent_id) if raw.parent_id else None
        chain = [parent, raw] if parent is not None else [raw]
        return list(
            iter_steps(chain, lookup=lambda cid: self._raw_one(raw.thread_id, raw.checkpoint_ns, cid))
        )[-1]

    pages_cheaply: bool = False
    """Whether `timeline` with ``offset``/``limit`` reads only that page (else: the whole
    timeline is read and sliced, and a browser should read it once)."""

    def timeline(
        self, thread_id: str, ns: str = "", *, offset: int = 0, limit: int | None = None
    ) -> tuple[Step, ...]:
        """One namespace's steps for browsing, cheaply: ``values`` and ``versions`` may be empty
        (backends that can skip decoding state do); nodes, interrupts, resumes and errors are
        there. ``offset``/``limit`` select a page of it (oldest first). Load a step in full
        with `step_at`."""
        steps = self.steps(thread_id, ns, control_only=True)
        return steps[offset:] if limit is None else steps[offset : offset + limit]

    def timeline_size(self, thread_id: str, ns: str = "") -> int:
        """How many checkpoints one namespace of a thread has."""
        return len(self.steps(thread_id, ns))

    def timeline_index(self, thread_id: str, checkpoint_id: str, ns: str = "") -> int | None:
        """A checkpoint's position in its namespace's timeline, or None if it is not there."""
        for index, raw in enumerate(self._iter_raw(thread_id, ns, control_only=True)):
            if raw.checkpoint_id == checkpoint_id:
                return index
        return None

    def step_at(self, thread_id: str, checkpoint_id: str, ns: str = "") -> Step:
        """One step in full (its parent is read too, for nodes and changed channels)."""
        return self.step(thread_id, checkpoint_id, ns)

    def scan(
        self,
        *,
        since: datetime | None = None,
        thread_ids: Iterable[str] | None = None,
        state_writes: bool = True,
    ) -> Iterator[ThreadHistory]:
        """Stream whole threads one at a time, so memory stays bounded by the largest thread.

        ``state_writes=False`` keeps only each step's interrupt, resume and error writes (what
        a scan needs): the values other writes wrote are in the next checkpoint anyway.
        """
        ids: Sequence[str] = list(thread_ids) if thread_ids is not None else self.thread_ids(since=since)
        for tid in ids:
            try:
                yield self.load(tid, control_only=not state_writes)
            except ThreadNotFound:
                continue  # deleted since the ids were listed

    def scan_chunk(self, thread_ids: Sequence[str], *, state_writes: bool = True) -> Iterator[ThreadHistory]:
        """Like `scan` over a run of consecutive ids of `thread_ids()` (backends read it in bulk)."""
        return self.scan(thread_ids=thread_ids, state_writes=state_writes)

    def _bulk_resuming(
        self, read: Callable[[str | None], Iterator[ThreadHistory | str]], state_writes: bool
    ) -> Iterator[ThreadHistory]:
        """Threads read in bulk by ``read(after)``. A thread it hands back by id instead (too large
        to read in bulk) is streamed on its own (`load`), and the bulk read resumes after it, so
        memory stays bounded."""
        after: str | None = None
        while True:
            large: str | None = None
            for item in read(after):
                if isinstance(item, str):
                    large = item
                    break
                yield item
            if large is None:
                return
            try:
                yield self.load(large, control_only=not state_writes)
            except ThreadNotFound:
                pass  # deleted since
            after = large

    def reopener(self) -> Callable[[], Store] | None:
        """A picklable way to open this store again in another process (None: it cannot be)."""
        return None

    def raw_thread(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        """The undecoded view of a thread (for exporters); `ThreadNotFound` if unknown."""
        raws = self._raw_thread(thread_id)
        if not raws:
            raise self._not_found(thread_id)
        return raws

    def iter_raw(self, thread_id: str, ns: str = "") -> Iterator[RawCheckpoint]:
        """One namespace's checkpoints undecoded, with their writes, oldest first, streamed: the
        stored bytes as they are (for exports and forks)."""
        return self._iter_raw(thread_id, ns, control_only=False)

    def raw_checkpoint(self, thread_id: str, checkpoint_id: str, ns: str = "") -> RawCheckpoint | None:
        """One checkpoint undecoded, with its writes (None if it is not there)."""
        return self._raw_one(thread_id, ns, checkpoint_id)

    # -- helpers -----------------------------------------------------------------------

    def _index_for(self, thread_id: str) -> Iterator[ThreadIndexEntry]:
        return (e for e in self._index() if e.thread_id == thread_id)

    def _summarize(self, entry: ThreadIndexEntry) -> Thread:
        latest = self._raw_latest(entry.thread_id)
        last_by_ns = {ns: build_steps(raws)[-1] for ns, raws in latest.items() if raws}
        return build_thread(
            entry.thread_id,
            last_by_ns,
            checkpoints=entry.checkpoints,
            size=entry.size,
            created_at=ts_from_checkpoint_id(entry.first_checkpoint_id),
            corrupt=sum(1 for s in last_by_ns.values() if s.corrupt),
        )

    def _not_found(self, thread_id: str) -> ThreadNotFound:
        return ThreadNotFound(
            f"The store {self.url} has no thread {thread_id!r}; list its threads with: "
            f"lgscope threads {self.url}."
        )

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


class StoredSteps(Sequence[Step]):
    """One namespace's steps as a sequence that reads the store each time it is iterated.

    Iterating streams (memory flat in the thread's length); ``len`` is known without reading;
    indexing reads up to the step asked for.
    """

    __slots__ = ("_control_only", "_count", "_ns", "_store", "_thread_id")

    def __init__(
        self, store: Store, thread_id: str, ns: str, count: int, *, control_only: bool = False
    ) -> None:
        self._store, self._thread_id, self._ns = store, thread_id, ns
        self._count, self._control_only = count, control_only

    def __iter__(self) -> Iterator[Step]:
        return self._store._stream(self._thread_id, self._ns, self._control_only)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Step: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Step, ...]: ...

    def __getitem__(self, index: int | slice) -> Step | tuple[Step, ...]:
        if isinstance(index, slice):
            start, stop, stride = index.indices(self._count)
            return tuple(itertools.islice(iter(self), start, stop, stride))
        position = index + self._count if index < 0 else index
        if not 0 <= position < self._count:
            raise IndexError(index)
        for step in itertools.islice(iter(self), position, None):
            return step
        raise IndexError(index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredSteps | tuple | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<StoredSteps {self._thread_id!r} ns={self._ns!r}: {self._count} steps>"
