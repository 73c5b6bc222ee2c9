"""Multi-day project: plan on day 1, execute a few tasks a day, review on the last day.

Each day is a separate run that resumes the thread from the store — in the sample build, a
separate process (``python -m lgscope.examples.project``), days apart on the fake clock.
"""

from __future__ import annotations

import argparse
import sqlite3
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from lgscope.examples._clock import FakeClock, installed, utc

TASKS = ["requirements", "wireframes", "backend", "frontend", "tests", "launch checklist"]
PER_DAY = 2


class ProjectState(TypedDict, total=False):
    name: str
    plan: list[str]
    done: list[str]
    day: int
    report: str


def build(checkpointer: Any) -> Any:
    def plan(state: ProjectState) -> ProjectState:
        return {"plan": list(TASKS), "done": [], "day": 1}

    def execute(state: ProjectState) -> Command[Any]:
        todo = [t for t in state["plan"] if t not in state["done"]]
        done = [*state["done"], *todo[:PER_DAY]]
        if len(done) == len(state["plan"]):
            return Command(update={"done": done}, goto="review")
        interrupt({"kind": "end_of_day", "day": state["day"], "done": done, "question": "Continue tomorrow?"})
        return Command(update={"done": done, "day": state["day"] + 1}, goto="execute")

    def review(state: ProjectState) -> ProjectState:
        return {"report": f"{state['name']}: {len(state['done'])} tasks done in {state['day']} days"}

    g = StateGraph(ProjectState)
    g.add_node("plan", plan)
    g.add_node("execute", execute, destinations=("execute", "review"))
    g.add_node("review", review)
    g.add_edge(START, "plan")
    g.add_edge("plan", "execute")
    g.add_edge("review", END)
    return g.compile(checkpointer=checkpointer, name="project")


def run_day(checkpointer: Any, thread_id: str, day: int) -> None:
    """Day 1 starts the project; later days resume it from the store."""
    graph = build(checkpointer)
    cfg = {"configurable": {"thread_id": thread_id}}
    if day == 1:
        graph.invoke({"name": "website relaunch"}, cfg)
    else:
        graph.invoke(Command(resume=True), cfg)


def main(argv: list[str] | None = None) -> None:
    """One day's run in its own process, on a fake clock: ``--store --thread --day --at --seed``."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--thread", required=True)
    parser.add_argument("--day", type=int, required=True)
    parser.add_argument("--at", required=True, help="ISO time the day's run starts at")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    conn = sqlite3.connect(args.store, check_same_thread=False)
    try:
        with installed(FakeClock(utc(args.at)), seed=args.seed + args.day):
            run_day(SqliteSaver(conn), args.thread, args.day)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
