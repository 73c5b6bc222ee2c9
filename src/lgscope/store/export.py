"""Export a thread to a portable, versioned file; import it into any SQLite or Postgres store.

The format (``docs/export-format.md``) is JSON lines: a header, one record per checkpoint, and
a trailer that counts the records and hashes them, so a truncated file is detected. Each record
carries decoded, JSON-safe values for people and the original serialized bytes of every channel
value and write, so an import writes what the source held — through the official saver, and
without ever turning those bytes into objects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import ormsgpack

from lgscope._atomic import atomic_write
from lgscope._exceptions import DecodeError, ExportFileError, ImportConflict, NotACheckpointStore, UsageError
from lgscope.model import is_bookkeeping
from lgscope.store._base import Store
from lgscope.store._delta import is_snapshot
from lgscope.store._journal import journal_mode, restore_journal
from lgscope.store._msgpack import array_header, array_info, pack_map
from lgscope.store._open import is_postgres_url, sqlite_file
from lgscope.store._raw import RawCheckpoint, RawWrite
from lgscope.store._values import ValueCache
from lgscope.store.decode import Decoder, unsafe_types

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "RawWriter",
    "Redaction",
    "clear_target",
    "export_thread",
    "import_thread",
    "read_export",
    "thread_exists",
    "write_into",
]

FORMAT = "lgscope-export"
FORMAT_VERSION = 2
"""2: a record carries only the channels that changed since the record before (appended items
of a list), ``same`` and ``changes``; 1: every channel whole, and ``values``. Both are read."""
REDACTED = "[REDACTED]"
_PRIMITIVE = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class Redaction:
    """Values to hide: any value under one of ``keys``, and any text matching ``pattern``."""

    keys: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None

    def __bool__(self) -> bool:
        return bool(self.keys) or self.pattern is not None

    def apply(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if k in self.keys else self.apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        if isinstance(value, str) and self.pattern is not None:
            return self.pattern.sub(REDACTED, value)
        return value


def _versions() -> dict[str, str]:
    out = {}
    for name in ("lgscope", "langgraph", "langgraph-checkpoint"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _channel_blobs(raw: RawCheckpoint) -> dict[str, tuple[str, bytes | None]]:
    if raw.blobs is not None:
        return raw.blobs
    # A store that hands out decoded values only: re-encode the inert data as plain msgpack.
    return {ch: ("msgpack", ormsgpack.packb(v)) for ch, v in (raw.values or {}).items()}


def _decoded(cache: ValueCache, type_: str, data: bytes | None) -> Any:
    try:
        return cache.decode(type_, data)
    except DecodeError:
        return None


def _appended(
    old: tuple[str, bytes | None] | None, new: tuple[str, bytes | None]
) -> tuple[int, bytes] | None:
    """``(items, their bytes)`` when ``new`` is the list ``old`` holds with items appended."""
    if old is None or old[0] != "msgpack" or new[0] != "msgpack" or not old[1] or not new[1]:
        return None
    before, after = array_info(old[1]), array_info(new[1])
    if before is None or after is None or after[0] <= before[0]:
        return None
    body = memoryview(old[1])[before[1] :]
    if not new[1].startswith(body, after[1]):
        return None
    return after[0] - before[0], new[1][after[1] + len(body) :]


class _ChannelWriter:
    """Each channel of a namespace's records, as a delta from the record before (v2 format)."""

    def __init__(self, redaction: Redaction, cache: ValueCache) -> None:
        self._redaction, self._cache = redaction, cache
        self._before: dict[str, tuple[str, bytes | None]] = {}

    def record(
        self, raw: RawCheckpoint, user: Iterable[str]
    ) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
        """(changed channels' entries, channels as they were, changed user channels decoded)."""
        blobs = _channel_blobs(raw)
        entries: dict[str, Any] = {}
        same: list[str] = []
        changes: dict[str, Any] = {}
        shown = set(user)
        for ch, (type_, data) in blobs.items():
            old = self._before.get(ch)
            if old == (type_, data):
                same.append(ch)
                continue
            grown = _appended(old, (type_, data))
            if grown is not None:
                items, suffix = grown
                added = self._cache.decode_or_mark("msgpack", array_header(items) + suffix)
                if self._redaction and (hidden := self._redaction.apply(added)) != added:
                    added = hidden
                    suffix = b"".join(ormsgpack.packb(v) for v in hidden)
                entries[ch] = {"type": "msgpack", "append": _b64(suffix), "items": items}
                if ch in shown:
                    changes[ch] = {"append": _json_safe(added)}
                continue
            value = _decoded(self._cache, type_, data)
            if self._redaction and (hidden := self._redaction.apply(value)) != value:
                value, type_, data = hidden, "msgpack", ormsgpack.packb(hidden)
            entries[ch] = {"type": type_, "data": _b64(data)}
            if ch in shown:
                changes[ch] = {"set": _json_safe(value)}
        self._before = dict(blobs)
        return entries, sorted(same), changes


def _writes(raw: RawCheckpoint, redaction: Redaction, cache: ValueCache) -> list[dict[str, Any]]:
    out = []
    for w in raw.writes:
        value = cache.decode_or_mark(w.type or "", w.value) if not w.is_decoded else w.decoded
        wtype, data = w.type or "", w.value
        if w.is_decoded:
            wtype, data = "msgpack", ormsgpack.packb(value)
        if redaction and (hidden := redaction.apply(value)) != value:
            value, wtype, data = hidden, "msgpack", ormsgpack.packb(hidden)
        out.append(
            {
                "task_id": w.task_id,
                "task_path": w.task_path,
                "idx": w.idx,
                "channel": w.channel,
                "type": wtype,
                "data": _b64(data),
                "value": _json_safe(value),
            }
        )
    return out


def _records(
    store: Store,
    thread_id: str,
    namespaces: Sequence[str],
    redaction: Redaction,
    only: Callable[[str, str], bool] | None = None,
) -> Iterator[dict[str, Any]]:
    cache = ValueCache()
    for namespace in namespaces:
        channels = _ChannelWriter(redaction, cache)
        for raw in store._iter_raw(thread_id, namespace, control_only=False):
            if only is not None and not only(namespace, raw.checkpoint_id):
                continue
            if raw.checkpoint is None:
                raise ExportFileError(
                    f"Checkpoint {raw.checkpoint_id} of thread {thread_id!r} is corrupt ({raw.corrupt}); "
                    "an export must be faithful, so export stops here and writes nothing."
                )
            entries, same, changes = channels.record(
                raw, (ch for ch in raw.channels() if not is_bookkeeping(ch))
            )
            yield {
                "type": "checkpoint",
                "checkpoint_ns": namespace,
                "checkpoint_id": raw.checkpoint_id,
                "parent_checkpoint_id": raw.parent_id,
                "metadata": _json_safe(raw.metadata),
                "checkpoint": _json_safe(raw.checkpoint),
                "channels": entries,
                "same": same,
                "changes": changes,
                "writes": _writes(raw, redaction, cache),
                "size": raw.size,
            }


def export_thread(
    store: Store,
    thread_id: str,
    out: str | os.PathLike[str],
    *,
    ns: str | None = None,
    redaction: Redaction | None = None,
    only: Callable[[str, str], bool] | None = None,
) -> int:
    """Write ``thread_id`` (every namespace, or just ``ns``) to ``out``; returns the record count.

    ``only(ns, checkpoint_id)``, when given, picks the checkpoints to write (the header then says
    ``"partial": true``): what `lgscope.housekeeping.prune` archives, which ``import_thread(...,
    merge=True)`` puts back beside the checkpoints the thread kept.

    Streams: one checkpoint is held at a time, and each record carries only what changed since
    the one before (a message list's new items, not the list again). The file appears only
    when complete: it is written beside ``out``, synced, and renamed into place.
    """
    redaction = redaction or Redaction()
    target = Path(out)
    entry = next(iter(store._index_for(thread_id)), None)
    if entry is None:
        raise store._not_found(thread_id)
    if ns is not None and ns not in entry.namespaces:
        raise UsageError(
            f"Thread {thread_id!r} has no namespace {ns!r}; its namespaces are "
            f"{', '.join(repr(n) for n in entry.namespaces)}."
        )
    namespaces = [n for n in entry.namespaces if ns is None or n == ns]
    counts = store._ns_counts(entry)
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "thread_id": thread_id,
        "namespaces": namespaces,
        "source": {"kind": store.kind, "url": store.url},
        "exported_at": datetime.now(UTC).isoformat(),
        "versions": _versions(),
        "records": sum(counts.get(n, 0) for n in namespaces),
        "redacted": bool(redaction),
    }
    if only is not None:
        header["partial"] = True
    digest = hashlib.sha256()
    count = 0
    with atomic_write(target) as fh:
        # the header starts with the format name so `open_store` can sniff it
        fh.write(json.dumps(header, ensure_ascii=False).encode("utf-8") + b"\n")
        for record in _records(store, thread_id, namespaces, redaction, only):
            line = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")
            digest.update(line)
            fh.write(line + b"\n")
            count += 1
        fh.write(json.dumps({"type": "end", "records": count, "sha256": digest.hexdigest()}).encode() + b"\n")
    return count


class ExportReader:
    """An export file read one record at a time; the trailer is checked when the records end.

    Iterating yields each checkpoint record with its channels whole again (``blobs``: channel
    → ``(type, bytes)``), rebuilt from the deltas of format 2 (format 1 carries them whole).
    A damaged or truncated file raises `ExportFileError` — at the end, after its last record:
    a consumer that acts on records must hold its effects until the iteration ends.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        with self._open() as fh:
            first = fh.readline()
        try:
            header = json.loads(first) if first.strip() else None
        except ValueError as exc:
            raise ExportFileError(
                f"{self.path} is not a valid lgscope export: a line is not JSON ({exc})."
            ) from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ExportFileError(f"{self.path} is not an lgscope export file (no lgscope-export header).")
        file_version = header.get("version")
        if not isinstance(file_version, int) or file_version > FORMAT_VERSION:
            raise ExportFileError(
                f"{self.path} is an export of format version {file_version}, newer than this lgscope reads "
                f"({FORMAT_VERSION}); upgrade lgscope to read it."
            )
        self.header: dict[str, Any] = header

    def _open(self) -> Any:
        try:
            return self.path.open("r", encoding="utf-8")
        except OSError as exc:
            raise ExportFileError(f"Cannot read the export file {self.path} ({exc}).") from None

    def records(self) -> Iterator[tuple[dict[str, Any], dict[str, tuple[str, bytes | None]]]]:
        """Each checkpoint record, and its channels rebuilt whole."""
        digest = hashlib.sha256()
        count = 0
        trailer: Any = None
        state: dict[str, dict[str, tuple[str, bytes | None]]] = {}
        with self._open() as fh:
            fh.readline()
            try:
                for line in fh:
                    if not line.strip():
                        continue
                    try:
                        parsed = json.loads(line)
                    except ValueError as exc:
                        raise ExportFileError(
                            f"{self.path} is not a valid lgscope export: a line is not JSON ({exc})."
                        ) from None
                    if trailer is not None:
                        raise ExportFileError(f"{self.path} is damaged: it goes on after its end record.")
                    if isinstance(parsed, dict) and parsed.get("type") == "end":
                        trailer = parsed
                        continue
                    digest.update(line.rstrip("\n").encode("utf-8"))
                    count += 1
                    yield parsed, self._rebuild(parsed, state, count)
            except UnicodeDecodeError as exc:
                raise ExportFileError(f"Cannot read the export file {self.path} ({exc}).") from None
        self._check_end(trailer, count, digest.hexdigest())

    def verify(self) -> int:
        """Check the whole file against its end record, without interpreting a record; returns
        the number of records."""
        digest = hashlib.sha256()
        count = 0
        last: str | None = None
        with self._open() as fh:
            fh.readline()
            try:
                for line in fh:
                    if not line.strip():
                        continue
                    if last is not None:
                        digest.update(last.encode("utf-8"))
                        count += 1
                    last = line.rstrip("\n")
            except UnicodeDecodeError as exc:
                raise ExportFileError(f"Cannot read the export file {self.path} ({exc}).") from None
        try:
            trailer = json.loads(last) if last is not None else None
        except ValueError as exc:
            raise ExportFileError(
                f"{self.path} is not a valid lgscope export: a line is not JSON ({exc})."
            ) from None
        self._check_end(
            trailer if isinstance(trailer, dict) and trailer.get("type") == "end" else None,
            count,
            digest.hexdigest(),
        )
        return count

    def _check_end(self, trailer: Any, count: int, sha256: str) -> None:
        if trailer is None:
            raise ExportFileError(f"{self.path} is truncated: it has no end record; export the thread again.")
        if trailer.get("records") != count or trailer.get("sha256") != sha256:
            raise ExportFileError(
                f"{self.path} is damaged: its end record promises {trailer.get('records')} records and a checksum "
                "that the file does not match; export the thread again."
            )

    @staticmethod
    def _rebuild(
        rec: Any, state: dict[str, dict[str, tuple[str, bytes | None]]], number: int
    ) -> dict[str, tuple[str, bytes | None]]:
        try:
            before = state.get(rec["checkpoint_ns"], {})
            blobs = {ch: before[ch] for ch in rec.get("same", ())}
            for ch, entry in rec["channels"].items():
                if "append" in entry:
                    old_type, old = before[ch]
                    old_info = array_info(old or b"")
                    if old_type != "msgpack" or old is None or old_info is None:
                        raise ValueError(f"channel {ch!r} appends to a value that is not a list")
                    suffix = base64.b64decode(entry["append"])
                    items = int(entry["items"])
                    blobs[ch] = ("msgpack", array_header(old_info[0] + items) + old[old_info[1] :] + suffix)
                else:
                    blobs[ch] = _blob(entry)
            state[rec["checkpoint_ns"]] = blobs
            return blobs
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise ExportFileError(
                f"Record {number} of the export is malformed ({type(exc).__name__}: {exc}); nothing was imported."
            ) from None


def read_export(path: str | os.PathLike[str]) -> ExportFile:
    """Parse and verify a (small) export whole; `ExportReader` streams."""
    reader = ExportReader(path)
    reader.verify()
    return ExportFile(reader.header, [rec for rec, _blobs in reader.records()])


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A parsed export: its header and checkpoint records."""

    header: dict[str, Any]
    records: list[dict[str, Any]]


def _blob(entry: Mapping[str, Any]) -> tuple[str, bytes | None]:
    data = entry.get("data")
    return str(entry["type"]), None if data is None else base64.b64decode(data)


class _Raw:
    """A value still in its serialized form; the pass-through serde hands its bytes to the saver."""

    __slots__ = ("data", "type")

    def __init__(self, type_: str, data: bytes | None) -> None:
        self.type, self.data = type_, data

    def msgpack(self) -> bytes:
        if self.type == "msgpack" and self.data is not None:
            return self.data
        if self.type in ("null", "empty") or self.data is None:
            return ormsgpack.packb(None)
        return ormsgpack.packb(self.data)


class _PassThrough:
    """A serializer that writes pre-serialized values as they are, and reads only inert data."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        obj = _unwrap(obj)
        if isinstance(obj, _Raw):
            return obj.type, obj.data or b""
        if isinstance(obj, dict) and "channel_values" in obj:  # SqliteSaver: the whole checkpoint
            encoded = {}
            for key, value in obj.items():
                if key == "channel_values":
                    encoded[key] = pack_map(
                        {
                            ch: _unwrap(v).msgpack() if isinstance(_unwrap(v), _Raw) else ormsgpack.packb(v)
                            for ch, v in value.items()
                        }
                    )
                else:
                    encoded[key] = ormsgpack.packb(value)
            return "msgpack", pack_map(encoded)
        if obj is None:
            return "null", b""
        return "msgpack", ormsgpack.packb(obj)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        # the saver reads back (to see whether the thread exists): inert data only
        return Decoder().decode_typed(data[0], data[1])


def _raw_snapshot(raw: _Raw) -> Any:
    """A DeltaChannel snapshot's bytes as LangGraph's own snapshot type, so PostgresSaver leaves
    the inline marker it leaves for one (its private type: without it, the bytes go in plain)."""
    try:
        from langgraph.checkpoint.serde.types import _DeltaSnapshot
    except ImportError:  # pragma: no cover - a LangGraph without DeltaChannel
        return raw
    return _DeltaSnapshot(raw)


def _unwrap(value: Any) -> Any:
    """The `_Raw` inside a snapshot made by `_raw_snapshot`, else ``value``."""
    inner = getattr(value, "value", None)
    return inner if isinstance(inner, _Raw) and isinstance(value, tuple) else value


def _channel_value(blob: tuple[str, bytes | None], decoder: Decoder) -> Any:
    # Primitives go in as themselves so a Postgres target keeps them inline, as it would natively
    # (they are a few bytes: nothing larger is decoded).
    type_, data = blob
    if type_ == "msgpack" and is_snapshot(data):
        return _raw_snapshot(_Raw(type_, data))
    if data is None or len(data) <= _SMALL:
        decoded = decoder.decode_typed(type_, data)
        if isinstance(decoded, _PRIMITIVE):
            return decoded
    return _Raw(type_, data)


_SMALL = 64


class _NoCommit:
    """A SQLite connection whose commits wait for ours: the whole import is one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def commit(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def thread_exists(saver: Any, thread_id: str) -> bool:
    """Whether ``saver`` holds any checkpoint of ``thread_id`` (in any namespace)."""
    if saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}) is not None:
        return True
    return next(iter(saver.list({"configurable": {"thread_id": thread_id}}, limit=1)), None) is not None


def clear_target(saver: Any, thread_id: str, overwrite: bool, conflict: str) -> None:
    """Refuse (`ImportConflict` with ``conflict``) or, with ``overwrite``, delete an existing thread."""
    if not thread_exists(saver, thread_id):
        return
    if not overwrite:
        raise ImportConflict(conflict)
    saver.delete_thread(thread_id)


def _write(saver: Any, export: ExportReader, thread_id: str, overwrite: bool, merge: bool = False) -> int:
    if not merge:  # merging adds the file's checkpoints beside the thread's own (undoes a prune)
        clear_target(
            saver,
            thread_id,
            overwrite,
            f"The target store already has a thread {thread_id!r}; pass --force to replace it, or "
            "--thread NEW_ID to import it under another id.",
        )
    writer = RawWriter(saver, thread_id)
    count = 0
    for number, (rec, blobs) in enumerate(export.records(), start=1):
        try:
            if rec.get("type") != "checkpoint":
                raise ValueError(f"unexpected record type {rec.get('type')!r}")
            writer.put(_record_raw(rec, blobs))
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise ExportFileError(
                f"Record {number} of the export is malformed ({type(exc).__name__}: {exc}); nothing was imported."
            ) from None
        count = number
    return count


def _record_raw(rec: Mapping[str, Any], blobs: dict[str, tuple[str, bytes | None]]) -> RawCheckpoint:
    writes = [
        RawWrite(w["task_id"], w["task_path"], int(w["idx"]), w["channel"], *_blob(w)) for w in rec["writes"]
    ]
    return RawCheckpoint(
        "",
        rec["checkpoint_ns"],
        rec["checkpoint_id"],
        rec["parent_checkpoint_id"],
        dict(rec["checkpoint"]),
        rec["metadata"],
        writes,
        blobs=blobs,
    )


class RawWriter:
    """Writes stored checkpoints (`RawCheckpoint`s, oldest first per namespace) into a saver as
    thread ``thread_id``, their bytes as they are: nothing is decoded but small primitives.

    The saver must use the pass-through serializer (`write_into` hands out such a saver).
    """

    def __init__(self, saver: Any, thread_id: str) -> None:
        self._saver, self._thread_id = saver, thread_id
        self._decoder = Decoder()
        self._versions_of: dict[tuple[str, str], Mapping[str, Any]] = {}

    def put(
        self,
        raw: RawCheckpoint,
        writes: Iterable[RawWrite] | None = None,
        blobs: Mapping[str, tuple[str, bytes | None]] | None = None,
    ) -> None:
        """Write ``raw`` (with ``writes``, default its own; ``blobs``, default its own)."""
        ns, cid = raw.checkpoint_ns, raw.checkpoint_id
        if raw.checkpoint is None:
            raise ValueError(f"checkpoint {cid} is corrupt ({raw.corrupt})")
        stored = blobs if blobs is not None else _channel_blobs(raw)
        checkpoint = {k: v for k, v in raw.checkpoint.items() if k != "channel_values"}
        checkpoint["channel_values"] = {
            ch: _channel_value(blob, self._decoder) for ch, blob in stored.items()
        }
        versions = checkpoint.get("channel_versions") or {}
        parent_versions = self._versions_of.get((ns, raw.parent_id or ""), {})
        new_versions = {ch: v for ch, v in versions.items() if parent_versions.get(ch) != v}
        # only the last few checkpoints' versions: a checkpoint's parent is one of them (or a
        # fork's, whose versions then all count as new)
        self._versions_of[(ns, cid)] = versions
        if len(self._versions_of) > 256:
            del self._versions_of[next(iter(self._versions_of))]
        config = {
            "configurable": {
                "thread_id": self._thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": raw.parent_id,
            }
        }
        self._saver.put(config, checkpoint, dict(raw.metadata), new_versions)
        by_task: dict[tuple[str, str], list[RawWrite]] = {}
        for w in raw.writes if writes is None else writes:
            by_task.setdefault((w.task_id, w.task_path), []).append(w)
        at = {"configurable": {"thread_id": self._thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}}
        for (task_id, task_path), group in by_task.items():
            for call in _calls(group):
                self._saver.put_writes(at, [(w.channel, _write_value(w)) for w in call], task_id, task_path)


def _write_value(w: RawWrite) -> Any:
    if w.is_decoded:  # a store that hands out decoded values only: inert data, as plain msgpack
        return _Raw("msgpack", ormsgpack.packb(w.decoded))
    return _Raw(w.type or "", w.value)


def _calls(group: list[RawWrite]) -> list[list[RawWrite]]:
    """Lists for ``put_writes`` that reproduce each write's ``idx``.

    A saver numbers ordinary writes by their position in the list and special ones
    (``__interrupt__``, ``__resume__`` …) by a fixed negative idx, so ordinary writes go at their
    idx and special writes fill the gaps (or go in a call of their own).
    """
    special = [w for w in group if w.idx < 0]
    ordinary = sorted((w for w in group if w.idx >= 0), key=lambda w: w.idx)
    if not ordinary:
        return [special] if special else []
    if ordinary[-1].idx >= len(group):  # a saver numbers a task's writes 0, 1, …: nothing past them
        raise ValueError(f"write idx {ordinary[-1].idx} is past the task's {len(group)} writes")
    slots: list[RawWrite | None] = [None] * (ordinary[-1].idx + 1)
    for w in ordinary:
        slots[w.idx] = w
    fillers = list(special)
    for i, slot in enumerate(slots):
        if slot is None and fillers:
            slots[i] = fillers.pop(0)
    calls = [[w for w in slots if w is not None]]
    if fillers:
        calls.insert(0, fillers)
    return calls


def _refuse_unsafe(export: ExportReader, allowed: frozenset[str]) -> None:
    """Refuse values an app's LangGraph serializer would rebuild by importing and calling code."""
    found: dict[str, int] = {}
    for number, (rec, _blobs) in enumerate(export.records(), start=1):
        try:
            entries: list[tuple[str, bytes | None]] = [_blob(w) for w in rec["writes"]]
            for entry in rec["channels"].values():
                if "append" in entry:  # a list's new items: checked as a list of them
                    entries.append(
                        ("msgpack", array_header(int(entry["items"])) + base64.b64decode(entry["append"]))
                    )
                else:
                    entries.append(_blob(entry))
            for type_, data in entries:
                for name in unsafe_types(type_, data) - allowed:
                    found[name] = found.get(name, 0) + 1
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise ExportFileError(
                f"Record {number} of the export is malformed ({type(exc).__name__}: {exc}); nothing was imported."
            ) from None
    if found:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(found.items()))
        raise ExportFileError(
            f"The export holds values that LangGraph's serializer would rebuild by importing and calling code: "
            f"{listed}; nothing was imported. Inspect the file (lgscope show FILE --thread ID), and if you "
            "trust them, allow each by name: --allow-type NAME."
        )


def import_thread(
    path: str | os.PathLike[str],
    target: str,
    *,
    thread_id: str | None = None,
    overwrite: bool = False,
    allow_types: Iterable[str] = (),
    merge: bool = False,
) -> tuple[str, int]:
    """Write an export into a SQLite path or ``postgresql://`` URL, in one transaction.

    Goes through the official saver; refuses an existing thread unless ``overwrite`` (replace it)
    or ``merge`` (add the file's checkpoints beside the thread's own: undoes a prune), and values
    an app would load by running code (pickle, types outside `lgscope.store.decode.SAFE_TYPES`)
    unless ``allow_types`` names them. Returns the thread id written and the number of checkpoints.
    """
    export = ExportReader(path)
    export.verify()  # a damaged file is refused before anything is written
    _refuse_unsafe(export, frozenset(allow_types))
    tid = thread_id or str(export.header["thread_id"])
    return tid, write_into(target, lambda saver: _write(saver, export, tid, overwrite, merge))


def write_into(target: str, write: Callable[[Any], int], *, action: str = "import") -> int:
    """Run ``write(saver)`` against a SQLite path or ``postgresql://`` URL in one transaction: all of
    it or nothing (a SQLite file it had to create is removed again on failure).

    The saver is LangGraph's own (``SqliteSaver``/``PostgresSaver``, tables set up) with a
    pass-through serializer: values go in as the stored ``(type, bytes)`` they are (`RawWriter`).
    ``action`` names what is done, in error messages. Returns what ``write`` returns.
    """
    if is_postgres_url(target):
        return _into_postgres(target, write, action)
    return _into_sqlite(sqlite_file(target), write, action)


_TIMEOUT_S = 10  # waiting for a lock, connecting, a statement: an import never hangs forever
_STATEMENT_TIMEOUT_S = 600


def _into_sqlite(path: Path, write: Callable[[Any], int], action: str) -> int:
    from langgraph.checkpoint.sqlite import SqliteSaver

    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a SQLite file to {action} into.")
    if not path.parent.is_dir():
        raise UsageError(f"The directory {path.parent} does not exist; create it or {action} elsewhere.")
    created = not path.exists()
    conn = sqlite3.connect(path, check_same_thread=False, timeout=_TIMEOUT_S)
    try:
        try:
            # setup() switches the file to WAL: a store kept in another journal mode keeps it
            journal = journal_mode(conn)
            SqliteSaver(conn).setup()
        except sqlite3.DatabaseError as exc:
            raise NotACheckpointStore(
                f"Cannot {action} into {path}: it is not a SQLite checkpoint store ({exc}); give a new file "
                "or the file your SqliteSaver writes."
            ) from None
        if created:
            # a new file's pages go straight into it: WAL would write every byte twice (the log,
            # then the file at close), and there is nothing to roll back to but no file
            conn.execute("PRAGMA journal_mode = DELETE")
        saver = SqliteSaver(_NoCommit(conn))  # type: ignore[arg-type]
        saver.serde = _PassThrough()
        saver.is_setup = True
        try:
            count = write(saver)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    except BaseException:
        conn.close()
        if created:  # setup() made the file before the transaction: a failed import leaves nothing
            for suffix in ("", "-wal", "-shm", "-journal"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        raise
    try:  # committed: the journal mode is housekeeping, never a reason to lose the data
        if created:
            conn.execute("PRAGMA journal_mode = WAL")  # as SqliteSaver makes a new file
        else:
            restore_journal(conn, journal)
    except sqlite3.Error:
        pass  # a reader holds the file: it keeps the mode it was written in
    finally:
        conn.close()
    return count


def _into_postgres(url: str, write: Callable[[Any], int], action: str) -> int:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from psycopg.rows import dict_row

    from lgscope._exceptions import StoreUnavailable
    from lgscope.store._postgres import safe_url

    # a server that accepts and never answers, or a lock held for hours, fails the import in time
    info = (
        url if "connect_timeout" in conninfo_to_dict(url) else make_conninfo(url, connect_timeout=_TIMEOUT_S)
    )
    limits = (f"SET lock_timeout = '{_TIMEOUT_S}s'", f"SET statement_timeout = '{_STATEMENT_TIMEOUT_S}s'")
    try:
        with psycopg.connect(info, autocommit=True, prepare_threshold=0, row_factory=dict_row) as setup_conn:
            for statement in limits:
                setup_conn.execute(statement)
            PostgresSaver(setup_conn).setup()
        conn = psycopg.connect(info, autocommit=False)
        for statement in limits:
            conn.execute(statement)
    except psycopg.Error as exc:
        raise StoreUnavailable(
            f"Cannot {action} into {safe_url(url)} ({str(exc).strip().splitlines()[0]})."
        ) from None
    with conn:
        saver = PostgresSaver(conn)  # type: ignore[arg-type]
        saver.serde = _PassThrough()
        try:
            count = write(saver)
            conn.commit()
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:
            conn.rollback()
            raise StoreUnavailable(
                f"Cannot {action} into {safe_url(url)}: the database did not answer in time ({exc}); "
                "nothing was written. Try again when it is not locked."
            ) from None
        except BaseException:
            conn.rollback()
            raise
    return count
