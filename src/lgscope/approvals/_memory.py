"""What the sweeper escalated, remembered beside its locks, so an escalation happens once.

The audit log is optional and may be moved or rotated; this memory is not. It lives where the
thread locks live: SQLite: ``escalated.jsonl`` in the ``<store>.lgscope-locks/`` directory
(lgscope's own file, one fsync'd line per escalation); Postgres: lgscope's own table
``lgscope_escalations`` (made on the first escalation; LangGraph's tables are never touched);
in-memory savers: this process. It is read and written under the thread's lock. Reading it
never creates anything, so a dry run writes nothing.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from lgscope._exceptions import ApprovalError
from lgscope.approvals._audit import append_line
from lgscope.approvals._lock import FileLocks, PostgresLocks, ThreadLocks

__all__ = ["EscalationMemory", "FileMemory", "LocalMemory", "PostgresMemory", "memory_for"]


class EscalationMemory(Protocol):
    """The interrupt ids escalated so far, per thread."""

    def escalated(self, thread_id: str) -> set[str]: ...

    def remember(self, thread_id: str, interrupt_id: str) -> None: ...


class FileMemory:
    """``escalated.jsonl`` in the lock directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / "escalated.jsonl"

    def escalated(self, thread_id: str) -> set[str]:
        if not self.path.exists():
            return set()
        out: set[str] = set()
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash: that escalation is done again
                if isinstance(entry, dict) and entry.get("thread_id") == thread_id:
                    out.add(str(entry.get("interrupt_id")))
        return out

    def remember(self, thread_id: str, interrupt_id: str) -> None:
        record = {"thread_id": thread_id, "interrupt_id": interrupt_id, "at": datetime.now(UTC).isoformat()}
        try:
            append_line(self.path, (json.dumps(record, sort_keys=True) + "\n").encode())
        except OSError as exc:
            raise ApprovalError(
                f"Cannot record the escalation in {self.path} ({exc.strerror}); the sweep stopped so that "
                "nothing is escalated twice. Fix the directory's permissions and run it again."
            ) from None


class PostgresMemory:
    """lgscope's own table ``lgscope_escalations``, on the lock's connections."""

    TABLE = "lgscope_escalations"

    def __init__(self, locks: PostgresLocks) -> None:
        self.locks = locks

    def escalated(self, thread_id: str) -> set[str]:
        conn = self.locks._take()
        try:
            row = conn.execute("SELECT to_regclass(%s)", (self.TABLE,)).fetchone()
            if row is None or row[0] is None:
                return set()
            rows = conn.execute(
                f"SELECT interrupt_id FROM {self.TABLE} WHERE thread_id = %s", (thread_id,)
            ).fetchall()
            return {str(r[0]) for r in rows}
        finally:
            self.locks._give_back(conn)

    def remember(self, thread_id: str, interrupt_id: str) -> None:
        conn = self.locks._take()
        try:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.TABLE} (thread_id TEXT NOT NULL, interrupt_id TEXT NOT NULL, "
                "escalated_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (thread_id, interrupt_id))"
            )
            conn.execute(
                f"INSERT INTO {self.TABLE} (thread_id, interrupt_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (thread_id, interrupt_id),
            )
        finally:
            self.locks._give_back(conn)


class LocalMemory:
    """This process's memory (for in-memory savers, whose threads die with the process)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._seen: dict[str, set[str]] = {}

    def escalated(self, thread_id: str) -> set[str]:
        with self._guard:
            return set(self._seen.get(thread_id, ()))

    def remember(self, thread_id: str, interrupt_id: str) -> None:
        with self._guard:
            self._seen.setdefault(thread_id, set()).add(interrupt_id)


_LOCAL = LocalMemory()


def memory_for(locks: ThreadLocks) -> EscalationMemory:
    """The memory that lives beside ``locks`` (this process's, for any other kind of locks)."""
    if isinstance(locks, FileLocks):
        return FileMemory(locks.directory)
    if isinstance(locks, PostgresLocks):
        return PostgresMemory(locks)
    return _LOCAL
