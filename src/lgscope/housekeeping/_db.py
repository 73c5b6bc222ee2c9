"""The housekeeping view of a store: the few set-based reads and deletes `size` and `prune` need.

`SqliteRows` and `PostgresRows` speak LangGraph's schema directly (housekeeping is about stored
bytes and row keys, not histories). Both open read-only unless ``write=True``: only
`lgscope.housekeeping.prune` with ``apply=True`` asks for that.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import orjson

from lgscope._exceptions import DecodeError, StoreUnavailable, UsageError
from lgscope.store._msgpack import channel_sizes, split_checkpoint
from lgscope.store.decode import Decoder

__all__ = ["Info", "PostgresRows", "Rows", "SizeRow", "SqliteRows", "WriteTotals", "rows_for"]

TASKS = "__pregel_tasks"
INTERRUPT = "__interrupt__"


def _meta(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Info:
    """What planning needs of one checkpoint (nothing of its values but which are stored)."""

    parent_id: str | None
    metadata: dict[str, Any]
    stored: frozenset[str]
    """Channels with a value stored in this checkpoint (a delta channel's snapshot among them)."""
    version: int
    """The checkpoint format ``v`` (pending sends live in the parent's writes before v4)."""


@dataclass(frozen=True, slots=True)
class SizeRow:
    """One checkpoint as `size` sees it: keys and stored byte counts."""

    thread_id: str
    ns: str
    checkpoint_id: str
    parent_id: str | None
    row_bytes: int
    """The checkpoints row: checkpoint and metadata columns."""
    source: str | None
    channels: dict[str, int]
    """Bytes by channel this checkpoint holds inline: SQLite, every value; Postgres, primitives."""
    versions: dict[str, str]
    """Postgres: channel versions (to tell which blobs it references); empty for SQLite."""
    made_by: str | None
    """The task paths of the parent's writes (separated by ``\\x1e``): whose writes made this one."""
    write_bytes: int
    """This checkpoint's own pending writes."""


@dataclass(frozen=True, slots=True)
class WriteTotals:
    """The writes table summed (SQL aggregates): by channel, task path and namespace."""

    by_channel: list[tuple[str, int]]
    by_path: list[tuple[str, int]]
    by_ns: list[tuple[str, int]]
    count: int


class Rows(Protocol):
    """A store's rows for housekeeping."""

    kind: str
    where: str

    def close(self) -> None: ...
    def thread_ids(self, selected: Sequence[str] | None) -> list[str]: ...
    def namespaces(self, thread_id: str) -> dict[str, tuple[str, int]]: ...
    def ids(self, thread_id: str, ns: str) -> Iterator[str]: ...
    def last_ids(self, thread_id: str, ns: str, n: int) -> list[str]: ...
    def max_below(self, thread_id: str, ns: str, bound: str) -> str | None: ...
    def links_from(self, thread_id: str, ns: str, bound: str) -> Iterator[tuple[str, str | None]]: ...
    def sub_roots(self, thread_id: str) -> Iterator[tuple[str, str, str | None]]: ...
    def info(self, thread_id: str, ns: str, checkpoint_id: str) -> Info | None: ...
    def write_channels(self, thread_id: str, ns: str, checkpoint_id: str) -> set[str]: ...
    def is_delta(self, thread_id: str) -> bool: ...
    def doomed(
        self, thread_id: str, ns: str, keep: Sequence[str], upto: str
    ) -> tuple[int, int, int, int]: ...
    def delete(self, thread_id: str, ns: str, keep: Sequence[str], upto: str) -> tuple[int, int, int]: ...
    def size_rows(self) -> Iterator[SizeRow]: ...
    def write_totals(self) -> WriteTotals: ...
    def write_threads(self) -> Iterator[tuple[str, int]]: ...
    def blob_sizes(self) -> Iterator[tuple[str, str, str, str, int]]: ...
    def floor(self) -> int: ...
    def count_writes(self) -> int: ...
    def snapshot(self) -> contextlib.AbstractContextManager[None]: ...


# ---------------------------------------------------------------------------------------- SQLite


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


# -------------------------------------------------------------------------------------- Postgres


class PostgresRows:
    """A Postgres checkpoint database: READ ONLY transactions unless ``write``."""

    kind = "postgres"

    def __init__(self, url: str, *, write: bool = False) -> None:
        import psycopg

        from lgscope.store._postgres import safe_url

        self.where = safe_url(url)
        self.url = url
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"Cannot connect to the Postgres store {self.where} ({str(exc).strip().splitlines()[0]}); "
                "check the URL and that the server is running."
            ) from None
        self.conn.read_only = not write
        if not write:  # autocommit statements too: each runs in a READ ONLY transaction
            self.conn.execute("SET default_transaction_read_only = on")
        self.conn.execute("SET lock_timeout = '30s'")

    def close(self) -> None:
        self.conn.close()

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, args).fetchall())

    def thread_ids(self, selected: Sequence[str] | None) -> list[str]:
        if selected is not None:
            found = {
                t
                for (t,) in self._all(
                    "SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id = ANY(%s)", (list(selected),)
                )
            }
            return [t for t in selected if t in found]
        return [t for (t,) in self._all('SELECT DISTINCT thread_id COLLATE "C" FROM checkpoints ORDER BY 1')]

    def namespaces(self, thread_id: str) -> dict[str, tuple[str, int]]:
        rows = self._all(
            "SELECT checkpoint_ns, max(checkpoint_id), count(*) FROM checkpoints WHERE thread_id = %s "
            "GROUP BY checkpoint_ns",
            (thread_id,),
        )
        return {ns: (last, int(n)) for ns, last, n in rows}

    def ids(self, thread_id: str, ns: str) -> Iterator[str]:
        for (cid,) in self._all(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s ORDER BY checkpoint_id",
            (thread_id, ns),
        ):
            yield cid

    def last_ids(self, thread_id: str, ns: str, n: int) -> list[str]:
        return [
            cid
            for (cid,) in self._all(
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s "
                "ORDER BY checkpoint_id DESC LIMIT %s",
                (thread_id, ns, n),
            )
        ]

    def max_below(self, thread_id: str, ns: str, bound: str) -> str | None:
        ((found,),) = self._all(
            "SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s "
            "AND checkpoint_id < %s",
            (thread_id, ns, bound),
        )
        return found if isinstance(found, str) else None

    def links_from(self, thread_id: str, ns: str, bound: str) -> Iterator[tuple[str, str | None]]:
        yield from self._all(
            "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s "
            "AND checkpoint_id >= %s",
            (thread_id, ns, bound),
        )

    def sub_roots(self, thread_id: str) -> Iterator[tuple[str, str, str | None]]:
        yield from self._all(
            "SELECT checkpoint_ns, checkpoint_id, metadata -> 'parents' ->> '' FROM checkpoints "
            "WHERE thread_id = %s AND checkpoint_ns <> ''",
            (thread_id,),
        )

    def info(self, thread_id: str, ns: str, checkpoint_id: str) -> Info | None:
        rows = self._all(
            "SELECT c.parent_checkpoint_id, c.metadata, coalesce((c.checkpoint ->> 'v')::int, 0), "
            "ARRAY(SELECT jsonb_object_keys(coalesce(c.checkpoint -> 'channel_values', '{}'::jsonb))), "
            "ARRAY(SELECT b.channel FROM checkpoint_blobs b "
            "      JOIN jsonb_each_text(c.checkpoint -> 'channel_versions') v ON b.channel = v.key AND b.version = v.value "
            "      WHERE b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns AND b.type <> 'empty') "
            "FROM checkpoints c WHERE c.thread_id = %s AND c.checkpoint_ns = %s AND c.checkpoint_id = %s",
            (thread_id, ns, checkpoint_id),
        )
        if not rows:
            return None
        pid, meta, version, inline, blobs = rows[0]
        return Info(pid, _meta(meta), frozenset(inline) | frozenset(blobs), int(version))

    def write_channels(self, thread_id: str, ns: str, checkpoint_id: str) -> set[str]:
        return {
            ch
            for (ch,) in self._all(
                "SELECT DISTINCT channel FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s "
                "AND checkpoint_id = %s",
                (thread_id, ns, checkpoint_id),
            )
        }

    def is_delta(self, thread_id: str) -> bool:
        return bool(
            self._all(
                "SELECT 1 FROM checkpoints WHERE thread_id = %s AND (metadata ? 'counters_since_delta_snapshot' "
                "OR metadata ? 'delta_writes_versioned') LIMIT 1",
                (thread_id,),
            )
        )

    _NOT_KEPT = "thread_id = %s AND checkpoint_ns = %s AND checkpoint_id <= %s AND checkpoint_id <> ALL(%s)"

    # Blobs a doomed checkpoint references and no other checkpoint of the namespace does (a
    # blob written for a checkpoint not yet committed has a newer version: never one of these).
    _FREED_BLOBS = """
        SELECT DISTINCT v.key, v.value FROM checkpoints c
        CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v
        WHERE {not_kept}
        EXCEPT
        SELECT v.key, v.value FROM checkpoints c
        CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v
        WHERE c.thread_id = %s AND c.checkpoint_ns = %s AND NOT (c.checkpoint_id <= %s AND c.checkpoint_id <> ALL(%s))
    """

    def _freed_blobs(self, thread_id: str, ns: str, keep: list[str], upto: str) -> str:
        return self._FREED_BLOBS.format(not_kept=self._NOT_KEPT.replace("thread_id", "c.thread_id", 1))

    def doomed(self, thread_id: str, ns: str, keep: Sequence[str], upto: str) -> tuple[int, int, int, int]:
        args = (thread_id, ns, upto, list(keep))
        ((n, size),) = self._all(
            "SELECT count(*), coalesce(sum(pg_column_size(checkpoint) + pg_column_size(metadata)), 0) "
            f"FROM checkpoints WHERE {self._NOT_KEPT}",
            args,
        )
        ((w, wsize),) = self._all(
            f"SELECT count(*), coalesce(sum(length(blob)), 0) FROM checkpoint_writes WHERE {self._NOT_KEPT}",
            args,
        )
        ((b, bsize),) = self._all(
            "SELECT count(*), coalesce(sum(length(b.blob)), 0) FROM checkpoint_blobs b "
            f"JOIN ({self._freed_blobs(thread_id, ns, list(keep), upto)}) f(channel, version) "
            "ON b.channel = f.channel AND b.version = f.version WHERE b.thread_id = %s AND b.checkpoint_ns = %s",
            (*args, *args, thread_id, ns),
        )
        return int(n), int(w), int(b), int(size) + int(wsize) + int(bsize)

    def delete(self, thread_id: str, ns: str, keep: Sequence[str], upto: str) -> tuple[int, int, int]:
        args = (thread_id, ns, upto, list(keep))
        freed = self._all(self._freed_blobs(thread_id, ns, list(keep), upto), (*args, *args))
        w = self.conn.execute(f"DELETE FROM checkpoint_writes WHERE {self._NOT_KEPT}", args).rowcount
        n = self.conn.execute(f"DELETE FROM checkpoints WHERE {self._NOT_KEPT}", args).rowcount
        b = 0
        if freed:
            channels, versions = zip(*freed, strict=True)
            b = self.conn.execute(
                "DELETE FROM checkpoint_blobs b USING unnest(%s::text[], %s::text[]) AS f(channel, version) "
                "WHERE b.thread_id = %s AND b.checkpoint_ns = %s AND b.channel = f.channel AND b.version = f.version",
                (list(channels), list(versions), thread_id, ns),
            ).rowcount
        return n, w, b

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One REPEATABLE READ transaction: every read inside sees the same state."""
        with self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield

    def size_rows(self) -> Iterator[SizeRow]:
        with self.conn.cursor(name="lgscope_size_checkpoints") as cur:
            cur.itersize = 5000
            cur.execute(
                "SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, "
                "pg_column_size(c.checkpoint) + pg_column_size(c.metadata), c.metadata ->> 'source', "
                "c.checkpoint -> 'channel_versions', "
                "(SELECT jsonb_object_agg(key, pg_column_size(value)) "
                " FROM jsonb_each(c.checkpoint -> 'channel_values')), "
                "(SELECT string_agg(DISTINCT w.task_path, chr(30)) FROM checkpoint_writes w "
                " WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns "
                " AND w.checkpoint_id = c.parent_checkpoint_id AND w.channel NOT LIKE '\\_\\_%%'), "
                "(SELECT coalesce(sum(length(w.blob)), 0) FROM checkpoint_writes w WHERE w.thread_id = c.thread_id "
                " AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id) "
                'FROM checkpoints c ORDER BY c.thread_id COLLATE "C", c.checkpoint_ns, c.checkpoint_id'
            )
            for tid, ns, cid, pid, size, source, versions, inline, made_by, write_bytes in cur:
                yield SizeRow(
                    tid,
                    ns,
                    cid,
                    pid,
                    int(size or 0),
                    source,
                    dict(inline or {}),
                    {k: str(v) for k, v in (versions or {}).items()},
                    made_by,
                    int(write_bytes),
                )

    def write_totals(self) -> WriteTotals:
        def grouped(column: str) -> list[tuple[str, int]]:
            sql = f"SELECT {column}, coalesce(sum(length(blob)), 0) FROM checkpoint_writes GROUP BY 1"
            return [(str(k), int(n)) for k, n in self._all(sql)]

        return WriteTotals(
            grouped("channel"), grouped("task_path"), grouped("checkpoint_ns"), self.count_writes()
        )

    def write_threads(self) -> Iterator[tuple[str, int]]:
        with self.conn.cursor(name="lgscope_size_writes") as cur:
            cur.itersize = 5000
            cur.execute(
                "SELECT thread_id, coalesce(sum(length(blob)), 0) FROM checkpoint_writes GROUP BY thread_id "
                'ORDER BY thread_id COLLATE "C"'
            )
            yield from cur

    def blob_sizes(self) -> Iterator[tuple[str, str, str, str, int]]:
        with self.conn.cursor(name="lgscope_size_blobs") as cur:
            cur.itersize = 5000
            cur.execute(
                "SELECT thread_id, checkpoint_ns, channel, version, coalesce(length(blob), 0) FROM checkpoint_blobs "
                'ORDER BY thread_id COLLATE "C", checkpoint_ns'
            )
            yield from cur

    def count_writes(self) -> int:
        ((n,),) = self._all("SELECT count(*) FROM checkpoint_writes")
        return int(n)

    def floor(self) -> int:
        ((a,),) = self._all(
            "SELECT coalesce(sum(pg_column_size(checkpoint) + pg_column_size(metadata)), 0) FROM checkpoints"
        )
        ((b,),) = self._all("SELECT coalesce(sum(length(blob)), 0) FROM checkpoint_blobs")
        ((c,),) = self._all("SELECT coalesce(sum(length(blob)), 0) FROM checkpoint_writes")
        return int(a) + int(b) + int(c)


def rows_for(target: str | os.PathLike[str], *, write: bool = False) -> Rows:
    """Open a SQLite path (or ``sqlite:///``) or ``postgresql://`` URL for housekeeping, after
    `lgscope.store.open_store` has checked that it is a checkpoint store."""
    from lgscope.store import open_store

    text = os.fspath(target)
    with open_store(text) as store:  # one sentence for a missing file, a foreign database …
        kind = store.kind
    if kind == "postgres":
        return PostgresRows(text, write=write)
    if kind != "sqlite":
        raise UsageError(
            f"{text} is an lgscope export file; size and prune work on a SQLite or Postgres store."
        )
    path = Path(text.removeprefix("sqlite:///"))
    if not path.exists() and Path("/" + str(path)).exists():
        path = Path("/" + str(path))
    return SqliteRows(path, write=write)
