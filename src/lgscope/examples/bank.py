"""Bank transfer: validate → prepare → manager approval above 5,000 → execute."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from lgscope.examples._common import Run

THRESHOLD = 5000


class TransferState(TypedDict, total=False):
    message: str
    amount: float
    recipient: str
    approved: bool
    status: str
    execution_history: list[str]


def _validate(state: TransferState) -> TransferState:
    words = state["message"].split()
    return {
        "amount": float(words[1]),
        "recipient": words[-1].lower(),
        "execution_history": ["validate_input"],
    }


def _prepare(state: TransferState) -> TransferState:
    return {"status": "prepared", "execution_history": [*state["execution_history"], "prepare"]}


def _approval(state: TransferState) -> TransferState:
    if state["amount"] <= THRESHOLD:
        return {"approved": True}
    answer = interrupt(
        {
            "kind": "transfer_approval",
            "amount": state["amount"],
            "recipient": state["recipient"],
            "question": f"Approve a transfer of {state['amount']:.0f} to {state['recipient']}?",
        }
    )
    approved = bool(answer.get("approved")) if isinstance(answer, dict) else bool(answer)
    return {"approved": approved, "execution_history": [*state["execution_history"], "approval"]}


def _execute(state: TransferState) -> TransferState:
    status = "executed" if state.get("approved") else "rejected"
    return {"status": status, "execution_history": [*state["execution_history"], "execute"]}


def build(checkpointer: Any) -> Any:
    g = StateGraph(TransferState)
    g.add_node("validate_input", _validate)
    g.add_node("prepare", _prepare)
    g.add_node("approval", _approval)
    g.add_node("execute", _execute)
    g.add_edge(START, "validate_input")
    g.add_edge("validate_input", "prepare")
    g.add_edge("prepare", "approval")
    g.add_edge("approval", "execute")
    g.add_edge("execute", END)
    return g.compile(checkpointer=checkpointer, name="bank_transfer")


def run(r: Run) -> None:
    graph = build(r.checkpointer)
    graph.invoke({"message": "Transfer 120 to Asha"}, r.thread("transfer-120"))
    r.expect("transfer-120", "bank", "done", [], "below the threshold: no approval needed")

    r.clock.advance(timedelta(hours=3))
    cfg = r.thread("transfer-6000-approved")
    graph.invoke({"message": "Transfer 6000 to Kiran"}, cfg)
    r.clock.advance(timedelta(minutes=20))
    graph.invoke(Command(resume={"approved": True, "by": "manager-7"}), cfg)
    r.expect(
        "transfer-6000-approved",
        "bank",
        "done",
        [],
        "above the threshold, approved by a manager after 20 minutes",
    )

    r.clock.advance(timedelta(hours=5))
    graph.invoke({"message": "Transfer 9000 to Ravi"}, r.thread("transfer-9000-pending"))
    r.expect(
        "transfer-9000-pending",
        "bank",
        "interrupted",
        ["stuck_interrupt"],
        "manager approval pending for days",
    )


def run_fresh(r: Run) -> None:
    """A transfer waiting an hour: pending, but not yet stuck."""
    build(r.checkpointer).invoke({"message": "Transfer 7500 to Mei"}, r.thread("transfer-7500-fresh"))
    r.expect(
        "transfer-7500-fresh",
        "bank",
        "interrupted",
        [],
        "manager approval pending for an hour: not stuck yet",
    )
