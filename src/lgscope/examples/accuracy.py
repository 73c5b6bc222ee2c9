"""The accuracy fixtures: a faulty thread for each pattern forensics must catch, and its healthy twin.

Every thread runs a tutorial-shaped graph (`lgscope.examples.tutorials`); the labels say which
findings each must produce — healthy twins none at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from lgscope.examples import tutorials as t
from lgscope.examples._common import Run

__all__ = ["WORKLOADS"]


def _ask(text: str, key: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text, id=key)]}


def _kb(args: dict[str, Any]) -> str:
    return f"results for {args.get('q')}: none"


def _weather(args: dict[str, Any]) -> str:
    return f"{args.get('city')}: sunny, 21°C"


TOOLS: t.Tools = {"search": _kb, "weather": _weather, "refund": lambda a: f"refund {a.get('order')} sent"}


def messages(r: Run) -> None:
    """Pattern 1: messages compared by what they say, not their ids."""
    name = "sql-same-error"  # 7 rounds: the same query, the same error; the checker reuses ids
    query = {"query": "SELECT total FROM order WHERE id = 7"}
    gen = [t.provider_reply("", n, "sql_db_query", query, run="g") for n in range(7)]
    gen.append(t.provider_reply("I could not run the query.", 99, run="g"))
    checked = [t.provider_reply("", n, "sql_db_query", query, run="c") for n in range(7)]
    db = {"sql_db_query": lambda a: 'Error: relation "order" does not exist'}
    t.sql_agent(r.checkpointer, gen, checked, db).invoke(
        _ask("What did order 7 cost?", f"{name}-q"), {**r.thread(name), "recursion_limit": 60}
    )
    r.expect(
        name,
        "sql",
        "done",
        ["loop"],
        "the same query and the same error 7 times; every message has a fresh id",
    )
    r.clock.advance(timedelta(minutes=7))

    name = "sql-fixed"  # fresh ids and new content each round: the query is fixed on round 3
    queries = ["SELECT total FROM order", "SELECT total FROM orders", "SELECT total FROM orders WHERE id = 7"]
    gen = [t.provider_reply("", n, "sql_db_query", {"query": q}, run="g") for n, q in enumerate(queries)]
    gen.append(t.provider_reply("Order 7 cost 42.", 99, run="g"))
    checked = [t.provider_reply("", n, "sql_db_query", {"query": q}, run="c") for n, q in enumerate(queries)]
    answers = iter(['Error: relation "order" does not exist', "Error: too many rows", "42"])
    db = {"sql_db_query": lambda a: next(answers)}
    t.sql_agent(r.checkpointer, gen, checked, db).invoke(
        _ask("What did order 7 cost?", f"{name}-q"), r.thread(name)
    )
    r.expect(name, "sql", "done", [], "three rounds, fresh ids and a new query and result each round")
    r.clock.advance(timedelta(minutes=7))

    name = "react-same-search"  # a provider's replies: new ids and usage each time, same call
    replies = [t.provider_reply("", n, "search", {"q": "refund window"}) for n in range(5)]
    replies.append(t.provider_reply("I could not find it.", 9))
    t.react(r.checkpointer, replies, TOOLS).invoke(
        _ask("How long is the refund window?", f"{name}-q"), r.thread(name)
    )
    r.expect(
        name, "react", "done", ["loop"], "the same search 5 times; ids and token counts differ every time"
    )
    r.clock.advance(timedelta(minutes=7))

    name = "react-new-searches"
    replies = [
        t.provider_reply("", n, "weather", {"city": c}) for n, c in enumerate(["Oslo", "Rome", "Lima"])
    ]
    replies.append(t.provider_reply("Rome is warmest.", 9))
    t.react(r.checkpointer, replies, TOOLS).invoke(
        _ask("Which city is warmest?", f"{name}-q"), r.thread(name)
    )
    r.expect(name, "react", "done", [], "three different tool calls, then an answer")
    r.clock.advance(timedelta(minutes=7))


def counters(r: Run) -> None:
    """Pattern 2: an attempt counter is not progress (in the executor subgraph's namespace)."""

    def same_note(s: t.Attempt) -> t.Attempt:
        return {"tries": s.get("tries", 0) + 1, "note": "step 1 failed: upstream timeout"}

    t.plan_execute(r.checkpointer, same_note, max_tries=6).invoke(
        {"goal": "sync invoices"}, r.thread("plan-retry-same")
    )
    r.expect(
        "plan-retry-same",
        "plan_execute",
        "done",
        ["loop", "no_progress"],
        "the executor retried 6 times; only its tries counter changed",
    )
    r.clock.advance(timedelta(minutes=7))

    def new_results(s: t.Attempt) -> t.Attempt:
        n = s.get("tries", 0) + 1
        found = [*s.get("results", []), f"page {n}: {n * 17} invoices"]
        return {"tries": n, "note": "fetching", "results": found, "outcome": "synced" if n == 6 else ""}

    t.plan_execute(r.checkpointer, new_results, max_tries=8).invoke(
        {"goal": "sync invoices"}, r.thread("plan-paged")
    )
    r.expect("plan-paged", "plan_execute", "done", [], "6 attempts that each appended a new page of results")
    r.clock.advance(timedelta(minutes=7))


def pauses(r: Run) -> None:
    """Pattern 3: a static ``interrupt_before`` pause nobody answered."""
    refund = [
        t.provider_reply("", 1, "refund", {"order": "A7"}),
        t.provider_reply("Your refund is on its way.", 2),
    ]
    t.support_bot(r.checkpointer, refund, TOOLS, {"refund"}).invoke(
        _ask("Please refund order A7.", "bot-paused-q"), r.thread("support-bot-paused")
    )
    r.expect(
        "support-bot-paused",
        "support_bot",
        "running",
        ["stuck_run"],
        "paused before sensitive_tools for days",
    )
    r.clock.advance(timedelta(minutes=7))
    graph = t.support_bot(r.checkpointer, refund, TOOLS, {"refund"})
    graph.invoke(_ask("Please refund order A7.", "bot-approved-q"), r.thread("support-bot-approved"))
    r.clock.advance(timedelta(minutes=40))
    graph.invoke(None, r.thread("support-bot-approved"))
    r.expect(
        "support-bot-approved",
        "support_bot",
        "done",
        [],
        "paused before sensitive_tools, resumed in 40 minutes",
    )
    r.clock.advance(timedelta(minutes=7))


def growth(r: Run) -> None:
    """Pattern 4: a 14-turn chat beside short threads of another graph; a runaway turn."""
    for k in range(5):  # short one-shot threads of another graph
        t.evaluator_optimizer(r.checkpointer, [f"draft {k}"], [("good", "ok")]).invoke(
            {"topic": f"topic {k}"}, r.thread(f"evaluate-short-{k}")
        )
        r.expect(f"evaluate-short-{k}", "evaluator_optimizer", "done", [], "one draft, accepted")
    for k in range(3):  # short chats of the same graph as the long one
        replies = [
            t.provider_reply("", 1, "weather", {"city": f"city {k}"}),
            t.provider_reply(f"It is sunny in city {k}.", 2),
        ]
        t.react(r.checkpointer, replies, TOOLS).invoke(
            _ask(f"Weather in city {k}?", f"chat-{k}-q"), r.thread(f"chat-short-{k}")
        )
        r.expect(f"chat-short-{k}", "react", "done", [], "one turn: a tool call and an answer")
    turns = 14
    replies = []
    for n in range(turns):
        replies += [
            t.provider_reply("", 2 * n, "weather", {"city": f"town {n}"}),
            t.provider_reply(f"Town {n} is sunny. " * 40, 2 * n + 1),
        ]
    graph = t.react(r.checkpointer, replies, TOOLS)
    for n in range(turns):
        graph.invoke(_ask(f"And the weather in town {n}?", f"long-q-{n}"), r.thread("chat-14-turns"))
        r.clock.advance(timedelta(minutes=3))
    r.expect("chat-14-turns", "react", "done", [], "14 turns, 56 messages: long, each turn like any other")
    replies = [t.provider_reply("", n, "search", {"q": f"lead {n}"}) for n in range(30)]
    replies.append(t.provider_reply("Here is everything I found.", 99))
    t.react(r.checkpointer, replies, TOOLS).invoke(
        _ask("Research every lead.", "runaway-q"), {**r.thread("chat-runaway"), "recursion_limit": 100}
    )
    r.expect(
        "chat-runaway", "react", "done", ["growth"], "one turn that searched 30 different leads: 62 messages"
    )
    r.clock.advance(timedelta(minutes=7))


def interrupts(r: Run) -> None:
    """Pattern 5: interrupt integrity."""
    cfg = r.thread("approval-resumed-twice")
    graph = t.approval(r.checkpointer)
    graph.invoke({"amount": 900}, cfg)
    asked = graph.get_state(cfg).config
    r.clock.advance(timedelta(minutes=5))
    graph.invoke(Command(resume="approve"), cfg)
    graph.invoke(Command(resume="approve"), asked)  # a second click on the same approval
    r.expect(
        "approval-resumed-twice",
        "approval",
        "done",
        ["interrupt_integrity"],
        "one approval resumed twice: the transfer ran twice",
    )
    r.clock.advance(timedelta(minutes=7))

    cfg = r.thread("approval-answer-ignored")
    failing = {"left": 0}
    graph = t.approval(r.checkpointer, failing)
    graph.invoke({"amount": 1200}, cfg)
    r.clock.advance(timedelta(minutes=5))
    failing["left"] = 1
    try:
        graph.invoke(Command(resume="approve"), cfg)
    except ConnectionError:
        pass
    r.clock.advance(timedelta(minutes=5))
    graph.invoke(Command(resume="reject"), cfg)  # LangGraph replays the stored "approve"
    r.expect(
        "approval-answer-ignored",
        "approval",
        "done",
        ["interrupt_integrity", "error"],
        "the resume failed after 'approve'; the later 'reject' was ignored and the transfer ran",
    )
    r.clock.advance(timedelta(minutes=7))

    cfg = r.thread("approval-asked-again")
    graph = t.approval(r.checkpointer)
    graph.invoke({"amount": 300}, cfg)
    for answer in ("maybe", "later", "hmm", "approve"):
        r.clock.advance(timedelta(minutes=2))
        graph.invoke(Command(resume=answer), cfg)
    r.expect(
        "approval-asked-again",
        "approval",
        "done",
        ["interrupt_integrity"],
        "review asked the same question 4 times",
    )
    r.clock.advance(timedelta(minutes=7))

    cfg = r.thread("feedback-rounds")  # the same question each round, after a new draft each time
    graph = t.feedback_loop(r.checkpointer, ["draft 1", "draft 2, shorter", "draft 3, titled", "draft 4"])
    graph.invoke({"topic": "tides"}, cfg)
    for answer in ("shorter", "add a title", "fix the typo", "ship"):
        r.clock.advance(timedelta(minutes=9))
        graph.invoke(Command(resume=answer), cfg)
    r.expect("feedback-rounds", "feedback", "done", [], "asked for feedback 4 times, each after a new draft")
    r.clock.advance(timedelta(minutes=7))

    cfg = r.thread("approval-answered-once")
    graph = t.approval(r.checkpointer)
    graph.invoke({"amount": 450}, cfg)
    r.clock.advance(timedelta(minutes=5))
    graph.invoke(Command(resume="approve"), cfg)
    r.expect("approval-answered-once", "approval", "done", [], "asked once, approved once, sent once")
    r.clock.advance(timedelta(minutes=7))


def shapes(r: Run) -> None:
    """Healthy threads of the other tutorial shapes, and an evaluator that never improves."""
    t.supervisor(
        r.checkpointer,
        ["researcher", "writer", "researcher", "writer", "FINISH"],
        {"researcher": ["found 3 papers", "found 2 more"], "writer": ["draft v1", "draft v2"]},
    ).invoke(_ask("Write a survey.", "team-q"), r.thread("supervisor-team"))
    r.expect("supervisor-team", "supervisor", "done", [], "supervisor ⇄ workers, new work each handoff")
    t.map_reduce(r.checkpointer).invoke({"subject": "pet"}, r.thread("map-reduce-jokes"))
    r.expect("map-reduce-jokes", "map_reduce", "done", [], "Send fan-out to three jokes, then the best")
    t.evaluator_optimizer(
        r.checkpointer,
        ["draft a", "draft b", "draft c"],
        [("bad", "too long"), ("bad", "too dull"), ("good", "ok")],
    ).invoke({"topic": "tides"}, r.thread("evaluate-improves"))
    r.expect(
        "evaluate-improves", "evaluator_optimizer", "done", [], "three drafts, each different, then accepted"
    )
    t.evaluator_optimizer(
        r.checkpointer, ["the same draft"] * 6, [("bad", "not funny")] * 5 + [("good", "fine")]
    ).invoke({"topic": "tides"}, r.thread("evaluate-stuck"))
    r.expect(
        "evaluate-stuck",
        "evaluator_optimizer",
        "done",
        ["no_progress"],
        "the same draft and the same feedback 5 times: each round rewrote the same values",
    )
    r.clock.advance(timedelta(minutes=7))


WORKLOADS: list[tuple[str, timedelta, Callable[[Run], None]]] = [
    ("pauses", timedelta(days=3), pauses),
    ("messages", timedelta(days=2), messages),
    ("counters", timedelta(days=2, hours=-6), counters),
    ("growth", timedelta(days=1, hours=12), growth),
    ("interrupts", timedelta(days=1), interrupts),
    ("shapes", timedelta(hours=10), shapes),
]
"""(name, how long before the reference time it ran, what it writes)."""
