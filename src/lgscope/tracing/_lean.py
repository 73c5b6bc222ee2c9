"""Lean spans: a run's spans without the SDK's per-span machinery.

An OpenTelemetry SDK span costs ~15 µs in CPython (sampler call, locks, bounded attribute
copies, a ``ReadableSpan`` copy at its end) and leaves a dozen objects for the garbage
collector until it is exported. A ten-node run makes ~35 of them. With the SDK's tracer, a
run's root is started as the tracer would (its sampler decides, its id generator names it,
see `RootStarter`) and it and its node, tool and checkpoint spans are `LeanSpan`s: one object
each, handed to the tracer's span processors (``on_start`` and, as the ``ReadableSpan``
itself, ``on_end``; the root's children in batches, see `SpanFactory`) with its resource and
instrumentation scope. Children follow the root's sampling decision, as a parent-based sampler
would. Anything else (no SDK, another SDK, a non-recording root) falls back to the tracer's
ordinary spans.
"""

from __future__ import annotations

import logging
import operator
import os
import random
import threading
import time
import traceback
from collections import deque
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol, TypeVar, overload

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import export as sdk_export
from opentelemetry.sdk.trace import sampling as sdk_sampling
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.util import types

from lgscope.tracing._context import current_span

__all__ = [
    "LEAN",
    "NO_ATTRIBUTES",
    "Deferred",
    "DeferredSpan",
    "LeanSpan",
    "RootStarter",
    "SpanFactory",
    "child_span",
]

_log = logging.getLogger(__name__)
_UNSET = Status(StatusCode.UNSET)
NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})  # read-only: set_attribute copies it
# a run's deferred spans are handed over in batches: when it ends, and in a long run at least
# once a second (so that they reach a collector while it runs) or every 1024 spans
_MAX_PENDING = 1024
_MAX_DELAY_NS = 1_000_000_000
_NONE: tuple[Any, ...] = ()
_NO_OP_STARTS = {
    sdk_trace.SpanProcessor.on_start,
    sdk_export.BatchSpanProcessor.on_start,
    sdk_export.SimpleSpanProcessor.on_start,
}


def _tuple_layout() -> bool:
    """Whether a `SpanContext` is the 6-tuple this SDK version builds, so that a valid one can be
    made without its validating constructor (a leaf's context is made each time it is asked for)."""
    probe = SpanContext(3, 5, False, TraceFlags(TraceFlags.SAMPLED), TraceState([("k", "v")]))
    made = _new_tuple(SpanContext, (3, 5, False, probe.trace_flags, probe.trace_state, True))
    return (
        made == probe
        and made.is_valid
        and (made.trace_id, made.span_id, made.is_remote) == (3, 5, False)
        and made.trace_flags.sampled
        and made.trace_state is probe.trace_state
    )


_PLAIN = frozenset((str, bool, int, float))
_L = TypeVar("_L", bound="LeanSpan")
_DEFAULT_LIMITS = sdk_trace.SpanLimits()
_RANDOM_TRACE_ID = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)
_FLAGS = {
    flags: TraceFlags(flags)  # immutable: one per value, not one per run
    for flags in {0, TraceFlags.SAMPLED, _RANDOM_TRACE_ID, TraceFlags.SAMPLED | _RANDOM_TRACE_ID}
}
_ENDED = operator.attrgetter("_end_time")
_new_tuple = tuple.__new__
_new_object = object.__new__
_getrandbits = random.getrandbits
_time_ns = time.time_ns
_TUPLE_LAYOUT = _tuple_layout()
_NO_PARENT = trace.INVALID_SPAN_CONTEXT
_NO_TRACE_STATE = trace.DEFAULT_TRACE_STATE


def _context(trace_id: int, span_id: int, flags: TraceFlags, state: TraceState) -> SpanContext:
    """A local span's context from valid ids."""
    if _TUPLE_LAYOUT:
        return _new_tuple(SpanContext, (trace_id, span_id, False, flags, state, True))
    return SpanContext(trace_id, span_id, False, flags, state)


def _below(count: int, limit: int | None) -> bool:
    return limit is None or count < limit


def _nonzero(bits: int) -> int:
    """A random id of ``bits`` bits other than 0 (the invalid id), once the first draw was 0."""
    while True:
        value = random.getrandbits(bits)
        if value:
            return value


class _Processors:
    """A provider's span processors, resolved once for as long as its list is unchanged:
    the leaves of a synchronous multi-processor are called directly, and ``on_start`` only
    for those that do something in it (the exporting ones do not)."""

    __slots__ = ("ends", "hands", "key", "sampled_ends", "sampled_hands", "starts")

    def __init__(self, processor: Any) -> None:
        children = getattr(processor, "_span_processors", None)
        flat = type(processor) is sdk_trace.SynchronousMultiSpanProcessor and isinstance(children, tuple)
        leaves: tuple[Any, ...] = children if flat else (processor,)  # type: ignore[assignment]
        self.key = (processor, children)
        self.ends = tuple(leaf.on_end for leaf in leaves)
        self.sampled_ends = tuple(_sampled_end(leaf) for leaf in leaves)
        self.hands = tuple(_one_by_one(end) for end in self.ends)
        self.sampled_hands = tuple(_hand(leaf) for leaf in leaves)
        self.starts = tuple(leaf.on_start for leaf in leaves if _does_start(leaf))


def _sampled_end(processor: Any) -> Any:
    """What ends a sampled span in ``processor``: the SDK's batch processor's ``on_end`` checks
    the sampled flag and queues the span, so for spans of a sampled run it is the queueing
    itself (a third of the cost of handing a span over)."""
    if type(processor) is sdk_export.BatchSpanProcessor:
        emit = getattr(getattr(processor, "_batch_processor", None), "emit", None)
        if callable(emit):
            return emit
    return processor.on_end


# what the SDK's batch queue does with one span, as far as `_hand` repeats it for a batch: any
# other version of it is called span by span
_KNOWN_EMIT = frozenset(
    "_shutdown _logger info _exporting _metrics drop_items _pid os getpid _bsp_reset_once "
    "do_once _at_fork_reinit len _queue _max_queue_size warning appendleft "
    "_max_export_batch_size _worker_awaken is_set set".split()
)


def _one_by_one(end: Any) -> Any:
    def hand(spans: Sequence[Any]) -> None:
        for span in spans:
            end(span)

    return hand


def _hand(processor: Any) -> Any:
    """What hands a batch of sampled spans to ``processor``: the SDK's batch processor's queue
    takes them in one step (as its ``emit`` would one by one) when none is to be dropped and
    the process has not forked since it last queued; anything else gets them one by one."""
    end = _sampled_end(processor)
    batcher: Any = getattr(end, "__self__", None)
    code = getattr(getattr(end, "__func__", None), "__code__", None)
    if code is None or frozenset(code.co_names) != _KNOWN_EMIT:
        return _one_by_one(end)
    fields = ("_queue", "_pid", "_shutdown", "_worker_awaken", "_max_queue_size", "_max_export_batch_size")
    if not all(hasattr(batcher, name) for name in fields):
        return _one_by_one(end)
    getpid, one_by_one = os.getpid, _one_by_one(end)

    def hand(spans: Sequence[Any]) -> None:
        queue = batcher._queue
        limit = batcher._max_queue_size
        if (
            batcher._shutdown
            or batcher._pid != getpid()
            or type(queue) is not deque
            or len(queue) + len(spans) > limit
        ):
            one_by_one(spans)
            return
        queue.extendleft(spans)  # as appendleft, one by one
        awaken = batcher._worker_awaken
        if len(queue) >= batcher._max_export_batch_size and not awaken.is_set():
            awaken.set()

    return hand


def _does_start(processor: Any) -> bool:
    children = getattr(processor, "_span_processors", None)
    if isinstance(children, tuple):
        return any(_does_start(child) for child in children)
    return type(processor).on_start not in _NO_OP_STARTS


_resolved: _Processors | None = None


def _processors(processor: Any) -> _Processors:
    global _resolved
    known = _resolved
    if (
        known is None
        or known.key[0] is not processor
        or known.key[1] is not getattr(processor, "_span_processors", None)
    ):
        known = _resolved = _Processors(processor)
    return known


class Deferred(Protocol):
    """What a run's `SpanFactory` makes a span of when it hands the run's spans over."""

    def span(self, factory: SpanFactory) -> DeferredSpan:
        """The ended span, made by ``factory``."""
        ...


class SpanFactory:
    """Makes the spans of a run whose root is a recording `LeanSpan`, ending in the root's
    span processors.

    A run's node, tool and checkpoint spans are `DeferredSpan`s (a checkpoint operation, a
    leaf nobody needs while it runs, is a record until its span is made: see `defer`): they
    are handed to the processors in batches, by the run's own thread when the run ends (in a
    long run, also once a second: by whichever thread ends the span that crosses the second
    or, in a run that ends none, such as one stuck in a node, by a watcher thread), and the
    SDK's batch processor queues a batch in one step. Ending one appends it to a list,
    without a lock: only handing a batch over takes the lock. LangGraph ends checkpoint
    operations in its background threads, which then do no exporting work either.
    """

    __slots__ = (
        "_due",
        "_ends",
        "_hands",
        "_limits",
        "_lock",
        "_pending",
        "_records",
        "starts",
        "_trace",
    )

    def __init__(
        self,
        processor: Any,
        resource: Any,
        scope: Any,
        trace: tuple[int, TraceFlags, TraceState],
        limits: sdk_trace.SpanLimits | None = None,
    ) -> None:
        """``trace``: the root's trace id, flags and state."""
        trace_id, flags, state = trace
        self._trace = (trace_id, flags, state, resource, scope)
        self._limits = limits or _DEFAULT_LIMITS
        processors = _processors(processor)
        sampled = flags & TraceFlags.SAMPLED
        self._ends = processors.sampled_ends if sampled else processors.ends
        self._hands = processors.sampled_hands if sampled else processors.hands
        self.starts = processors.starts
        self._pending: list[DeferredSpan] = []
        self._records: list[Deferred] = []
        self._due = _time_ns() + _MAX_DELAY_NS  # a span that ends from then on drains the batch
        self._lock = threading.Lock()
        _watch(self)

    @overload
    def start(
        self, name: str, parent: SpanContext, attributes: dict[str, types.AttributeValue] | None = None
    ) -> DeferredSpan: ...

    @overload
    def start(
        self,
        name: str,
        parent: SpanContext | None,
        attributes: dict[str, types.AttributeValue] | None,
        kind: type[_L],
        *,
        tell: bool = True,
    ) -> _L: ...

    def start(
        self,
        name: str,
        parent: SpanContext | None,
        attributes: dict[str, types.AttributeValue] | None = None,
        kind: type[LeanSpan] | None = None,
        *,
        tell: bool = True,
    ) -> LeanSpan:
        """A span under ``parent``: a `DeferredSpan`, or one of ``kind`` (a subclass); the
        processors' ``on_start`` is called unless ``tell`` is false (the root's caller calls
        it once the span is complete)."""
        # ReadableSpan's fields, set here rather than in an __init__ (one call per span less);
        # its own __init__ would build an empty Resource
        span = _new_object(kind or DeferredSpan)
        span._name = name
        span._sid = _getrandbits(64) or _nonzero(64)
        span._trace = self._trace
        span._parent = parent
        if attributes is not None:
            span._attributes = attributes
        span._factory = self
        span._start_time = _time_ns()
        if tell:
            for on_start in self.starts:
                on_start(span, None)
        return span

    def defer(self, record: Deferred, now: int) -> None:
        """Hand over, with the run's spans, the span ``record`` makes when asked: a record that
        ended at ``now``. Spans made in one loop at the hand-over cost a fraction of spans made
        one by one, between two pieces of LangGraph's work that evict lgscope's code and data
        from the CPU's caches."""
        records = self._records
        records.append(record)
        if now >= self._due or len(records) >= _MAX_PENDING:
            self._drain(now)

    def flush(self) -> None:
        """Hand over the deferred spans; any that end later are handed over as they end."""
        self._due = 0
        _watched.pop(self, None)
        self._drain()

    def _drain(self, now: int | None = None) -> None:
        # only drains take spans out; a span that ends meanwhile is appended after the batch
        # (a slice and its deletion are each one step under the GIL)
        with self._lock:
            pending = self._pending
            count = len(pending)
            batch = pending[:count]
            del pending[:count]
            records = self._records
            count = len(records)
            made = records[:count]
            del records[:count]
            if self._due:  # not yet flushed
                self._due = (now or _time_ns()) + _MAX_DELAY_NS
        if made:  # in the order they ended, as the processors would get them one by one
            batch += [record.span(self) for record in made]
            batch.sort(key=_ENDED)
        if batch:
            for hand in self._hands:
                hand(batch)


_watched: dict[SpanFactory, None] = {}
"""The factories of runs in progress: each until its run ends (and flushes it)."""
_watcher_lock = threading.Lock()
_watcher: list[threading.Thread] = []


def _watch(factory: SpanFactory) -> None:
    """Have the watcher thread hand over ``factory``'s spans once they are due, until it is
    flushed."""
    _watched[factory] = None
    if not _watcher:
        with _watcher_lock:
            if not _watcher:
                thread = threading.Thread(target=_watch_loop, name="lgscope-span-handover", daemon=True)
                _watcher.append(thread)
                thread.start()


def _watch_loop() -> None:
    while True:
        time.sleep(_MAX_DELAY_NS / 1e9)
        now = _time_ns()
        for factory in list(_watched):  # one step under the GIL, as runs start and end
            if (factory._pending or factory._records) and 0 < factory._due <= now:
                try:
                    factory._drain(now)
                except Exception:  # a processor that fails must not stop the watching
                    _log.exception("handing a run's spans to the span processors failed")


def _forget_after_fork() -> None:
    # the thread does not survive a fork, and the parent's runs are the parent's to hand over
    _watcher.clear()
    _watched.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


class LeanSpan(trace.Span, sdk_trace.ReadableSpan):
    """A recording span that is its own ``ReadableSpan``: ending it hands it to the processors.

    What code inside a node sets on it is checked as the SDK checks it (the tracer's span
    limits, values an exporter can encode); plain values within the limits are stored as they
    are, anything else goes through the SDK's ``BoundedAttributes``.

    One object per span, which the exporter holds until it has sent it: a leaf makes its
    ``SpanContext`` when asked instead of keeping one, so the garbage collector, which walks
    every span waiting for export, has one object to visit instead of two. Not thread-safe:
    one task owns a span.
    """

    # what most spans never change lives on the class: fewer fields to set, and to visit
    _own: SpanContext | None = None
    _attributes: Any = NO_ATTRIBUTES
    _kind = trace.SpanKind.INTERNAL
    _events: Any = _NONE
    _links: Any = _NONE
    _status = _UNSET
    _instrumentation_info = None
    _end_time: int | None = None

    _factory: SpanFactory | None
    _sid: int
    _trace: tuple[int, TraceFlags, TraceState, Any, Any]
    """What all spans of a run share, in one field: trace id, flags and state, resource and
    instrumentation scope."""

    @property  # read-only, unlike ReadableSpan's: a run's spans share it
    def _resource(self) -> Any:  # type: ignore[override]
        return self._trace[3]

    @property
    def _instrumentation_scope(self) -> Any:  # type: ignore[override]
        return self._trace[4]

    def _made_context(self) -> SpanContext:
        own = self._own
        if own is not None:
            return own
        trace_id, flags, state, _, _ = self._trace
        return _context(trace_id, self._sid, flags, state)

    def _keep_context(self, value: SpanContext) -> None:
        self._own = value

    context = property(_made_context)
    _context = property(_made_context, _keep_context)

    def get_span_context(self) -> SpanContext:
        # asked for by spans opened under this one: kept from then on
        own = self._own
        if own is None:
            own = self._own = self._made_context()
        return own

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self._end_time is None:
            for key, value in attributes.items():
                self.set_attribute(key, value)

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        factory = self._factory
        if factory is None or self._end_time is not None:
            return
        attributes: Any = self._attributes
        limits = factory._limits
        if attributes is NO_ATTRIBUTES:
            attributes = self._attributes = {}
        if type(attributes) is dict:
            if (
                type(value) in _PLAIN
                and type(key) is str
                and (type(value) is not str or limits.max_span_attribute_length is None)
                and (key in attributes or _below(len(attributes), limits.max_span_attributes))
            ):
                attributes[key] = value
                return
            attributes = self._attributes = BoundedAttributes(
                limits.max_span_attributes,
                attributes,
                immutable=False,
                max_value_len=limits.max_span_attribute_length,
            )
        attributes[key] = value

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        factory = self._factory
        if factory is None or self._end_time is not None:
            return
        limits = factory._limits
        if self._events is _NONE:
            self._events = []
        if _below(len(self._events), limits.max_events):
            bounded = BoundedAttributes(
                limits.max_event_attributes, attributes, max_value_len=limits.max_attribute_length
            )
            self._events.append(sdk_trace.Event(name, bounded, timestamp or time.time_ns()))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        factory = self._factory
        if factory is None or self._end_time is not None or not context.is_valid:
            return
        limits = factory._limits
        if self._links is _NONE:
            self._links = []
        if _below(len(self._links), limits.max_links):
            bounded = BoundedAttributes(
                limits.max_link_attributes, attributes, max_value_len=limits.max_attribute_length
            )
            self._links.append(Link(context, bounded))

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
        self._end_time = end_time or _time_ns()
        if self._events:
            self._events = tuple(self._events)
        if self._links:
            self._links = tuple(self._links)
        factory, self._factory = self._factory, None  # the exporter is to hold the span alone
        if factory is not None:
            for on_end in factory._ends:
                on_end(self)


class DeferredSpan(LeanSpan):
    """A span of a run below its root: ending it queues it in its `SpanFactory`, which hands
    it to the processors in a batch when the run ends (or a second after the last batch).

    `fail` records an error at once. Made by ``SpanFactory.start``.
    """

    def fail(self, exc: BaseException) -> None:
        self.record_exception(exc)
        self._status = Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")

    def end(self, end_time: int | None = None) -> None:
        factory = self._factory
        if factory is None:  # ended: it lets go of its factory then
            return
        now = self._end_time = end_time or _time_ns()
        self._factory = None  # the exporter is to hold the span alone
        pending = factory._pending
        pending.append(self)
        # a span that ends after the run's last hand-over (flushed: due 0) is handed over at once
        if now >= factory._due or len(pending) >= _MAX_PENDING:
            factory._drain(now)

    finish = end


LEAN = frozenset((LeanSpan, DeferredSpan))


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
        if type(parent) in LEAN or context.is_valid:  # a lean parent's context is valid
            return factory.start(name, context, attributes)
    return tracer.start_span(
        name, context=trace.set_span_in_context(parent), attributes=attributes, links=links
    )


def _sdk_tracer(tracer: trace.Tracer) -> sdk_trace.Tracer | None:
    if isinstance(tracer, trace.ProxyTracer):
        tracer = getattr(tracer, "_tracer", tracer)  # the provider's tracer, once there is one
    if type(tracer) is not sdk_trace.Tracer:
        return None
    for name in ("sampler", "id_generator", "span_processor", "resource", "_instrumentation_scope"):
        if not hasattr(tracer, name):
            return None
    return tracer


_PARENT_SAMPLERS = (
    "_root",
    "_remote_parent_sampled",
    "_remote_parent_not_sampled",
    "_local_parent_sampled",
    "_local_parent_not_sampled",
)


def _static_decisions(sampler: Any) -> tuple[tuple[bool, bool], ...] | None:
    """Whether ``sampler`` records and samples a root with no parent, a remote sampled, a remote
    unsampled, a local sampled and a local unsampled parent, when that depends on nothing else:
    a static sampler (always on or off) or a parent-based one whose delegates all are (the
    SDK's default, ``parentbased_always_on``). None for any other sampler, which is asked for
    every root."""
    static = sdk_sampling.StaticSampler
    if type(sampler) is static:
        delegates: tuple[Any, ...] = (sampler,) * len(_PARENT_SAMPLERS)
    elif type(sampler) is sdk_sampling.ParentBased:
        delegates = tuple(getattr(sampler, name, None) for name in _PARENT_SAMPLERS)
    else:
        return None
    decisions = [getattr(d, "_decision", None) if type(d) is static else None for d in delegates]
    if not all(isinstance(d, Decision) for d in decisions):
        return None
    return tuple((d.is_recording(), d.is_sampled()) for d in decisions)  # type: ignore[union-attr]


class RootStarter:
    """Starts a run's root span, as the SDK tracer's ``start_span`` would (under the current
    span, the tracer's sampler deciding, its id generator naming it), as a `LeanSpan` with the
    factory for its children.

    A root through the SDK costs ~20 µs and leaves a dozen objects per run for the garbage
    collector until it is exported (bounded attribute and event containers, their locks). A
    run's root is made once per run, with every cache cold, so what the tracer's configuration
    decides the same way every time is resolved once: the SDK tracer behind a proxy, the
    decisions of a static or default sampler, whether ids come from the SDK's random generator.
    """

    __slots__ = ("_decisions", "_enabled", "_limits", "_random_ids", "_sdk", "_tracer")

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._sdk: sdk_trace.Tracer | None = None
        self._decisions: tuple[tuple[bool, bool], ...] | None = None
        self._random_ids = False
        self._enabled: Any = None
        self._limits: sdk_trace.SpanLimits | None = None

    def _resolve(self) -> sdk_trace.Tracer | None:
        sdk = _sdk_tracer(self._tracer)
        if sdk is not None:  # a proxy's tracer, once there is one, stays
            self._decisions = _static_decisions(sdk.sampler)
            self._random_ids = type(sdk.id_generator) is RandomIdGenerator
            self._enabled = getattr(sdk, "_is_enabled", None)  # newer SDKs: the tracer configurator
            limits = getattr(sdk, "_span_limits", None)
            self._limits = limits if isinstance(limits, sdk_trace.SpanLimits) else None
            self._sdk = sdk
        return sdk

    def start(
        self, name: str, attributes: dict[str, types.AttributeValue], links: Sequence[Link]
    ) -> tuple[trace.Span, SpanFactory | None] | None:
        """The root and the factory for its children; a non-recording span and None if the
        sampler drops it. None when the tracer is not the SDK's own: the caller starts the
        root with it instead. ``attributes`` becomes the root's own."""
        sdk = self._sdk or self._resolve()
        if sdk is None:
            return None
        parent = current_span().get_span_context()
        enabled = self._enabled
        if enabled is not None and not enabled():
            return trace.NonRecordingSpan(parent), None
        valid = parent is not _NO_PARENT and parent.is_valid
        if valid:
            trace_id, random_id = parent.trace_id, parent.trace_flags.random_trace_id
        elif self._random_ids:
            trace_id, random_id = _getrandbits(128) or _nonzero(128), True
        else:
            trace_id = sdk.id_generator.generate_trace_id()
            random_id = sdk.id_generator.is_trace_id_random()
        decisions = self._decisions
        if decisions is None:
            result = sdk.sampler.should_sample(
                None, trace_id, name, trace.SpanKind.INTERNAL, attributes, links
            )
            decision: Any = result.decision  # its methods are untyped
            recording, sampled = decision.is_recording(), decision.is_sampled()
            trace_state = result.trace_state or _NO_TRACE_STATE
            attributes = dict(result.attributes or {})
        elif not valid:
            (recording, sampled), trace_state = decisions[0], _NO_TRACE_STATE
        else:  # as the parent-based sampler chooses its delegate
            up = parent.trace_flags.sampled
            recording, sampled = decisions[(1 if up else 2) if parent.is_remote else (3 if up else 4)]
            trace_state = parent.trace_state
        flags = _FLAGS[(TraceFlags.SAMPLED if sampled else 0) | (_RANDOM_TRACE_ID if random_id else 0)]
        if self._random_ids:  # valid ids: the context's own checks would pass
            span_id = _getrandbits(64) or _nonzero(64)
            context = _context(trace_id, span_id, flags, trace_state)
        else:
            span_id = sdk.id_generator.generate_span_id()
            context = SpanContext(trace_id, span_id, False, flags, trace_state)
        if not recording:
            return trace.NonRecordingSpan(context), None
        factory = SpanFactory(
            sdk.span_processor,
            sdk.resource,
            sdk._instrumentation_scope,
            (trace_id, flags, trace_state),
            self._limits,
        )
        root = factory.start(name, parent if valid else None, attributes, DeferredSpan, tell=False)
        root._own, root._sid = context, span_id
        if links:
            root._links = tuple(links)
        for on_start in factory.starts:
            on_start(root, None)
        return root, factory
