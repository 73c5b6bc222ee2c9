"""An app instrumented by lgscope exposing runtime metrics; runs graphs until killed.

python runtime_app.py PORT
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, interrupt
from prometheus_client import CollectorRegistry

from lgscope.examples._common import scripted_model
from lgscope.metrics import RuntimeMetrics, start_http_server
from lgscope.tracing import instrument


@tool
def lookup(order_id: str) -> str:
    """Look an order up."""
    return f"order {order_id}: shipped"


@tool
def refund(order_id: str) -> str:
    """Refund an order (its backend is down)."""
    raise RuntimeError("refund service unavailable")


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


class Approval(TypedDict, total=False):
    amount: int
    ok: bool


def agent_graph(n: int) -> Any:
    model = scripted_model(
        [
            AIMessage(
                "",
                id=f"a{n}",
                tool_calls=[
                    {"name": "lookup", "args": {"order_id": "1"}, "id": f"c{n}"},
                    {"name": "refund", "args": {"order_id": "1"}, "id": f"r{n}"},
                ],
            ),
            AIMessage("done", id=f"b{n}"),
        ]
    )
    g = StateGraph(Chat)
    g.add_node("agent", lambda s: {"messages": [model.invoke(s["messages"])]})
    g.add_node("tools", ToolNode([lookup, refund], handle_tool_errors=True))
    g.add_edge(START, "agent")
    g.add_conditional_edges(
        "agent", lambda s: "tools" if s["messages"][-1].tool_calls else END, ["tools", END]
    )
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=InMemorySaver(), name="support_agent")


def approval_graph() -> Any:
    g = StateGraph(Approval)
    g.add_node("approve", lambda s: {"ok": bool(interrupt({"amount": s["amount"]}))})
    g.add_edge(START, "approve")
    g.add_edge("approve", END)
    return g.compile(checkpointer=InMemorySaver(), name="approvals")


def failing_graph() -> Any:
    g = StateGraph(Approval)

    def charge(state: Approval) -> Approval:
        raise ValueError("card declined")

    g.add_node("charge", charge)
    g.add_edge(START, "charge")
    return g.compile(name="billing")


def looping_graph() -> Any:
    g = StateGraph(Approval)
    g.add_node("a", lambda s: {"amount": s.get("amount", 0) + 1})
    g.add_node("b", lambda s: {"amount": s.get("amount", 0) + 1})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "a")
    return g.compile(name="looper")


def main() -> None:
    registry = CollectorRegistry()
    metrics = RuntimeMetrics(registry)
    start_http_server(int(sys.argv[1]), registry=registry)
    n = 0
    while True:
        n += 1
        instrument(agent_graph(n), observers=[metrics]).invoke(
            {"messages": [HumanMessage("refund order 1", id=f"h{n}")]},
            {"configurable": {"thread_id": f"s{n}"}},
        )
        approvals = instrument(approval_graph(), observers=[metrics])
        config = {"configurable": {"thread_id": f"a{n}"}}
        approvals.invoke({"amount": 9000}, config)
        approvals.invoke(Command(resume=True), config)
        try:
            instrument(failing_graph(), observers=[metrics]).invoke({"amount": 1})
        except ValueError:
            pass
        try:
            instrument(looping_graph(), observers=[metrics]).invoke({"amount": 0}, {"recursion_limit": 6})
        except GraphRecursionError:
            pass
        time.sleep(0.2)


if __name__ == "__main__":
    main()
