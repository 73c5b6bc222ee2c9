"""Per-thread mutual exclusion shared by every sweeper and every app that answers approvals.

Postgres: a session advisory lock keyed by a stable 64-bit hash of the thread id, taken on
lgscope's own connections (not the saver's), so any process or thread on any host that talks
to the same database is excluded. SQLite: an ``flock`` on a
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
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from lgscope._exceptions import LockUnavailable, UsageError
from lgscope.store._open import sqlite_file

__all__ = ["FileLocks", "LocalLocks", "PostgresLocks", "ThreadLocks", "locks_for"]


class ThreadLocks(Protocol):
    """Hands out an exclusive lock per thread id."""

    def hold(self, thread_id: str, timeout: float = 30.0) -> contextlib.AbstractContextManager[None]: ...


def _key(thread_id: str) -> int:
    digest = hashlib.blake2b(f"lgscope:{thread_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresLocks:
    """A session advisory lock per thread, on lgscope's own connections (never the saver's).

    ``conninfo`` names the database; or pass the saver's ``connection`` (a psycopg connection
    or pool) and lgscope connects to the same database beside it. Why not borrow the saver's
    connection: session advisory locks are re-entrant within a session, so two threads of one
    app sharing it would both "hold" the lock; and a pool lent to the lock could leave the graph
    no connection to resume with. Each concurrent hold gets its own session; idle sessions are
    kept for reuse.
    """

    _IDLE_MAX = 4

    def __init__(self, conninfo: str | None = None, *, connection: Any = None) -> None:
        if conninfo is None and connection is None:
            raise UsageError("PostgresLocks needs a connection string or a connection.")
        self._conninfo = conninfo
        self._source = connection
        self._guard = threading.Lock()
        self._idle: list[Any] = []

    def _dsn(self) -> str:
        if self._conninfo is None:
            from psycopg.conninfo import make_conninfo

            source = self._source
            if callable(getattr(source, "connection", None)):  # a psycopg_pool.ConnectionPool
                with source.connection() as conn:
                    info = conn.info
            else:
                info = source.info
            # ``dsn`` leaves the password out; put it back so we reach the same database as the saver
            self._conninfo = make_conninfo(info.dsn, password=info.password) if info.password else info.dsn
        return self._conninfo

    def _take(self) -> Any:
        import psycopg

        with self._guard:
            if self._idle:
                return self._idle.pop()
        try:
            return psycopg.connect(self._dsn(), autocommit=True)
        except psycopg.Error as exc:
            raise LockUnavailable(
                f"Cannot connect to Postgres to take the thread lock ({exc}); check the store URL."
            ) from None

    def _give_back(self, conn: Any) -> None:
        with self._guard:
            if not conn.closed and len(self._idle) < self._IDLE_MAX:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the idle lock sessions (held locks are released when their hold ends)."""
        with self._guard:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @contextlib.contextmanager
    def hold(self, thread_id: str, timeout: float = 30.0) -> Iterator[None]:
        import psycopg

        key = _key(thread_id)
        conn = self._take()
        try:
            deadline = time.monotonic() + timeout
            while True:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if row and row[0]:
                    break
                if time.monotonic() > deadline:
                    raise LockUnavailable(
                        f"Thread {thread_id!r} stayed locked by another sweeper or app for {timeout:.0f}s; "
                        "it is left pending and will be tried again next run."
                    )
                time.sleep(0.02)
        except BaseException:
            self._give_back(conn)
            raise
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            except psycopg.Error:
                conn.close()  # ending the session releases its advisory locks
            self._give_back(conn)


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
    """The locks that guard a store: a URL or path, or a checkpointer (``graph.checkpointer``).

    One `ThreadLocks` per checkpointer object, so an app calling `resume` per request reuses
    its lock sessions instead of opening new ones.
    """
    if isinstance(target, str | os.PathLike):
        text = os.fspath(target)
        if text.startswith(("postgresql://", "postgres://")):
            return PostgresLocks(text)
        return _beside(sqlite_file(text))
    try:
        return _BY_SAVER[target]
    except (KeyError, TypeError):
        pass
    locks = _locks_for_saver(target)
    with contextlib.suppress(TypeError):  # a saver that cannot be weakly referenced: no reuse
        _BY_SAVER[target] = locks
    return locks


_BY_SAVER: weakref.WeakKeyDictionary[Any, ThreadLocks] = weakref.WeakKeyDictionary()


def _locks_for_saver(saver: Any) -> ThreadLocks:
    module = type(saver).__module__
    if module.startswith("langgraph.checkpoint.postgres"):
        return PostgresLocks(connection=saver.conn)
    if module.startswith("langgraph.checkpoint.sqlite"):
        db = _sqlite_path(saver.conn)
        if db is not None:
            return _beside(db)
    return _LOCAL


def _beside(db: Path) -> FileLocks:
    # resolved, so that an app and a sweeper naming the store differently (relative path,
    # symlink) still meet at the same lock files
    db = db.resolve()
    return FileLocks(db.with_name(db.name + ".lgscope-locks"))
