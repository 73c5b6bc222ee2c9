"""The SQLite backend: the file written by `langgraph-checkpoint-sqlite`, opened read-only."""

from __future__ import annotations

import functools
import itertools
import os
import sqlite3
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lgscope._exceptions import (
    CheckpointNotFound,
    DecodeError,
    NotACheckpointStore,
    StoreNotFound,
)
from lgscope.model import Step, ThreadHistory
from lgscope.store._base import NamespaceTip, Store, ThreadIndexEntry
from lgscope.store._msgpack import split_checkpoint
from lgscope.store._raw import CONTROL_SQL, RawCheckpoint, RawWrite, build_history, build_steps, tips_sql
from lgscope.store.decode import MAX_DEPTH, Decoder, fast_json, json_depth

__all__ = ["SqliteStore"]

_BULK_BYTES = 16 * 1024 * 1024
"""Stored bytes past which a thread is streamed on its own instead of read in bulk."""

_CHECKPOINT_COLUMNS = {
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "type",
    "checkpoint",
    "metadata",
}
_WRITES_COLUMNS = {
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "task_id",
    "idx",
    "channel",
    "type",
    "value",
}


def _decode_metadata(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, str | bytes):
        raise DecodeError(f"The checkpoint metadata is a stored {type(raw).__name__}, not JSON text.")
    if json_depth(raw) > MAX_DEPTH:
        raise DecodeError(
            f"The checkpoint metadata nests deeper than {MAX_DEPTH} levels (hostile or corrupt)."
        )
    try:
        value = fast_json(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(f"The checkpoint metadata is not valid JSON ({exc}).") from exc
    return value if isinstance(value, dict) else {"value": value}


def _why_not_immutable(path: Path) -> str | None:
    """None when nothing can write ``path`` (a read-only file system, or no write permission for
    anyone on the file and its directory) and no write-ahead log or rollback journal holds data
    the file lacks (or a write to undo); else
    why reading it as immutable could show a state that is not the store's."""
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return f"its write-ahead log {wal.name} holds changes that are not in the file yet"
    journal = path.with_name(path.name + "-journal")
    if journal.exists() and journal.stat().st_size > 0:
        return f"its rollback journal {journal.name} holds a write that stopped half-way (it must be rolled back)"
    read_only_fs = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    no_writers = not (path.stat().st_mode & 0o222 or path.parent.stat().st_mode & 0o222)
    if read_only_fs or no_writers:
        return None
    return "the directory or the file can still be written, so lgscope will not read it as unchanging"


TIPS_SQL = tips_sql("writes")
_THREAD_TIPS_SQL = tips_sql("writes", "?")


class SqliteStore(Store):
    """A SQLite checkpoint file, opened with ``mode=ro``: lgscope never writes to it."""

    kind = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(str(self.path))
        if not self.path.exists():
            raise StoreNotFound(
                f"There is no file at {self.path}; check the path (a SQLite store is the file "
                "your SqliteSaver was given)."
            )
        if self.path.is_dir():
            raise NotACheckpointStore(f"{self.path} is a directory; give the SQLite file itself.")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            tables = self._open(uri)
        except sqlite3.OperationalError as exc:
            # A WAL store on read-only media: SQLite cannot make the -shm it reads through. When
            # nothing can write the file, reading it as immutable is exact; otherwise, say why.
            why = _why_not_immutable(self.path)
            if why is not None:
                raise NotACheckpointStore(
                    f"{self.path} cannot be opened read-only ({exc}): {why}. Copy it (with its -wal or "
                    "-journal file) to a writable directory and read the copy."
                ) from None
            try:
                tables = self._open(uri + "&immutable=1")
            except sqlite3.DatabaseError as again:
                raise NotACheckpointStore(
                    f"{self.path} is not a SQLite database ({again}); give the file your SqliteSaver writes."
                ) from None
        except sqlite3.DatabaseError as exc:
            raise NotACheckpointStore(
                f"{self.path} is not a SQLite database ({exc}); give the file your SqliteSaver writes."
            ) from exc
        missing = []
        if not _CHECKPOINT_COLUMNS <= tables.get("checkpoints", set()):
            missing.append("checkpoints")
        if not _WRITES_COLUMNS <= tables.get("writes", set()):
            missing.append("writes")
        if missing:
            self._conn.close()
            raise NotACheckpointStore(
                f"{self.path} is a SQLite database but not a LangGraph checkpoint store "
                f"(no usable {' and '.join(missing)} table); give the file your SqliteSaver writes."
            )
        self._task_path = "task_path" if "task_path" in tables["writes"] else "''"
        # a thread id stored as a BLOB is not a LangGraph row: one sentence now, not a failure later
        # (the primary key's index answers this without reading a row)
        odd = self._conn.execute(
            "SELECT thread_id FROM checkpoints WHERE typeof(thread_id) != 'text' LIMIT 1"
        ).fetchone()
        if odd is not None:
            self._conn.close()
            raise NotACheckpointStore(
                f"{self.path} holds a thread id stored as {type(odd[0]).__name__} ({odd[0]!r}), which LangGraph "
                "never writes; the file was written by another program. Fix or remove those rows "
                "(SELECT * FROM checkpoints WHERE typeof(thread_id) != 'text')."
            )

    def _open(self, uri: str) -> dict[str, set[str]]:
        """Connect read-only; the tables and their columns."""
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        try:
            self._conn.execute("PRAGMA query_only = ON")
            return {
                # a table name is data: bound, never spliced into the SQL
                name: {row[0] for row in self._conn.execute("SELECT name FROM pragma_table_info(?)", (name,))}
                for (name,) in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.Error:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    def _index(self) -> Iterator[ThreadIndexEntry]:
        rows = self._conn.execute(
            "SELECT thread_id, checkpoint_ns, count(*), "
            "coalesce(sum(length(checkpoint)), 0) + coalesce(sum(length(metadata)), 0), "
            "min(checkpoint_id), max(checkpoint_id) "
            "FROM checkpoints GROUP BY thread_id, checkpoint_ns ORDER BY thread_id, checkpoint_ns"
        )
        current: str | None = None
        acc: dict[str, Any] = {}
        for thread_id, ns, count, size, first, last in rows:
            if thread_id != current:
                if current is not None:
                    yield _entry(current, acc)
                current, acc = (
                    thread_id,
                    {"ns": [], "count": 0, "size": 0, "first": first, "last": last},
                )
            acc["ns"].append(ns)
            acc["count"] += count
            acc["size"] += size
            acc["first"] = min(acc["first"], first)
            if ns == "":
                acc["last"] = last
        if current is not None:
            yield _entry(current, acc)

    def tips(self, thread_id: str | None = None) -> Iterator[NamespaceTip]:
        # both primary keys' indexes alone: the grouping walks the checkpoints index in order,
        # the writes of each latest checkpoint are one seek into the writes index
        if thread_id is None:
            rows = self._conn.execute(TIPS_SQL)
        else:
            rows = self._conn.execute(_THREAD_TIPS_SQL, (thread_id,))
        # sorted here rather than by SQL (no temporary b-tree); Python's order either way
        for thread_id, ns, last, n, writes in sorted(rows):
            yield NamespaceTip(thread_id, ns, last, n, writes)

    def data_version(self) -> object:
        # SQLite bumps it on every commit by another connection (and lgscope's never writes)
        (version,) = self._conn.execute("PRAGMA data_version").fetchone()
        return version

    def identity(self) -> str:
        st = os.stat(self.path)
        return f"sqlite:{self.path.resolve()}:{st.st_dev}:{st.st_ino}"

    def thread_ids(self, *, since: datetime | None = None) -> list[str]:
        if since is not None:
            return super().thread_ids(since=since)
        # the primary key's index alone, no row is read (SQLite's BINARY order is code-point order)
        return [
            tid
            for (tid,) in self._conn.execute("SELECT DISTINCT thread_id FROM checkpoints ORDER BY thread_id")
        ]

    def _index_for(self, thread_id: str) -> Iterator[ThreadIndexEntry]:
        rows = self._conn.execute(
            "SELECT checkpoint_ns, count(*), "
            "coalesce(sum(length(checkpoint)), 0) + coalesce(sum(length(metadata)), 0), "
            "min(checkpoint_id), max(checkpoint_id) "
            "FROM checkpoints WHERE thread_id = ? GROUP BY checkpoint_ns ORDER BY checkpoint_ns",
            (thread_id,),
        ).fetchall()
        if rows:
            acc: dict[str, Any] = {
                "ns": [r[0] for r in rows],
                "count": sum(r[1] for r in rows),
                "size": sum(r[2] for r in rows),
                "first": min(r[3] for r in rows),
                "last": next((r[4] for r in rows if r[0] == ""), rows[0][4]),
            }
            yield _entry(thread_id, acc)

    def _iter_raw(self, thread_id: str, ns: str, *, control_only: bool) -> Iterator[RawCheckpoint]:
        # Two cursors in primary-key order, merged: one checkpoint row in memory at a time.
        checkpoints = self._conn.execute(
            "SELECT checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints "
            "WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id",
            (thread_id, ns),
        )
        value = f"CASE WHEN channel IN {CONTROL_SQL} THEN value END" if control_only else "value"
        writes = self._conn.cursor().execute(
            f"SELECT checkpoint_id, task_id, {self._task_path}, idx, channel, type, {value} FROM writes "
            "WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id, task_id, idx",
            (thread_id, ns),
        )
        decoder = Decoder()
        pending = next(writes, None)
        for cid, pid, type_, blob, meta in checkpoints:
            raw = raw_from_row(thread_id, ns, cid, pid, type_, blob, meta, decoder)
            while pending is not None and pending[0] < cid:
                pending = next(writes, None)  # writes of a checkpoint that is gone
            own = []
            while pending is not None and pending[0] == cid:
                own.append(pending)
                pending = next(writes, None)
            own.sort(key=lambda w: (w[2] or "", w[1], w[3]))  # the order the other reads use
            raw.writes = [
                RawWrite(t, path or "", idx, ch, typ, val) for _c, t, path, idx, ch, typ, val in own
            ]
            yield raw

    def _raw_one(self, thread_id: str, ns: str, checkpoint_id: str) -> RawCheckpoint | None:
        rows = self._conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints "
            "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
            (thread_id, ns, checkpoint_id),
        ).fetchall()
        by_ns = self._assemble(thread_id, rows, only_latest=None, ids=[checkpoint_id])
        raws = by_ns.get(ns)
        return raws[0] if raws else None

    def _ns_counts(self, entry: ThreadIndexEntry) -> dict[str, int]:
        rows = self._conn.execute(
            "SELECT checkpoint_ns, count(*) FROM checkpoints WHERE thread_id = ? GROUP BY checkpoint_ns",
            (entry.thread_id,),
        )
        return {ns: int(n) for ns, n in rows}

    def _raw_thread(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        rows = self._conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
            "FROM checkpoints WHERE thread_id = ? ORDER BY checkpoint_ns, checkpoint_id",
            (thread_id,),
        )
        return self._assemble(thread_id, rows, None)

    pages_cheaply = True

    def timeline(
        self, thread_id: str, ns: str = "", *, offset: int = 0, limit: int | None = None
    ) -> tuple[Step, ...]:
        # No state blob is decoded: nodes, interrupts and errors come from the writes table.
        # The one exception: a checkpoint that Send tasks ran against is read, for its pending
        # Sends name those tasks' nodes (rare: fan-outs). A page starts one row early: a
        # step's nodes come from its parent's writes.
        before = 1 if offset > 0 else 0
        rows = self._conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, CASE WHEN EXISTS ("
            "  SELECT 1 FROM writes w WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns "
            f"  AND w.checkpoint_id = c.checkpoint_id AND {self._task_path.replace('task_path', 'w.task_path')} "
            "  LIKE '~__pregel_push%') THEN checkpoint END, metadata, length(checkpoint) "
            "FROM checkpoints c WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id LIMIT ? OFFSET ?",
            (thread_id, ns, -1 if limit is None else limit + before, offset - before),
        ).fetchall()
        if not rows:
            if offset and self.timeline_size(thread_id, ns):
                return ()  # past the end
            self.history(thread_id, ns)  # raises the right ThreadNotFound
        raws: list[RawCheckpoint] = []
        by_key: dict[tuple[str, str], RawCheckpoint] = {}
        decoder = Decoder()
        for row_ns, cid, pid, type_, blob, meta, size in rows:
            raw = raw_from_row(thread_id, row_ns, cid, pid, type_, blob, meta, decoder)
            if blob is None:  # the frame was not read: the step shows nodes, not state
                raw.corrupt = None
            raw.size = (size or 0) + len(meta or b"")
            raws.append(raw)
            by_key[(row_ns, cid)] = raw
        self._attach_writes(
            None,
            self._conn.execute(
                f"SELECT checkpoint_ns, checkpoint_id, task_id, {self._task_path}, idx, channel, type, "
                f"CASE WHEN channel IN {CONTROL_SQL} THEN value END "
                "FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id BETWEEN ? AND ? "
                f"ORDER BY checkpoint_id, {self._task_path}, task_id, idx",
                (thread_id, ns, rows[0][1] if rows else "", rows[-1][1] if rows else ""),
            ),
            by_key,
        )
        return tuple(build_steps(raws, control_writes_only=True))[before:]

    def timeline_size(self, thread_id: str, ns: str = "") -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?", (thread_id, ns)
        ).fetchone()
        return int(row[0])

    def timeline_index(self, thread_id: str, checkpoint_id: str, ns: str = "") -> int | None:
        row = self._conn.execute(
            "SELECT (SELECT count(*) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
            "AND checkpoint_id < ?) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
            "AND checkpoint_id = ?",
            (thread_id, ns, checkpoint_id, thread_id, ns, checkpoint_id),
        ).fetchone()
        return None if row is None else int(row[0])

    def step_at(self, thread_id: str, checkpoint_id: str, ns: str = "") -> Step:
        raw = self._raw_one(thread_id, ns, checkpoint_id)
        if raw is None:
            self._entry(thread_id)  # an unknown thread says so
            raise CheckpointNotFound(
                f"Thread {thread_id!r} has no checkpoint {checkpoint_id!r} in namespace {ns!r}; "
                f"list them with: lgscope show STORE --thread {thread_id}."
            )
        return self._full_step(raw)

    def scan(
        self,
        *,
        since: datetime | None = None,
        thread_ids: Iterable[str] | None = None,
        state_writes: bool = True,
    ) -> Iterator[ThreadHistory]:
        # The whole store in one ordered pass over each table (primary-key order, no sort)
        # instead of two queries per thread; a selection of threads reads thread by thread.
        if since is not None or thread_ids is not None:
            yield from super().scan(since=since, thread_ids=thread_ids, state_writes=state_writes)
            return
        yield from self._bulk(None, state_writes)

    def scan_chunk(self, thread_ids: Sequence[str], *, state_writes: bool = True) -> Iterator[ThreadHistory]:
        # the primary key's range from the first to the last id (BINARY order is Python's order)
        if thread_ids:
            yield from self._bulk(thread_ids, state_writes)

    def reopener(self) -> Callable[[], Store]:
        return functools.partial(SqliteStore, self.path)

    def _bulk(self, chunk: Sequence[str] | None, state_writes: bool) -> Iterator[ThreadHistory]:
        # small threads in bulk; one past `_BULK_BYTES` streamed on its own (see _bulk_resuming)
        return self._bulk_resuming(lambda after: self._bulk_from(chunk, after, state_writes), state_writes)

    def _bulk_from(
        self, chunk: Sequence[str] | None, after: str | None, state_writes: bool
    ) -> Iterator[ThreadHistory | str]:
        """The threads of ``chunk`` (or all) past ``after`` as histories; a thread too large to
        read in bulk comes back as its id, and ends the pass."""
        conditions, args = [], list[str]()
        if chunk is not None:
            conditions.append("thread_id BETWEEN ? AND ?")
            args += [chunk[0], chunk[-1]]
        if after is not None:
            conditions.append("thread_id > ?")
            args.append(after)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        wanted = None if chunk is None else frozenset(chunk)
        checkpoints = self._conn.execute(
            "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
            f"FROM checkpoints {where}ORDER BY thread_id, checkpoint_ns, checkpoint_id",
            args,
        )
        # A state write's value is in the next checkpoint: unless asked for, only control
        # writes' values are read (a tool's kilobyte result is not copied out of SQLite).
        value = "value" if state_writes else f"CASE WHEN channel IN {CONTROL_SQL} THEN value END"
        writes = self._conn.cursor().execute(
            f"SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, {self._task_path}, idx, channel, type, "
            f"{value} FROM writes {where}ORDER BY thread_id, checkpoint_ns, checkpoint_id, task_id, idx",
            args,
        )
        pending = next(writes, None)
        for thread_id, rows in itertools.groupby(checkpoints, key=lambda r: r[0]):
            if wanted is not None and thread_id not in wanted:
                continue  # written since the chunk's ids were listed
            held: list[Any] = []
            size = 0
            for row in rows:
                held.append(row[1:])
                size += len(row[5] or b"")
                if size > _BULK_BYTES:
                    yield thread_id
                    return
            by_ns = self._assemble(thread_id, held, only_latest=False, attach=False)
            own: list[Any] = []
            while pending is not None and pending[0] < thread_id:
                pending = next(writes, None)  # writes of a checkpoint that is gone
            while pending is not None and pending[0] == thread_id:
                own.append(pending[1:])
                pending = next(writes, None)
            # the order the per-thread query reads them in
            own.sort(key=lambda w: (w[0], w[1], w[3] is not None, w[3] or "", w[2], w[4]))
            by_key = {(raw.checkpoint_ns, raw.checkpoint_id): raw for raws in by_ns.values() for raw in raws}
            self._attach_writes(None, own, by_key)
            if by_ns:
                yield build_history(
                    thread_id,
                    by_ns,
                    control_writes_only=not state_writes,
                    reread=functools.partial(self._raw_one, thread_id),
                )

    def _raw_latest(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        rows = self._conn.execute(
            "SELECT c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, c.type, c.checkpoint, "
            "c.metadata FROM checkpoints c JOIN ("
            "  SELECT checkpoint_ns, max(checkpoint_id) AS last FROM checkpoints "
            "  WHERE thread_id = ? GROUP BY checkpoint_ns"
            ") m ON c.checkpoint_ns = m.checkpoint_ns AND c.checkpoint_id = m.last "
            "WHERE c.thread_id = ?",
            (thread_id, thread_id),
        )
        return self._assemble(thread_id, rows, only_latest=True)

    def _assemble(
        self,
        thread_id: str,
        rows: Any,
        only_latest: bool | None,
        ids: list[str] | None = None,
        *,
        attach: bool = True,
    ) -> dict[str, list[RawCheckpoint]]:
        by_ns: dict[str, list[RawCheckpoint]] = {}
        by_key: dict[tuple[str, str], RawCheckpoint] = {}
        decoder = Decoder()
        for ns, cid, pid, type_, blob, meta in rows:
            raw = raw_from_row(thread_id, ns, cid, pid, type_, blob, meta, decoder)
            by_ns.setdefault(ns, []).append(raw)
            by_key[(ns, cid)] = raw
        if not by_key or not attach:
            return by_ns
        if only_latest or ids is not None:
            for (ns, cid), raw in by_key.items():
                self._attach_writes(
                    raw,
                    self._conn.execute(
                        f"SELECT checkpoint_ns, checkpoint_id, task_id, {self._task_path}, idx, channel, "
                        "type, value FROM writes "
                        "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                        (thread_id, ns, cid),
                    ),
                    by_key,
                )
        else:
            self._attach_writes(
                None,
                self._conn.execute(
                    f"SELECT checkpoint_ns, checkpoint_id, task_id, {self._task_path}, idx, channel, type, "
                    f"value FROM writes WHERE thread_id = ? ORDER BY checkpoint_ns, checkpoint_id, "
                    f"{self._task_path}, task_id, idx",
                    (thread_id,),
                ),
                by_key,
            )
        return by_ns

    @staticmethod
    def _attach_writes(
        _raw: RawCheckpoint | None, rows: Any, by_key: dict[tuple[str, str], RawCheckpoint]
    ) -> None:
        for ns, cid, task_id, task_path, idx, channel, type_, value in rows:
            target = by_key.get((ns, cid))
            if target is not None:
                target.writes.append(RawWrite(task_id, task_path or "", idx, channel, type_, value))


def raw_from_row(
    thread_id: str,
    ns: str,
    checkpoint_id: str,
    parent_id: str | None,
    type_: str | None,
    blob: bytes | None,
    meta: Any,
    decoder: Decoder,
) -> RawCheckpoint:
    """One checkpoints row: its metadata and frame decoded, its channel values cut out as bytes."""
    raw = RawCheckpoint(
        thread_id, ns, checkpoint_id, parent_id, None, {}, [], len(blob or b"") + len(meta or b"")
    )
    try:
        raw.metadata = _decode_metadata(meta)
        if blob is None:
            raise DecodeError("The checkpoint row holds no checkpoint.")
        data = bytes(blob)
        if type_ == "msgpack":
            try:
                frame, channels = split_checkpoint(data)
            except (ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
                raise DecodeError(
                    f"A msgpack blob of {len(data)} bytes is corrupt or truncated ({exc}); "
                    "the rest of the history is still readable."
                ) from exc
            decoded = decoder.decode_typed("msgpack", frame)
            raw.blobs = {ch: ("msgpack", b) for ch, b in channels.items()}
        else:  # another serializer: decoded whole, as a saver would hand it out
            decoded = decoder.decode_typed(type_, data)
            if isinstance(decoded, dict):
                raw.values = dict(decoded.pop("channel_values", None) or {})
        if not isinstance(decoded, dict) or "channel_versions" not in decoded:
            raise DecodeError(f"The checkpoint blob decodes to {type(decoded).__name__}, not a checkpoint.")
        raw.checkpoint = decoded
    except DecodeError as exc:
        raw.corrupt = str(exc)
        raw.blobs = raw.values = None
    return raw


def _entry(thread_id: str, acc: dict[str, Any]) -> ThreadIndexEntry:
    namespaces = tuple(sorted(acc["ns"], key=lambda ns: (ns != "", ns)))
    return ThreadIndexEntry(thread_id, namespaces, acc["count"], acc["size"], acc["last"], acc["first"])
