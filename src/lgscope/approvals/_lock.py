"""Per-thread mutual exclusion shared by every sweeper and every app that answers approvals.

Postgres: a session advisory lock keyed by a stable 64-bit hash of the thread id, so any
process on any host that talks to the same database is excluded. SQLite: an ``flock`` on a
per-thread file in ``<store>.lgscope-locks/`` beside the store (lgscope's own files; LangGraph's
tables are never touched), which excludes every process on the host. In-memory savers: a
process-local lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from lgscope._exceptions import LockUnavailable, UsageError

__all__ = ["FileLocks", "LocalLocks", "PostgresLocks", "ThreadLocks", "locks_for"]


class ThreadLocks(Protocol):
    """Hands out an exclusive lock per thread id."""

    def hold(self, thread_id: str, timeout: float = 30.0) -> contextlib.AbstractContextManager[None]: ...


def _key(thread_id: str) -> int:
    digest = hashlib.blake2b(f"lgscope:{thread_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresLocks:
    """``pg_advisory_lock`` per thread, on a connection of its own (or one a pool lends)."""

    def __init__(self, conninfo: str | None = None, *, connection: Any = None) -> None:
        if conninfo is None and connection is None:
            raise UsageError("PostgresLocks needs a connection string or a connection.")
        self._conninfo = conninfo
        self._connection = connection

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        import psycopg

        if self._connection is not None:
            pool_connection = getattr(self._connection, "connection", None)
            if callable(pool_connection):  # a psycopg_pool.ConnectionPool
                with pool_connection() as conn:
                    yield conn
                return
            yield self._connection
            return
        try:
            conn = psycopg.connect(self._conninfo or "", autocommit=True)
        except psycopg.Error as exc:
            raise LockUnavailable(f"Cannot connect to Postgres to take the thread lock ({exc}).") from None
        with conn:
            yield conn

    @contextlib.contextmanager
    def hold(self, thread_id: str, timeout: float = 30.0) -> Iterator[None]:
        from psycopg.rows import tuple_row

        key = _key(thread_id)
        with self._conn() as conn, conn.cursor(row_factory=tuple_row) as cur:  # whatever rows the app uses
            deadline = time.monotonic() + timeout
            while True:
                row = cur.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if row and row[0]:
                    break
                if time.monotonic() > deadline:
                    raise LockUnavailable(
                        f"Thread {thread_id!r} stayed locked by another sweeper or app for {timeout:.0f}s; "
                        "it is left pending and will be tried again next run."
                    )
                time.sleep(0.02)
            try:
                yield
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", (key,))


class FileLocks:
    """``flock`` on ``<dir>/<hash>.lock``: exclusive across the processes of a host."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    @contextlib.contextmanager
    def hold(self, thread_id: str, timeout: float = 30.0) -> Iterator[None]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                self.directory / f"{_key(thread_id) & 0xFFFFFFFFFFFFFFFF:016x}.lock",
                os.O_RDWR | os.O_CREAT,
                0o644,
            )
        except OSError as exc:
            raise LockUnavailable(
                f"Cannot create the lock file for thread {thread_id!r} in {self.directory} ({exc.strerror}); "
                "the sweeper needs write access beside the store."
            ) from None
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockUnavailable(
                            f"Thread {thread_id!r} stayed locked for {timeout:.0f}s; it is left pending."
                        ) from None
                    time.sleep(0.02)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class LocalLocks:
    """A lock per thread id within this process (for in-memory savers)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextlib.contextmanager
    def hold(self, thread_id: str, timeout: float = 30.0) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(thread_id, threading.Lock())
        if not lock.acquire(timeout=timeout):
            raise LockUnavailable(
                f"Thread {thread_id!r} stayed locked for {timeout:.0f}s; it is left pending."
            )
        try:
            yield
        finally:
            lock.release()


_LOCAL = LocalLocks()


def _sqlite_path(conn: Any) -> Path | None:
    raw = conn if isinstance(conn, sqlite3.Connection) else getattr(conn, "_conn", None)
    if not isinstance(raw, sqlite3.Connection):
        return None
    for _seq, name, file in raw.execute("PRAGMA database_list"):
        if name == "main" and file:
            return Path(file)
    return None


def locks_for(target: Any) -> ThreadLocks:
    """The locks that guard a store: a URL or path, or a checkpointer (``graph.checkpointer``)."""
    if isinstance(target, str | os.PathLike):
        text = os.fspath(target)
        if text.startswith(("postgresql://", "postgres://")):
            return PostgresLocks(text)
        path = Path(text.removeprefix("sqlite:///"))
        return FileLocks(path.with_name(path.name + ".lgscope-locks"))
    module = type(target).__module__
    if module.startswith("langgraph.checkpoint.postgres"):
        return PostgresLocks(connection=target.conn)
    if module.startswith("langgraph.checkpoint.sqlite"):
        db = _sqlite_path(target.conn)
        if db is not None:
            return FileLocks(db.with_name(db.name + ".lgscope-locks"))
    return _LOCAL
