"""Writes checkpoints through a real LangGraph graph, slowly: what `lgscope tail` follows in tests.

Usage: python tail_writer.py STORE ROUNDS PAUSE
"""

from __future__ import annotations

import operator
import sys
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    fail: bool


def work(state: State) -> dict[str, Any]:
    if state.get("fail"):
        raise ValueError("the tool is down")
    return {"log": [f"step {len(state.get('log', []))}"]}


def main(path: str, rounds: int, pause: float) -> None:
    g = StateGraph(State)
    g.add_node("work", work)
    g.add_edge(START, "work")
    g.add_edge("work", END)
    if path.startswith("postgresql://"):
        from langgraph.checkpoint.postgres import PostgresSaver as Saver
    else:
        from langgraph.checkpoint.sqlite import SqliteSaver as Saver  # type: ignore[assignment]
    with Saver.from_conn_string(path) as saver:
        graph = g.compile(checkpointer=saver)
        for n in range(rounds):
            graph.invoke({"log": [f"round {n}"]}, {"configurable": {"thread_id": "live"}})
            time.sleep(pause)
        try:
            graph.invoke({"fail": True}, {"configurable": {"thread_id": "broken"}})
        except ValueError:
            pass


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
