"""The checkpointer the recorder lends a graph that has none: it keeps a window, not everything.

An ``InMemorySaver`` keeps every checkpoint of a run, and each checkpoint holds the whole value
of every channel it changed: a loop that grows a list stores the list once per step, so memory
grows with the square of the run's length. `WindowSaver` keeps the first ``head`` checkpoints of
each namespace (where the run started) and the last ``window`` (what it was doing), which is
what the detectors need for their evidence, and drops the rest as the run goes.

It trims ``InMemorySaver``'s storage dictionaries (public attributes, but not documented API):
that is the one place lgscope relies on them, and `WindowSaver` checks they are there when it is
made, so an upgrade that renames them fails loudly rather than silently keeping everything.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.memory import InMemorySaver

__all__ = ["WindowSaver"]

HEAD = 4
"""Checkpoints kept from the start of each namespace."""
WINDOW = 24
"""Checkpoints kept from the end of each namespace: enough for a cycle of 4 nodes to repeat 6
times, or a field to flip 12 times (the default thresholds need 3 and 4)."""
SLACK = 8
"""Checkpoints let in past the window before it is trimmed back (trimming costs a pass over the
kept checkpoints' versions, so it runs every ``SLACK`` steps, not every step). A namespace never
holds more than ``HEAD + WINDOW + SLACK`` = 36 checkpoints, so the saver's memory is bounded by
36 times the largest state, however long the run."""


class WindowSaver(InMemorySaver):
    """An ``InMemorySaver`` that keeps the first ``head`` and last ``window`` checkpoints of each
    namespace of each thread; `dropped` counts the checkpoints let go."""

    def __init__(self, *, head: int = HEAD, window: int = WINDOW) -> None:
        super().__init__()
        for name in ("storage", "writes", "blobs"):
            if not isinstance(getattr(self, name, None), dict):
                raise RuntimeError(
                    f"lgscope's test recorder relies on InMemorySaver.{name}, which this version of "
                    "langgraph-checkpoint does not have; pin langgraph-checkpoint<5 or report this to lgscope."
                )
        if head < 1 or window < 2:
            raise ValueError("WindowSaver needs head >= 1 and window >= 2.")
        self.head = head
        self.window = window
        self.dropped: dict[tuple[str, str], int] = {}
        """Checkpoints dropped, by ``(thread_id, checkpoint_ns)``."""

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = super().put(config, checkpoint, metadata, new_versions)
        configurable = saved["configurable"]
        thread_id, ns = str(configurable["thread_id"]), str(configurable["checkpoint_ns"])
        if len(self.storage[thread_id][ns]) >= self.head + self.window + SLACK:
            self._trim(thread_id, ns)
        return saved

    def _trim(self, thread_id: str, ns: str) -> None:
        checkpoints = self.storage[thread_id][ns]
        ids = sorted(checkpoints)  # checkpoint ids are time-ordered
        drop = ids[self.head : len(ids) - self.window]
        if not drop:
            return
        for checkpoint_id in drop:
            del checkpoints[checkpoint_id]
        # the last dropped checkpoint's writes say which node produced the first kept one
        for checkpoint_id in drop[:-1]:
            self.writes.pop((thread_id, ns, checkpoint_id), None)
        key = (thread_id, ns)
        self.dropped[key] = self.dropped.get(key, 0) + len(drop)
        referenced: set[tuple[str, Any]] = set()
        for serialized, _metadata, _parent in checkpoints.values():
            kept: dict[str, Any] = self.serde.loads_typed(serialized)
            referenced.update(kept.get("channel_versions", {}).items())
        stale = [k for k in self.blobs if k[0] == thread_id and k[1] == ns and (k[2], k[3]) not in referenced]
        for k in stale:
            del self.blobs[k]

    def delete_thread(self, thread_id: str) -> None:
        super().delete_thread(thread_id)
        for key in [k for k in self.dropped if k[0] == thread_id]:
            del self.dropped[key]
