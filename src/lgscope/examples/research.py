"""Map-reduce research: a planner fans out with ``Send``, then a report subgraph writes it up."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from lgscope.examples._common import Run


class ResearchState(TypedDict, total=False):
    question: str
    sources: list[str]
    notes: Annotated[list[str], operator.add]
    report: str


class ReportState(TypedDict, total=False):
    notes: list[str]
    outline: str
    report: str


def _report_subgraph() -> Any:
    def outline(state: ReportState) -> ReportState:
        return {"outline": " / ".join(sorted(state["notes"]))}

    def write(state: ReportState) -> ReportState:
        return {"report": f"Report: {state['outline']}"}

    g = StateGraph(ReportState)
    g.add_node("outline", outline)
    g.add_node("write", write)
    g.add_edge(START, "outline")
    g.add_edge("outline", "write")
    return g.compile()


def build(checkpointer: Any) -> Any:
    def plan(state: ResearchState) -> ResearchState:
        return {"sources": ["docs", "issues", "changelog"]}

    def fan_out(state: ResearchState) -> list[Send]:
        return [Send("summarize", {"question": state["question"], "sources": [s]}) for s in state["sources"]]

    def summarize(state: ResearchState) -> ResearchState:
        return {"notes": [f"{state['sources'][0]}: relevant"]}

    g = StateGraph(ResearchState)
    g.add_node("plan", plan)
    g.add_node("summarize", summarize)
    g.add_node("report", _report_subgraph())
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", fan_out, ["summarize"])
    g.add_edge("summarize", "report")
    g.add_edge("report", END)
    return g.compile(checkpointer=checkpointer, name="research")


def run(r: Run) -> None:
    build(r.checkpointer).invoke({"question": "How do checkpoints work?"}, r.thread("research-fanout"))
    r.expect(
        "research-fanout", "research", "done", [], "Send fan-out to three summarizers, then a report subgraph"
    )
