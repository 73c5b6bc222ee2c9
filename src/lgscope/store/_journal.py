"""A SQLite store's journal mode, kept across LangGraph's ``SqliteSaver.setup()``.

``setup()`` switches the file to WAL; a store its owner keeps in another mode (a network
share, a read-only medium later) gets that mode back once lgscope has written to it.
"""

from __future__ import annotations

import sqlite3

__all__ = ["journal_mode", "restore_journal"]

_MODES = {m.lower(): m for m in ("DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF")}


def journal_mode(conn: sqlite3.Connection) -> str:
    """The connection's journal mode, lower case."""
    (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    return str(mode).lower()


def restore_journal(conn: sqlite3.Connection, mode: str) -> None:
    """Put the file back in ``mode`` (from `journal_mode`) unless it was WAL; outside a transaction."""
    if mode != "wal":
        conn.execute(f"PRAGMA journal_mode = {_MODES.get(mode, 'DELETE')}")
