"""The pytest plugin, driven by pytester against real LangGraph graphs."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

GRAPHS = '''
import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    calls: Annotated[list[Any], operator.add]
    status: str
    done: bool


def looping_graph(cycles: int = 8, checkpointer: Any = None) -> Any:
    """An agent that keeps calling the same tool with the same arguments."""

    def agent(state: State) -> State:
        return {"calls": [{"tool": "search", "args": {"q": "refund policy"}}]}

    def tools(state: State) -> State:
        return {"status": "searched"}

    def route(state: State) -> str:
        return "tools" if len(state.get("calls", [])) < cycles else END

    g = StateGraph(State)
    g.add_node("agent", agent)
    g.add_node("tools", tools)
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", route, ["tools", END])
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=checkpointer, name="support_agent")


def healthy_graph(checkpointer: Any = None) -> Any:
    def draft(state: State) -> State:
        return {"status": "drafted"}

    def review(state: State) -> State:
        return {"status": "approved", "done": True}

    g = StateGraph(State)
    g.add_node("draft", draft)
    g.add_node("review", review)
    g.add_edge(START, "draft")
    g.add_edge("draft", "review")
    g.add_edge("review", END)
    return g.compile(checkpointer=checkpointer, name="writer")
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(graphs=GRAPHS)
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


def test_a_passing_suite_passes(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_ok="""
import pytest
from graphs import healthy_graph, looping_graph

@pytest.mark.lgscope(no_loops=True, max_steps=10, evolves="status")
def test_writer():
    assert healthy_graph().invoke({"status": "new"})["done"] is True

@pytest.mark.lgscope(no_loops=True)
def test_short_agent_run_is_not_a_loop():
    looping_graph(cycles=2).invoke({})
"""
    )
    result = suite.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2)


def test_a_looping_graph_fails_with_the_cycle_and_checkpoints(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_loop="""
import pytest
from graphs import looping_graph

@pytest.mark.lgscope(no_loops=True)
def test_agent():
    looping_graph(cycles=8).invoke({})
"""
    )
    result = suite.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*lgscope: the graph looped (1 finding):",
            "*- [[]loop[]] thread 'lgscope-test-*",
            "*    checkpoints: * → *",
            "*    cycle: * → *",
            "*    repeats: *",
        ]
    )
    result.stdout.no_fnmatch_line("*def pytest_runtest_call*")  # the message, not the plugin's source


def test_max_steps_names_the_step_count(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_steps="""
import pytest
from graphs import looping_graph

@pytest.mark.lgscope(no_loops=False, max_steps=5)
def test_agent():
    looping_graph(cycles=4).invoke({})
"""
    )
    result = suite.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "lgscope: the run was stopped at max_steps=5 (GraphRecursionError):",
            "- thread 'lgscope-test-1' did not terminate: status running, next tools after 6 steps",
        ]
    )


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("no_loop=True", "*Unknown lgscope threshold 'no_loop'*"),
        ("True", "*takes keyword arguments only*"),
        ("max_steps=0", "*max_steps must be a positive whole number*"),
        ("no_loops='yes'", "*no_loops must be True or False*"),
    ],
)
def test_marker_validation_errors(suite: pytest.Pytester, marker: str, message: str) -> None:
    suite.makepyfile(
        test_bad=f"""
import pytest

@pytest.mark.lgscope({marker})
def test_x():
    pass
"""
    )
    result = suite.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])


def test_async_tests_are_recorded(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_async="""
import pytest
from graphs import healthy_graph, looping_graph

@pytest.mark.lgscope(no_loops=True)
async def test_async_loop():
    await looping_graph(cycles=8).ainvoke({})

@pytest.mark.lgscope(no_loops=True, max_steps=10)
async def test_async_ok():
    await healthy_graph().ainvoke({"status": "new"})
"""
    )
    result = suite.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_async_loop*", "*lgscope: the graph looped*"])


def test_asserts_take_a_graph_with_its_config(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_api="""
from datetime import datetime, timedelta, timezone

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphs import healthy_graph, looping_graph
from lgscope.testing import (
    assert_no_loops,
    assert_no_stuck_interrupts,
    assert_state_evolves,
    assert_terminates_within,
)

def test_loop_is_reported():
    graph = looping_graph(cycles=8, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t-7"}}
    graph.invoke({}, config)
    with pytest.raises(AssertionError) as info:
        assert_no_loops(graph, config)
    assert "- [loop] thread 't-7'" in str(info.value)
    assert_no_loops(graph, config, loop_min_repeats=50)

def test_healthy_run():
    graph = healthy_graph(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "w-1"}}
    graph.invoke({"status": "new"}, config)
    assert_terminates_within(graph, config, steps=3)
    assert_state_evolves(graph, config, field="status")
    assert_no_stuck_interrupts(graph, config, older_than="1h")
    with pytest.raises(AssertionError, match="has no field 'missing'"):
        assert_state_evolves(graph, config, field="missing")
"""
    )
    result = suite.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2)


RUNAWAY = '''
import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import START, StateGraph


class Grow(TypedDict, total=False):
    notes: Annotated[list[str], operator.add]


def runaway_graph(chunk: int) -> Any:
    """Never stops: think → act forever, each think adding ``chunk`` characters to the state."""

    def think(state: Grow) -> Grow:
        return {"notes": [f"{len(state.get('notes', [])):06d}" + "x" * chunk]}

    def act(state: Grow) -> Grow:
        return {}

    g = StateGraph(Grow)
    g.add_node("think", think)
    g.add_node("act", act)
    g.add_edge(START, "think")
    g.add_edge("think", "act")
    g.add_edge("act", "think")
    return g.compile(name="runaway")
'''

# VmHWM is this process's own peak; rusage's maxrss would start from the forking parent's (a
# whole test session's) memory, and fail this test when it runs late in the suite.
PEAK_RSS = """
def pytest_sessionfinish(session):
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    with open("peak_rss_mb.txt", "w") as f:
        f.write(str(kb // 1024))
"""


def test_max_steps_stops_a_runaway_loop_at_the_limit_and_shows_the_cycle(suite: pytest.Pytester) -> None:
    suite.makepyfile(runaway=RUNAWAY)
    suite.makepyfile(
        test_runaway="""
import pytest
from runaway import runaway_graph

@pytest.mark.lgscope(no_loops=True, max_steps=50)
def test_agent():
    runaway_graph(chunk=100).invoke({})

@pytest.mark.lgscope(max_steps=3)
def test_exactly_at_the_limit_passes():
    from graphs import healthy_graph
    assert healthy_graph().invoke({"status": "new"})["done"] is True
"""
    )
    result = suite.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "lgscope: the run was stopped at max_steps=50 (GraphRecursionError):",
            "- thread 'lgscope-test-*' did not terminate: status running, next think after 51 steps",
            "    last nodes: think → act → think → act → think → act → think → act",
            "    cycle: think → act, repeated * times",
            "    checkpoints: * → *",
        ]
    )
    # the failure is lgscope's message, not LangGraph's traceback nor the plugin's source
    result.stdout.no_fnmatch_line("*raise GraphRecursionError*")
    result.stdout.no_fnmatch_line("*pytest_runtest_call*")


def test_a_long_runaway_run_keeps_the_recorder_within_its_memory_bound(suite: pytest.Pytester) -> None:
    """2,000 steps with a state that grows by 2 KB every other step (2 MB at the end).

    An InMemorySaver keeping every checkpoint peaks at ~1.1 GB on this run (measured: 1,083 MB);
    the graph alone, with no checkpointer, at ~100 MB. The recorder keeps at most 36
    checkpoints a namespace, so the bound stated here is 300 MB for the whole test process."""
    suite.makepyfile(runaway=RUNAWAY)
    suite.makeconftest(PEAK_RSS)
    suite.makepyfile(
        test_long="""
import pytest
from runaway import runaway_graph

@pytest.mark.lgscope(no_loops=True)
def test_agent():
    runaway_graph(chunk=2000).invoke({}, {"recursion_limit": 2000})
"""
    )
    result = suite.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "lgscope: the run was stopped at its recursion limit (GraphRecursionError):",
            "- thread 'lgscope-test-*' did not terminate: status running, next think after 2001 steps",
            "    cycle: think → act, repeated * times",
        ]
    )
    peak = int((suite.path / "peak_rss_mb.txt").read_text())
    assert peak < 300, f"the test process peaked at {peak} MB"


def test_the_window_saver_keeps_the_head_and_the_tail() -> None:
    from langgraph.graph import START, StateGraph

    from lgscope.testing._window import HEAD, SLACK, WINDOW, WindowSaver

    saver = WindowSaver()

    def bump(state: dict[str, int]) -> dict[str, int]:
        return {"n": state["n"] + 1}

    g = StateGraph(dict)  # type: ignore[type-var]
    g.add_node("bump", bump)
    g.add_edge(START, "bump")
    g.add_conditional_edges("bump", lambda s: "bump" if s["n"] < 200 else "__end__", ["bump", "__end__"])
    graph = g.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "w"}, "recursion_limit": 500}
    graph.invoke({"n": 0}, config)  # type: ignore[arg-type]
    kept = list(saver.list(config))  # type: ignore[arg-type]
    assert len(kept) <= HEAD + WINDOW + SLACK
    steps = sorted(c.metadata["step"] for c in kept)
    assert steps[:HEAD] == [-1, 0, 1, 2]
    assert steps[-1] == 200 and steps[-WINDOW:] == list(range(201 - WINDOW, 201))
    assert saver.dropped[("w", "")] == 202 - len(kept)
    # what is kept still reads back: the latest state is whole
    assert graph.get_state(config).values == {"n": 200}  # type: ignore[arg-type]
    # blobs of dropped versions are gone: one per kept checkpoint's version of each channel at most
    assert len([k for k in saver.blobs if k[2] == "n"]) <= len(kept)

    from lgscope.testing import assert_terminates_within

    with pytest.raises(AssertionError, match="took 201 steps, over the limit of 150"):
        assert_terminates_within(graph, config, steps=150)
