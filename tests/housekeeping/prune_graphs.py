"""Real LangGraph graphs for the housekeeping tests (imported by writer processes too)."""

from __future__ import annotations

import contextlib
import operator
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt


@contextlib.contextmanager
def saver_for(target: str) -> Iterator[Any]:
    """The official saver of a SQLite path or postgresql:// URL, set up."""
    if target.startswith("postgresql://"):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(target) as saver:
            saver.setup()
            yield saver
    else:
        from langgraph.checkpoint.sqlite import SqliteSaver

        with SqliteSaver.from_conn_string(target) as saver:
            saver.setup()
            yield saver


class Counter(TypedDict, total=False):
    items: Annotated[list[str], operator.add]
    n: int
    limit: int
    approved: str


def counter_graph(saver: Any, *, approve: bool = True) -> Any:
    """``step`` appends an item until ``n`` reaches ``limit``; then ``approve`` waits on an interrupt."""

    def step(state: Counter) -> Counter:
        n = state.get("n", 0) + 1
        return {"items": [f"item-{n}:" + "x" * 200], "n": n}

    def approve_node(state: Counter) -> Counter:
        answer = interrupt({"question": f"approve {state.get('n')} items?"})
        return {"approved": str(answer)}

    def route(state: Counter) -> str:
        if state.get("n", 0) < state.get("limit", 0):
            return "step"
        return "approve" if approve else END

    g = StateGraph(Counter)
    g.add_node("step", step)
    g.add_node("approve", approve_node)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", route, ["step", "approve", END])
    g.add_edge("approve", END)
    return g.compile(checkpointer=saver)


def _add(state: Sequence[Any], writes: Sequence[Any]) -> Any:
    out: Any = state
    for w in writes:
        out = add_messages(out, w)
    return out


class Delta(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], DeltaChannel(_add, snapshot_frequency=4)]
    tries: int
    limit: int


def delta_graph(saver: Any) -> Any:
    """An agent that appends one message a step to a DeltaChannel until ``tries`` reaches ``limit``."""

    def agent(state: Delta) -> Delta:
        n = state.get("tries", 0) + 1
        return {"messages": [AIMessage(f"answer {n}", id=f"a{n}")], "tries": n}

    g = StateGraph(Delta)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    g.add_conditional_edges(
        "agent", lambda s: END if s["tries"] >= s.get("limit", 10) else "agent", ["agent", END]
    )
    return g.compile(checkpointer=saver)


def question(text: str, mid: str) -> HumanMessage:
    return HumanMessage(text, id=mid)


def write_many(target: str, thread_id: str, rounds: int) -> None:
    """The writer: ``rounds`` invocations of the counter graph on one thread, each adding items."""
    with saver_for(target) as saver:
        graph = counter_graph(saver, approve=False)
        config = {"configurable": {"thread_id": thread_id}}
        for i in range(1, rounds + 1):
            graph.invoke({"limit": 3 * i}, config)


if __name__ == "__main__":
    write_many(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    Path(sys.argv[4]).write_text("done")


class Outer(TypedDict, total=False):
    n: int
    answer: str


def nested_graph(saver: Any) -> Any:
    """A parent that counts a few steps, then calls a subgraph whose node waits on an interrupt."""

    def ask(state: Outer) -> Outer:
        return {"answer": str(interrupt("ok?"))}

    inner = StateGraph(Outer)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    sub = inner.compile()

    def count(state: Outer) -> Outer:
        return {"n": state.get("n", 0) + 1}

    g = StateGraph(Outer)
    g.add_node("count", count)
    g.add_node("review", sub)
    g.add_edge(START, "count")
    g.add_conditional_edges("count", lambda s: "count" if s["n"] < 5 else "review", ["count", "review"])
    g.add_edge("review", END)
    return g.compile(checkpointer=saver)
