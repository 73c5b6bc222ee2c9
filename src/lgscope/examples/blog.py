"""Blog generator: research → write → human review (``interrupt_before``) → publish.

The human edits the draft with ``update_state(..., as_node="review")`` and the run resumes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from lgscope.examples._common import Run, ai, scripted_model


class BlogState(TypedDict, total=False):
    topic: str
    research: str
    draft: str
    review_notes: str
    published: bool


def build(checkpointer: Any, topic: str) -> Any:
    model = scripted_model(
        [
            ai(f"Key points on {topic}: checkpoints, threads, replay.", f"{topic}-research"),
            ai(f"# {topic}\n\nCheckpoints make agents resumable. Here is how.", f"{topic}-draft"),
        ]
    )

    def research(state: BlogState) -> BlogState:
        return {"research": str(model.invoke(state["topic"]).content)}

    def write(state: BlogState) -> BlogState:
        return {"draft": str(model.invoke(state["research"]).content)}

    def review(state: BlogState) -> BlogState:
        return {}

    def publish(state: BlogState) -> BlogState:
        return {"published": True}

    g = StateGraph(BlogState)
    for name, fn in (("research", research), ("write", write), ("review", review), ("publish", publish)):
        g.add_node(name, fn)
    g.add_edge(START, "research")
    g.add_edge("research", "write")
    g.add_edge("write", "review")
    g.add_edge("review", "publish")
    g.add_edge("publish", END)
    return g.compile(checkpointer=checkpointer, interrupt_before=["review"], name="blog_generator")


def run(r: Run) -> None:
    cfg = r.thread("blog-published")
    graph = build(r.checkpointer, "LangGraph persistence")
    graph.invoke({"topic": "LangGraph persistence"}, cfg)
    r.clock.advance(timedelta(hours=2))
    graph.update_state(
        cfg,
        {"draft": "# LangGraph persistence\n\nEdited by a human.", "review_notes": "tightened"},
        as_node="review",
    )
    graph.invoke(None, cfg)
    r.expect("blog-published", "blog", "done", [], "paused before review, edited via update_state, published")

    r.clock.advance(timedelta(hours=1))
    graph = build(r.checkpointer, "Time travel")
    graph.invoke({"topic": "Time travel"}, r.thread("blog-awaiting-review"))
    r.expect(
        "blog-awaiting-review",
        "blog",
        "running",
        ["stuck_run"],
        "paused by interrupt_before review for days; a static interrupt stores no interrupt write, "
        "so it reads as running with next=review, and stuck_run reports it as paused before review",
    )
