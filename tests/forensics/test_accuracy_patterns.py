"""The accuracy rules in isolation: message normal forms, growth over per-thread summaries, a
killed run told from a static pause."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lgscope import open_store
from lgscope.approvals import Sweeper
from lgscope.forensics import GROWTH, STUCK_RUN, DetectorConfig, detect, scan
from lgscope.forensics._growth import ThreadSize, growth_findings
from lgscope.forensics._signature import key, list_keys


def _ai(msg_id: str, text: str, call_id: str, tokens: int, query: str = "refund") -> dict[str, object]:
    return {
        "type": "ai",
        "content": text,
        "id": msg_id,
        "tool_calls": [{"name": "search", "args": {"q": query}, "id": call_id, "type": "tool_call"}],
        "usage_metadata": {"input_tokens": tokens, "output_tokens": 3, "total_tokens": tokens + 3},
        "response_metadata": {"created": tokens, "model_name": "m"},
        "additional_kwargs": {},
        "name": None,
    }


def test_messages_compare_by_what_they_say() -> None:
    first = _ai("run-1", "", "call_1", 100)
    again = _ai("run-2", "", "call_2", 250)  # a fresh id, fresh call id, more tokens: the same
    assert key([first]) == key([again])
    assert key([first]) != key([_ai("run-3", "", "call_3", 100, query="warranty")])
    assert key([first]) != key([_ai("run-4", "I looked.", "call_4", 100)])
    tool = {"type": "tool", "content": "none", "tool_call_id": "call_1", "id": "t1", "name": "search"}
    assert key(tool) == key({**tool, "tool_call_id": "call_9", "id": "t9"})
    assert key(tool) != key({**tool, "content": "found it"})
    # outside messages, an "id" field is still left out, as before (a user field named id)
    assert key({"order": {"id": 1}}) == key({"order": {"id": 2}})


def test_list_keys_are_the_keys_of_the_list_and_of_its_last_item() -> None:
    tool = {"type": "tool", "content": "none", "tool_call_id": "call_1", "id": "t1", "name": "search"}
    cases: list[list[object]] = [
        [],
        [_ai("run-1", "", "call_1", 100)],
        [tool, _ai("run-2", "I looked.", "call_2", 250)],
        [{"order": {"id": 1}}, 3],  # a primitive last item keys as text
        ["a", None],
        [{"n": 2**70}],  # past 64 bits: msgpack cannot pack it, both fall back to text
        [{1: "x", 2: "y"}],  # keys msgpack will not take: the same fallback
    ]
    for items in cases:
        assert list_keys(items) == (key(items), key(items[-1]) if items else None), items


def _size(tid: str, graph: tuple[str, ...], turns: int, turn_messages: int) -> ThreadSize:
    return ThreadSize(
        tid, graph, turns, turns * turn_messages, turn_messages, 100 * turn_messages, 10**6, "a", "b"
    )


def test_growth_compares_a_thread_with_threads_of_the_same_graph_per_turn() -> None:
    chat = ("__start__", "agent", "tools")
    other = ("__start__", "classify")
    sizes = [
        _size("long-chat", chat, 14, 4),  # 56 messages in 14 turns of 4
        _size("short-chat", chat, 1, 4),
        _size("no-tools", ("__start__", "agent"), 1, 2),  # the same graph, tools never reached
        _size("runaway", chat, 1, 62),
        *(_size(f"one-shot-{k}", other, 1, 1) for k in range(20)),
    ]
    (found,) = growth_findings(sizes, DetectorConfig())
    assert (found.kind, found.thread_id) == (GROWTH, "runaway")
    assert found.evidence["like_threads"] == 4 and found.evidence["median_turn_messages"] == 4
    # a graph with fewer than 3 threads has no norm: nothing is judged
    assert (
        growth_findings(
            [s for s in sizes if s.thread_id != "no-tools" and s.thread_id != "short-chat"], DetectorConfig()
        )
        == []
    )
    # pure: the same summaries, the same findings, whatever order they come in
    assert growth_findings(list(reversed(sizes)), DetectorConfig()) == [found]


_CRASHING_RUN = """
import os, sqlite3, sys, time, operator
from typing import Annotated, TypedDict
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph

class S(TypedDict, total=False):
    done: Annotated[list, operator.add]

def fast(state): return {"done": ["fast"]}

def slow(state):
    time.sleep(0.3)
    os._exit(3)  # killed mid-step: no error written, fast's writes already stored

g = StateGraph(S)
g.add_node("fast", fast)
g.add_node("slow", slow)
g.add_edge(START, "fast")
g.add_edge(START, "slow")
conn = sqlite3.connect(sys.argv[1], check_same_thread=False, isolation_level=None)
saver = SqliteSaver(conn)
saver.setup()
g.compile(checkpointer=saver).invoke({"done": []}, {"configurable": {"thread_id": "killed"}})
"""


def test_a_run_killed_mid_step_is_told_from_a_pause(tmp_path: Path) -> None:
    store = tmp_path / "killed.sqlite"
    run = subprocess.run([sys.executable, "-c", _CRASHING_RUN, str(store)], capture_output=True, check=False)
    assert run.returncode == 3, run.stderr
    later = datetime.now(UTC) + timedelta(days=2)
    with open_store(store) as st:
        (scanned,) = scan(st, now=later).findings  # a scan reads control writes only
        (detected,) = detect(st.load("killed"), now=later)  # every write
    assert scanned.kind == detected.kind == STUCK_RUN
    assert scanned.evidence["likely"] == detected.evidence["likely"] == "crashed"
    assert detected.summary.startswith("stopped for 2d00h in slow: fast finished, the rest wrote nothing")
    assert scanned.summary.startswith("stopped for 2d00h with fast, slow pending: some finished, the rest")
    assert Sweeper(store=str(store)).run(now=later).decisions == []  # only pauses are swept
    # an incremental scan judges the remembered last step: still crashed, not paused
    state = tmp_path / "scan.state"
    for now in (later, later + timedelta(days=1)):
        with open_store(store) as st:
            (again,) = scan(st, now=now, state=state).findings
        assert again.kind == STUCK_RUN and again.evidence["likely"] == "crashed", again.summary
