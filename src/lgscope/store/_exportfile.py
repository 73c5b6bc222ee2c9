"""An lgscope export file, read as a read-only store (one thread)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

from lgscope.store._base import Store, ThreadIndexEntry
from lgscope.store._raw import RawCheckpoint, RawWrite
from lgscope.store.export import read_export

__all__ = ["ExportStore"]


def _bytes(data: str | None) -> bytes | None:
    return None if data is None else base64.b64decode(data)


class ExportStore(Store):
    """The thread inside an export file; `ExportFileError` if the file is malformed."""

    kind = "export"

    def __init__(self, path: str | Path) -> None:
        super().__init__(str(path))
        self.export = read_export(path)
        self.thread_id = str(self.export.header["thread_id"])
        self._raws = self._build()

    def _build(self) -> dict[str, list[RawCheckpoint]]:
        by_ns: dict[str, list[RawCheckpoint]] = {}
        for rec in self.export.records:
            blobs = {ch: (str(e["type"]), _bytes(e.get("data"))) for ch, e in rec["channels"].items()}
            corrupt = None
            checkpoint = {k: v for k, v in rec["checkpoint"].items() if k != "channel_values"}
            writes = [
                RawWrite(
                    w["task_id"],
                    w["task_path"],
                    int(w["idx"]),
                    w["channel"],
                    w["type"],
                    _bytes(w.get("data")),
                )
                for w in rec["writes"]
            ]
            raw = RawCheckpoint(
                self.thread_id,
                rec["checkpoint_ns"],
                rec["checkpoint_id"],
                rec["parent_checkpoint_id"],
                checkpoint,
                dict(rec["metadata"]),
                writes,
                int(rec.get("size", 0)),
                corrupt,
                blobs=blobs,
            )
            by_ns.setdefault(raw.checkpoint_ns, []).append(raw)
        for raws in by_ns.values():
            raws.sort(key=lambda r: r.checkpoint_id)
        return by_ns

    def _index(self) -> Iterator[ThreadIndexEntry]:
        every = [r for raws in self._raws.values() for r in raws]
        if not every:
            return
        root = self._raws.get("") or every
        yield ThreadIndexEntry(
            self.thread_id,
            tuple(sorted(self._raws, key=lambda n: (n != "", n))),
            len(every),
            sum(r.size for r in every),
            max(r.checkpoint_id for r in root),
            min(r.checkpoint_id for r in every),
        )

    def _raw_thread(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        return self._raws if thread_id == self.thread_id else {}
