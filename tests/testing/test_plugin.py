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
        ["*lgscope: the graph did not terminate within 5 steps:", "*took 8 steps, over the limit of 5*"]
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
