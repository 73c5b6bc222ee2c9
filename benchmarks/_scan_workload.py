"""Real LangGraph threads for the scan benchmark, shaped like a production support deployment.

The sample store's threads carry toy messages (a few words, no metadata), so its checkpoints
average 1.6 KB. A deployed agent's messages carry what providers return: token usage, model
and finish metadata, tool calls, and tool results of a kilobyte or more. These templates are
run through the real graphs and the real SqliteSaver (a fake chat model answers with such
messages); the benchmark then copies their rows under new thread ids.

Mix (by thread): 60% healthy conversations of 1-3 turns, 15% the incident's loop (the same
search until the recursion limit), 8% a review bouncing the same draft (loop + oscillation),
8% approvals (half answered, half left for days), 4% a stalled poller, 5% a failed task.
"""

from __future__ import annotations

import operator
import random
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt

from lgscope.examples._clock import FakeClock, installed

START_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = START_TIME + timedelta(days=6)
"""Judge interrupt ages as of this time: the unanswered approvals are days old by then."""

_WORDS = (
    "refund order shipping invoice account warranty return policy customer support ticket "
    "delivery carrier tracking label payment card billing address subscription plan upgrade "
    "discount coupon store credit exchange damaged missing item package courier days business "
    "within request approval manager region europe standard express priority"
).split()


def _text(rng: random.Random, words: int) -> str:
    out = [rng.choice(_WORDS) for _ in range(words)]
    return " ".join(out).capitalize() + "."


def _meta(rng: random.Random, finish: str) -> dict[str, Any]:
    prompt, completion = rng.randint(400, 6000), rng.randint(20, 400)
    return {
        "token_usage": {
            "completion_tokens": completion,
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
            "completion_tokens_details": {"accepted_prediction_tokens": 0, "reasoning_tokens": 0},
            "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": rng.choice([0, 1024])},
        },
        "model_name": "gpt-4o-2024-08-06",
        "system_fingerprint": f"fp_{rng.getrandbits(40):010x}",
        "finish_reason": finish,
        "logprobs": None,
    }


def _usage(meta: dict[str, Any]) -> dict[str, Any]:
    u = meta["token_usage"]
    return {
        "input_tokens": u["prompt_tokens"],
        "output_tokens": u["completion_tokens"],
        "total_tokens": u["total_tokens"],
        "input_token_details": {"audio": 0, "cache_read": u["prompt_tokens_details"]["cached_tokens"]},
        "output_token_details": {"audio": 0, "reasoning": 0},
    }


def _ai(rng: random.Random, text: str, calls: list[dict[str, Any]] | None = None) -> AIMessage:
    meta = _meta(rng, "tool_calls" if calls else "stop")
    return AIMessage(
        text,
        id=f"run-{rng.getrandbits(64):016x}",
        tool_calls=calls or [],
        response_metadata=meta,
        usage_metadata=_usage(meta),  # type: ignore[arg-type]
    )


def _call(rng: random.Random, tool: str, query: str) -> dict[str, Any]:
    return {"name": tool, "args": {"query": query}, "id": f"call_{rng.getrandbits(72):018x}"}


class Chat(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    tool_calls: Annotated[int, operator.add]


def _support(saver: Any, replies: list[AIMessage], articles: dict[str, str]) -> Any:
    model = GenericFakeChatModel(messages=iter(replies))

    def agent(state: Chat) -> Chat:
        return {"messages": [model.invoke(state["messages"])]}

    def tools(state: Chat) -> Chat:
        calls = getattr(state["messages"][-1], "tool_calls", [])
        return {
            "messages": [
                ToolMessage(articles.get(c["args"]["query"], "No article matches."), tool_call_id=c["id"])
                for c in calls
            ],
            "tool_calls": len(calls),
        }

    g = StateGraph(Chat)
    g.add_node("agent", agent)
    g.add_node("tools", tools)
    g.add_edge(START, "agent")
    g.add_conditional_edges(
        "agent", lambda s: "tools" if getattr(s["messages"][-1], "tool_calls", None) else END, ["tools", END]
    )
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=saver)


class Review(TypedDict, total=False):
    brief: str
    draft: str
    status: str
    feedback: Annotated[list[str], operator.add]


def _review(saver: Any, draft: str, bounces: int) -> Any:
    seen = {"n": 0}

    def writer(state: Review) -> Review:
        return {"draft": draft, "status": "in_review"}

    def reviewer(state: Review) -> Review:
        seen["n"] += 1
        if seen["n"] <= bounces:
            return {"status": "draft"}
        return {"status": "approved", "feedback": ["Approved."]}

    g = StateGraph(Review)
    g.add_node("writer", writer)
    g.add_node("reviewer", reviewer)
    g.add_edge(START, "writer")
    g.add_edge("writer", "reviewer")
    g.add_conditional_edges(
        "reviewer", lambda s: "writer" if s["status"] == "draft" else END, ["writer", END]
    )
    return g.compile(checkpointer=saver)


class Refund(TypedDict, total=False):
    order_id: str
    amount: int
    reason: str
    approved: bool
    status: str


def _approval(saver: Any) -> Any:
    def assess(state: Refund) -> Refund:
        return {"status": "needs_approval"}

    def approve(state: Refund) -> Refund:
        answer = interrupt(
            {"question": f"Refund {state['amount']} EUR for {state['order_id']}?", "reason": state["reason"]}
        )
        return {"approved": bool(answer), "status": "approved" if answer else "rejected"}

    g = StateGraph(Refund)
    g.add_node("assess", assess)
    g.add_node("approve", approve)
    g.add_edge(START, "assess")
    g.add_edge("assess", "approve")
    g.add_edge("approve", END)
    return g.compile(checkpointer=saver)


class Sync(TypedDict, total=False):
    job_id: str
    status: str


def _poller(saver: Any, polls: int) -> Any:
    seen = {"n": 0}

    def check(state: Sync) -> Sync:
        seen["n"] += 1
        return {}

    def wait(state: Sync) -> Sync:
        return {}

    g = StateGraph(Sync)
    g.add_node("check", check)
    g.add_node("wait", wait)
    g.add_edge(START, "check")
    g.add_conditional_edges("check", lambda s: END if seen["n"] >= polls else "wait", ["wait", END])
    g.add_edge("wait", "check")
    return g.compile(checkpointer=saver)


class Ingest(TypedDict, total=False):
    path: str
    rows: list[dict[str, Any]]


def _ingest(saver: Any, rows: list[dict[str, Any]]) -> Any:
    def load(state: Ingest) -> Ingest:
        return {"rows": rows}

    def parse(state: Ingest) -> Ingest:
        raise ValueError(f"row {len(rows) // 2}: unexpected delimiter ';'")

    g = StateGraph(Ingest)
    g.add_node("load", load)
    g.add_node("parse", parse)
    g.add_edge(START, "load")
    g.add_edge("load", "parse")
    g.add_edge("parse", END)
    return g.compile(checkpointer=saver)


def build_templates(saver: Any, seed: int = 7) -> dict[str, list[str]]:
    """Run the template threads through ``saver``; return each thread's expected finding kinds."""
    rng = random.Random(seed)
    expected: dict[str, list[str]] = {}
    clock = FakeClock(START_TIME)
    with installed(clock, seed=seed):
        for n in range(60):
            tid = f"conv-{n}"
            turns = rng.choice([1, 1, 2, 2, 3])
            replies: list[AIMessage] = []
            articles: dict[str, str] = {}
            for _ in range(turns):
                for _ in range(rng.choice([0, 1, 1, 2])):
                    query = _text(rng, 4)
                    articles[query] = _text(rng, rng.randint(120, 260))
                    replies.append(_ai(rng, "", [_call(rng, "search_kb", query)]))
                replies.append(_ai(rng, _text(rng, rng.randint(40, 120))))
            graph = _support(saver, replies, articles)
            for _ in range(turns):
                graph.invoke({"messages": [HumanMessage(_text(rng, rng.randint(8, 40)))]}, _cfg(tid))
                clock.advance(timedelta(minutes=rng.randint(1, 30)))
            expected[tid] = []
        for n in range(15):
            tid = f"loop-{n}"
            query = _text(rng, 4)
            replies = [_ai(rng, "", [_call(rng, "search_kb", query)]) for _ in range(40)]
            graph = _support(saver, replies, {})
            try:
                graph.invoke(
                    {"messages": [HumanMessage(_text(rng, rng.randint(8, 40)))]},
                    {**_cfg(tid), "recursion_limit": 25},
                )
            except GraphRecursionError:
                pass
            expected[tid] = ["error", "loop"]
        for n in range(8):
            tid = f"review-{n}"
            _review(saver, _text(rng, rng.randint(150, 300)), bounces=4).invoke(
                {"brief": _text(rng, 30)}, _cfg(tid)
            )
            expected[tid] = ["loop", "oscillation"]
        for n in range(8):
            tid = f"refund-{n}"
            graph = _approval(saver)
            graph.invoke(
                {
                    "order_id": f"A-{rng.randint(10000, 99999)}",
                    "amount": rng.randint(100, 900),
                    "reason": _text(rng, 20),
                },
                _cfg(tid),
            )
            if n % 2:
                clock.advance(timedelta(minutes=rng.randint(5, 90)))
                graph.invoke(Command(resume=True), _cfg(tid))
                expected[tid] = []
            else:
                expected[tid] = ["stuck_interrupt"]
        for n in range(4):
            tid = f"sync-{n}"
            _poller(saver, polls=8).invoke({"job_id": f"job-{n}", "status": "submitted"}, _cfg(tid))
            expected[tid] = ["no_progress"]
        for n in range(5):
            tid = f"ingest-{n}"
            rows = [
                {"sku": f"S{rng.randint(1000, 9999)}", "qty": rng.randint(1, 9), "note": _text(rng, 6)}
                for _ in range(30)
            ]
            try:
                _ingest(saver, rows).invoke({"path": f"s3://exports/{n}.csv"}, _cfg(tid))
            except ValueError:
                pass
            expected[tid] = ["error"]
    return expected


def _cfg(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}
