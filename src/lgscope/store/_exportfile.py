"""An lgscope export file, read as a read-only store (one thread), one record at a time."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lgscope.store._base import Store, ThreadIndexEntry
from lgscope.store._raw import RawCheckpoint, RawWrite
from lgscope.store.export import ExportReader

__all__ = ["ExportStore"]


def _bytes(data: str | None) -> bytes | None:
    return None if data is None else base64.b64decode(data)


def _raw(thread_id: str, rec: Mapping[str, Any], blobs: dict[str, tuple[str, bytes | None]]) -> RawCheckpoint:
    writes = [
        RawWrite(w["task_id"], w["task_path"], int(w["idx"]), w["channel"], w["type"], _bytes(w.get("data")))
        for w in rec["writes"]
    ]
    return RawCheckpoint(
        thread_id,
        rec["checkpoint_ns"],
        rec["checkpoint_id"],
        rec["parent_checkpoint_id"],
        {k: v for k, v in rec["checkpoint"].items() if k != "channel_values"},
        dict(rec["metadata"]),
        writes,
        int(rec.get("size", 0)),
        blobs=blobs,
    )


class ExportStore(Store):
    """The thread inside an export file; `ExportFileError` if the file is malformed.

    Opening reads the file through once (to check it and count); each read of the thread
    streams it again, so a long thread is never held.
    """

    kind = "export"

    def __init__(self, path: str | Path) -> None:
        super().__init__(str(path))
        self._reader = ExportReader(path)
        self._reader.verify()
        self.thread_id = str(self._reader.header["thread_id"])
        self._counts: dict[str, int] = {}
        self._size = 0
        first: str | None = None
        last: dict[str, str] = {}
        for rec, _blobs in self._reader.records():
            ns, cid = rec["checkpoint_ns"], rec["checkpoint_id"]
            self._counts[ns] = self._counts.get(ns, 0) + 1
            self._size += int(rec.get("size", 0))
            first = cid if first is None else min(first, cid)
            last[ns] = max(last.get(ns, cid), cid)
        namespaces = tuple(sorted(self._counts, key=lambda n: (n != "", n)))
        self._entry_ = (
            ThreadIndexEntry(
                self.thread_id,
                namespaces,
                sum(self._counts.values()),
                self._size,
                last.get("", next(iter(last.values()), "")),
                first or "",
            )
            if first is not None
            else None
        )

    def _index(self) -> Iterator[ThreadIndexEntry]:
        if self._entry_ is not None:
            yield self._entry_

    def _ns_counts(self, entry: ThreadIndexEntry) -> dict[str, int]:
        return dict(self._counts)

    def _iter_raw(self, thread_id: str, ns: str, *, control_only: bool) -> Iterator[RawCheckpoint]:
        if thread_id != self.thread_id:
            return
        for rec, blobs in self._reader.records():
            if rec["checkpoint_ns"] == ns:
                yield _raw(thread_id, rec, blobs)

    def _raw_latest(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        latest: dict[str, list[RawCheckpoint]] = {}
        if thread_id == self.thread_id:
            for rec, blobs in self._reader.records():
                latest[rec["checkpoint_ns"]] = [_raw(thread_id, rec, blobs)]
        return latest

    def _raw_thread(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        out: dict[str, list[RawCheckpoint]] = {}
        if thread_id == self.thread_id:
            for rec, blobs in self._reader.records():
                out.setdefault(rec["checkpoint_ns"], []).append(_raw(thread_id, rec, blobs))
        return out
