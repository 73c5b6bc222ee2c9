"""The Postgres backend: the tables `langgraph-checkpoint-postgres` writes, read in READ ONLY transactions."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ormsgpack

from lgscope._exceptions import DecodeError, NotACheckpointStore, StoreUnavailable
from lgscope.model import ThreadHistory
from lgscope.store._base import Store, ThreadIndexEntry
from lgscope.store._raw import CONTROL_SQL, RawCheckpoint, RawWrite, build_history
from lgscope.store.decode import Decoder, loads_json_inert

__all__ = ["PostgresStore", "safe_url"]

_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
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
        return self._load(thread_id, latest=False)

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
        # The whole store (or a chunk of threads) through three server-side cursors in one
        # snapshot, merged thread by thread, instead of three round trips per thread. Threads
        # are ordered bytewise (COLLATE "C", as Python orders them); within a thread, rows come
        # in the order the per-thread queries read them.
        where, args = ("WHERE thread_id = ANY(%s) ", (chunk,)) if chunk is not None else ("", ())
        size = "pg_column_size(checkpoint) + pg_column_size(metadata)"
        # unless asked for, only control writes' values cross the wire (see SqliteStore)
        value = "blob" if state_writes else f"CASE WHEN channel IN {CONTROL_SQL} THEN blob END"
        with self._conn.transaction():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with (
                self._conn.cursor(name="lgscope_scan_checkpoints") as checkpoints,
                self._conn.cursor(name="lgscope_scan_blobs") as blobs,
                self._conn.cursor(name="lgscope_scan_writes") as writes,
            ):
                for cur in (checkpoints, blobs, writes):
                    cur.itersize = 2000
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
                    own_blobs: dict[tuple[str, str, str], tuple[str, bytes | None]] = {}
                    while blob is not None and blob[0] < thread_id:
                        blob = next(blob_rows, None)  # blobs of a thread with no checkpoint left
                    while blob is not None and blob[0] == thread_id:
                        own_blobs[(blob[1], blob[2], blob[3])] = (blob[4], blob[5])
                        blob = next(blob_rows, None)
                    own_writes: list[Sequence[Any]] = []
                    while write is not None and write[0] < thread_id:
                        write = next(write_rows, None)
                    while write is not None and write[0] == thread_id:
                        own_writes.append(write[1:])
                        write = next(write_rows, None)
                    by_ns = _assemble(thread_id, rows, own_blobs, own_writes)
                    if by_ns:
                        yield build_history(thread_id, by_ns, control_writes_only=not state_writes)

    def _raw_latest(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        return self._load(thread_id, latest=True)

    def _load(self, thread_id: str, *, latest: bool) -> dict[str, list[RawCheckpoint]]:
        size = "pg_column_size(checkpoint) + pg_column_size(metadata)"
        with self._tx() as cur:
            if latest:
                cur.execute(
                    f"SELECT DISTINCT ON (checkpoint_ns) checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
                    f"checkpoint, metadata, {size} FROM checkpoints WHERE thread_id = %s "
                    "ORDER BY checkpoint_ns, checkpoint_id DESC",
                    (thread_id,),
                )
            else:
                cur.execute(
                    f"SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, {size} "
                    "FROM checkpoints WHERE thread_id = %s ORDER BY checkpoint_ns, checkpoint_id",
                    (thread_id,),
                )
            rows = cur.fetchall()
            if not rows:
                return {}
            ids = [r[1] for r in rows]
            cur.execute(
                "SELECT checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs WHERE thread_id = %s"
                + (" AND checkpoint_ns = ANY(%s)" if latest else ""),
                (thread_id, list({r[0] for r in rows})) if latest else (thread_id,),
            )
            blobs = {(ns, ch, ver): (typ, blob) for ns, ch, ver, typ, blob in cur.fetchall()}
            cur.execute(
                f"SELECT checkpoint_ns, checkpoint_id, task_id, {self._task_path}, idx, channel, type, blob "
                "FROM checkpoint_writes WHERE thread_id = %s"
                + (" AND checkpoint_id = ANY(%s)" if latest else "")
                + f" ORDER BY checkpoint_ns, checkpoint_id, {self._task_path}, task_id, idx",
                (thread_id, ids) if latest else (thread_id,),
            )
            writes = cur.fetchall()
        return _assemble(thread_id, rows, blobs, writes)


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


def _assemble(
    thread_id: str,
    rows: Sequence[Sequence[Any]],
    blobs: dict[tuple[str, str, str], tuple[str, bytes | None]],
    writes: Sequence[Sequence[Any]],
) -> dict[str, list[RawCheckpoint]]:
    decoder = Decoder()
    decoded: dict[tuple[str, str, str], Any] = {}
    by_ns: dict[str, list[RawCheckpoint]] = {}
    by_key: dict[tuple[str, str], RawCheckpoint] = {}
    parents: dict[tuple[str, str], dict[str, Any]] = {}
    for ns, cid, pid, checkpoint, metadata, size in rows:
        checkpoint = dict(checkpoint or {})
        versions: dict[str, Any] = checkpoint.get("channel_versions") or {}
        values: dict[str, Any] = dict(checkpoint.get("channel_values") or {})
        corrupt = None
        parent_versions = parents.get((ns, pid or ""), {})
        introduced = 0
        typed: dict[str, tuple[str, bytes | None]] = {
            ch: ("null", None) if v is None else ("msgpack", ormsgpack.packb(v)) for ch, v in values.items()
        }
        for ch, ver in versions.items():
            key = (ns, ch, str(ver))
            stored = blobs.get(key)
            if stored is None or stored[0] == "empty":
                continue
            typed[ch] = (stored[0], bytes(stored[1]) if stored[1] is not None else None)
            if parent_versions.get(ch) != ver:
                introduced += len(stored[1] or b"")
            if key not in decoded:
                try:
                    decoded[key] = decoder.decode_typed(stored[0], stored[1])
                except DecodeError as exc:
                    decoded[key] = None
                    corrupt = corrupt or f"channel {ch!r}: {exc}"
            values[ch] = decoded[key]
        checkpoint["channel_values"] = values
        parents[(ns, cid)] = versions
        raw = RawCheckpoint(
            thread_id,
            ns,
            cid,
            pid,
            checkpoint,
            dict(metadata or {}),
            [],
            int(size) + introduced,
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
