"""Where the freed space goes: SQLite keeps freed pages in the file until ``VACUUM``; Postgres
leaves dead tuples for (auto)vacuum to make reusable."""

from __future__ import annotations

from dataclasses import dataclass, field

from lgscope._exceptions import StoreError
from lgscope.housekeeping._db import Rows
from lgscope.housekeeping._postgres import PostgresRows
from lgscope.housekeeping._sqlite import SqliteRows

__all__ = ["Space", "space_after", "space_before"]

_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


@dataclass(frozen=True, slots=True)
class Space:
    """The store's space before and after a prune."""

    kind: str
    file_bytes: int | None = None
    """SQLite: the database file's size (pages × page size)."""
    free_bytes: int | None = None
    """SQLite: bytes in free pages, reused by new rows and returned to the disk only by VACUUM."""
    vacuumed: bool = False
    file_bytes_after_vacuum: int | None = None
    dead_tuples: dict[str, int] = field(default_factory=dict)
    """Postgres: dead rows per checkpoint table (``pg_stat_user_tables``; the statistics lag a little)."""
    advice: str = ""


def _sqlite(rows: SqliteRows) -> tuple[int, int]:
    (page,) = rows.conn.execute("PRAGMA page_size").fetchone()
    (count,) = rows.conn.execute("PRAGMA page_count").fetchone()
    (free,) = rows.conn.execute("PRAGMA freelist_count").fetchone()
    return int(page) * int(count), int(page) * int(free)


_SQLITE_ADVICE = (
    "Freed pages stay in the file and are reused by new checkpoints; to give them back to the disk, "
    "run prune with --vacuum when no app has the store open (VACUUM needs it exclusively and rewrites the file)."
)
_PG_ADVICE = (
    "Deleted rows are dead tuples until (auto)vacuum makes their space reusable: run "
    "VACUUM (ANALYZE) checkpoints, checkpoint_blobs, checkpoint_writes; only VACUUM FULL, which locks the "
    "tables exclusively, gives space back to the disk."
)


def _dead(rows: PostgresRows) -> dict[str, int]:
    found = rows._all(
        "SELECT relname, n_dead_tup FROM pg_stat_user_tables WHERE relname = ANY(%s) "
        "AND schemaname = ANY(current_schemas(false))",
        (list(_TABLES),),
    )
    return {name: int(n) for name, n in found}


def space_before(rows: Rows) -> Space:
    """The store's space now."""
    if isinstance(rows, SqliteRows):
        size, free = _sqlite(rows)
        return Space("sqlite", size, free, advice=_SQLITE_ADVICE)
    assert isinstance(rows, PostgresRows)
    return Space("postgres", dead_tuples=_dead(rows), advice=_PG_ADVICE)


def space_after(rows: Rows, before: Space, *, vacuum: bool) -> Space:
    """The space after a prune; with ``vacuum`` (SQLite), after compacting the file."""
    if isinstance(rows, SqliteRows):
        size, free = _sqlite(rows)
        if not vacuum:
            return Space("sqlite", size, free, advice=_SQLITE_ADVICE)
        import sqlite3

        try:
            rows.conn.execute("VACUUM")
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"The prune is done, but VACUUM of {rows.path} failed ({exc}): it needs the store to itself. "
                "Run it again with --vacuum when no app has the store open."
            ) from None
        after, free_after = _sqlite(rows)
        return Space("sqlite", size, free_after, True, after, advice="")
    assert isinstance(rows, PostgresRows)
    if vacuum:
        raise StoreError("--vacuum is for SQLite stores; on Postgres run VACUUM yourself (see the advice).")
    return Space("postgres", dead_tuples=_dead(rows), advice=_PG_ADVICE)
