"""Recording every graph run of a test, so its history can be checked when the test ends."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lgscope._patch import Patch
from lgscope.model import ThreadHistory
from lgscope.store import open_store
from lgscope.testing._window import WINDOW, WindowSaver

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

    A graph compiled without a checkpointer gets a `WindowSaver` for the test (an
    ``InMemorySaver`` that keeps the first and last checkpoints of a run, not all of them), and
    a thread id if its config names none; the original is restored by `stop()`.

    ``max_steps`` bounds every run while it runs: it becomes the run's ``recursion_limit``
    (unless the config sets a lower one), so a runaway loop stops there with LangGraph's
    ``GraphRecursionError`` instead of running to LangGraph's default of 10,007 steps.
    """

    def __init__(self, *, max_steps: int | None = None, window: int = WINDOW) -> None:
        self.max_steps = max_steps
        self.window = window
        self.runs: list[RecordedRun] = []
        self._patches: list[Patch] = []
        self._lent: list[Any] = []

    def _prepare(self, graph: Any, config: Any) -> Any:
        configurable = dict((config or {}).get("configurable") or {})
        if configurable.get("checkpoint_ns") or any(k.startswith("__pregel_") for k in configurable):
            return config  # a subgraph call inside a run we already record
        if graph.checkpointer is None:
            graph.checkpointer = WindowSaver(window=self.window)
            self._lent.append(graph)
        if self.max_steps is not None:
            limit = (config or {}).get("recursion_limit")
            if not isinstance(limit, int) or limit > self.max_steps:
                config = {**(config or {}), "recursion_limit": self.max_steps}
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
        return list(self.iter_histories())

    def iter_histories(self) -> Iterator[ThreadHistory]:
        """`histories`, one run at a time: only one run's decoded states are held at once."""
        for run in self.runs:
            with open_store(run.saver) as store:
                yield store.load(run.thread_id)
