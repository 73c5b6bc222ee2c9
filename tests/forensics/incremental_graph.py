"""A small real graph for incremental-scan tests: work, then an optional human review."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt


class State(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    ask: bool


def _work(state: State) -> dict[str, Any]:
    return {"log": [f"step {len(state.get('log', []))}"]}


def _review(state: State) -> dict[str, Any]:
    if state.get("ask"):
        answer = interrupt("approve?")
        return {"log": [f"answer {answer}"], "ask": False}
    return {}


def build(saver: BaseCheckpointSaver[Any]) -> Any:
    g = StateGraph(State)
    g.add_node("work", _work)
    g.add_node("review", _review)
    g.add_edge(START, "work")
    g.add_edge("work", "review")
    g.add_edge("review", END)
    return g.compile(checkpointer=saver)


def run(graph: Any, thread_id: str, *, ask: bool = False, turns: int = 1) -> None:
    """``turns`` runs of the graph on ``thread_id`` (the last one stops at review when ``ask``)."""
    config = {"configurable": {"thread_id": thread_id}}
    for n in range(turns):
        graph.invoke({"log": [f"turn {n}"], "ask": ask and n == turns - 1}, config)


def resume(graph: Any, thread_id: str, answer: str = "yes") -> None:
    graph.invoke(Command(resume=answer), {"configurable": {"thread_id": thread_id}})
