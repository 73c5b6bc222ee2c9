"""Housekeeping's SQLite rows: the file `langgraph-checkpoint-sqlite` writes."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

from lgscope._exceptions import DecodeError
from lgscope.housekeeping._db import Info, SizeRow, WriteTotals
from lgscope.housekeeping._db import meta as _meta
from lgscope.store._msgpack import channel_sizes, split_checkpoint
from lgscope.store.decode import Decoder

__all__ = ["SqliteRows"]


class SqliteRows:
    """A SQLite checkpoint file: ``mode=ro`` unless ``write``; a write connection waits
    ``busy_timeout`` seconds for the app's transactions and starts each of ours with
    ``BEGIN IMMEDIATE``."""

    kind = "sqlite"

    def __init__(self, path: Path, *, write: bool = False, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.where = str(path)
        uri = f"file:{quote(str(path.resolve()))}?mode={'rw' if write else 'ro'}"
        self.conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
        if not write:
            self.conn.execute("PRAGMA query_only = ON")
        self._decoder = Decoder()

    def close(self) -> None:
        self.conn.close()

    def thread_ids(self, selected: Sequence[str] | None) -> list[str]:
        if selected is not None:
            return [
                t
                for t in selected
                if self.conn.execute("SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1", (t,)).fetchone()
            ]
        return [
            t for (t,) in self.conn.execute("SELECT DISTINCT thread_id FROM checkpoints ORDER BY thread_id")
        ]

    def namespaces(self, thread_id: str) -> dict[str, tuple[str, int]]:
        rows = self.conn.execute(
            "SELECT checkpoint_ns, max(checkpoint_id), count(*) FROM checkpoints WHERE thread_id = ? "
            "GROUP BY checkpoint_ns",
            (thread_id,),
        )
        return {ns: (last, int(n)) for ns, last, n in rows}

    def ids(self, thread_id: str, ns: str) -> Iterator[str]:
        cur = self.conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id",
            (thread_id, ns),
        )
        try:  # closed when the caller stops early: no read transaction left open on the store
            for (cid,) in cur:
                yield cid
        finally:
            cur.close()

    def last_ids(self, thread_id: str, ns: str, n: int) -> list[str]:
        return [
            cid
            for (cid,) in self.conn.execute(
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                "ORDER BY checkpoint_id DESC LIMIT ?",
                (thread_id, ns, n),
            )
        ]

    def max_below(self, thread_id: str, ns: str, bound: str) -> str | None:
        (found,) = self.conn.execute(
            "SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id < ?",
            (thread_id, ns, bound),
        ).fetchone()
        return found if isinstance(found, str) else None

    def links_from(self, thread_id: str, ns: str, bound: str) -> Iterator[tuple[str, str | None]]:
        yield from self.conn.execute(
            "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
            "AND checkpoint_id >= ?",
            (thread_id, ns, bound),
        )

    def sub_roots(self, thread_id: str) -> Iterator[tuple[str, str, str | None]]:
        for ns, cid, meta in self.conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, metadata FROM checkpoints WHERE thread_id = ? AND checkpoint_ns != ''",
            (thread_id,),
        ):
            parents = _meta(meta).get("parents")
            root = parents.get("") if isinstance(parents, dict) else None
            yield ns, cid, root if isinstance(root, str) else None

    def info(self, thread_id: str, ns: str, checkpoint_id: str) -> Info | None:
        row = self.conn.execute(
            "SELECT parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints "
            "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
            (thread_id, ns, checkpoint_id),
        ).fetchone()
        if row is None:
            return None
        pid, type_, blob, meta = row
        stored: frozenset[str] = frozenset()
        version = 0
        if type_ == "msgpack" and blob:
            try:
                frame, channels = split_checkpoint(bytes(blob))
                stored = frozenset(channels)
                decoded = self._decoder.decode_typed("msgpack", frame)
                version = int(decoded.get("v", 0)) if isinstance(decoded, dict) else 0
            except (ValueError, IndexError, struct.error, UnicodeDecodeError, DecodeError, TypeError):
                # unreadable: treat as holding no value, so planning keeps walking back (keeps more)
                stored, version = frozenset(), 0
        return Info(pid, _meta(meta), stored, version)

    def write_channels(self, thread_id: str, ns: str, checkpoint_id: str) -> set[str]:
        return {
            ch
            for (ch,) in self.conn.execute(
                "SELECT DISTINCT channel FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                (thread_id, ns, checkpoint_id),
            )
        }

    def is_delta(self, thread_id: str) -> bool:
        # a byte search of the JSON metadata: every checkpoint but a snapshot's carries the counters
        return (
            self.conn.execute(
                "SELECT 1 FROM checkpoints WHERE thread_id = ? AND "
                "instr(metadata, CAST('counters_since_delta_snapshot' AS BLOB)) > 0 LIMIT 1",
                (thread_id,),
            ).fetchone()
            is not None
        )

    _NOT_KEPT = (
        "thread_id = ? AND checkpoint_ns = ? AND checkpoint_id <= ? "
        "AND checkpoint_id NOT IN (SELECT value FROM json_each(?))"
    )

    def doomed(self, thread_id: str, ns: str, keep: Sequence[str], upto: str) -> tuple[int, int, int, int]:
        args = (thread_id, ns, upto, json.dumps(list(keep)))
        n, size = self.conn.execute(
            "SELECT count(*), coalesce(sum(length(checkpoint) + coalesce(length(metadata), 0)), 0) "
            f"FROM checkpoints WHERE {self._NOT_KEPT}",
            args,
        ).fetchone()
        w, wsize = self.conn.execute(
            f"SELECT count(*), coalesce(sum(length(value)), 0) FROM writes WHERE {self._NOT_KEPT}", args
        ).fetchone()
        return int(n), int(w), 0, int(size) + int(wsize)

    def delete(self, thread_id: str, ns: str, keep: Sequence[str], upto: str) -> tuple[int, int, int]:
        args = (thread_id, ns, upto, json.dumps(list(keep)))
        w = self.conn.execute(f"DELETE FROM writes WHERE {self._NOT_KEPT}", args).rowcount
        n = self.conn.execute(f"DELETE FROM checkpoints WHERE {self._NOT_KEPT}", args).rowcount
        return n, w, 0

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: every read inside sees the same committed state."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def size_rows(self) -> Iterator[SizeRow]:
        # one row a checkpoint: its parent's writes' task paths and its own writes' bytes are
        # looked up by primary key inside SQLite; only the blob crosses into Python (to be split)
        path = self._task_path()
        rows = self.conn.execute(
            "SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, c.type, c.checkpoint, "
            "coalesce(length(c.metadata), 0), CASE WHEN json_valid(CAST(c.metadata AS TEXT)) "
            "THEN json_extract(CAST(c.metadata AS TEXT), '$.source') END, "
            # a task path has commas in it: each ends in a record separator (SQLite's DISTINCT
            # group_concat takes no separator of its own)
            f"(SELECT group_concat(DISTINCT w.{path} || char(30)) FROM writes w WHERE w.thread_id = c.thread_id "
            "AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.parent_checkpoint_id "
            "AND substr(w.channel, 1, 2) != '__'), "
            "(SELECT coalesce(sum(length(w.value)), 0) FROM writes w WHERE w.thread_id = c.thread_id "
            "AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id) "
            "FROM checkpoints c ORDER BY c.thread_id, c.checkpoint_ns, c.checkpoint_id"
        )
        for tid, ns, cid, pid, type_, blob, meta_len, source, made_by, write_bytes in rows:
            if made_by:
                made_by = made_by.replace("\x1e,", "\x1e").rstrip("\x1e")
            data = blob or b""
            channels: dict[str, int] = {}
            if type_ == "msgpack" and data:
                try:
                    channels = channel_sizes(data)
                except (ValueError, IndexError, struct.error, UnicodeDecodeError):
                    channels = {}
            yield SizeRow(
                tid,
                ns,
                cid,
                pid,
                len(data) + int(meta_len),
                source if isinstance(source, str) else None,
                channels,
                {},
                made_by,
                int(write_bytes),
            )

    def _task_path(self) -> str:
        columns = {r[0] for r in self.conn.execute("SELECT name FROM pragma_table_info('writes')")}
        return "task_path" if "task_path" in columns else "''"

    def write_totals(self) -> WriteTotals:
        path = self._task_path()

        def grouped(column: str) -> list[tuple[str, int]]:
            sql = f"SELECT {column}, coalesce(sum(length(value)), 0) FROM writes GROUP BY 1"
            return [(str(k), int(n)) for k, n in self.conn.execute(sql)]

        return WriteTotals(grouped("channel"), grouped(path), grouped("checkpoint_ns"), self.count_writes())

    def write_threads(self) -> Iterator[tuple[str, int]]:
        yield from self.conn.execute(
            "SELECT thread_id, coalesce(sum(length(value)), 0) FROM writes GROUP BY thread_id ORDER BY thread_id"
        )

    def blob_sizes(self) -> Iterator[tuple[str, str, str, str, int]]:
        return iter(())

    def count_writes(self) -> int:
        (n,) = self.conn.execute("SELECT count(*) FROM writes").fetchone()
        return int(n)

    def floor(self) -> int:
        (total,) = self.conn.execute(
            "SELECT coalesce(sum(length(checkpoint)), 0) + coalesce(sum(length(metadata)), 0) FROM checkpoints"
        ).fetchone()
        (writes,) = self.conn.execute("SELECT coalesce(sum(length(value)), 0) FROM writes").fetchone()
        return int(total) + int(writes)
