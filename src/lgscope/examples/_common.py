"""What every example workload shares: its expectations and the scripted chat model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from lgscope.examples._clock import FakeClock

__all__ = ["Expectation", "Run", "scripted_model"]


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a sample thread must look like to lgscope (the fixture's label)."""

    thread_id: str
    workload: str
    status: str
    findings: tuple[str, ...]
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "status": self.status,
            "findings": list(self.findings),
            "description": self.description,
        }


@dataclass(slots=True)
class Run:
    """Where a workload writes: a checkpointer, the clock, and a prefix for thread ids."""

    checkpointer: Any
    clock: FakeClock
    prefix: str = ""
    expectations: list[Expectation] = field(default_factory=list)

    def thread(self, name: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": self.prefix + name}}

    def expect(
        self, name: str, workload: str, status: str, findings: Iterable[str], description: str
    ) -> None:
        self.expectations.append(
            Expectation(self.prefix + name, workload, status, tuple(findings), description)
        )


def scripted_model(replies: Iterable[AIMessage | str]) -> GenericFakeChatModel:
    """A fake chat model answering with ``replies`` in order (explicit ids keep builds deterministic)."""
    return GenericFakeChatModel(messages=iter(list(replies)))


def ai(text: str, msg_id: str, tool_calls: list[dict[str, Any]] | None = None) -> AIMessage:
    return AIMessage(content=text, id=msg_id, tool_calls=tool_calls or [])
