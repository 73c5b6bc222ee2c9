"""The housekeeping view of a store: the few set-based reads and deletes `size` and `prune` need.

`Rows` is what they ask of a store; `_sqlite.SqliteRows` and `_postgres.PostgresRows` answer it
in LangGraph's schema directly (housekeeping is about stored bytes and row keys, not histories).
Both open read-only unless ``write=True``: only `lgscope.housekeeping.prune` with ``apply=True``
asks for that.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lgscope._exceptions import UsageError
from lgscope.store.decode import fast_json

__all__ = ["INTERRUPT", "TASKS", "Info", "Rows", "SizeRow", "WriteTotals", "meta", "rows_for"]

TASKS = "__pregel_tasks"
INTERRUPT = "__interrupt__"


def meta(raw: Any) -> dict[str, Any]:
    """A JSON object (checkpoint metadata, a jsonb column) as a dict, from text, bytes or already
    decoded; {} if unreadable."""
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        value = fast_json(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Info:
    """What planning needs of one checkpoint (nothing of its values but which are stored)."""

    parent_id: str | None
    metadata: dict[str, Any]
    stored: frozenset[str]
    """Channels with a value stored in this checkpoint (a delta channel's snapshot among them)."""
    version: int
    """The checkpoint format ``v`` (pending sends live in the parent's writes before v4)."""


@dataclass(frozen=True, slots=True)
class SizeRow:
    """One checkpoint as `size` sees it: keys and stored byte counts."""

    thread_id: str
    ns: str
    checkpoint_id: str
    parent_id: str | None
    row_bytes: int
    """The checkpoints row: checkpoint and metadata columns."""
    source: str | None
    channels: dict[str, int]
    """Bytes by channel this checkpoint holds inline: SQLite, every value; Postgres, primitives."""
    versions: dict[str, str]
    """Postgres: channel versions (to tell which blobs it references); empty for SQLite."""
    made_by: str | None
    """The task paths of the parent's writes (separated by ``\\x1e``): whose writes made this one."""
    write_bytes: int
    """This checkpoint's own pending writes."""


@dataclass(frozen=True, slots=True)
class WriteTotals:
    """The writes table summed (SQL aggregates): by channel, task path and namespace."""

    by_channel: list[tuple[str, int]]
    by_path: list[tuple[str, int]]
    by_ns: list[tuple[str, int]]
    count: int


class Rows(Protocol):
    """A store's rows for housekeeping."""

    kind: str
    where: str

    def close(self) -> None: ...
    def thread_ids(self, selected: Sequence[str] | None) -> list[str]: ...
    def namespaces(self, thread_id: str) -> dict[str, tuple[str, int]]: ...
    def ids(self, thread_id: str, ns: str) -> Iterator[str]: ...
    def last_ids(self, thread_id: str, ns: str, n: int) -> list[str]: ...
    def max_below(self, thread_id: str, ns: str, bound: str) -> str | None: ...
    def links_from(self, thread_id: str, ns: str, bound: str) -> Iterator[tuple[str, str | None]]: ...
    def sub_roots(self, thread_id: str) -> Iterator[tuple[str, str, str | None]]: ...
    def info(self, thread_id: str, ns: str, checkpoint_id: str) -> Info | None: ...
    def write_channels(self, thread_id: str, ns: str, checkpoint_id: str) -> set[str]: ...
    def is_delta(self, thread_id: str) -> bool: ...
    def doomed(
        self, thread_id: str, ns: str, keep: Sequence[str], upto: str
    ) -> tuple[int, int, int, int]: ...
    def delete(self, thread_id: str, ns: str, keep: Sequence[str], upto: str) -> tuple[int, int, int]: ...
    def size_rows(self) -> Iterator[SizeRow]: ...
    def write_totals(self) -> WriteTotals: ...
    def write_threads(self) -> Iterator[tuple[str, int]]: ...
    def blob_sizes(self) -> Iterator[tuple[str, str, str, str, int]]: ...
    def floor(self) -> int: ...
    def count_writes(self) -> int: ...
    def snapshot(self) -> contextlib.AbstractContextManager[None]: ...


def rows_for(target: str | os.PathLike[str], *, write: bool = False) -> Rows:
    """Open a SQLite path (or ``sqlite:///``) or ``postgresql://`` URL for housekeeping, after
    `lgscope.store.open_store` has checked that it is a checkpoint store."""
    from lgscope.store import open_store
    from lgscope.store._sqlite import SqliteStore

    text = os.fspath(target)
    with open_store(text) as store:  # one sentence for a missing file, a foreign database …
        postgres = store.kind == "postgres"
        path = store.path if isinstance(store, SqliteStore) else None  # as open_store resolved it
    if postgres:
        from lgscope.housekeeping._postgres import PostgresRows

        return PostgresRows(text, write=write)
    if path is None:
        raise UsageError(
            f"{text} is an lgscope export file; size and prune work on a SQLite or Postgres store."
        )
    from lgscope.housekeeping._sqlite import SqliteRows

    return SqliteRows(path, write=write)
