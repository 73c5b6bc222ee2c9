"""The current span, read and set in one step: OpenTelemetry's context API costs four Python calls
and an ABC ``isinstance`` per read; lgscope reads it per node and per checkpoint operation.

With the SDK's default runtime context (a `ContextVar` holding an immutable ``Context``), the
variable is used directly; any other runtime context goes through the public API.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace.propagation import _SPAN_KEY

__all__ = ["attach_span", "current_span", "detach"]


def _context_var() -> ContextVar[Context] | None:
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and isinstance(var, ContextVar):
        return var
    return None


_VAR = _context_var()
_INVALID = trace.INVALID_SPAN


def current_span() -> trace.Span:
    """``trace.get_current_span()``."""
    if _VAR is None:
        return trace.get_current_span()
    span: Any = _VAR.get().get(_SPAN_KEY)
    return _INVALID if span is None else span


def attach_span(span: trace.Span) -> Token[Context]:
    """``context.attach(trace.set_span_in_context(span))``."""
    if _VAR is None:
        return otel_context.attach(trace.set_span_in_context(span))
    context = Context(_VAR.get())
    dict.__setitem__(context, _SPAN_KEY, span)  # Context forbids item assignment; this copy is new
    return _VAR.set(context)


def detach(token: Token[Context]) -> None:
    """``context.detach(token)``."""
    if _VAR is None:
        otel_context.detach(token)
        return
    try:
        _VAR.reset(token)
    except (RuntimeError, ValueError):
        otel_context.detach(token)  # logs the failure, as the API does, and goes on
