"""A checkpointer wrapper: a span for every checkpoint read and write, and the trace context
stored in checkpoint metadata so that a resume — in any process, any day — links back."""

from __future__ import annotations

import copy
import inspect
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode, Tracer

from lgscope.tracing import _attributes as A
from lgscope.tracing._context import current_span
from lgscope.tracing._lean import LEAN, NO_ATTRIBUTES, DeferredSpan, SpanFactory, child_span
from lgscope.tracing._run import CURRENT_RUN, RunState, notify, run_for

__all__ = ["TracedSaver"]

_EMPTY: dict[str, Any] = {}
_time_ns = time.time_ns
_MAKING = threading.Lock()
_GET, _LIST, _PUT, _PUT_WRITES = (
    "checkpoint get",
    "checkpoint list",
    "checkpoint put",
    "checkpoint put_writes",
)


def _counting(cls: type) -> type | None:
    """A subclass of a serializer class whose ``dumps_typed`` also counts the bytes it returns
    while a checkpoint operation is open (None if ``cls`` cannot be subclassed so)."""
    made = _COUNTING.get(cls)
    if made is None:
        dumps = getattr(cls, "dumps_typed", None)
        if not inspect.isfunction(dumps):
            return None
        get = _BYTES.get

        def dumps_typed(self: Any, obj: Any) -> tuple[str, bytes]:
            out: tuple[str, bytes] = dumps(self, obj)
            get().bytes += len(out[1])
            return out

        namespace = {"__slots__": (), "__module__": cls.__module__, "dumps_typed": dumps_typed}
        try:
            made = _COUNTING[cls] = type(cls.__name__, (cls,), namespace)
        except TypeError:  # final or otherwise closed to subclasses
            return None
        _COUNTED.add(made)
    return made


class _CountingSerde:
    """Counts the bytes a serializer that cannot be given a counting class returns (slower:
    every attribute is forwarded)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._dumps = inner.dumps_typed

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        out: tuple[str, bytes] = self._dumps(obj)
        _BYTES.get().bytes += len(out[1])
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_COUNTING: dict[type, type] = {}
_COUNTED: set[type] = {_CountingSerde}


def count_bytes(serde: Any) -> Any:
    """A copy of ``serde`` that also counts what it serializes, of a subclass of its class (so
    that LangGraph's ``isinstance`` checks, like the msgpack allowlist's, see what they did)."""
    if type(serde) in _COUNTED:
        return serde
    made = _counting(type(serde))
    if made is not None:
        try:
            clone = copy.copy(serde)
            clone.__class__ = made
            return clone
        except TypeError:
            pass
    return _CountingSerde(serde)


def _base_attributes(configurable: dict[str, Any], checkpoint_id: Any = None) -> dict[str, Any]:
    """A checkpoint span's thread, namespace and checkpoint id (``checkpoint_id``, that of the
    checkpoint a put wrote, else the one the config names)."""
    attributes: dict[str, Any] = {
        A.THREAD_ID: str(configurable.get("thread_id", "")),
        A.CHECKPOINT_NS: str(configurable.get("checkpoint_ns", "")),
    }
    if checkpoint_id is None:
        checkpoint_id = configurable.get("checkpoint_id")
    if checkpoint_id:
        attributes[A.CHECKPOINT_ID] = str(checkpoint_id)
    return attributes


class _CheckpointOp(DeferredSpan):
    """The span of a checkpoint operation of a lean run: what it did is kept, and its
    attributes are made from that when they are first read after it ended, in practice by the
    exporter's thread. Made from a `_Recorded` operation when the run's spans are handed over
    (or at the operation's start when a span processor is to be told of it then).
    """

    config: Any = None
    bytes = 0
    writes = -1
    checkpoint_id: Any = None
    _made: dict[str, Any] | None = None
    _early: Any = NO_ATTRIBUTES  # set before it ended (by a processor's on_start): these win

    @property
    def _attributes(self) -> Any:
        made = self._made
        if made is not None:
            return made
        if self._end_time is None:
            return self._early
        with _MAKING:  # readers may race; the config is dropped once the attributes are made
            made = self._made
            if made is None:
                made = self._made = self._make_attributes()
                self.config = None
        return made

    @_attributes.setter
    def _attributes(self, value: Any) -> None:
        self._early = value

    def _make_attributes(self) -> dict[str, Any]:
        config = self.config
        attributes = _base_attributes(
            (config.get("configurable") if config else None) or _EMPTY, self.checkpoint_id
        )
        if self.checkpoint_id is not None:  # a put
            attributes[A.CHECKPOINT_BYTES] = self.bytes
        elif self.writes >= 0:
            attributes[A.CHECKPOINT_WRITES] = self.writes
            attributes[A.CHECKPOINT_BYTES] = self.bytes
        if self._early:
            attributes.update(self._early)
        return attributes

    def put_done(self, checkpoint: Any) -> None:
        self.checkpoint_id = checkpoint.get("id", "")
        self.end()

    def writes_done(self, count: int) -> None:
        self.writes = count
        self.end()


class _Recorded:
    """A checkpoint operation of a lean run, recorded while it runs: its span is made when the
    run's spans are handed over (see `SpanFactory.defer`)."""

    __slots__ = (
        "bytes",
        "checkpoint_id",
        "config",
        "ended",
        "error",
        "factory",
        "name",
        "parent",
        "started",
        "writes",
    )
    checkpoint_id: Any
    error: BaseException | None
    ended: int

    def __init__(self, factory: SpanFactory, name: str, parent: trace.Span, config: Any) -> None:
        self.factory, self.name, self.parent, self.config = factory, name, parent, config
        self.bytes, self.writes, self.checkpoint_id, self.error = 0, -1, None, None
        self.started = _time_ns()

    def fail(self, exc: BaseException) -> None:
        self.error = exc

    def finish(self) -> None:
        now = self.ended = _time_ns()
        self.factory.defer(self, now)

    def put_done(self, checkpoint: Any) -> None:
        self.checkpoint_id = checkpoint.get("id", "")
        now = self.ended = _time_ns()
        self.factory.defer(self, now)

    def writes_done(self, count: int) -> None:
        self.writes = count
        now = self.ended = _time_ns()
        self.factory.defer(self, now)

    def span(self, factory: SpanFactory) -> _CheckpointOp:
        op = factory.start(self.name, self.parent.get_span_context(), None, _CheckpointOp, tell=False)
        op._start_time = self.started
        op.config, op.checkpoint_id, op.bytes, op.writes = (
            self.config,
            self.checkpoint_id,
            self.bytes,
            self.writes,
        )
        if self.error is not None:
            op.fail(self.error)
        op._end_time, op._factory = self.ended, None
        return op


class _SpanOp:
    """A checkpoint operation's ordinary span (outside lean runs), behind `_CheckpointOp`'s API."""

    __slots__ = ("bytes", "span")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.bytes = 0

    def fail(self, exc: BaseException) -> None:
        self.span.record_exception(exc)
        self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))

    def finish(self) -> None:
        self.span.end()

    def put_done(self, checkpoint: Any) -> None:
        if self.span.is_recording():
            self.span.set_attributes(
                {A.CHECKPOINT_BYTES: self.bytes, A.CHECKPOINT_ID: str(checkpoint.get("id", ""))}
            )
        self.span.end()

    def writes_done(self, count: int) -> None:
        if self.span.is_recording():
            self.span.set_attributes({A.CHECKPOINT_WRITES: count, A.CHECKPOINT_BYTES: self.bytes})
        self.span.end()


class _NoOp:
    """A checkpoint operation of a run that is not recorded: only its bytes are counted (for
    observers)."""

    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0

    def fail(self, exc: BaseException) -> None:
        pass

    def finish(self) -> None:
        pass

    def put_done(self, checkpoint: Any) -> None:
        pass

    def writes_done(self, count: int) -> None:
        pass


_Op = _Recorded | _CheckpointOp | _SpanOp | _NoOp
_IDLE = _NoOp()
"""The operation of a run with nothing to record or tell: shared; its writes go straight to the
wrapped saver (with the run's trace ids in the metadata), counting no bytes."""
_BYTES: ContextVar[_Op] = ContextVar("lgscope_checkpoint_op", default=_NoOp())  # noqa: B039
"""The operation whose bytes a serialization counts; by default one that nobody reads (cheaper,
per serialized value, than asking whether an operation is open)."""


class TracedSaver(BaseCheckpointSaver[Any]):
    """Wraps any saver; forwards every method (sync, async, ``with_allowlist``) and traces them."""

    def __init__(self, inner: BaseCheckpointSaver[Any], tracer: Tracer) -> None:
        self.inner = inner
        self._tracer = tracer
        self._serde_before = inner.serde
        self.serde = inner.serde = count_bytes(inner.serde)
        # called on every channel write: bound straight to the wrapped saver, no extra frame
        self.get_next_version = inner.get_next_version  # type: ignore[method-assign]

    # -- plumbing ----------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def with_allowlist(self, *args: Any, **kwargs: Any) -> TracedSaver:
        # LangGraph asks for it on every run when strict msgpack is on: unchanged, keep this one
        inner = self.inner.with_allowlist(*args, **kwargs)
        return self if inner is self.inner else TracedSaver(inner, self._tracer)

    def restore(self) -> None:
        """Give the wrapped saver back the serializer it had before it was traced."""
        if self.inner.serde is self.serde:
            self.inner.serde = self._serde_before

    @property
    def config_specs(self) -> list[Any]:
        return list(self.inner.config_specs)

    def get_next_version(self, current: Any, channel: Any) -> Any:
        return self.inner.get_next_version(current, channel)

    def _op(self, name: str, config: Any) -> tuple[RunState | None, _Op]:
        """The run a checkpoint operation belongs to and its span (in a lean run, a record of
        it): a leaf under the current span (or the run's root, from a thread outside the run's
        context).

        The span is not made current: the wrapped saver's own work is not lgscope's to trace,
        and attaching a context would cost on every checkpoint write.
        """
        run = CURRENT_RUN.get()
        if run is not None:
            if run.idle:
                return run, _IDLE
            parent = current_span()
        else:
            run = run_for(config)
            parent = current_span() if run is None else run.root
        if run is not None:
            if run.idle:
                return run, _IDLE
            factory = run.spans
            if factory is not None:
                if type(parent) in LEAN or parent.get_span_context().is_valid:  # a lean one's is
                    if not factory.starts:  # no processor is to be told of its start
                        return run, _Recorded(factory, name, parent, config)
                    op = factory.start(name, parent.get_span_context(), None, _CheckpointOp)
                    op.config = config
                    return run, op
            elif not run.root.is_recording():
                return run, _NoOp()
        configurable = (config.get("configurable") if config else None) or _EMPTY
        span = child_span(None, self._tracer, name, parent, _base_attributes(configurable))
        return run, _SpanOp(span)

    # -- sync --------------------------------------------------------------------------

    def get_tuple(self, config: Any) -> Any:
        _, op = self._op(_GET, config)
        try:
            return self.inner.get_tuple(config)
        except BaseException as exc:
            op.fail(exc)
            raise
        finally:
            op.finish()

    def list(self, config: Any, **kwargs: Any) -> Iterator[Any]:
        # open over the iteration without becoming current: the caller's code runs between items
        _, op = self._op(_LIST, config)
        try:
            yield from self.inner.list(config, **kwargs)
        finally:
            op.finish()

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        run, op = self._op(_PUT, config)
        if run is not None:
            metadata = {**metadata, A.METADATA_KEY: run.trace_context}
            if op is _IDLE:  # nothing to record or tell: no bytes to count either
                return self.inner.put(config, checkpoint, metadata, new_versions)
        started, token = time.perf_counter(), _BYTES.set(op)
        try:
            out = self.inner.put(config, checkpoint, metadata, new_versions)
        except BaseException as exc:
            op.fail(exc)
            op.finish()
            raise
        finally:
            _BYTES.reset(token)
        op.put_done(checkpoint)
        if run is not None and run.observers:
            notify(run, "checkpoint_put", time.perf_counter() - started, op.bytes)
        return out

    def put_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        _, op = self._op(_PUT_WRITES, config)
        if op is _IDLE:
            self.inner.put_writes(config, writes, task_id, task_path)
            return
        token = _BYTES.set(op)
        try:
            self.inner.put_writes(config, writes, task_id, task_path)
        except BaseException as exc:
            op.fail(exc)
            op.finish()
            raise
        finally:
            _BYTES.reset(token)
        op.writes_done(len(writes))

    def delete_thread(self, thread_id: str) -> None:
        self.inner.delete_thread(thread_id)

    # BaseCheckpointSaver defines these (raising NotImplementedError), so __getattr__ would never
    # see them: forward explicitly, so the wrapper supports exactly what the wrapped saver does.
    def delete_for_runs(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.delete_for_runs(*args, **kwargs)

    def copy_thread(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.copy_thread(*args, **kwargs)

    def prune(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.prune(*args, **kwargs)

    def get_delta_channel_history(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.get_delta_channel_history(*args, **kwargs)

    async def adelete_for_runs(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.adelete_for_runs(*args, **kwargs)

    async def acopy_thread(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.acopy_thread(*args, **kwargs)

    async def aprune(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.aprune(*args, **kwargs)

    async def aget_delta_channel_history(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.aget_delta_channel_history(*args, **kwargs)

    # -- async -------------------------------------------------------------------------

    async def aget_tuple(self, config: Any) -> Any:
        _, op = self._op(_GET, config)
        try:
            return await self.inner.aget_tuple(config)
        except BaseException as exc:
            op.fail(exc)
            raise
        finally:
            op.finish()

    async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[Any]:
        _, op = self._op(_LIST, config)
        try:
            async for item in self.inner.alist(config, **kwargs):
                yield item
        finally:
            op.finish()

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        run, op = self._op(_PUT, config)
        if run is not None:
            metadata = {**metadata, A.METADATA_KEY: run.trace_context}
            if op is _IDLE:
                return await self.inner.aput(config, checkpoint, metadata, new_versions)
        started, token = time.perf_counter(), _BYTES.set(op)
        try:
            out = await self.inner.aput(config, checkpoint, metadata, new_versions)
        except BaseException as exc:
            op.fail(exc)
            op.finish()
            raise
        finally:
            _BYTES.reset(token)
        op.put_done(checkpoint)
        if run is not None and run.observers:
            notify(run, "checkpoint_put", time.perf_counter() - started, op.bytes)
        return out

    async def aput_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        _, op = self._op(_PUT_WRITES, config)
        if op is _IDLE:
            await self.inner.aput_writes(config, writes, task_id, task_path)
            return
        token = _BYTES.set(op)
        try:
            await self.inner.aput_writes(config, writes, task_id, task_path)
        except BaseException as exc:
            op.fail(exc)
            op.finish()
            raise
        finally:
            _BYTES.reset(token)
        op.writes_done(len(writes))

    async def adelete_thread(self, thread_id: str) -> None:
        await self.inner.adelete_thread(thread_id)
