"""Recording every graph run of a test, so its history can be checked when the test ends."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from lgscope.model import ThreadHistory
from lgscope.store import open_store

__all__ = ["RecordedRun", "RunRecorder"]

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class RecordedRun:
    """One top-level run: the graph, the thread it ran on, its checkpointer."""

    graph_name: str
    thread_id: str
    saver: Any


class RunRecorder:
    """Patches ``Pregel.stream``/``astream`` (``invoke``, ``batch``, ``ainvoke`` go through them).

    A graph compiled without a checkpointer gets an ``InMemorySaver`` for the test, and a
    thread id if its config names none; the original is restored by `stop()`.
    """

    def __init__(self) -> None:
        self.runs: list[RecordedRun] = []
        self._originals: dict[str, Any] = {}
        self._lent: list[Any] = []

    def _prepare(self, graph: Any, config: Any) -> Any:
        configurable = dict((config or {}).get("configurable") or {})
        if configurable.get("checkpoint_ns") or any(k.startswith("__pregel_") for k in configurable):
            return config  # a subgraph call inside a run we already record
        if graph.checkpointer is None:
            from langgraph.checkpoint.memory import InMemorySaver

            graph.checkpointer = InMemorySaver()
            self._lent.append(graph)
        if isinstance(graph.checkpointer, bool):
            return config
        if "thread_id" not in configurable:
            configurable["thread_id"] = f"lgscope-test-{next(_ids)}"
            config = {**(config or {}), "configurable": configurable}
        run = RecordedRun(graph.get_name(), str(configurable["thread_id"]), graph.checkpointer)
        if run not in self.runs:
            self.runs.append(run)
        return config

    def start(self) -> None:
        from langgraph.pregel import Pregel

        if self._originals:
            return
        stream, astream = Pregel.stream, Pregel.astream
        self._originals = {"stream": stream, "astream": astream}
        recorder = self

        def recorded_stream(self: Any, input: Any, config: Any = None, **kw: Any) -> Iterator[Any]:
            return stream(self, input, recorder._prepare(self, config), **kw)

        def recorded_astream(self: Any, input: Any, config: Any = None, **kw: Any) -> AsyncIterator[Any]:
            return astream(self, input, recorder._prepare(self, config), **kw)

        Pregel.stream = recorded_stream  # type: ignore[method-assign]
        Pregel.astream = recorded_astream  # type: ignore[method-assign]

    def stop(self) -> None:
        from langgraph.pregel import Pregel

        if self._originals:
            Pregel.stream = self._originals["stream"]  # type: ignore[method-assign]
            Pregel.astream = self._originals["astream"]  # type: ignore[method-assign]
            self._originals = {}
        for graph in self._lent:
            graph.checkpointer = None
        self._lent = []

    def histories(self) -> list[ThreadHistory]:
        """The history of every recorded run, read back through its checkpointer."""
        out = []
        for run in self.runs:
            with open_store(run.saver) as store:
                out.append(store.load(run.thread_id))
        return out
