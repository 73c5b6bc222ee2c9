"""Real LangGraph threads for the scan benchmark whose states are toy counters: small scalars only.

The third state shape of the many-threads benchmark (beside ``_scan_workload.py``'s KB tool
results and the sample store's chat messages): states of a few ints, short strings, a bool and a
short list of ints, no messages. Checkpoints average ~0.8 KB, three quarters of it LangGraph's
own channel versions and versions seen. The templates are run through the real graphs and the
real SqliteSaver under a fixed clock; the benchmark then copies their rows under new thread ids.

Mix (by thread): 50% healthy tallies (1-4 turns of adding or taking a number), 20% healthy
countdowns (a loop that steps a value down to zero, logging each value), 5% healthy retries (a
flaky step that succeeds on its second or third attempt), 6% a poller whose job never leaves
``pending`` (its attempts counter goes up until the recursion limit), 6% a thermostat flipping
between heat and cool on the same two readings (both fields flip), 8% gates waiting for a yes
(half answered, half left for days), 5% an average of nothing (a failed task).

A counter that only goes up is not progress to lgscope (an attempts counter): a loop that does
nothing but count (``count += 1`` until a target) reads as a loop without progress, so the
healthy loops here also change a value that is not a counter.
"""

from __future__ import annotations

import operator
import random
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypedDict

from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from lgscope.examples._clock import FakeClock, installed

START_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = START_TIME + timedelta(days=6)
"""Judge interrupt ages as of this time: the unanswered gates are days old by then."""


class Tally(TypedDict, total=False):
    op: str
    amount: int
    total: int
    ops: Annotated[int, operator.add]
    last: str
    history: Annotated[list[int], operator.add]


def _tally(saver: Any) -> Any:
    def check(state: Tally) -> Tally:
        amount = state["amount"] if state["op"] == "add" else -state["amount"]
        return {"last": f"{state['op']} {state['amount']}", "history": [amount]}

    def apply(state: Tally) -> Tally:
        return {"total": state.get("total", 0) + state["history"][-1], "ops": 1}

    g = StateGraph(Tally)
    g.add_node("check", check)
    g.add_node("apply", apply)
    g.add_edge(START, "check")
    g.add_edge("check", "apply")
    g.add_edge("apply", END)
    return g.compile(checkpointer=saver)


class Countdown(TypedDict, total=False):
    value: int
    step: int
    seen: Annotated[list[int], operator.add]
    done: bool


def _countdown(saver: Any) -> Any:
    def tick(state: Countdown) -> Countdown:
        value = max(state["value"] - state["step"], 0)
        return {"value": value, "seen": [value]}

    def finish(state: Countdown) -> Countdown:
        return {"done": True}

    g = StateGraph(Countdown)
    g.add_node("tick", tick)
    g.add_node("finish", finish)
    g.add_edge(START, "tick")
    g.add_conditional_edges("tick", lambda s: "finish" if s["value"] == 0 else "tick", ["tick", "finish"])
    g.add_edge("finish", END)
    return g.compile(checkpointer=saver)


class Poll(TypedDict, total=False):
    job: str
    status: str
    attempts: Annotated[int, operator.add]


def _poller(saver: Any) -> Any:
    def check(state: Poll) -> Poll:
        return {"status": "pending", "attempts": 1}

    def wait(state: Poll) -> Poll:
        return {}

    g = StateGraph(Poll)
    g.add_node("check", check)
    g.add_node("wait", wait)
    g.add_edge(START, "check")
    g.add_conditional_edges("check", lambda s: END if s["status"] == "done" else "wait", ["wait", END])
    g.add_edge("wait", "check")
    return g.compile(checkpointer=saver)


class Thermostat(TypedDict, total=False):
    target: int
    reading: int
    mode: str
    switches: Annotated[int, operator.add]


def _thermostat(saver: Any, readings: list[int]) -> Any:
    seen = {"n": 0}

    def sense(state: Thermostat) -> Thermostat:
        reading = readings[min(seen["n"], len(readings) - 1)]
        seen["n"] += 1
        return {"reading": reading}

    def regulate(state: Thermostat) -> Thermostat:
        mode = "heat" if state["reading"] < state["target"] else "cool"
        if state["reading"] == state["target"]:
            mode = "idle"
        return {"mode": mode, "switches": 1}

    g = StateGraph(Thermostat)
    g.add_node("sense", sense)
    g.add_node("regulate", regulate)
    g.add_edge(START, "sense")
    g.add_edge("sense", "regulate")
    g.add_conditional_edges("regulate", lambda s: END if s["mode"] == "idle" else "sense", ["sense", END])
    return g.compile(checkpointer=saver)


class Gate(TypedDict, total=False):
    name: str
    votes: int
    quorum: int
    open: bool
    status: str


def _gate(saver: Any) -> Any:
    def count(state: Gate) -> Gate:
        return {"status": "waiting"}

    def approve(state: Gate) -> Gate:
        answer = interrupt(
            {"question": f"Open {state['name']} with {state['votes']}/{state['quorum']} votes?"}
        )
        return {"open": bool(answer), "status": "open" if answer else "closed"}

    g = StateGraph(Gate)
    g.add_node("count", count)
    g.add_node("approve", approve)
    g.add_edge(START, "count")
    g.add_edge("count", "approve")
    g.add_edge("approve", END)
    return g.compile(checkpointer=saver)


class Average(TypedDict, total=False):
    name: str
    values: list[int]
    total: int
    mean: int


def _average(saver: Any) -> Any:
    def add(state: Average) -> Average:
        return {"total": sum(state["values"])}

    def divide(state: Average) -> Average:
        return {"mean": state["total"] // len(state["values"])}

    g = StateGraph(Average)
    g.add_node("add", add)
    g.add_node("divide", divide)
    g.add_edge(START, "add")
    g.add_edge("add", "divide")
    g.add_edge("divide", END)
    return g.compile(checkpointer=saver)


class Retry(TypedDict, total=False):
    key: str
    tries: Annotated[int, operator.add]
    result: int
    ok: bool


def _retry(saver: Any, fails: int, result: int) -> Any:
    def fetch(state: Retry) -> Retry:
        if state.get("tries", 0) < fails:
            return {"tries": 1, "ok": False}
        return {"tries": 1, "ok": True, "result": result}

    g = StateGraph(Retry)
    g.add_node("fetch", fetch)
    g.add_edge(START, "fetch")
    g.add_conditional_edges("fetch", lambda s: END if s["ok"] else "fetch", ["fetch", END])
    return g.compile(checkpointer=saver)


def build_templates(saver: Any, seed: int = 11) -> dict[str, list[str]]:
    """Run the template threads through ``saver``; return each thread's expected finding kinds."""
    rng = random.Random(seed)
    expected: dict[str, list[str]] = {}
    clock = FakeClock(START_TIME)
    with installed(clock, seed=seed):
        for n in range(50):
            tid = f"tally-{n}"
            graph = _tally(saver)
            for _ in range(rng.choice([1, 2, 2, 3, 4])):
                graph.invoke(
                    {"op": rng.choice(["add", "add", "sub"]), "amount": rng.randint(1, 20)}, _cfg(tid)
                )
                clock.advance(timedelta(minutes=rng.randint(1, 90)))
            expected[tid] = []
        for n in range(20):
            tid = f"countdown-{n}"
            _countdown(saver).invoke({"value": rng.randint(4, 12), "step": rng.choice([1, 2, 3])}, _cfg(tid))
            expected[tid] = []
        for n in range(6):
            tid = f"poll-{n}"
            try:
                _poller(saver).invoke(
                    {"job": f"job-{rng.randint(1000, 9999)}", "status": "submitted"},
                    {**_cfg(tid), "recursion_limit": 25},
                )
            except GraphRecursionError:
                pass
            expected[tid] = ["error", "loop", "no_progress"]
        for n in range(6):
            tid = f"thermostat-{n}"
            target = rng.randint(19, 23)
            readings = [target - 2, target + 2] * 3 + [target]
            _thermostat(saver, readings).invoke({"target": target}, _cfg(tid))
            expected[tid] = ["loop", "oscillation", "oscillation"]  # the reading and the mode flip
        for n in range(8):
            tid = f"gate-{n}"
            graph = _gate(saver)
            quorum = rng.randint(3, 7)
            graph.invoke({"name": f"door-{n}", "votes": rng.randint(1, quorum), "quorum": quorum}, _cfg(tid))
            if n % 2:
                clock.advance(timedelta(minutes=rng.randint(5, 90)))
                graph.invoke(Command(resume=True), _cfg(tid))
                expected[tid] = []
            else:
                expected[tid] = ["stuck_interrupt"]
        for n in range(5):
            tid = f"average-{n}"
            try:
                _average(saver).invoke({"name": f"batch-{n}", "values": []}, _cfg(tid))
            except ZeroDivisionError:
                pass
            expected[tid] = ["error"]
        for n in range(5):
            tid = f"retry-{n}"
            _retry(saver, fails=rng.choice([1, 2]), result=rng.randint(1, 99)).invoke(
                {"key": f"k{n}"}, _cfg(tid)
            )
            expected[tid] = []
            clock.advance(timedelta(minutes=rng.randint(1, 30)))
    return expected


def _cfg(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}
