"""The sweeper and static pauses (``interrupt_before``): escalated once, never rejected."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver

from lgscope import open_store
from lgscope.approvals import AuditLog, Sweeper
from lgscope.examples import tutorials

LATER = datetime.now(UTC) + timedelta(days=2)


def _bot(conn: sqlite3.Connection) -> Any:
    replies = [
        tutorials.provider_reply("", 1, "refund", {"order": "A7"}),
        tutorials.provider_reply("Your refund is on its way.", 2),
    ]
    return tutorials.support_bot(SqliteSaver(conn), replies, {"refund": lambda a: "sent"}, {"refund"})


def _paused(path: Path, *thread_ids: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False)
    for tid in thread_ids:
        _bot(conn).invoke(
            {"messages": [HumanMessage("Refund A7.", id="q")]}, {"configurable": {"thread_id": tid}}
        )
    return conn


def test_a_static_pause_is_escalated_once_under_either_policy(tmp_path: Path) -> None:
    store = tmp_path / "bot.sqlite"
    conn = _paused(store, "paused", "answered")
    _bot(conn).invoke(None, {"configurable": {"thread_id": "answered"}})  # a person approved this one
    with open_store(store) as st:
        assert st.thread("paused").next == ("sensitive_tools",)
    dry = Sweeper(store=str(store)).run(now=LATER)
    assert [(d.thread_id, d.outcome, d.node) for d in dry.decisions] == [
        ("paused", "would_escalate", "sensitive_tools")
    ]
    assert (dry.pending, dry.stale, dry.paused) == (0, 0, 1)
    assert Sweeper(store=str(store)).run(now=datetime.now(UTC)).decisions == []  # not stale yet
    seen: list[str] = []
    audit = AuditLog(tmp_path / "audit.jsonl")
    graph = _bot(conn)
    sweeper = Sweeper(
        graph, store=str(store), apply=True, audit=audit, on_escalate=lambda c: seen.append(c.interrupt.id)
    )
    (decision,) = sweeper.run(now=LATER).decisions
    assert decision.outcome == "escalated" and decision.interrupt_id.startswith("pause:")
    assert decision.detail == "a static pause: escalated, never rejected (moving it runs the paused node)"
    assert seen == [decision.interrupt_id]
    assert [d.outcome for d in sweeper.run(now=LATER).decisions] == ["already_escalated"]
    assert [e["outcome"] for e in audit.entries()] == ["escalated"]
    with open_store(store) as st:  # nothing was resumed
        assert st.thread("paused").next == ("sensitive_tools",)
    assert Sweeper(store=str(store), pauses=False).run(now=LATER).decisions == []
    conn.close()


def test_a_pause_resumed_before_the_lock_is_already_resolved(tmp_path: Path) -> None:
    store = tmp_path / "bot.sqlite"
    conn = _paused(store, "paused")
    sweeper = Sweeper(store=str(store), policy="escalate", apply=True)
    stale, _ = sweeper.candidates(now=LATER)
    assert [c.pause for c in stale] == [True]
    _bot(conn).invoke(None, {"configurable": {"thread_id": "paused"}})
    assert [d.outcome for d in sweeper._escalate_pause("paused", stale, LATER)] == ["already_resolved"]
    conn.close()
