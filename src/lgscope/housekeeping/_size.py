"""What fills a store: stored bytes by channel, thread, producing node, namespace and day.

Nothing is decoded. SQLite keeps a checkpoint's whole state inline, so each checkpoint's blob
is cut into per-channel byte counts (`lgscope.store._msgpack.split_checkpoint`, the C
unpacker's skip); Postgres keeps each channel version once in ``checkpoint_blobs``, so a blob
counts once, for the first checkpoint that references it (its producing node and its day).
Each breakdown sums to ``total_bytes``:

- channel: each channel's stored values and pending writes; the checkpoint frame (versions,
  ids) and metadata as ``(frame+metadata)``;
- node: a checkpoint (with the blobs it introduces) belongs to the node(s) whose writes made it
  (its parent's writes' ``task_path``; ``__input__`` for an input, ``__update__``, ``__fork__``);
  a write belongs to the node of its own task;
- namespace: subgraph namespaces grouped by their node path (task ids dropped);
- day: a checkpoint's day from its uuid6 id; a write goes with its checkpoint.

The latest checkpoint of each namespace is the thread's state; the rest is history. The
``would_free`` estimates count the root graph's checkpoints a policy drops, their writes, and
(Postgres) the blobs only they reference; a prune keeps a little more (what kept checkpoints
need), so the plan is exact and these are upper bounds.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import os
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lgscope.housekeeping._db import Rows, SizeRow, rows_for
from lgscope.housekeeping._plan import Policy
from lgscope.housekeeping._postgres import PostgresRows
from lgscope.model import node_from_task_path
from lgscope.store._raw import ts_from_checkpoint_id

__all__ = ["SizeEntry", "SizeReport", "WouldFree", "size"]

FRAME = "(frame+metadata)"
UNKNOWN = "(unknown)"
_CACHE = 4096
DEFAULT_POLICIES = (
    Policy(keep_last=1),
    Policy(keep_last=10),
    Policy(older_than=timedelta(days=7)),
    Policy(older_than=timedelta(days=30)),
)


@dataclass(frozen=True, slots=True)
class SizeEntry:
    """Bytes attributed to one name (a channel, thread, node, namespace or day)."""

    name: str
    bytes: int
    checkpoints: int = 0
    """Checkpoints counted under the name (0 for channels, whose bytes span checkpoints)."""


@dataclass(frozen=True, slots=True)
class WouldFree:
    """What a retention policy would free (an upper bound: see the module docs)."""

    policy: str
    checkpoints: int
    bytes: int


@dataclass(frozen=True, slots=True)
class SizeReport:
    """A store's stored bytes, broken down; every breakdown sums to ``total_bytes``."""

    store: str
    kind: str
    total_bytes: int
    checkpoints: int
    writes: int
    threads: int
    latest_bytes: int
    """The latest checkpoint of every namespace of every thread: the state."""
    history_bytes: int
    by_channel: tuple[SizeEntry, ...]
    by_thread: tuple[SizeEntry, ...]
    """The largest threads (``top`` of them), largest first."""
    by_node: tuple[SizeEntry, ...]
    by_namespace: tuple[SizeEntry, ...]
    by_day: tuple[SizeEntry, ...]
    """Oldest day first."""
    would_free: tuple[WouldFree, ...]
    floor_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``lgscope size --format json`` prints)."""

        def entries(items: Sequence[SizeEntry], key: str) -> list[dict[str, Any]]:
            return [{key: e.name, "bytes": e.bytes, "checkpoints": e.checkpoints} for e in items]

        return {
            "store": self.store,
            "kind": self.kind,
            "total_bytes": self.total_bytes,
            "checkpoints": self.checkpoints,
            "writes": self.writes,
            "threads": self.threads,
            "latest_bytes": self.latest_bytes,
            "history_bytes": self.history_bytes,
            "by_channel": [{"channel": e.name, "bytes": e.bytes} for e in self.by_channel],
            "by_thread": entries(self.by_thread, "thread_id"),
            "by_node": entries(self.by_node, "node"),
            "by_namespace": entries(self.by_namespace, "namespace"),
            "by_day": entries(self.by_day, "day"),
            "would_free": [
                {"policy": w.policy, "checkpoints": w.checkpoints, "bytes": w.bytes} for w in self.would_free
            ],
        }


class _Tally:
    """Bytes (and checkpoints) by name."""

    def __init__(self) -> None:
        self.bytes: dict[str, int] = {}
        self.count: dict[str, int] = {}

    def add(self, name: str, n: int, checkpoints: int = 0) -> None:
        b = self.bytes
        b[name] = b.get(name, 0) + n
        if checkpoints:
            self.count[name] = self.count.get(name, 0) + checkpoints

    def entries(self, *, by_name: bool = False) -> tuple[SizeEntry, ...]:
        items = [SizeEntry(k, v, self.count.get(k, 0)) for k, v in self.bytes.items()]
        items.sort(key=(lambda e: e.name) if by_name else (lambda e: (-e.bytes, e.name)))
        return tuple(items)


def _namespace_group(ns: str) -> str:
    if ns == "":
        return "(root)"
    return "|".join(part.split(":", 1)[0] for part in ns.split("|"))


@functools.lru_cache(maxsize=4096)
def _node_of_write(task_path: str | None) -> str:
    if not task_path:
        return UNKNOWN
    node = node_from_task_path(task_path)
    if node:
        return node
    if task_path.startswith("~__pregel_push"):
        return "(send)"
    return UNKNOWN


@functools.lru_cache(maxsize=1024)
def _day_of(ordinal: int) -> str:
    return datetime.fromordinal(ordinal).date().isoformat()


class _Thread:
    """One thread's accumulation while its rows stream by."""

    def __init__(self, thread_id: str, blobs: dict[tuple[str, str, str], int]) -> None:
        self.thread_id = thread_id
        self.bytes = 0
        self.checkpoints = 0
        self.write_bytes = 0  # its checkpoints' own writes (the rest of its writes belong to none left)
        self.blobs = blobs  # Postgres: blob sizes by (ns, channel, version)
        self.counted: set[tuple[str, str, str]] = set()  # those attributed to a checkpoint already
        # the root graph, for the policy estimates: bytes and time per checkpoint, oldest first
        self.root_bytes = array("q")
        self.root_time = array("d")
        self.blob_last: dict[tuple[str, str], int] = {}  # root blob → last checkpoint index referencing it
        self.blob_size: dict[tuple[str, str], int] = {}


def size(
    store: str | os.PathLike[str],
    *,
    top: int | None = 20,
    policies: Sequence[Policy] = DEFAULT_POLICIES,
    now: datetime | None = None,
    floor: bool = False,
) -> SizeReport:
    """What fills a SQLite or Postgres checkpoint store, from stored byte lengths (read-only).

    ``top`` bounds the ``by_thread`` list (None: every thread). ``floor`` also measures a plain
    ``SELECT sum(length(...))`` over the same columns (the benchmark's baseline).
    """
    rows = rows_for(store)
    try:
        with rows.snapshot():
            return _size(rows, top, policies, now or datetime.now(UTC), floor)
    finally:
        rows.close()


def _size(rows: Rows, top: int | None, policies: Sequence[Policy], now: datetime, floor: bool) -> SizeReport:
    channel, node, nspace, day = _Tally(), _Tally(), _Tally(), _Tally()
    # writes: summed by SQL; each checkpoint's own are also on its row (for its day and the estimates)
    totals = rows.write_totals()
    for ch, n in totals.by_channel:
        channel.add(ch, n)
    for path, n in totals.by_path:
        node.add(_node_of_write(path), n)
    for ns, n in totals.by_ns:
        nspace.add(_namespace_group(ns), n)
    unplaced_writes = sum(n for _ch, n in totals.by_channel)
    largest: list[tuple[int, str, int]] = []
    all_threads: list[SizeEntry] = []
    total = checkpoints = threads = latest = 0
    freed = [[0, 0] for _ in policies]
    cutoffs = [
        (p.keep_last, (now - p.older_than).timestamp() if p.older_than is not None else None)
        for p in policies
    ]
    postgres = isinstance(rows, PostgresRows)
    # ordered streams merged by thread id (Postgres orders them bytewise, as Python does)
    write_threads = rows.write_threads()
    pending_writes = next(write_threads, None)
    blob_groups = itertools.groupby(rows.blob_sizes(), key=lambda b: b[0])
    pending_blobs = next(blob_groups, None)
    for tid, group in itertools.groupby(rows.size_rows(), key=lambda r: r.thread_id):
        thread_writes = 0
        while pending_writes is not None and pending_writes[0] <= tid:
            if pending_writes[0] == tid:
                thread_writes = int(pending_writes[1])
            else:
                total += int(pending_writes[1])  # writes of a thread with no checkpoint left
            pending_writes = next(write_threads, None)
        blobs: dict[tuple[str, str, str], int] = {}
        while pending_blobs is not None and pending_blobs[0] < tid:
            pending_blobs = next(blob_groups, None)
        if pending_blobs is not None and pending_blobs[0] == tid:
            blobs = {(b[1], b[2], str(b[3])): int(b[4]) for b in pending_blobs[1]}
            pending_blobs = next(blob_groups, None)
        t = _Thread(tid, blobs)
        latest += _thread(t, group, postgres, channel, node, nspace, day)
        unplaced_writes -= t.write_bytes
        t.bytes += thread_writes
        threads += 1
        total += t.bytes
        checkpoints += t.checkpoints
        _estimate(t, cutoffs, freed)
        if top is None:
            all_threads.append(SizeEntry(tid, t.bytes, t.checkpoints))
        elif len(largest) < top:
            heapq.heappush(largest, (t.bytes, tid, t.checkpoints))
        elif top and (t.bytes, tid) > largest[0][:2]:
            heapq.heapreplace(largest, (t.bytes, tid, t.checkpoints))
    while pending_writes is not None:
        total += int(pending_writes[1])
        pending_writes = next(write_threads, None)
    if unplaced_writes:
        day.add(UNKNOWN, unplaced_writes)  # writes of checkpoints that are gone
    by_thread = (
        tuple(sorted(all_threads, key=lambda e: (-e.bytes, e.name)))
        if top is None
        else tuple(SizeEntry(tid, b, n) for b, tid, n in sorted(largest, key=lambda x: (-x[0], x[1])))
    )
    return SizeReport(
        store=rows.where,
        kind=rows.kind,
        total_bytes=total,
        checkpoints=checkpoints,
        writes=totals.count,
        threads=threads,
        latest_bytes=latest,
        history_bytes=total - latest,
        by_channel=channel.entries(),
        by_thread=by_thread,
        by_node=node.entries(),
        by_namespace=nspace.entries(),
        by_day=day.entries(by_name=True),
        would_free=tuple(WouldFree(p.describe(), c, b) for p, (c, b) in zip(policies, freed, strict=True)),
        floor_bytes=rows.floor() if floor else None,
    )


def _thread(
    t: _Thread,
    group: Iterator[SizeRow],
    postgres: bool,
    channel: _Tally,
    node: _Tally,
    nspace: _Tally,
    day: _Tally,
) -> int:
    """Attribute one thread's checkpoints (and blobs); returns its latest-state bytes."""
    latest_bytes = 0
    for ns, rows in itertools.groupby(group, key=lambda r: r.ns):
        versions_of: dict[str, dict[str, str]] = {}
        group_name = _namespace_group(ns)
        last: SizeRow | None = None
        last_bytes = 0
        for row in rows:
            t.checkpoints += 1
            ts = ts_from_checkpoint_id(row.checkpoint_id)
            when = _day_of(ts.toordinal()) if ts is not None else UNKNOWN
            own = row.row_bytes
            frame = row.row_bytes
            inline = row.channels
            held = sum(inline.values())
            if held > frame:  # Postgres: a compressed checkpoint column is smaller than its parts
                inline = {ch: n * frame // held for ch, n in inline.items()}
            for ch, n in inline.items():
                channel.add(ch, n)
                frame -= n
            if postgres:
                parent_versions = versions_of.get(row.parent_id or "", {})
                for ch, ver in row.versions.items():
                    key = (ns, ch, ver)
                    if parent_versions.get(ch) != ver and key in t.blobs and key not in t.counted:
                        n = t.blobs[key]
                        t.counted.add(key)
                        channel.add(ch, n)
                        own += n
                        if ns == "":
                            t.blob_size[(ch, ver)] = n
                    if ns == "":
                        t.blob_last[(ch, ver)] = len(t.root_bytes)
                versions_of[row.checkpoint_id] = row.versions
                if len(versions_of) > _CACHE:
                    del versions_of[next(iter(versions_of))]
            channel.add(FRAME, frame)
            node.add(_producer(row), own, 1)
            day.add(when, own + row.write_bytes, 1)
            nspace.add(group_name, own, 1)
            t.bytes += own
            t.write_bytes += row.write_bytes
            if ns == "":
                t.root_bytes.append(row.row_bytes + row.write_bytes)
                t.root_time.append(ts.timestamp() if ts is not None else float("inf"))
            last, last_bytes = row, own
        if last is not None:
            # the state: the namespace's last checkpoint, with every blob it references
            if postgres:
                last_bytes = last.row_bytes + sum(
                    t.blobs.get((ns, ch, v), 0) for ch, v in last.versions.items()
                )
            latest_bytes += last_bytes
    # blobs no checkpoint references (Postgres)
    for key, n in t.blobs.items():
        if key in t.counted:
            continue
        channel.add(key[1], n)
        node.add(UNKNOWN, n)
        day.add(UNKNOWN, n)
        nspace.add(_namespace_group(key[0]), n)
        t.bytes += n
    return latest_bytes


@functools.lru_cache(maxsize=4096)
def _made_by(paths: str) -> str:
    names = sorted({_node_of_write(path) for path in paths.split("\x1e") if path})
    return ", ".join(names) or UNKNOWN


def _producer(row: SizeRow) -> str:
    if row.source == "input" or row.parent_id is None:
        return "__input__"
    if row.source in ("update", "fork"):
        return f"__{row.source}__"
    return _made_by(row.made_by) if row.made_by else UNKNOWN


def _estimate(t: _Thread, cutoffs: list[tuple[int | None, float | None]], freed: list[list[int]]) -> None:
    n = len(t.root_bytes)
    for i, (keep_last, cutoff) in enumerate(cutoffs):
        if keep_last is not None:
            gone = max(n - keep_last, 0)
        else:
            assert cutoff is not None
            gone = 0
            while gone < n - 1 and t.root_time[gone] < cutoff:
                gone += 1
        if gone == 0:
            continue
        freed[i][0] += gone
        freed[i][1] += sum(t.root_bytes[:gone])
        for key, size_ in t.blob_size.items():
            if t.blob_last.get(key, n) < gone:
                freed[i][1] += size_
