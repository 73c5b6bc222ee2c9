"""Oscillation, and the alternation that is not one.

``review-bounce``: a reviewer keeps sending the same draft back; ``status`` flips
draft ⇄ in_review while nothing else changes (a round counter aside).
``chat-turns``: a healthy chat whose ``turn`` flag alternates user ⇄ assistant while every turn
adds a new message; the oscillation detector must leave it alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from lgscope.examples._common import Run, ai, scripted_model


class ReviewState(TypedDict, total=False):
    status: str
    draft: str
    feedback: str
    rounds: int


def build_bounce(checkpointer: Any, max_rounds: int = 4) -> Any:
    def writer(state: ReviewState) -> ReviewState:
        return {
            "status": "in_review",
            "draft": "Q3 summary: revenue flat, churn down.",
            "rounds": state.get("rounds", 0) + 1,
        }

    def reviewer(state: ReviewState) -> ReviewState:
        return {"status": "draft", "feedback": "Needs more numbers."}

    def route(state: ReviewState) -> str:
        return END if state["rounds"] >= max_rounds else "writer"

    g = StateGraph(ReviewState)
    g.add_node("writer", writer)
    g.add_node("reviewer", reviewer)
    g.add_edge(START, "writer")
    g.add_edge("writer", "reviewer")
    g.add_conditional_edges("reviewer", route, ["writer", END])
    return g.compile(checkpointer=checkpointer, name="report_review")


class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    turn: str


def build_chat(checkpointer: Any, replies: list[Any]) -> Any:
    model = scripted_model(replies)

    def user_turn(state: ChatState) -> ChatState:
        return {"turn": "assistant"}

    def assistant(state: ChatState) -> ChatState:
        return {"messages": [model.invoke(state["messages"])], "turn": "user"}

    g = StateGraph(ChatState)
    g.add_node("user_turn", user_turn)
    g.add_node("assistant", assistant)
    g.add_edge(START, "user_turn")
    g.add_edge("user_turn", "assistant")
    g.add_edge("assistant", END)
    return g.compile(checkpointer=checkpointer, name="chat")


def run(r: Run) -> None:
    build_bounce(r.checkpointer).invoke({"status": "draft", "rounds": 0}, r.thread("review-bounce"))
    r.expect(
        "review-bounce",
        "review",
        "done",
        ["loop", "oscillation"],
        "the reviewer bounced the same draft four times: writer → reviewer repeats (a loop) while "
        "status flips draft ⇄ in_review (an oscillation)",
    )
    r.clock.advance(timedelta(hours=1, minutes=10))
    replies = [
        "Install the package with pip and check the version it prints.",
        "Create a SqliteSaver and pass it to compile() as the checkpointer.",
        "Every invoke needs a thread_id in config['configurable'].",
        "Call get_state_history to walk back through the checkpoints.",
        "That's it: rerun the script and the thread resumes where it stopped.",
    ]
    graph = build_chat(r.checkpointer, [ai(text, f"chat-ai-{n}") for n, text in enumerate(replies)])
    for n in range(5):
        graph.invoke(
            {"messages": [HumanMessage(f"how do I do step {n}?", id=f"chat-q-{n}")], "turn": "user"},
            r.thread("chat-turns"),
        )
        r.clock.advance(timedelta(minutes=3))
    r.expect(
        "chat-turns",
        "review",
        "done",
        [],
        "healthy chat: turn alternates user ⇄ assistant while messages grow",
    )
