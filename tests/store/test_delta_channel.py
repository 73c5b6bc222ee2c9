"""DeltaChannel threads (LangGraph 1.2, beta): every view shows the real value, rebuilt from the
snapshot and the ancestor writes, and the chain survives export and import."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from lgscope import open_store
from lgscope.forensics import scan
from lgscope.forensics.diff import diff_steps
from lgscope.store import rebuilt_channels
from lgscope.store.export import export_thread, import_thread


def _add(state: Sequence[Any], writes: Sequence[Any]) -> Any:
    out: Any = state
    for w in writes:
        out = add_messages(out, w)
    return out


def _notes(state: Sequence[str], writes: Sequence[Any]) -> list[str]:
    out = list(state)
    for w in writes:
        out.extend(w if isinstance(w, list) else [w])
    return out


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], DeltaChannel(_add, snapshot_frequency=4)]
    notes: Annotated[list[str], DeltaChannel(_notes, snapshot_frequency=3)]
    tries: int


def _graph(saver: Any) -> Any:
    def agent(state: State) -> State:
        n = state.get("tries", 0) + 1
        # the same answer every time: a loop, until the recursion limit stops it
        return {
            "messages": [AIMessage("Let me check that again.", id=f"a{n}")],
            "notes": ["retry"],
            "tries": n,
        }

    g = StateGraph(State)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", lambda s: END if s["tries"] >= 100 else "agent", ["agent", END])
    return g.compile(checkpointer=saver)


CONFIG = {"configurable": {"thread_id": "delta"}, "recursion_limit": 25}


@pytest.fixture
def delta_store(tmp_path: Path) -> Path:
    path = tmp_path / "delta.sqlite"
    with SqliteSaver.from_conn_string(str(path)) as saver:
        with pytest.raises(GraphRecursionError):
            _graph(saver).invoke({"messages": [HumanMessage("where is my refund?", id="q")]}, CONFIG)
    return path


def _langgraph_history(path: Path) -> dict[str, dict[str, Any]]:
    with SqliteSaver.from_conn_string(str(path)) as saver:
        graph = _graph(saver)
        return {
            s.config["configurable"]["checkpoint_id"]: {
                "messages": [(m.id, m.content) for m in s.values.get("messages", [])],
                "notes": list(s.values.get("notes", [])),
            }
            for s in graph.get_state_history(CONFIG)
        }


def test_every_checkpoint_shows_what_langgraph_rebuilds(delta_store: Path) -> None:
    expected = _langgraph_history(delta_store)
    with open_store(delta_store) as st:
        steps = list(st.steps("delta"))
        assert len(steps) == len(expected) == 27
        snapshots = 0
        for s in steps:
            got = {
                "messages": [(m["id"], m["content"]) for m in s.values.get("messages", [])],
                "notes": list(s.values.get("notes", [])),
            }
            assert got == expected[s.checkpoint_id], s.step
            how = rebuilt_channels(s)
            snapshots += "snapshot" in how.get("notes", "")
            if s.step > 0 and "snapshot" not in how.get("messages", ""):
                assert how["messages"] == "rebuilt from ancestor writes (add_messages)"
            if s.step > 0 and "snapshot" not in how.get("notes", ""):
                assert "folded in order" in how["notes"]  # a reducer lgscope cannot know: it says so
        assert snapshots >= 5  # every third update of notes is stored whole
        # one checkpoint read on its own rebuilds the same (back to the snapshot, then forward)
        for s in (steps[7], steps[-1]):
            alone = st.step("delta", s.checkpoint_id)
            assert [m["id"] for m in alone.values["messages"]] == [
                i for i, _ in expected[s.checkpoint_id]["messages"]
            ]
            assert alone.values["notes"] == expected[s.checkpoint_id]["notes"]
        # changes come out of the rebuilt values: one message and one note appended per step
        assert {(c.channel, c.kind, c.items) for c in steps[10].changes} >= {
            ("messages", "append", 1),
            ("notes", "append", 1),
        }
        first, last = st.step("delta", steps[1].checkpoint_id), st.step("delta", steps[-1].checkpoint_id)
        added = [c for c in diff_steps(first, last) if c.kind == "added" and c.path[0] == "messages"]
        assert len(added) == len(expected[last.checkpoint_id]["messages"]) - len(
            expected[first.checkpoint_id]["messages"]
        )


def test_a_loop_in_a_delta_channel_is_found(delta_store: Path) -> None:
    with open_store(delta_store) as st:
        result = scan(st)
    loops = [f for f in result.findings if f.kind == "loop"]
    assert len(loops) == 1 and loops[0].evidence["cycle"] == ["agent"] and loops[0].evidence["repeats"] >= 20
    assert "Let me check that again." in loops[0].evidence["values"][0]


def test_export_import_keeps_the_chain_and_the_thread_resumes(delta_store: Path, tmp_path: Path) -> None:
    export_thread(open_store(delta_store), "delta", tmp_path / "d.jsonl")
    target = tmp_path / "copy.sqlite"
    assert import_thread(tmp_path / "d.jsonl", str(target)) == ("delta", 27)
    assert _langgraph_history(target) == _langgraph_history(delta_store)
    with open_store(target) as copy, open_store(delta_store) as source:
        assert tuple(copy.steps("delta")) == tuple(source.steps("delta"))
    with SqliteSaver.from_conn_string(str(target)) as saver:
        graph = _graph(saver)
        with pytest.raises(GraphRecursionError):  # resumes where it stopped, with its whole history
            graph.invoke(None, CONFIG)
        state = graph.get_state(CONFIG)
    assert state.values["tries"] > 24 and len(state.values["messages"]) == state.values["tries"] + 1
