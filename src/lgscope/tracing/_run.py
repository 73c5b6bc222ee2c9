"""What an instrumented run carries through contextvars: its tracer, root span and settings."""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode, Tracer, set_span_in_context

from lgscope.tracing import _attributes as A
from lgscope.tracing._observers import RunObserver

__all__ = [
    "ACTIVE_RUNS",
    "CURRENT_RUN",
    "Content",
    "RunState",
    "exception_type",
    "failed",
    "notify",
    "run_for",
]

_MAX_CONTENT = 4096


@dataclass(frozen=True, slots=True)
class Content:
    """Whether and how state, tool data and error messages go into spans (off by default)."""

    capture: bool = False
    redact: re.Pattern[str] | Callable[[str], str] | None = None
    limit: int = _MAX_CONTENT

    def text(self, text: str) -> str:
        """``text`` redacted and cut at the limit."""
        if isinstance(self.redact, re.Pattern):
            text = self.redact.sub("[REDACTED]", text)
        elif self.redact is not None:
            text = self.redact(text)
        return text if len(text) <= self.limit else text[: self.limit] + "…[truncated]"

    def render(self, value: Any) -> str:
        return self.text(json.dumps(value, default=str, ensure_ascii=False))


def exception_type(exc: BaseException) -> str:
    """``exception.type`` as OpenTelemetry's SDK writes it: qualified unless a builtin."""
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def failed(span: Span, exc: BaseException, content: Content) -> None:
    """Mark ``span`` as failed by ``exc``. The exception's message is content (it often quotes
    the state): with capture off, only its type is recorded; with it on, the message and the
    stack trace are redacted and cut as content is."""
    kind = exception_type(exc)
    if not span.is_recording():
        return
    if content.capture:
        message = content.text(str(exc))
        stack = content.text("".join(traceback.format_exception(exc)))
        span.record_exception(exc, attributes={A.EXCEPTION_MESSAGE: message, A.EXCEPTION_STACKTRACE: stack})
        span.set_status(Status(StatusCode.ERROR, f"{kind}: {message}"))
    else:
        span.add_event("exception", {A.EXCEPTION_TYPE: kind})
        span.set_status(Status(StatusCode.ERROR, kind))


@dataclass(slots=True)
class RunState:
    tracer: Tracer
    graph: str
    root: Span
    content: Content
    observers: Sequence[RunObserver] = ()
    thread_id: str = ""
    latest_names: bool = False
    """Whether node spans carry the proposed ``gen_ai.node.*`` names too."""
    interrupted: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    root_context: Context = field(init=False)
    """The context with the root as current span: the parent of checkpoint spans made on
    LangGraph's own threads, outside the run's context."""
    trace_context: dict[str, str] = field(init=False)
    """The root span's ids as stored in checkpoint metadata (computed once per run)."""
    idle: bool = False
    """Whether nothing is to be done for the run's nodes, tools and checkpoint operations: it is
    not recorded (sampled out, or a no-op provider) and has no observers."""

    def __post_init__(self) -> None:
        self.idle = not self.observers and not self.root.is_recording()
        self.root_context = set_span_in_context(self.root)
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
