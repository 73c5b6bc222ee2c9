"""The generic backend: any `BaseCheckpointSaver`, through its public API only.

Slower than the SQL backends (the saver decodes whole checkpoints and has no task paths),
but it reads anything a LangGraph saver can. The saver is used through a shallow copy whose
serializer is lgscope's safe decoder, so stored bytes never become objects here either.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from lgscope._exceptions import UsageError
from lgscope.store._base import Store, ThreadIndexEntry
from lgscope.store._raw import RawCheckpoint, RawWrite
from lgscope.store.decode import Decoder

__all__ = ["SaverStore"]


class _SafeSerde:
    """A `SerializerProtocol` that only reads, and reads inert data."""

    def __init__(self) -> None:
        self._decoder = Decoder()

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        raise UsageError("lgscope reads checkpoint stores; it never writes through a saver it inspects.")

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self._decoder.decode_typed(data[0], data[1])

    # Savers of older versions call the untyped pair too.
    def dumps(self, obj: Any) -> bytes:
        return self.dumps_typed(obj)[1]

    def loads(self, data: bytes) -> Any:
        return self._decoder.decode_typed("json", data)


class SaverStore(Store):
    """Any checkpoint saver, read through ``list``; its writes carry no task paths."""

    kind = "saver"

    def __init__(self, saver: Any) -> None:
        super().__init__(f"{type(saver).__name__} instance")
        reader = copy.copy(saver)
        reader.serde = _SafeSerde()
        if hasattr(reader, "is_setup"):
            reader.is_setup = True  # our reading copy must never run the saver's setup(), which writes
        self._saver = reader

    def _index(self) -> Iterator[ThreadIndexEntry]:
        acc: dict[str, dict[str, Any]] = {}
        for tup in self._saver.list(None):
            conf = tup.config["configurable"]
            tid, ns, cid = str(conf["thread_id"]), conf.get("checkpoint_ns", ""), conf["checkpoint_id"]
            a = acc.setdefault(tid, {"ns": set(), "count": 0, "first": cid, "last": None})
            a["ns"].add(ns)
            a["count"] += 1
            a["first"] = min(a["first"], cid)
            if ns == "":
                a["last"] = max(a["last"] or cid, cid)
        for tid, a in acc.items():
            namespaces = tuple(sorted(a["ns"], key=lambda n: (n != "", n)))
            yield ThreadIndexEntry(tid, namespaces, a["count"], 0, a["last"] or a["first"], a["first"])

    def _index_for(self, thread_id: str) -> Iterator[ThreadIndexEntry]:
        raws = self._raw_thread(thread_id)
        if raws:
            all_raws = [r for rs in raws.values() for r in rs]
            root = raws.get("") or all_raws
            yield ThreadIndexEntry(
                thread_id,
                tuple(sorted(raws, key=lambda n: (n != "", n))),
                len(all_raws),
                0,
                max(r.checkpoint_id for r in root),
                min(r.checkpoint_id for r in all_raws),
            )

    def _raw_thread(self, thread_id: str) -> dict[str, list[RawCheckpoint]]:
        by_ns: dict[str, list[RawCheckpoint]] = {}
        for tup in self._saver.list({"configurable": {"thread_id": thread_id}}):
            conf = tup.config["configurable"]
            parent = (tup.parent_config or {}).get("configurable", {}).get("checkpoint_id")
            writes = [
                RawWrite(task_id, "", i, channel, None, None, decoded=value, is_decoded=True)
                for i, (task_id, channel, value) in enumerate(tup.pending_writes or ())
            ]
            checkpoint = dict(tup.checkpoint)
            values = dict(checkpoint.pop("channel_values", None) or {})
            by_ns.setdefault(conf.get("checkpoint_ns", ""), []).append(
                RawCheckpoint(
                    thread_id,
                    conf.get("checkpoint_ns", ""),
                    conf["checkpoint_id"],
                    parent,
                    checkpoint,
                    dict(tup.metadata or {}),
                    writes,
                    values=values,
                )
            )
        for raws in by_ns.values():
            raws.sort(key=lambda r: r.checkpoint_id)
        return by_ns
