"""Operations gone wrong: a task that raises, and a poller that makes no progress."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from lgscope.examples._common import Run


class IngestState(TypedDict, total=False):
    path: str
    rows: int


def build_ingest(checkpointer: Any) -> Any:
    def load(state: IngestState) -> IngestState:
        return {"rows": 1200}

    def parse(state: IngestState) -> IngestState:
        raise ValueError("row 42: unexpected delimiter ';'")

    g = StateGraph(IngestState)
    g.add_node("load", load)
    g.add_node("parse", parse)
    g.add_edge(START, "load")
    g.add_edge("load", "parse")
    g.add_edge("parse", END)
    return g.compile(checkpointer=checkpointer, name="ingest")


class SyncState(TypedDict, total=False):
    job_id: str
    status: str


def build_sync(checkpointer: Any, polls: int = 6) -> Any:
    seen = {"checks": 0}

    def wait(state: SyncState) -> SyncState:
        return {}

    def check(state: SyncState) -> SyncState:
        seen["checks"] += 1  # the external job never moves; we give up after a few polls
        return {}

    def route(state: SyncState) -> str:
        return END if seen["checks"] >= polls else "wait"

    g = StateGraph(SyncState)
    g.add_node("wait", wait)
    g.add_node("check", check)
    g.add_edge(START, "wait")
    g.add_edge("wait", "check")
    g.add_conditional_edges("check", route, ["wait", END])
    return g.compile(checkpointer=checkpointer, name="sync_job")


def run(r: Run) -> None:
    try:
        build_ingest(r.checkpointer).invoke({"path": "s3://bucket/export.csv"}, r.thread("ingest-failed"))
    except ValueError:
        pass
    r.expect("ingest-failed", "ops", "error", ["error"], "parse raised ValueError: the last task failed")
    r.clock.advance(timedelta(minutes=50))
    build_sync(r.checkpointer).invoke({"job_id": "job-77", "status": "submitted"}, r.thread("sync-stalled"))
    r.expect(
        "sync-stalled",
        "ops",
        "done",
        ["no_progress"],
        "polled a job that never moved: twelve checkpoints changed nothing",
    )
