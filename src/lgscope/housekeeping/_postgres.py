"""Housekeeping's Postgres rows: the tables `langgraph-checkpoint-postgres` writes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from lgscope._exceptions import StoreUnavailable
from lgscope.housekeeping._db import Info, SizeRow, WriteTotals
from lgscope.housekeeping._db import meta as _meta

__all__ = ["PostgresRows"]


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
                # as text, parsed with orjson (a million small JSON objects: psycopg's json.loads is slow)
                "(c.checkpoint -> 'channel_versions')::text, "
                "(SELECT jsonb_object_agg(key, pg_column_size(value)) "
                " FROM jsonb_each(c.checkpoint -> 'channel_values'))::text, "
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
                    _meta(inline),
                    {k: str(v) for k, v in _meta(versions).items()},
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
