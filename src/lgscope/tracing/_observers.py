"""The hook runtime metrics (and anything else) use to hear about runs without spans."""

from __future__ import annotations

from typing import Protocol

__all__ = ["RunObserver"]


class RunObserver(Protocol):
    """Told about every node, tool, checkpoint write, interrupt and resume of instrumented runs.

    Called whether or not spans are sampled; keep the methods cheap and never raise.
    """

    def node_finished(self, graph: str, node: str, seconds: float, error: bool) -> None: ...

    def tool_finished(self, tool: str, seconds: float, error: bool) -> None: ...

    def checkpoint_put(self, seconds: float, size_bytes: int) -> None: ...

    def interrupt(self, graph: str, node: str) -> None: ...

    def resume(self, graph: str) -> None: ...

    def run_finished(self, graph: str, seconds: float, error: str | None) -> None:
        """``error`` is the exception's class name (``GraphRecursionError`` for a loop guard hit)."""
        ...
