"""One long ReAct thread, the shape an incident produces: agent → tools until the recursion limit.

A real LangGraph graph and the real SqliteSaver (or PostgresSaver); a fake chat model answers
with provider-shaped messages (ids, token usage, tool calls) and the tool returns ~0.7 KB. The
message list grows by two each round and SqliteSaver stores it whole in every checkpoint, so
the file grows with the square of the rounds (~1.2 GB at 1,000 rounds).

    python benchmarks/_long_thread.py OUT.sqlite ROUNDS
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

THREAD = "incident-loop"

_WORDS = (
    "refund order shipping invoice account warranty return policy customer support ticket "
    "delivery carrier tracking label payment card billing address subscription plan upgrade"
).split()


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    attempts: int


def _replies(rng: random.Random, rounds: int) -> list[AIMessage]:
    out = []
    for _ in range(rounds):
        call = {
            "name": "search",
            "args": {"query": "refund policy"},
            "id": f"call_{rng.getrandbits(72):018x}",
        }
        usage = {"input_tokens": rng.randint(400, 6000), "output_tokens": 40, "total_tokens": 0}
        out.append(
            AIMessage(
                "Let me look that up again.",
                id=f"run-{rng.getrandbits(64):016x}",
                tool_calls=[call],
                response_metadata={"model_name": "gpt-4o", "finish_reason": "tool_calls"},
                usage_metadata=usage,  # type: ignore[arg-type]
            )
        )
    return out


def graph(saver: Any, rounds: int, seed: int = 7) -> Any:
    rng = random.Random(seed)
    model = GenericFakeChatModel(messages=iter(_replies(rng, rounds + 1)))
    article = " ".join(rng.choice(_WORDS) for _ in range(100))  # ~0.7 KB

    def agent(state: State) -> State:
        return {"messages": [model.invoke(state["messages"][-2:])], "attempts": state.get("attempts", 0) + 1}

    def tools(state: State) -> State:
        calls = state["messages"][-1].tool_calls  # type: ignore[union-attr]
        return {"messages": [ToolMessage(article, tool_call_id=c["id"]) for c in calls]}

    g = StateGraph(State)
    g.add_node("agent", agent)
    g.add_node("tools", tools)
    g.add_edge(START, "agent")
    g.add_conditional_edges(
        "agent", lambda s: "tools" if s["messages"][-1].tool_calls else END, ["tools", END]
    )
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=saver)


def run(saver: Any, rounds: int) -> None:
    """``rounds`` agent → tools rounds, stopped by the recursion limit (2 × rounds + 1 checkpoints)."""
    from langgraph.errors import GraphRecursionError

    cfg = {"configurable": {"thread_id": THREAD}, "recursion_limit": 2 * rounds}
    try:
        graph(saver, rounds).invoke({"messages": [HumanMessage("Where is my refund?", id="q")]}, cfg)
    except GraphRecursionError:
        pass


def build_sqlite(path: Path, rounds: int) -> Path:
    from langgraph.checkpoint.sqlite import SqliteSaver

    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with SqliteSaver.from_conn_string(str(tmp)) as saver:
        run(saver, rounds)
    tmp.rename(path)
    return path


if __name__ == "__main__":
    build_sqlite(Path(sys.argv[1]), int(sys.argv[2]))
