"""Small real LangGraph graphs that misbehave in one way each, checkpointed to a real SQLite file."""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt


@contextmanager
def saver(path: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def cfg(thread_id: str, **extra: Any) -> Any:
    return {"configurable": {"thread_id": thread_id}, **extra}


class Chat(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    calls: Annotated[int, operator.add]


def tool_call(n: int, query: str = "refund policy") -> AIMessage:
    return AIMessage(
        "", id=f"ai-{n}", tool_calls=[{"name": "search", "args": {"q": query}, "id": f"call-{n}"}]
    )


def agent_graph(checkpointer: Any, replies: list[AIMessage]) -> Any:
    """agent ⇄ tools with a scripted fake chat model; ``calls`` counts tool calls (a counter field)."""
    model = FakeMessagesListChatModel(responses=list(replies))

    def agent(state: Chat) -> Chat:
        return {"messages": [model.invoke(state["messages"])]}

    def tools(state: Chat) -> Chat:
        calls = getattr(state["messages"][-1], "tool_calls", [])
        return {
            "messages": [
                ToolMessage("no article matches", tool_call_id=c["id"], name=c["name"]) for c in calls
            ],
            "calls": len(calls),
        }

    def route(state: Chat) -> str:
        return "tools" if getattr(state["messages"][-1], "tool_calls", None) else END

    g = StateGraph(Chat)
    g.add_node("agent", agent)
    g.add_node("tools", tools)
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", route, ["tools", END])
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=checkpointer)


def ask(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text)]}


class Review(TypedDict, total=False):
    draft: str
    status: str
    rounds: Annotated[int, operator.add]


def review_graph(checkpointer: Any, bounces: int) -> Any:
    """writer → reviewer; the reviewer sends the same draft back ``bounces`` times."""
    seen = {"reviews": 0}

    def writer(state: Review) -> Review:
        return {"draft": "Q3 summary: revenue up.", "status": "in_review", "rounds": 1}

    def reviewer(state: Review) -> Review:
        seen["reviews"] += 1
        return {"status": "draft" if seen["reviews"] <= bounces else "approved"}

    g = StateGraph(Review)
    g.add_node("writer", writer)
    g.add_node("reviewer", reviewer)
    g.add_edge(START, "writer")
    g.add_edge("writer", "reviewer")
    g.add_conditional_edges(
        "reviewer", lambda s: "writer" if s["status"] == "draft" else END, ["writer", END]
    )
    return g.compile(checkpointer=checkpointer)


class Turns(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    turn: str


def turns_graph(checkpointer: Any) -> Any:
    """A healthy chat: ``turn`` alternates user/assistant while every turn adds a new message."""
    counter = {"n": 0}

    def assistant(state: Turns) -> Turns:
        counter["n"] += 1
        return {
            "messages": [AIMessage(f"Answer number {counter['n']} about {state['messages'][-1].content}")],
            "turn": "user",
        }

    g = StateGraph(Turns)
    g.add_node("assistant", assistant)
    g.add_edge(START, "assistant")
    g.add_edge("assistant", END)
    return g.compile(checkpointer=checkpointer)


class Poll(TypedDict, total=False):
    job: str
    status: str


def poll_graph(checkpointer: Any, polls: int) -> Any:
    """check ⇄ wait polling a job that never moves: every poll writes the same status again."""
    seen = {"n": 0}

    def check(state: Poll) -> Poll:
        seen["n"] += 1
        return {"status": "pending"}

    def wait(state: Poll) -> Poll:
        return {}

    g = StateGraph(Poll)
    g.add_node("check", check)
    g.add_node("wait", wait)
    g.add_edge(START, "check")
    g.add_conditional_edges("check", lambda s: END if seen["n"] >= polls else "wait", ["wait", END])
    g.add_edge("wait", "check")
    return g.compile(checkpointer=checkpointer)


class Approval(TypedDict, total=False):
    amount: int
    approved: bool


def approval_graph(checkpointer: Any) -> Any:
    def approve(state: Approval) -> Approval:
        answer = interrupt({"question": f"approve transfer of {state['amount']}?"})
        return {"approved": bool(answer)}

    g = StateGraph(Approval)
    g.add_node("approve", approve)
    g.add_edge(START, "approve")
    g.add_edge("approve", END)
    return g.compile(checkpointer=checkpointer)


class Job(TypedDict, total=False):
    path: str
    rows: int


def failing_graph(checkpointer: Any, fail: dict[str, bool]) -> Any:
    """load → parse; parse raises while ``fail['parse']`` is set."""

    def load(state: Job) -> Job:
        return {"rows": 12}

    def parse(state: Job) -> Job:
        if fail["parse"]:
            raise ValueError("row 7: unexpected delimiter")
        return {"rows": state["rows"] - 1}

    g = StateGraph(Job)
    g.add_node("load", load)
    g.add_node("parse", parse)
    g.add_edge(START, "load")
    g.add_edge("load", "parse")
    g.add_edge("parse", END)
    return g.compile(checkpointer=checkpointer)
