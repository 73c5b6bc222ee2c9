"""Fixed versions of the sample workloads' graphs (same nodes, the fault mended), for replays.

Each is a factory taking ``checkpointer``, as `lgscope replay --graph FILE:ATTR` accepts.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from lgscope.examples import medicine, ops, review, support
from lgscope.examples._common import ai

HERE = __file__


def support_fixed(checkpointer: Any) -> Any:
    """The support agent whose model answers instead of searching again."""
    return support.build(checkpointer, "fixed", [ai("Our warranty is two years.", "fixed-ai-1")])


def ingest_fixed(checkpointer: Any) -> Any:
    """The ingest job whose parser accepts ';'."""

    def load(state: ops.IngestState) -> ops.IngestState:
        return {"rows": 1200}

    def parse(state: ops.IngestState) -> ops.IngestState:
        return {"rows": state["rows"] - 1}

    g = StateGraph(ops.IngestState)
    g.add_node("load", load)
    g.add_node("parse", parse)
    g.add_edge(START, "load")
    g.add_edge("load", "parse")
    g.add_edge("parse", END)
    return g.compile(checkpointer=checkpointer, name="ingest")


def ingest_broken(checkpointer: Any) -> Any:
    """The ingest job as it was."""
    return ops.build_ingest(checkpointer)


def sync_fixed(checkpointer: Any) -> Any:
    """The poller that records the job's progress and stops when it is done."""

    def wait(state: ops.SyncState) -> ops.SyncState:
        return {}

    def check(state: ops.SyncState) -> ops.SyncState:
        return {"status": "done"}

    g = StateGraph(ops.SyncState)
    g.add_node("wait", wait)
    g.add_node("check", check)
    g.add_edge(START, "wait")
    g.add_edge("wait", "check")
    g.add_conditional_edges("check", lambda s: END if s.get("status") == "done" else "wait", ["wait", END])
    return g.compile(checkpointer=checkpointer, name="sync_job")


def review_bounce(checkpointer: Any) -> Any:
    """The review graph as it was (the replay patches its state instead)."""
    return review.build_bounce(checkpointer)


def medicine_graph(checkpointer: Any) -> Any:
    """The medicine approval graph as it was."""
    return medicine.build(checkpointer, "medicine-stuck")


def other_graph(checkpointer: Any) -> Any:
    """A graph with none of the sample threads' nodes."""
    g = StateGraph(ops.SyncState)
    g.add_node("elsewhere", lambda s: {})
    g.add_edge(START, "elsewhere")
    return g.compile(checkpointer=checkpointer)
