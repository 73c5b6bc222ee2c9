"""Where a fork is written and a replay runs: a SQLite file or a Postgres URL, as LangGraph's savers.

Only the target is ever opened through a saver (which writes: ``setup()`` creates tables); the
source is read through `lgscope.store`, read-only.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from lgscope._exceptions import MissingExtra, StoreUnavailable, UsageError
from lgscope.store._journal import journal_mode, restore_journal
from lgscope.store._open import is_postgres_url, sqlite_file

__all__ = [
    "is_postgres",
    "new_sandbox",
    "open_async_saver",
    "open_saver",
    "release",
    "same_store",
    "sqlite_path",
]


def is_postgres(target: str) -> bool:
    """Whether ``target`` is a Postgres URL."""
    return is_postgres_url(target)


def sqlite_path(target: str | os.PathLike[str]) -> Path:
    """A SQLite target's file."""
    return sqlite_file(target)


def same_store(source: str, target: str) -> bool:
    """Whether two store arguments name the same store (same file, or same Postgres URL, passwords
    aside)."""
    if is_postgres(source) or is_postgres(target):
        from lgscope.store._postgres import safe_url

        return is_postgres(source) and is_postgres(target) and safe_url(source) == safe_url(target)
    a, b = sqlite_path(source), sqlite_path(target)
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def new_sandbox() -> str:
    """A path for a new SQLite sandbox in the temporary directory (the file does not exist yet)."""
    return str(Path(tempfile.gettempdir()) / f"lgscope-sandbox-{uuid.uuid4().hex[:12]}.sqlite")


def release(target: str) -> None:
    """Leave a SQLite target as one file: a read-only reader of a WAL file (lgscope's) cannot
    remove the ``-wal`` and ``-shm`` files it opened, a read-write connection closing last does."""
    if is_postgres(target) or not sqlite_path(target).exists():
        return
    try:
        with contextlib.closing(sqlite3.connect(sqlite_path(target), timeout=1)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        pass  # tidying only: a busy or unreadable file keeps its side files, the result stands


@contextlib.contextmanager
def open_saver(target: str) -> Iterator[Any]:
    """LangGraph's own saver on ``target``, tables set up (a graph bound to it writes there)."""
    if is_postgres(target):
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
        except ImportError as exc:
            raise MissingExtra("Writing to a Postgres store", "postgres") from exc
        import psycopg

        try:
            manager = PostgresSaver.from_conn_string(target)
            saver = manager.__enter__()
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"Cannot connect to the target store ({str(exc).strip().splitlines()[0]})."
            ) from None
        try:
            saver.setup()
            yield saver
        finally:
            manager.__exit__(None, None, None)
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = sqlite_path(target)
    if not path.parent.is_dir():
        raise UsageError(f"The directory {path.parent} does not exist; create it or give another sandbox.")
    existed = path.exists()
    conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
    try:
        journal = journal_mode(conn)
        lite = SqliteSaver(conn)
        lite.setup()
        yield lite
        # setup() switched the file to WAL: a store kept in another journal mode keeps it
        if existed:
            conn.commit()
            restore_journal(conn, journal)
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def open_async_saver(target: str) -> AsyncIterator[Any]:
    """The async saver on ``target`` (``AsyncSqliteSaver``/``AsyncPostgresSaver``), tables set up."""
    if is_postgres(target):
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError as exc:
            raise MissingExtra("Writing to a Postgres store", "postgres") from exc
        async with AsyncPostgresSaver.from_conn_string(target) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = sqlite_path(target)
    journal = None
    if path.exists():
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
            journal = journal_mode(conn)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        yield saver
    if journal is not None:  # setup() switched the file to WAL: as open_saver, it keeps its own mode
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
            restore_journal(conn, journal)
