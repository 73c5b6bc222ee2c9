"""Support agent: agent ⇄ tools. The incident: some conversations call the same tool forever.

The deep-dive seed's incident: 15% of conversations looped while every metric looked normal;
only the checkpoint history showed the agent asking for the same search again and again.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage, ToolMessage
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from lgscope.examples._common import Run, ai, scripted_model


def _lookup_order(args: dict[str, Any]) -> str:
    return f"order {args.get('order_id')}: shipped"


def _search_kb(args: dict[str, Any]) -> str:
    return "no article matches"


def _refund_status(args: dict[str, Any]) -> str:
    return "refund issued on day 3"


TOOLS: dict[str, Callable[[dict[str, Any]], str]] = {
    "lookup_order": _lookup_order,
    "search_kb": _search_kb,
    "refund_status": _refund_status,
}


class SupportState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    tool_calls_made: Annotated[int, operator.add]


def build(checkpointer: Any, name: str, replies: list[Any]) -> Any:
    model = scripted_model(replies)

    def agent(state: SupportState) -> SupportState:
        return {"messages": [model.invoke(state["messages"])]}

    def tools(state: SupportState) -> SupportState:
        last = state["messages"][-1]
        results: list[AnyMessage] = [
            ToolMessage(
                TOOLS[call["name"]](call["args"]),
                tool_call_id=call["id"],
                id=f"{call['id']}-result",
                name=call["name"],
            )
            for call in getattr(last, "tool_calls", [])
        ]
        return {"messages": results, "tool_calls_made": len(results)}

    def route(state: SupportState) -> str:
        return "tools" if getattr(state["messages"][-1], "tool_calls", None) else END

    g = StateGraph(SupportState)
    g.add_node("agent", agent)
    g.add_node("tools", tools)
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", route, ["tools", END])
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=checkpointer, name="support_agent")


def _call(name: str, tool: str, args: dict[str, Any], n: int) -> Any:
    return ai("", f"{name}-ai-{n}", [{"name": tool, "args": args, "id": f"{name}-call-{n}"}])


def run(r: Run) -> None:
    questions = [
        ("where is my order 1001?", "lookup_order", {"order_id": "1001"}, "It shipped yesterday."),
        (
            "has my refund gone through?",
            "refund_status",
            {"order_id": "1002"},
            "Your refund was issued on day 3.",
        ),
        ("order 1003 status?", "lookup_order", {"order_id": "1003"}, "Order 1003 has shipped."),
        ("refund for 1004?", "refund_status", {"order_id": "1004"}, "The refund for 1004 is issued."),
        ("where is 1005?", "lookup_order", {"order_id": "1005"}, "1005 is on its way."),
    ]
    for i, (question, tool, args, answer) in enumerate(questions, start=1):
        name = f"support-{i}"
        graph = build(r.checkpointer, name, [_call(name, tool, args, 1), ai(answer, f"{name}-ai-2")])
        graph.invoke({"messages": [HumanMessage(question, id=f"{name}-q")]}, r.thread(name))
        r.expect(name, "support", "done", [], "one tool call, then an answer")
        r.clock.advance(timedelta(minutes=41))

    name = "support-loop-recursion"
    looping = [_call(name, "search_kb", {"q": "refund policy"}, n) for n in range(1, 40)]
    graph = build(r.checkpointer, name, looping)
    try:
        graph.invoke(
            {"messages": [HumanMessage("what is your refund policy?", id=f"{name}-q")]},
            {**r.thread(name), "recursion_limit": 25},
        )
    except GraphRecursionError:
        pass
    r.expect(
        name,
        "support",
        "running",
        ["loop", "error"],
        "the incident: search_kb with the same query until the recursion limit (25) stopped the run",
    )
    r.clock.advance(timedelta(minutes=33))

    name = "support-loop-gave-up"
    replies = [_call(name, "search_kb", {"q": "warranty"}, n) for n in range(1, 6)]
    replies.append(ai("Sorry, I could not find our warranty terms.", f"{name}-ai-final"))
    build(r.checkpointer, name, replies).invoke(
        {"messages": [HumanMessage("what is the warranty?", id=f"{name}-q")]}, r.thread(name)
    )
    r.expect(name, "support", "done", ["loop"], "searched the same thing five times, then gave up")
    r.clock.advance(timedelta(minutes=27))

    name = "support-marathon"
    turns = 30
    topics = [
        "billing",
        "shipping",
        "returns",
        "warranty",
        "accounts",
        "discounts",
        "invoices",
        "delivery",
        "sizes",
    ]
    moods = ["Sure —", "Good question:", "Here is what I found:", "Short answer:", "Let me explain:"]
    answers = [
        f"{moods[n % 5]} our {topics[n % 9]} policy, section {n + 1}, covers case {n * 37 % 101} in detail."
        for n in range(turns)
    ]
    graph = build(r.checkpointer, name, [ai(text, f"{name}-ai-{n}") for n, text in enumerate(answers)])
    for n in range(turns):
        question = f"And what about {topics[(n * 4) % 9]} for order {2000 + n * 13}?"
        graph.invoke({"messages": [HumanMessage(question, id=f"{name}-q-{n}")]}, r.thread(name))
        r.clock.advance(timedelta(minutes=2))
    r.expect(
        name,
        "support",
        "done",
        [],
        f"{turns} turns, {turns * 2} messages: a long healthy conversation, each turn the size of "
        "any other (growth compares turns, not lengths)",
    )
