"""`open_store`: one entry point for every kind of store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lgscope._exceptions import MissingExtra, StoreNotFound, UsageError
from lgscope.store._base import Store

__all__ = ["open_store"]

_EXPORT_MAGIC = b'{"format": "lgscope-export"'


def open_store(target: str | os.PathLike[str] | Any) -> Store:
    """Open a checkpoint store read-only.

    ``target`` is a SQLite file path or ``sqlite:///path``, a ``postgresql://`` URL,
    an lgscope export file, or a ``BaseCheckpointSaver`` instance (generic, slower path).
    """
    if isinstance(target, Store):
        return target
    if not isinstance(target, str | os.PathLike):
        # imported only here: LangGraph's saver module costs a command ~0.2 s to import
        from langgraph.checkpoint.base import BaseCheckpointSaver

        if isinstance(target, BaseCheckpointSaver):
            from lgscope.store._saver import SaverStore

            return SaverStore(target)
        raise UsageError(
            f"Cannot open a store from a {type(target).__name__}; give a SQLite path, a "
            "postgresql:// URL, an export file or a BaseCheckpointSaver."
        )
    text = os.fspath(target)
    if is_postgres_url(text):
        try:
            from lgscope.store._postgres import PostgresStore
        except ImportError as exc:
            raise MissingExtra("Reading a Postgres store", "postgres") from exc
        return PostgresStore(text)
    if "://" in text and not text.startswith("sqlite:///"):
        scheme = text.split("://", 1)[0]
        raise UsageError(
            f"Unknown store URL scheme {scheme!r}; use a SQLite file path, sqlite:///path, "
            "or postgresql://user@host/db."
        )
    path = sqlite_file(text)
    if not path.exists():
        raise StoreNotFound(f"There is no file at {path}; check the path.")
    if path.is_file():
        with path.open("rb") as fh:
            head = fh.read(len(_EXPORT_MAGIC))
        if head == _EXPORT_MAGIC:
            from lgscope.store._exportfile import ExportStore

            return ExportStore(path)
    from lgscope.store._sqlite import SqliteStore

    return SqliteStore(path)


def is_postgres_url(target: str | os.PathLike[str]) -> bool:
    """Whether a store argument is a Postgres URL."""
    return os.fspath(target).startswith(("postgresql://", "postgres://"))


def sqlite_file(target: str | os.PathLike[str]) -> Path:
    """The file a SQLite store argument names: a path, or ``sqlite:///path`` (relative, or absolute
    when only the absolute file exists). Every command that takes a store resolves it here, so that
    two spellings of one file are the same store (its locks, the fork guard)."""
    text = os.fspath(target)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
        if not text.startswith("/") and not Path(text).exists() and Path("/" + text).exists():
            text = "/" + text
    return Path(text)
