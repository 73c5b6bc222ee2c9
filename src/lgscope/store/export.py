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
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import ormsgpack

from lgscope._exceptions import ExportFileError, ImportConflict, UsageError
from lgscope.store._base import Store
from lgscope.store._msgpack import channel_slices, pack_map
from lgscope.store._raw import RawCheckpoint, build_steps
from lgscope.store.decode import Decoder

__all__ = ["FORMAT", "FORMAT_VERSION", "Redaction", "export_thread", "import_thread", "read_export"]

FORMAT = "lgscope-export"
FORMAT_VERSION = 1
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


def _channel_blobs(raw: RawCheckpoint, source: Store) -> dict[str, tuple[str, bytes | None]]:
    if raw.blobs is not None:
        return dict(raw.blobs)
    if raw.blob is not None:
        return {ch: ("msgpack", b) for ch, b in channel_slices(raw.blob).items()}
    # A store that hands out decoded values only: re-encode the inert data as plain msgpack.
    values = (raw.checkpoint or {}).get("channel_values") or {}
    return {ch: ("msgpack", ormsgpack.packb(v)) for ch, v in values.items()}


def _records(store: Store, thread_id: str, ns: str | None, redaction: Redaction) -> Iterator[dict[str, Any]]:
    raws = store.raw_thread(thread_id)
    namespaces = [n for n in sorted(raws, key=lambda n: (n != "", n)) if ns is None or n == ns]
    if ns is not None and ns not in raws:
        raise UsageError(
            f"Thread {thread_id!r} has no namespace {ns!r}; its namespaces are "
            f"{', '.join(repr(n) for n in sorted(raws))}."
        )
    for namespace in namespaces:
        steps = {s.checkpoint_id: s for s in build_steps(raws[namespace])}
        for raw in raws[namespace]:
            if raw.checkpoint is None:
                raise ExportFileError(
                    f"Checkpoint {raw.checkpoint_id} of thread {thread_id!r} is corrupt ({raw.corrupt}); "
                    "an export must be faithful, so export stops here and writes nothing."
                )
            skeleton = {k: v for k, v in raw.checkpoint.items() if k != "channel_values"}
            channels = {}
            for ch, (type_, data) in _channel_blobs(raw, store).items():
                value = raw.checkpoint.get("channel_values", {}).get(ch)
                if redaction and (hidden := redaction.apply(value)) != value:
                    type_, data = "msgpack", ormsgpack.packb(hidden)
                channels[ch] = {"type": type_, "data": _b64(data)}
            writes = []
            decoder = Decoder()
            for w in raw.writes:
                value = decoder.decode_typed(w.type, w.value) if not w.is_decoded else w.decoded
                wtype, data = w.type or "", w.value
                if w.is_decoded:
                    wtype, data = "msgpack", ormsgpack.packb(value)
                if redaction and (hidden := redaction.apply(value)) != value:
                    value, wtype, data = hidden, "msgpack", ormsgpack.packb(hidden)
                writes.append(
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
            step = steps[raw.checkpoint_id]
            values = redaction.apply(dict(step.values)) if redaction else dict(step.values)
            yield {
                "type": "checkpoint",
                "checkpoint_ns": namespace,
                "checkpoint_id": raw.checkpoint_id,
                "parent_checkpoint_id": raw.parent_id,
                "metadata": _json_safe(raw.metadata),
                "checkpoint": _json_safe(skeleton),
                "channels": channels,
                "values": _json_safe(values),
                "writes": writes,
                "size": raw.size,
            }


def export_thread(
    store: Store,
    thread_id: str,
    out: str | os.PathLike[str],
    *,
    ns: str | None = None,
    redaction: Redaction | None = None,
) -> int:
    """Write ``thread_id`` (every namespace, or just ``ns``) to ``out``; returns the record count.

    The file appears only when complete: it is written beside ``out`` and renamed into place.
    """
    redaction = redaction or Redaction()
    target = Path(out)
    records = list(_records(store, thread_id, ns, redaction))
    digest = hashlib.sha256()
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in records]
    for line in lines:
        digest.update(line.encode("utf-8"))
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "thread_id": thread_id,
        "namespaces": sorted({r["checkpoint_ns"] for r in records}, key=lambda n: (n != "", n)),
        "source": {"kind": store.kind, "url": store.url},
        "exported_at": datetime.now(UTC).isoformat(),
        "versions": _versions(),
        "records": len(records),
        "redacted": bool(redaction),
    }
    trailer = {"type": "end", "records": len(records), "sha256": digest.hexdigest()}
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            # the header starts with the format name (its first key) so `open_store` can sniff it
            fh.write(json.dumps(header, ensure_ascii=False) + "\n")
            for line in lines:
                fh.write(line + "\n")
            fh.write(json.dumps(trailer) + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(records)


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A parsed export: its header and checkpoint records."""

    header: dict[str, Any]
    records: list[dict[str, Any]]


def read_export(path: str | os.PathLike[str]) -> ExportFile:
    """Parse and verify an export file; `ExportFileError` says what is wrong with it."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportFileError(f"Cannot read the export file {p} ({exc}).") from None
    try:
        parsed = [json.loads(line) for line in lines if line.strip()]
    except ValueError as exc:
        raise ExportFileError(f"{p} is not a valid lgscope export: a line is not JSON ({exc}).") from None
    if not parsed or not isinstance(parsed[0], dict) or parsed[0].get("format") != FORMAT:
        raise ExportFileError(f"{p} is not an lgscope export file (no lgscope-export header).")
    header = parsed[0]
    file_version = header.get("version")
    if not isinstance(file_version, int) or file_version > FORMAT_VERSION:
        raise ExportFileError(
            f"{p} is an export of format version {file_version}, newer than this lgscope reads "
            f"({FORMAT_VERSION}); upgrade lgscope to read it."
        )
    trailer = parsed[-1] if len(parsed) > 1 else {}
    if trailer.get("type") != "end":
        raise ExportFileError(f"{p} is truncated: it has no end record; export the thread again.")
    records = parsed[1:-1]
    digest = hashlib.sha256()
    for line in lines[1:-1]:
        if line.strip():
            digest.update(line.encode("utf-8"))
    if trailer.get("records") != len(records) or trailer.get("sha256") != digest.hexdigest():
        raise ExportFileError(
            f"{p} is damaged: its end record promises {trailer.get('records')} records and a checksum that "
            "the file does not match; export the thread again."
        )
    return ExportFile(header, records)


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
        if isinstance(obj, _Raw):
            return obj.type, obj.data or b""
        if isinstance(obj, dict) and "channel_values" in obj:  # SqliteSaver: the whole checkpoint
            encoded = {}
            for key, value in obj.items():
                if key == "channel_values":
                    encoded[key] = pack_map(
                        {
                            ch: v.msgpack() if isinstance(v, _Raw) else ormsgpack.packb(v)
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


def _channel_value(entry: Mapping[str, Any], decoded: Any) -> Any:
    # Primitives go in as themselves so a Postgres target keeps them inline, as it would natively.
    return decoded if isinstance(decoded, _PRIMITIVE) else _Raw(*_blob(entry))


class _NoCommit:
    """A SQLite connection whose commits wait for ours: the whole import is one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def commit(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _write(saver: Any, export: ExportFile, thread_id: str, overwrite: bool) -> None:
    exists = saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}) is not None
    if not exists:
        exists = next(iter(saver.list({"configurable": {"thread_id": thread_id}}, limit=1)), None) is not None
    if exists and not overwrite:
        raise ImportConflict(
            f"The target store already has a thread {thread_id!r}; pass --force to replace it, or "
            "--thread NEW_ID to import it under another id."
        )
    if exists:
        saver.delete_thread(thread_id)
    decoder = Decoder()
    versions_of: dict[tuple[str, str], dict[str, Any]] = {}
    for number, rec in enumerate(export.records, start=1):
        try:
            _write_record(saver, rec, thread_id, decoder, versions_of)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ExportFileError(
                f"Record {number} of the export is malformed ({type(exc).__name__}: {exc}); nothing was imported."
            ) from None


def _write_record(
    saver: Any,
    rec: dict[str, Any],
    thread_id: str,
    decoder: Decoder,
    versions_of: dict[tuple[str, str], dict[str, Any]],
) -> None:
    if rec.get("type") != "checkpoint":
        raise ValueError(f"unexpected record type {rec.get('type')!r}")
    ns, cid = rec["checkpoint_ns"], rec["checkpoint_id"]
    checkpoint = dict(rec["checkpoint"])
    checkpoint["channel_values"] = {
        ch: _channel_value(entry, decoder.decode_typed(*_blob(entry)))
        for ch, entry in rec["channels"].items()
    }
    versions = checkpoint.get("channel_versions") or {}
    parent_versions = versions_of.get((ns, rec["parent_checkpoint_id"] or ""), {})
    new_versions = {ch: v for ch, v in versions.items() if parent_versions.get(ch) != v}
    versions_of[(ns, cid)] = versions
    config = {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": rec["parent_checkpoint_id"],
        }
    }
    saver.put(config, checkpoint, rec["metadata"], new_versions)
    by_task: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for w in rec["writes"]:
        by_task.setdefault((w["task_id"], w["task_path"]), []).append(w)
    at = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}}
    for (task_id, task_path), group in by_task.items():
        for call in _calls(group):
            saver.put_writes(at, [(w["channel"], _Raw(*_blob(w))) for w in call], task_id, task_path)


def _calls(group: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Lists for ``put_writes`` that reproduce each write's ``idx``.

    A saver numbers ordinary writes by their position in the list and special ones
    (``__interrupt__``, ``__resume__`` …) by a fixed negative idx, so ordinary writes go at their
    idx and special writes fill the gaps (or go in a call of their own).
    """
    special = [w for w in group if w["idx"] < 0]
    ordinary = sorted((w for w in group if w["idx"] >= 0), key=lambda w: w["idx"])
    if not ordinary:
        return [special] if special else []
    slots: list[dict[str, Any] | None] = [None] * (ordinary[-1]["idx"] + 1)
    for w in ordinary:
        slots[w["idx"]] = w
    fillers = list(special)
    for i, slot in enumerate(slots):
        if slot is None and fillers:
            slots[i] = fillers.pop(0)
    calls = [[w for w in slots if w is not None]]
    if fillers:
        calls.insert(0, fillers)
    return calls


def import_thread(
    path: str | os.PathLike[str], target: str, *, thread_id: str | None = None, overwrite: bool = False
) -> tuple[str, int]:
    """Write an export into a SQLite path or ``postgresql://`` URL, in one transaction.

    Goes through the official saver; refuses an existing thread unless ``overwrite``.
    Returns the thread id written and the number of checkpoints.
    """
    export = read_export(path)
    tid = thread_id or str(export.header["thread_id"])
    if target.startswith(("postgresql://", "postgres://")):
        _import_postgres(export, target, tid, overwrite)
    else:
        _import_sqlite(export, Path(target.removeprefix("sqlite:///")), tid, overwrite)
    return tid, len(export.records)


def _import_sqlite(export: ExportFile, path: Path, thread_id: str, overwrite: bool) -> None:
    from langgraph.checkpoint.sqlite import SqliteSaver

    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a SQLite file to import into.")
    created = not path.exists()
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        SqliteSaver(conn).setup()
        saver = SqliteSaver(_NoCommit(conn))  # type: ignore[arg-type]
        saver.serde = _PassThrough()
        saver.is_setup = True
        try:
            _write(saver, export, thread_id, overwrite)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    except BaseException:
        conn.close()
        if created:  # setup() made the file before the transaction: a failed import leaves nothing
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                leftover.unlink(missing_ok=True)
        raise
    finally:
        conn.close()


def _import_postgres(export: ExportFile, url: str, thread_id: str, overwrite: bool) -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    from lgscope._exceptions import StoreUnavailable
    from lgscope.store._postgres import safe_url

    try:
        with PostgresSaver.from_conn_string(url) as setup_saver:
            setup_saver.setup()
        conn = psycopg.connect(url, autocommit=False)
    except psycopg.Error as exc:
        raise StoreUnavailable(
            f"Cannot import into {safe_url(url)} ({str(exc).strip().splitlines()[0]})."
        ) from None
    with conn:
        saver = PostgresSaver(conn)  # type: ignore[arg-type]
        saver.serde = _PassThrough()
        try:
            _write(saver, export, thread_id, overwrite)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
