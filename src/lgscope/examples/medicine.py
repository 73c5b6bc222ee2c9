"""Medicine-list approval: extract a list, a pharmacist approves, asks to regenerate, or edits it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from lgscope.examples._common import Run, ai, scripted_model


class MedicineState(TypedDict, total=False):
    prescription: str
    medicines: list[str]
    decision: str
    final: list[str]


def build(checkpointer: Any, name: str) -> Any:
    model = scripted_model(
        [
            ai(json.dumps(["amoxicillin 500mg", "ibuprofen 400mg"]), f"{name}-extract-1"),
            ai(json.dumps(["amoxicillin 500mg", "paracetamol 500mg"]), f"{name}-extract-2"),
        ]
    )

    def extract(state: MedicineState) -> MedicineState:
        return {"medicines": json.loads(str(model.invoke(state["prescription"]).content))}

    def approval(state: MedicineState) -> Command[Any]:
        answer = interrupt(
            {"kind": "medicine_approval", "medicines": state["medicines"], "question": "Approve?"}
        )
        action = answer.get("action", "approve") if isinstance(answer, dict) else "approve"
        if action == "regenerate":
            return Command(update={"decision": "regenerate"}, goto="extract")
        if action == "edit":
            return Command(update={"decision": "edit", "medicines": answer["medicines"]}, goto="finalize")
        return Command(update={"decision": "approve"}, goto="finalize")

    def finalize(state: MedicineState) -> MedicineState:
        return {"final": list(state["medicines"])}

    g = StateGraph(MedicineState)
    g.add_node("extract", extract)
    g.add_node("approval", approval, destinations=("extract", "finalize"))
    g.add_node("finalize", finalize)
    g.add_edge(START, "extract")
    g.add_edge("extract", "approval")
    g.add_edge("finalize", END)
    return g.compile(checkpointer=checkpointer, name="medicine_approval")


def run(r: Run) -> None:
    rx = {"prescription": "Amoxicillin 500mg three times daily; ibuprofen as needed"}
    for name, answers, description in (
        ("medicine-approved", [{"action": "approve"}], "approved as extracted"),
        (
            "medicine-regenerated",
            [{"action": "regenerate"}, {"action": "approve"}],
            "pharmacist asked to regenerate once, then approved",
        ),
        (
            "medicine-edited",
            [{"action": "edit", "medicines": ["amoxicillin 250mg"]}],
            "pharmacist edited the list before approving",
        ),
    ):
        graph = build(r.checkpointer, name)
        cfg = r.thread(name)
        graph.invoke(rx, cfg)
        for answer in answers:
            r.clock.advance(timedelta(minutes=12))
            graph.invoke(Command(resume=answer), cfg)
        r.expect(name, "medicine", "done", [], description)
        r.clock.advance(timedelta(hours=2))
    build(r.checkpointer, "medicine-stuck").invoke(rx, r.thread("medicine-stuck"))
    r.expect(
        "medicine-stuck",
        "medicine",
        "interrupted",
        ["stuck_interrupt"],
        "nobody answered the approval for days",
    )
