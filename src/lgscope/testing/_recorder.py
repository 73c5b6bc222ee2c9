"""Recording every graph run of a test, so its history can be checked when the test ends."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lgscope._patch import Patch
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
    """Wraps ``Pregel.stream``/``astream`` (``invoke``, ``batch``, ``ainvoke`` go through them)
    while started; `stop()` takes its wrappers out whatever was wrapped over them since.

    A graph compiled without a checkpointer gets an ``InMemorySaver`` for the test, and a
    thread id if its config names none; the original is restored by `stop()`.
    """

    def __init__(self) -> None:
        self.runs: list[RecordedRun] = []
        self._patches: list[Patch] = []
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

    def _record(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if len(args) > 1:
            args = (args[0], self._prepare(instance, args[1]), *args[2:])
        else:
            kwargs = {**kwargs, "config": self._prepare(instance, kwargs.get("config"))}
        return wrapped(*args, **kwargs)

    def start(self) -> None:
        from langgraph.pregel import Pregel

        if self._patches:
            return
        self._patches = [Patch(Pregel, "stream", self._record), Patch(Pregel, "astream", self._record)]
        for patch in self._patches:
            patch.apply()

    def stop(self) -> None:
        for patch in self._patches:
            patch.remove()  # cut out of the chain, wherever other wrappers put it
        self._patches = []
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
