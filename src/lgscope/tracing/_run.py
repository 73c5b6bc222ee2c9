"""What an instrumented run carries through contextvars: its tracer, root span and settings."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span, Tracer

from lgscope.tracing._lean import SpanFactory
from lgscope.tracing._observers import RunObserver

__all__ = ["ACTIVE_RUNS", "CURRENT_RUN", "Content", "RunState", "notify", "run_for"]

_MAX_CONTENT = 4096


@dataclass(frozen=True, slots=True)
class Content:
    """Whether and how state and tool data go into spans (off by default)."""

    capture: bool = False
    redact: re.Pattern[str] | Callable[[str], str] | None = None
    limit: int = _MAX_CONTENT

    def render(self, value: Any) -> str:
        text = json.dumps(value, default=str, ensure_ascii=False)
        if isinstance(self.redact, re.Pattern):
            text = self.redact.sub("[REDACTED]", text)
        elif self.redact is not None:
            text = self.redact(text)
        return text if len(text) <= self.limit else text[: self.limit] + "…[truncated]"


@dataclass(slots=True)
class RunState:
    tracer: Tracer
    graph: str
    root: Span
    content: Content
    observers: Sequence[RunObserver] = ()
    thread_id: str = ""
    spans: SpanFactory | None = None
    interrupted: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    trace_context: dict[str, str] = field(init=False)
    """The root span's ids as stored in checkpoint metadata (computed once per run)."""
    quiet: bool = False
    """Whether a node that succeeds needs no more than its span ended: no content, no observers."""
    idle: bool = False
    """Whether nothing is to be done for the run's nodes, tools and checkpoint operations: it is
    not recorded (sampled out, or no SDK) and has no observers."""

    def __post_init__(self) -> None:
        self.quiet = not (self.content.capture or self.observers)
        self.idle = not self.observers and self.spans is None and not self.root.is_recording()
        ctx = self.root.get_span_context()
        self.trace_context = {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


CURRENT_RUN: ContextVar[RunState | None] = ContextVar("lgscope_run", default=None)
ACTIVE_RUNS: dict[str, RunState] = {}
"""Runs in progress by thread id: LangGraph writes some checkpoints from its own threads,
outside the run's context; their spans find their run here."""


def run_for(config: Any) -> RunState | None:
    """The run a checkpoint operation belongs to: the current one, else its thread's."""
    run = CURRENT_RUN.get()
    if run is not None:
        return run
    thread_id = str(((config or {}).get("configurable") or {}).get("thread_id", ""))
    return ACTIVE_RUNS.get(thread_id) if thread_id else None


def notify(state: RunState, method: str, *args: Any) -> None:
    for observer in state.observers:
        try:
            getattr(observer, method)(*args)
        except Exception:  # an observer must never break the graph
            pass
