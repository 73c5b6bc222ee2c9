"""How checkpoint rows become Steps and Threads, checked on real graphs and real SQLite files."""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt

from lgscope import open_store


class State(TypedDict, total=False):
    items: Annotated[list[Any], operator.add]
    n: int
    approved: bool


def _plan(state: State) -> State:
    return {"n": state.get("n", 0) + 1}


def _fan(state: State) -> list[Send]:
    return [Send("work", {"items": [i]}) for i in range(3)]


def _work(state: State) -> State:
    return {"items": [state["items"][0] * 10]}


def _approve(state: State) -> State:
    answer = interrupt({"question": "ship it?"})
    return {"approved": bool(answer)}


def _boom(state: State) -> State:
    raise ValueError("the tool backend is down")


@pytest.fixture
def saver(tmp_path: Path) -> Iterator[tuple[SqliteSaver, Path]]:
    path = tmp_path / "cp.sqlite"
    conn = sqlite3.connect(path, check_same_thread=False)
    yield SqliteSaver(conn), path
    conn.close()


def _graph(saver: SqliteSaver, **compile_kw: Any) -> Any:
    g = StateGraph(State)
    g.add_node("plan", _plan)
    g.add_node("work", _work)
    g.add_node("approve", _approve)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", _fan, ["work"])
    g.add_edge("work", "approve")
    g.add_edge("approve", END)
    return g.compile(checkpointer=saver, **compile_kw)


def test_nodes_come_from_the_parents_writes_including_send_tasks(saver: tuple[SqliteSaver, Path]) -> None:
    s, path = saver
    app = _graph(s)
    cfg = {"configurable": {"thread_id": "t"}}
    app.invoke({"items": [], "n": 0}, cfg)
    app.invoke(Command(resume=True), cfg)
    with open_store(path) as store:
        steps = store.history("t")
    assert [(st.source, st.nodes) for st in steps] == [
        ("input", ("__input__",)),
        ("loop", ("__start__",)),
        ("loop", ("plan",)),
        ("loop", ("work",)),
        ("loop", ("approve",)),
    ]
    assert [st.next for st in steps] == [
        ("__start__",),
        ("plan",),
        ("work", "work", "work"),
        ("approve",),
        (),
    ]
    assert steps[2].changed == ("n",)
    assert steps[3].values["items"] == [0, 10, 20]
    assert steps[-1].values["approved"] is True


def test_thread_statuses_interrupted_then_done(saver: tuple[SqliteSaver, Path]) -> None:
    s, path = saver
    app = _graph(s)
    cfg = {"configurable": {"thread_id": "t"}}
    app.invoke({"items": [], "n": 0}, cfg)
    with open_store(path) as store:
        t = store.thread("t")
        assert t.status == "interrupted"
        assert [i.node for i in t.pending_interrupts] == ["approve"]
        assert t.pending_interrupts[0].value == {"question": "ship it?"}
        assert t.next == ("approve",)
        # the summary (latest checkpoints only) agrees with the full load
        assert store.load("t").thread == t
    app.invoke(Command(resume=False), cfg)
    with open_store(path) as store:
        t = store.thread("t")
        last = store.history("t")[-1]
    assert t.status == "done"
    assert t.pending_interrupts == ()
    assert last.values["approved"] is False
    # the answered interrupt stays visible on its checkpoint, with the resume beside it
    answered = [st for st in store_history(path) if st.interrupts]
    assert len(answered) == 1 and answered[0].resumes and answered[0].pending_interrupts == ()


def store_history(path: Path) -> tuple[Any, ...]:
    with open_store(path) as store:
        return store.history("t")


def test_static_interrupt_before_reads_as_running_with_next(saver: tuple[SqliteSaver, Path]) -> None:
    s, path = saver
    app = _graph(s, interrupt_before=["approve"])
    app.invoke({"items": [], "n": 0}, {"configurable": {"thread_id": "t"}})
    with open_store(path) as store:
        t = store.thread("t")
    assert (t.status, t.next, t.pending_interrupts) == ("running", ("approve",), ())


def test_failed_task_is_an_error_thread(saver: tuple[SqliteSaver, Path]) -> None:
    s, path = saver
    g = StateGraph(State)
    g.add_node("plan", _plan)
    g.add_node("boom", _boom)
    g.add_edge(START, "plan")
    g.add_edge("plan", "boom")
    app = g.compile(checkpointer=s)
    with pytest.raises(ValueError):
        app.invoke({"n": 0}, {"configurable": {"thread_id": "t"}})
    with open_store(path) as store:
        t = store.thread("t")
        last = store.history("t")[-1]
    assert t.status == "error"
    assert [(e.node, e.error_type, e.message) for e in last.errors] == [
        ("boom", "ValueError", "the tool backend is down")
    ]


def test_subgraph_namespaces_are_separate_sequences(saver: tuple[SqliteSaver, Path]) -> None:
    s, path = saver

    class Sub(TypedDict):
        items: Annotated[list[Any], operator.add]

    sub = StateGraph(Sub)
    sub.add_node("inner", lambda st: {"items": ["inner"]})
    sub.add_edge(START, "inner")
    g = StateGraph(State)
    g.add_node("child", sub.compile())
    g.add_edge(START, "child")
    app = g.compile(checkpointer=s)
    app.invoke({"items": []}, {"configurable": {"thread_id": "t"}})
    with open_store(path) as store:
        h = store.load("t")
        root, sub_ns = h.thread.namespaces
        assert root == "" and sub_ns.startswith("child:")
        assert [st.nodes for st in h.steps[sub_ns]] == [("__input__",), ("__start__",), ("inner",)]
        assert {st.checkpoint_ns for st in h.steps[sub_ns]} == {sub_ns}
        assert h.thread.checkpoints == len(h.steps[""]) + len(h.steps[sub_ns])
        assert h.thread.status == "done"


def test_corrupt_checkpoint_is_reported_and_the_rest_still_loads(saver: tuple[SqliteSaver, Path]) -> None:
    s, path = saver
    app = _graph(s)
    app.invoke({"items": [], "n": 0}, {"configurable": {"thread_id": "t"}})
    with sqlite3.connect(path) as conn:
        (cid,) = conn.execute(
            "SELECT checkpoint_id FROM checkpoints ORDER BY checkpoint_id LIMIT 1 OFFSET 2"
        ).fetchone()
        conn.execute(
            "UPDATE checkpoints SET checkpoint = substr(checkpoint, 1, 7) WHERE checkpoint_id = ?", (cid,)
        )
    with open_store(path) as store:
        steps = store.history("t")
    bad = [st for st in steps if st.corrupt]
    assert [st.checkpoint_id for st in bad] == [cid]
    assert "corrupt or truncated" in (bad[0].corrupt or "")
    assert bad[0].values == {}
    assert len(steps) == 4 and steps[-1].values["items"] == [0, 10, 20]
