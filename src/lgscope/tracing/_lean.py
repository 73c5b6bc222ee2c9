"""Lean child spans: a run's node, tool and checkpoint spans without the SDK's per-span machinery.

An OpenTelemetry SDK span costs ~40 µs in CPython (sampler call, a lock, bounded attribute
copies, a ReadableSpan copy at its end). A ten-node run makes ~36 of them, which alone would
add ~20% to a trivial graph. Inside a recording run, lgscope's child spans are `LeanSpan`s:
plain objects that are handed to the run's own span processors (``on_start`` and, as one
``ReadableSpan``, ``on_end``) with the root span's resource and instrumentation scope. They
follow the root's sampling decision, as a parent-based sampler would. Anything else (no SDK,
another SDK, a non-recording root) falls back to the tracer's ordinary spans.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, cast

from opentelemetry import trace
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import export as sdk_export
from opentelemetry.trace import Link, SpanContext, Status, StatusCode
from opentelemetry.util import types

__all__ = ["DeferredSpan", "LeanSpan", "SpanFactory", "child_span"]


def _span_id() -> int:
    while True:
        value = random.getrandbits(64)
        if value:
            return value


_UNSET = Status(StatusCode.UNSET)
_MAX_PENDING = 1024  # a run's deferred spans held at most; beyond, they are emitted as they end
_NONE: tuple[Any, ...] = ()


def _wants_starts(processor: Any) -> bool:
    """Whether any processor does something in ``on_start`` (the exporting ones do not)."""
    children = getattr(processor, "_span_processors", None)
    if isinstance(children, tuple):
        return any(_wants_starts(child) for child in children)
    return type(processor).on_start not in _NO_OP_STARTS


_NO_OP_STARTS = {
    sdk_trace.SpanProcessor.on_start,
    sdk_export.BatchSpanProcessor.on_start,
    sdk_export.SimpleSpanProcessor.on_start,
}


class SpanFactory:
    """Makes `LeanSpan`s that end in the same processors as a recording SDK root span."""

    __slots__ = ("_closed", "_lock", "_pending", "_processor", "_resource", "_scope", "_starts")

    def __init__(self, processor: Any, resource: Any, scope: Any) -> None:
        self._processor = processor
        self._resource = resource
        self._scope = scope
        self._pending: list[DeferredSpan] = []
        self._lock = threading.Lock()
        self._closed = False
        self._starts = _wants_starts(processor)

    @classmethod
    def for_root(cls, root: trace.Span) -> SpanFactory | None:
        """The factory for a run's root span, or None when lean spans cannot stand in for it."""
        if not isinstance(root, sdk_trace.Span) or not root.is_recording():
            return None
        processor = getattr(root, "_span_processor", None)
        if processor is None or not hasattr(processor, "on_end"):
            return None
        return cls(processor, root.resource, root.instrumentation_scope)

    def _notify_start(self, span: LeanSpan) -> None:
        if self._starts:
            self._processor.on_start(span, None)

    def start(
        self, name: str, parent: SpanContext, attributes: dict[str, types.AttributeValue] | None = None
    ) -> LeanSpan:
        context = SpanContext(parent.trace_id, _span_id(), False, parent.trace_flags, parent.trace_state)
        span = LeanSpan(self, name, context, parent, attributes)
        self._notify_start(span)
        return span

    def deferred(
        self, name: str, parent: SpanContext, attributes: dict[str, types.AttributeValue]
    ) -> DeferredSpan:
        """A leaf span whose making is put off until the run ends (see `DeferredSpan`)."""
        return DeferredSpan(self, name, parent, attributes)

    def _finished(self, span: DeferredSpan) -> None:
        with self._lock:
            if not self._closed and len(self._pending) < _MAX_PENDING:
                self._pending.append(span)
                return
        self._emit(span)

    def flush(self) -> None:
        """Emit the deferred spans; any that end later are emitted as they end."""
        with self._lock:
            pending, self._pending, self._closed = self._pending, [], True
        for span in pending:
            self._emit(span)

    def _emit(self, deferred: DeferredSpan) -> None:
        parent = deferred.parent
        context = SpanContext(parent.trace_id, _span_id(), False, parent.trace_flags, parent.trace_state)
        span = LeanSpan(self, deferred.name, context, parent, deferred.attributes)
        span._start_time = deferred.start_ns
        self._notify_start(span)
        if deferred.error is not None:
            span.record_exception(deferred.error, timestamp=deferred.end_ns)
            span.set_status(Status(StatusCode.ERROR, f"{type(deferred.error).__name__}: {deferred.error}"))
        span.end(deferred.end_ns)


class LeanSpan(trace.Span, sdk_trace.ReadableSpan):
    """A recording span that is its own ``ReadableSpan``: ending it hands it to the processors.

    One object per span (the SDK makes a second, read-only copy at the end) keeps the garbage
    collector's work down as well as the CPU time. Not thread-safe: one task owns a span.
    """

    def __init__(
        self,
        factory: SpanFactory,
        name: str,
        context: SpanContext,
        parent: SpanContext,
        attributes: dict[str, types.AttributeValue] | None = None,
    ) -> None:
        # ReadableSpan's fields, set directly: its __init__ would build an empty Resource
        self._factory = factory
        self._name = name
        self._context = context
        self._kind = trace.SpanKind.INTERNAL
        self._parent = parent
        self._attributes = attributes if attributes is not None else {}
        self._events: Any = _NONE
        self._links: Any = _NONE
        self._status = _UNSET
        self._resource = factory._resource
        self._instrumentation_scope = factory._scope
        self._instrumentation_info = None
        self._start_time = time.time_ns()
        self._end_time: int | None = None

    def get_span_context(self) -> SpanContext:
        return cast(SpanContext, self._context)

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self._end_time is None:
            for key, value in attributes.items():
                self.set_attribute(key, value)

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if self._end_time is None:
            self._attributes[key] = tuple(value) if isinstance(value, list) else value  # type: ignore[index]

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self._end_time is None:
            if self._events is _NONE:
                self._events = []
            self._events.append(sdk_trace.Event(name, attributes, timestamp or time.time_ns()))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self._end_time is None and context.is_valid:
            if self._links is _NONE:
                self._links = []
            self._links.append(Link(context, attributes))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._end_time is None:
            self._status = status if isinstance(status, Status) else Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        kind = type(exception)
        module = kind.__module__
        event: dict[str, types.AttributeValue] = {
            "exception.type": f"{module}.{kind.__qualname__}"
            if module and module != "builtins"
            else kind.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time or time.time_ns()
        self._events = tuple(self._events)
        self._links = tuple(self._links)
        self._factory._processor.on_end(self)


class DeferredSpan:
    """A checkpoint operation's span, recorded now and made into a `LeanSpan` when the run ends.

    LangGraph writes checkpoints from its background threads, where every microsecond also
    contends for the GIL with the graph's own thread; the record costs a few attribute stores,
    and the span objects are built in one pass on the run's thread when it finishes.
    """

    __slots__ = ("attributes", "end_ns", "error", "factory", "name", "parent", "start_ns")

    def __init__(
        self,
        factory: SpanFactory,
        name: str,
        parent: SpanContext,
        attributes: dict[str, types.AttributeValue],
    ) -> None:
        self.factory = factory
        self.name = name
        self.parent = parent
        self.attributes = attributes
        self.start_ns = time.time_ns()
        self.end_ns = 0
        self.error: BaseException | None = None

    # the slice of the Span API the checkpoint wrapper uses
    def is_recording(self) -> bool:
        return self.end_ns == 0

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        self.attributes[key] = value

    def record_exception(self, exception: BaseException, *args: Any, **kwargs: Any) -> None:
        self.error = exception

    def set_status(self, *args: Any, **kwargs: Any) -> None:
        """The status follows the recorded exception."""

    def end(self) -> None:
        if self.end_ns == 0:
            self.end_ns = time.time_ns()
            self.factory._finished(self)


def child_span(
    factory: SpanFactory | None,
    tracer: trace.Tracer,
    name: str,
    parent: trace.Span,
    attributes: dict[str, types.AttributeValue] | None = None,
    links: Sequence[Link] = (),
) -> trace.Span:
    """A span under ``parent``: lean when the run has a factory, else the tracer's own."""
    if factory is not None:
        context = parent.get_span_context()
        if context.is_valid:
            return factory.start(name, context, attributes)
    return tracer.start_span(
        name, context=trace.set_span_in_context(parent), attributes=attributes, links=links
    )
