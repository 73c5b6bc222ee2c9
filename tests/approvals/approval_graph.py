"""A real approval graph whose node has a counted side effect (imported by sweeper processes).

Reads LGSCOPE_TEST_STORE (a SQLite path or postgresql:// URL) and LGSCOPE_TEST_SIDE (where to
count side effects: a SQLite path or the same Postgres URL).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class State(TypedDict, total=False):
    amount: int
    expires_at: str
    decision: dict[str, Any]


def _record(thread_id: str, answer: Any) -> None:
    side = os.environ["LGSCOPE_TEST_SIDE"]
    approved = bool(answer.get("approved")) if isinstance(answer, dict) else bool(answer)
    if side.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(side, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO side_effects (thread_id, approved) VALUES (%s, %s)", (thread_id, approved)
            )
    else:
        with sqlite3.connect(side, timeout=30) as conn:
            conn.execute(
                "INSERT INTO side_effects (thread_id, approved) VALUES (?, ?)", (thread_id, approved)
            )


def approve(state: State, config: RunnableConfig) -> State:
    question: dict[str, Any] = {"amount": state["amount"]}
    if state.get("expires_at"):
        question["expires_at"] = state["expires_at"]
    answer = interrupt(question)
    if os.environ.get("LGSCOPE_TEST_EXPLODE"):
        raise RuntimeError("the payments API is down")
    delay = float(os.environ.get("LGSCOPE_TEST_DELAY", "0"))
    if delay:
        time.sleep(delay)
    _record(config["configurable"]["thread_id"], answer)
    return {"decision": answer}


def notify(state: State, config: RunnableConfig) -> State:
    """The step after the approval; kills its process for the thread in LGSCOPE_TEST_DIE_AFTER,
    once the approval step's checkpoint is saved (the resume is done, its outcome not recorded)."""
    if os.environ.get("LGSCOPE_TEST_DIE_AFTER") == config["configurable"]["thread_id"]:
        time.sleep(0.5)  # durability "async": let the background save of the approval step finish
        os.kill(os.getpid(), signal.SIGKILL)
    return {}


def build(checkpointer: Any, *, then_notify: bool = False) -> Any:
    g = StateGraph(State)
    g.add_node("approve", approve)
    g.add_edge(START, "approve")
    if then_notify:
        g.add_node("notify", notify)
        g.add_edge("approve", "notify")
        g.add_edge("notify", END)
    else:
        g.add_edge("approve", END)
    return g.compile(checkpointer=checkpointer, name="approvals")


class Onboarding(TypedDict, total=False):
    user: str
    welcomed: bool


def welcome(state: Onboarding) -> Onboarding:
    answer = interrupt({"user": state["user"]})
    return {"welcomed": bool(answer.get("approved")) if isinstance(answer, dict) else bool(answer)}


def build_onboarding(checkpointer: Any) -> Any:
    """Another app's graph on the same store: other node, other channels."""
    g = StateGraph(Onboarding)
    g.add_node("welcome", welcome)
    g.add_edge(START, "welcome")
    g.add_edge("welcome", END)
    return g.compile(checkpointer=checkpointer, name="onboarding")


class Expense(TypedDict, total=False):
    expense: int
    decision: dict[str, Any]


def approve_expense(state: Expense) -> Expense:
    return {"decision": interrupt({"expense": state["expense"]})}


def build_expenses(checkpointer: Any) -> Any:
    """A third graph whose node is also called ``approve``, over other channels."""
    g = StateGraph(Expense)
    g.add_node("approve", approve_expense)
    g.add_edge(START, "approve")
    g.add_edge("approve", END)
    return g.compile(checkpointer=checkpointer, name="expenses")


def _checkpointer() -> Any:
    store = os.environ["LGSCOPE_TEST_STORE"]
    if store.startswith("postgresql://"):
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        return PostgresSaver(
            psycopg.connect(store, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        )
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(store, check_same_thread=False, timeout=30)
    return SqliteSaver(conn)


graph = build(_checkpointer()) if "LGSCOPE_TEST_STORE" in os.environ else None
notified = build(_checkpointer(), then_notify=True) if "LGSCOPE_TEST_STORE" in os.environ else None
onboarding = build_onboarding(_checkpointer()) if "LGSCOPE_TEST_STORE" in os.environ else None
