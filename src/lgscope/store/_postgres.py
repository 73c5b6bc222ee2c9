"""The Postgres backend: the tables `langgraph-checkpoint-postgres` writes, read in READ ONLY transactions."""

from __future__ import annotations

import functools
import itertools
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ormsgpack

from lgscope._exceptions import NotACheckpointStore, StoreUnavailable
from lgscope.model import ThreadHistory
from lgscope.store._base import NamespaceTip, Store, ThreadIndexEntry
from lgscope.store._msgpack import skip
from lgscope.store._raw import CONTROL_SQL, RawCheckpoint, RawWrite, build_history, tips_sql
from lgscope.store.decode import loads_json_inert

__all__ = ["PostgresStore", "safe_url"]

_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
_BULK_BYTES = 16 * 1024 * 1024
"""Stored bytes past which a thread is streamed on its own instead of read in bulk."""
_PAGE = 32
"""Checkpoints read per round trip when a thread is streamed."""
LOCK_TIMEOUT_S = 10
"""How long a read waits for a lock (a migration's ACCESS EXCLUSIVE) before it fails."""
STATEMENT_TIMEOUT_S = 600
"""How long one read statement may run."""


def safe_url(url: str) -> str:
    """The URL without its password, for messages and ``Store.url``."""
    parts = urlsplit(url)
    # libpq also takes the password as a query parameter.
    query = "&".join(
        "password=***" if kv.split("=", 1)[0].lower() == "password" else kv for kv in parts.query.split("&")
    )
    parts = parts._replace(query=query)
    if parts.password is not None:
        netloc = parts.netloc.rsplit("@", 1)[-1]
        user = parts.username or ""
        parts = parts._replace(netloc=f"{user}:***@{netloc}" if user else netloc)
    return urlunsplit(parts)


def _timed_out(exc: BaseException) -> bool:
    from psycopg import errors

    return isinstance(exc, errors.LockNotAvailable | errors.QueryCanceled)


TIPS_SQL = tips_sql("checkpoint_writes")
_THREAD_TIPS_SQL = tips_sql("checkpoint_writes", "%s")


class PostgresStore(Store):
    """A Postgres checkpoint database; every query runs in a READ ONLY transaction."""

    kind = "postgres"

    def __init__(self, url: str, *, connect_timeout: int = 5) -> None:
        import psycopg

        super().__init__(safe_url(url))
        self._dsn, self._connect_timeout = url, connect_timeout
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(
                f"Cannot connect to the Postgres store {self.url} ({reason}); check that the server is "
                "running and the URL, user and database are right."
            ) from None
        self._conn.read_only = True
        # JSONB nested thousands deep would exhaust the standard library's recursive parser
        from psycopg.types.json import set_json_loads

        set_json_loads(loads_json_inert, self._conn)
        # behind an ACCESS EXCLUSIVE lock a read fails in time instead of waiting forever
        self._conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
        self._conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT_S}s'")
        with self._tx() as cur:
            cur.execute("SELECT " + ", ".join("to_regclass(%s)" for _ in _TABLES), _TABLES)
            found = cur.fetchone() or ()
            missing = [t for t, oid in zip(_TABLES, found, strict=True) if oid is None]
            cur.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_name = 'checkpoint_writes' "
                "AND column_name = 'task_path' AND table_schema = ANY(current_schemas(false))"
            )
            has_task_path = cur.fetchone() is not None
        if missing:
            self._conn.close()
            raise NotACheckpointStore(
                f"The database at {self.url} has no {', '.join(missing)} table; it is not a LangGraph "
                "checkpoint store (or its search_path points elsewhere: add ?options=-csearch_path%3Dschema)."
            )
        self._task_path = "task_path" if has_task_path else "''"

    def _tx(self) -> Any:
        conn, url = self._conn, self.url

        class _ReadOnly:
            def __enter__(self) -> Any:
                self._tx = conn.transaction()
                self._tx.__enter__()
                self._cur = conn.cursor(binary=True)  # bytea as bytes, not hex text twice its size
                return self._cur

            def __exit__(self, *exc: Any) -> None:
                self._cur.close()
                self._tx.__exit__(*exc)
                if exc[1] is not None and _timed_out(exc[1]):
                    raise StoreUnavailable(
                        f"The Postgres store {url} did not answer in time ({str(exc[1]).strip()}): a lock "
                        f"held over {LOCK_TIMEOUT_S}s or a statement over {STATEMENT_TIMEOUT_S}s; try again later."
                    ) from None

        return _ReadOnly()

    def close(self) -> None:
        self._conn.close()

    def _index(self) -> Iterator[ThreadIndexEntry]:
        with self._tx() as cur:
            cur.execute(
                "SELECT c.thread_id, c.checkpoint_ns, c.n, c.size + coalesce(b.size, 0), c.first, c.last "
                "FROM (SELECT thread_id, checkpoint_ns, count(*) AS n, "
                "      sum(pg_column_size(checkpoint) + pg_column_size(metadata)) AS size, "
                "      min(checkpoint_id) AS first, max(checkpoint_id) AS last "
                "      FROM checkpoints GROUP BY thread_id, checkpoint_ns) c "
                "LEFT JOIN (SELECT thread_id, checkpoint_ns, sum(coalesce(length(blob), 0)) AS size "
                "      FROM checkpoint_blobs GROUP BY thread_id, checkpoint_ns) b "
                "ON b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns "
                "ORDER BY c.thread_id, c.checkpoint_ns"
            )
            rows = cur.fetchall()
        yield from _group_index(rows)

    def tips(self, thread_id: str | None = None) -> Iterator[NamespaceTip]:
        # the primary keys' indexes (an index-only scan once the table is vacuumed)
        with self._tx() as cur:
            if thread_id is None:
                cur.execute(TIPS_SQL)
            else:
                cur.execute(_THREAD_TIPS_SQL, (thread_id,))
            rows = cur.fetchall()
        # sorted here, in Python's (bytewise) order, rather than by the server's collation
        return (NamespaceTip(t, ns, last, n, w) for t, ns, last, n, w in sorted(rows))

    def identity(self) -> str:
        # a recreated table, or another database behind the same URL, has another oid
        with self._tx() as cur:
            cur.execute(
                "SELECT d.oid, 'checkpoints'::regclass::oid FROM pg_database d WHERE d.datname = current_database()"
            )
            row = cur.fetchone()
        return f"postgres:{self.url}:{row[0]}:{row[1]}" if row else f"postgres:{self.url}"

    def _index_for(self, thread_id: str) -> Iterator[ThreadIndexEntry]:
        with self._tx() as cur:
            cur.execute(
                "SELECT c.thread_id, c.checkpoint_ns, count(*), "
                "sum(pg_column_size(c.checkpoint) + pg_column_size(c.metadata)) + coalesce(max(b.size), 0), "
                "min(c.checkpoint_id), max(c.checkpoint_id) FROM checkpoints c "
                "LEFT JOIN (SELECT checkpoint_ns, sum(coalesce(length(blob), 0)) AS size FROM checkpoint_blobs "
                "           WHERE thread_id = %s GROUP BY checkpoint_ns) b ON b.checkpoint_ns = c.checkpoint_ns "
                "WHERE c.thread_id = %s GROUP BY c.thread_id, c.checkpoint_ns ORDER BY c.checkpoint_ns",
                (thread_id, thread_id),
            )
            rows = cur.fetchall()
        yield from _group_index(rows)

    def _raw_thread(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        entry = next(iter(self._index_for(thread_id)), None)
        namespaces = entry.namespaces if entry is not None else ()
        return {ns: list(self._iter_raw(thread_id, ns, control_only=False)) for ns in namespaces}

    def scan(
        self,
        *,
        since: datetime | None = None,
        thread_ids: Iterable[str] | None = None,
        state_writes: bool = True,
    ) -> Iterator[ThreadHistory]:
        if since is not None or thread_ids is not None:
            yield from super().scan(since=since, thread_ids=thread_ids, state_writes=state_writes)
            return
        yield from self._bulk(None, state_writes)

    def scan_chunk(self, thread_ids: Sequence[str], *, state_writes: bool = True) -> Iterator[ThreadHistory]:
        if thread_ids:
            yield from self._bulk(list(thread_ids), state_writes)

    def reopener(self) -> Callable[[], Store]:
        return functools.partial(PostgresStore, self._dsn, connect_timeout=self._connect_timeout)

    def _bulk(self, chunk: list[str] | None, state_writes: bool) -> Iterator[ThreadHistory]:
        # small threads in bulk; one past `_BULK_BYTES` streamed on its own (see _bulk_resuming)
        return self._bulk_resuming(lambda after: self._bulk_from(chunk, after, state_writes), state_writes)

    def _bulk_from(
        self, chunk: list[str] | None, after: str | None, state_writes: bool
    ) -> Iterator[ThreadHistory | str]:
        # The whole store (or a chunk of threads) through three server-side cursors in one
        # snapshot, merged thread by thread, instead of three round trips per thread. Threads
        # are ordered bytewise (COLLATE "C", as Python orders them); within a thread, rows come
        # in the order the per-thread queries read them.
        conditions, params = [], list[Any]()
        if chunk is not None:
            conditions.append("thread_id = ANY(%s)")
            params.append(chunk)
        if after is not None:
            conditions.append('thread_id > %s COLLATE "C"')
            params.append(after)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        args = tuple(params)
        size = "pg_column_size(checkpoint) + pg_column_size(metadata)"
        # unless asked for, only control writes' values cross the wire (see SqliteStore)
        value = "blob" if state_writes else f"CASE WHEN channel IN {CONTROL_SQL} THEN blob END"
        with self._conn.transaction():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with (
                self._conn.cursor(name="lgscope_scan_checkpoints", binary=True) as checkpoints,
                self._conn.cursor(name="lgscope_scan_blobs", binary=True) as blobs,
                self._conn.cursor(name="lgscope_scan_writes", binary=True) as writes,
            ):
                for cur in (checkpoints, writes):
                    cur.itersize = 2000
                # blobs can be large (a long thread's message list, in each version): fetched a
                # few at a time, so a thread past the bulk budget is noticed before it is held
                blobs.itersize = 32
                checkpoints.execute(
                    f"SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, "
                    f'{size} FROM checkpoints {where}ORDER BY thread_id COLLATE "C", checkpoint_ns, checkpoint_id',
                    args,
                )
                blobs.execute(
                    "SELECT thread_id, checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs "
                    f'{where}ORDER BY thread_id COLLATE "C"',
                    args,
                )
                writes.execute(
                    f"SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, {self._task_path}, idx, channel, "
                    f'type, {value} FROM checkpoint_writes {where}ORDER BY thread_id COLLATE "C", checkpoint_ns, '
                    f"checkpoint_id, {self._task_path}, task_id, idx",
                    args,
                )
                blob_rows, write_rows = iter(blobs), iter(writes)
                blob = next(blob_rows, None)
                write = next(write_rows, None)
                for thread_id, group in itertools.groupby(checkpoints, key=lambda r: r[0]):
                    rows = [r[1:] for r in group]
                    held = sum(int(r[-1] or 0) for r in rows)
                    own_blobs: dict[tuple[str, str, str], tuple[str, bytes | None]] = {}
                    while blob is not None and blob[0] < thread_id:
                        blob = next(blob_rows, None)  # blobs of a thread with no checkpoint left
                    while blob is not None and blob[0] == thread_id:
                        own_blobs[(blob[1], blob[2], blob[3])] = (blob[4], blob[5])
                        held += len(blob[5] or b"")
                        if held > _BULK_BYTES:
                            yield thread_id
                            return
                        blob = next(blob_rows, None)
                    own_writes: list[Sequence[Any]] = []
                    while write is not None and write[0] < thread_id:
                        write = next(write_rows, None)
                    while write is not None and write[0] == thread_id:
                        own_writes.append(write[1:])
                        write = next(write_rows, None)
                    by_ns = _assemble(thread_id, rows, own_blobs, own_writes)
                    if by_ns:
                        yield build_history(
                            thread_id,
                            by_ns,
                            control_writes_only=not state_writes,
                            reread=functools.partial(self._raw_one, thread_id),
                        )

    def _raw_latest(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        # each namespace's latest checkpoint with only the blob versions it holds
        with self._tx() as cur:
            cur.execute(
                "SELECT checkpoint_ns, max(checkpoint_id) FROM checkpoints WHERE thread_id = %s GROUP BY checkpoint_ns",
                (thread_id,),
            )
            latest = cur.fetchall()
        out: dict[str, list[RawCheckpoint]] = {}
        for ns, cid in latest:
            raw = self._raw_one(thread_id, ns, cid)
            if raw is not None:
                out[ns] = [raw]
        return out

    def _iter_raw(self, thread_id: str, ns: str, *, control_only: bool) -> Iterator[RawCheckpoint]:
        # Pages of checkpoints by key, each with the blobs it introduces and its writes: a blob
        # crosses the wire once per page that needs it, and a page's values are all that is held.
        size = "pg_column_size(checkpoint) + pg_column_size(metadata)"
        value = f"CASE WHEN channel IN {CONTROL_SQL} THEN blob END" if control_only else "blob"
        held: dict[tuple[str, str, str], tuple[str, bytes | None]] = {}
        parents: dict[tuple[str, str], Mapping[str, Any]] = {}
        after = ""
        while True:
            with self._tx() as cur:
                cur.execute(
                    f"SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, {size} "
                    "FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id > %s "
                    "ORDER BY checkpoint_id LIMIT %s",
                    (thread_id, ns, after, _PAGE),
                )
                rows = cur.fetchall()
                if not rows:
                    return
                wanted = {
                    (ch, str(ver))
                    for row in rows
                    for ch, ver in ((row[3] or {}).get("channel_versions") or {}).items()
                    if (ns, ch, str(ver)) not in held
                }
                fetched: dict[tuple[str, str, str], tuple[str, bytes | None]] = {}
                if wanted:
                    channels, versions = zip(*sorted(wanted), strict=True)
                    cur.execute(
                        "SELECT b.channel, b.version, b.type, b.blob FROM checkpoint_blobs b "
                        "JOIN unnest(%s::text[], %s::text[]) AS w(channel, version) "
                        "ON b.channel = w.channel AND b.version = w.version "
                        "WHERE b.thread_id = %s AND b.checkpoint_ns = %s",
                        (list(channels), list(versions), thread_id, ns),
                    )
                    fetched = {(ns, ch, ver): (typ, blob) for ch, ver, typ, blob in cur.fetchall()}
                cur.execute(
                    f"SELECT checkpoint_ns, checkpoint_id, task_id, {self._task_path}, idx, channel, type, {value} "
                    "FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = ANY(%s) "
                    f"ORDER BY checkpoint_id, {self._task_path}, task_id, idx",
                    (thread_id, ns, [r[1] for r in rows]),
                )
                writes = cur.fetchall()
            raws = _assemble(thread_id, rows, {**held, **fetched}, writes, parents).get(ns, [])
            # keep only what the last checkpoint of the page holds: the next page's parent
            last = (rows[-1][3] or {}).get("channel_versions") or {}
            keep = {(ns, ch, str(ver)) for ch, ver in last.items()}
            held = {k: v for k, v in {**held, **fetched}.items() if k in keep}
            parents = {(ns, rows[-1][1]): last}
            yield from raws
            after = rows[-1][1]

    def _raw_one(self, thread_id: str, ns: str, checkpoint_id: str) -> RawCheckpoint | None:
        size = "pg_column_size(checkpoint) + pg_column_size(metadata)"
        with self._tx() as cur:
            cur.execute(
                f"SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, {size} "
                "FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s",
                (thread_id, ns, checkpoint_id),
            )
            rows = cur.fetchall()
            if not rows:
                return None
            versions = (rows[0][3] or {}).get("channel_versions") or {}
            cur.execute(
                "SELECT b.channel, b.version, b.type, b.blob FROM checkpoint_blobs b "
                "JOIN unnest(%s::text[], %s::text[]) AS w(channel, version) "
                "ON b.channel = w.channel AND b.version = w.version WHERE b.thread_id = %s AND b.checkpoint_ns = %s",
                (list(versions), [str(v) for v in versions.values()], thread_id, ns),
            )
            blobs = {(ns, ch, ver): (typ, blob) for ch, ver, typ, blob in cur.fetchall()}
            cur.execute(
                f"SELECT checkpoint_ns, checkpoint_id, task_id, {self._task_path}, idx, channel, type, blob "
                "FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s "
                f"ORDER BY {self._task_path}, task_id, idx",
                (thread_id, ns, checkpoint_id),
            )
            writes = cur.fetchall()
        raws = _assemble(thread_id, rows, blobs, writes).get(ns, [])
        return raws[0] if raws else None

    def _ns_counts(self, entry: ThreadIndexEntry) -> dict[str, int]:
        with self._tx() as cur:
            cur.execute(
                "SELECT checkpoint_ns, count(*) FROM checkpoints WHERE thread_id = %s GROUP BY checkpoint_ns",
                (entry.thread_id,),
            )
            return {ns: int(n) for ns, n in cur.fetchall()}


def _group_index(rows: Sequence[Sequence[Any]]) -> Iterator[ThreadIndexEntry]:
    acc: dict[str, dict[str, Any]] = {}
    for tid, ns, count, size, first, last in rows:
        a = acc.setdefault(tid, {"ns": [], "count": 0, "size": 0, "first": first, "last": last})
        a["ns"].append(ns)
        a["count"] += int(count)
        a["size"] += int(size or 0)
        a["first"] = min(a["first"], first)
        if ns == "":
            a["last"] = last
    for tid, a in acc.items():
        namespaces = tuple(sorted(a["ns"], key=lambda n: (n != "", n)))
        yield ThreadIndexEntry(tid, namespaces, a["count"], a["size"], a["last"], a["first"])


def _truncated(channel: str, data: bytes) -> str | None:
    """Why a blob is not one whole msgpack value (its structure walked, nothing decoded), or None."""
    try:
        if skip(data, 0) == len(data):
            return None
        why = "bytes past its end"
    except (ValueError, IndexError, struct.error) as exc:
        why = str(exc) or type(exc).__name__
    return (
        f"channel {channel!r}: A msgpack blob of {len(data)} bytes is corrupt or truncated ({why}); "
        "the rest of the history is still readable."
    )


def _assemble(
    thread_id: str,
    rows: Sequence[Sequence[Any]],
    blobs: Mapping[tuple[str, str, str], tuple[str, bytes | None]],
    writes: Iterable[Sequence[Any]],
    parents: dict[tuple[str, str], Mapping[str, Any]] | None = None,
) -> dict[str, list[RawCheckpoint]]:
    """Rows of ``checkpoints`` with their blobs and writes, as raw checkpoints (nothing decoded
    but the frame: a value stays bytes until something reads it)."""
    by_ns: dict[str, list[RawCheckpoint]] = {}
    by_key: dict[tuple[str, str], RawCheckpoint] = {}
    parents = {} if parents is None else parents
    for ns, cid, pid, checkpoint, metadata, size in rows:
        frame = dict(checkpoint or {})
        inline: dict[str, Any] = frame.pop("channel_values", None) or {}
        versions: dict[str, Any] = frame.get("channel_versions") or {}
        parent_versions = parents.get((ns, pid or ""), {})
        introduced = 0
        # Postgres keeps primitive values inline in the checkpoint's JSON, the rest as blobs.
        typed: dict[str, tuple[str, bytes | None]] = {
            ch: ("null", None) if v is None else ("msgpack", ormsgpack.packb(v)) for ch, v in inline.items()
        }
        corrupt = None
        for ch, ver in versions.items():
            stored = blobs.get((ns, ch, str(ver)))
            if stored is None or stored[0] == "empty":
                continue
            data = bytes(stored[1]) if stored[1] is not None else None
            typed[ch] = (stored[0], data)
            if parent_versions.get(ch) != ver:
                introduced += len(data or b"")
                if corrupt is None and stored[0] == "msgpack" and data is not None:
                    corrupt = _truncated(ch, data)
        parents[(ns, cid)] = versions
        raw = RawCheckpoint(
            thread_id,
            ns,
            cid,
            pid,
            frame,
            dict(metadata or {}),
            [],
            int(size or 0) + introduced,
            corrupt,
            blobs=typed,
        )
        by_ns.setdefault(ns, []).append(raw)
        by_key[(ns, cid)] = raw
    for ns, cid, task_id, task_path, idx, channel, type_, blob in writes:
        target = by_key.get((ns, cid))
        if target is not None:
            target.writes.append(
                RawWrite(task_id, task_path or "", idx, channel, type_, None if blob is None else bytes(blob))
            )
    return by_ns
