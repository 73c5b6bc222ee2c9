"""A checkpointer wrapper: a span for every checkpoint read and write, and the trace context
stored in checkpoint metadata so that a resume — in any process, any day — links back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, Status, StatusCode, Tracer

from lgscope.tracing import _attributes as A
from lgscope.tracing._lean import DeferredSpan, child_span
from lgscope.tracing._run import CURRENT_RUN, RunState, notify, run_for

__all__ = ["TracedSaver"]

_BYTES: ContextVar[list[int] | None] = ContextVar("lgscope_serialized_bytes", default=None)


class _CountingSerde:
    """Counts the bytes the wrapped saver serializes while a checkpoint span is open."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        out: tuple[str, bytes] = self.inner.dumps_typed(obj)
        counter = _BYTES.get()
        if counter is not None:
            counter[0] += len(out[1] or b"")
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _fail(span: trace.Span | DeferredSpan, exc: BaseException) -> None:
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def _cfg(config: Any) -> tuple[str, str, str]:
    c = (config or {}).get("configurable") or {}
    return str(c.get("thread_id", "")), str(c.get("checkpoint_ns", "")), str(c.get("checkpoint_id") or "")


class TracedSaver(BaseCheckpointSaver[Any]):
    """Wraps any saver; forwards every method (sync, async, ``with_allowlist``) and traces them."""

    def __init__(self, inner: BaseCheckpointSaver[Any], tracer: Tracer) -> None:
        self.inner = inner
        self._tracer = tracer
        if not isinstance(inner.serde, _CountingSerde):
            inner.serde = _CountingSerde(inner.serde)
        self.serde = inner.serde
        # called on every channel write: bound straight to the wrapped saver, no extra frame
        self.get_next_version = inner.get_next_version  # type: ignore[method-assign]

    # -- plumbing ----------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def with_allowlist(self, *args: Any, **kwargs: Any) -> TracedSaver:
        return TracedSaver(self.inner.with_allowlist(*args, **kwargs), self._tracer)

    @property
    def config_specs(self) -> list[Any]:
        return list(self.inner.config_specs)

    def get_next_version(self, current: Any, channel: Any) -> Any:
        return self.inner.get_next_version(current, channel)

    def _start(self, name: str, config: Any, run: RunState | None) -> trace.Span | DeferredSpan:
        """The span of one checkpoint operation: a leaf under the current node or the run.

        It is not made current: the wrapped saver's own work is not lgscope's to trace, and
        attaching a context would cost on every checkpoint write.
        """
        if run is None:  # outside any instrumented run (e.g. get_state): an ordinary span
            parent: trace.Span = trace.get_current_span()
            factory = None
        else:
            parent = trace.get_current_span() if CURRENT_RUN.get() is not None else run.root
            factory = run.spans
            if factory is None and not run.root.is_recording():
                return NonRecordingSpan(parent.get_span_context())
        c = (config.get("configurable") if config else None) or {}
        attributes: dict[str, Any] = {
            A.THREAD_ID: str(c.get("thread_id", "")),
            A.CHECKPOINT_NS: str(c.get("checkpoint_ns", "")),
        }
        if c.get("checkpoint_id"):
            attributes[A.CHECKPOINT_ID] = str(c["checkpoint_id"])
        if factory is not None:
            context = parent.get_span_context()
            if context.is_valid:
                return factory.deferred(name, context, attributes)
        return child_span(factory, self._tracer, name, parent, attributes)

    @staticmethod
    def _with_trace(metadata: Any, run: RunState | None) -> Any:
        return metadata if run is None else {**metadata, A.METADATA_KEY: run.trace_context}

    @staticmethod
    def _put_done(
        span: trace.Span | DeferredSpan, run: RunState | None, written: int, started: float, checkpoint: Any
    ) -> None:
        if span.is_recording():
            span.set_attribute(A.CHECKPOINT_BYTES, written)
            span.set_attribute(A.CHECKPOINT_ID, str(checkpoint.get("id", "")))
        span.end()
        if run is not None and run.observers:
            notify(run, "checkpoint_put", time.perf_counter() - started, written)

    @staticmethod
    def _writes_done(span: trace.Span | DeferredSpan, writes: Sequence[Any], written: int) -> None:
        if span.is_recording():
            span.set_attribute(A.CHECKPOINT_WRITES, len(writes))
            span.set_attribute(A.CHECKPOINT_BYTES, written)
        span.end()

    # -- sync --------------------------------------------------------------------------

    def get_tuple(self, config: Any) -> Any:
        span = self._start("checkpoint get", config, run_for(config))
        try:
            return self.inner.get_tuple(config)
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            span.end()

    def list(self, config: Any, **kwargs: Any) -> Iterator[Any]:
        # open over the iteration without becoming current: the caller's code runs between items
        span = self._start("checkpoint list", config, run_for(config))
        try:
            yield from self.inner.list(config, **kwargs)
        finally:
            span.end()

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        run = run_for(config)
        span, started, counter = self._start("checkpoint put", config, run), time.perf_counter(), [0]
        token = _BYTES.set(counter)
        try:
            out = self.inner.put(config, checkpoint, self._with_trace(metadata, run), new_versions)
        except BaseException as exc:
            _fail(span, exc)
            span.end()
            raise
        finally:
            _BYTES.reset(token)
        self._put_done(span, run, counter[0], started, checkpoint)
        return out

    def put_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        span, counter = self._start("checkpoint put_writes", config, run_for(config)), [0]
        token = _BYTES.set(counter)
        try:
            self.inner.put_writes(config, writes, task_id, task_path)
        except BaseException as exc:
            _fail(span, exc)
            span.end()
            raise
        finally:
            _BYTES.reset(token)
        self._writes_done(span, writes, counter[0])

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
        span = self._start("checkpoint get", config, run_for(config))
        try:
            return await self.inner.aget_tuple(config)
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            span.end()

    async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[Any]:
        span = self._start("checkpoint list", config, run_for(config))
        try:
            async for item in self.inner.alist(config, **kwargs):
                yield item
        finally:
            span.end()

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        run = run_for(config)
        span, started, counter = self._start("checkpoint put", config, run), time.perf_counter(), [0]
        token = _BYTES.set(counter)
        try:
            out = await self.inner.aput(config, checkpoint, self._with_trace(metadata, run), new_versions)
        except BaseException as exc:
            _fail(span, exc)
            span.end()
            raise
        finally:
            _BYTES.reset(token)
        self._put_done(span, run, counter[0], started, checkpoint)
        return out

    async def aput_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        span, counter = self._start("checkpoint put_writes", config, run_for(config)), [0]
        token = _BYTES.set(counter)
        try:
            await self.inner.aput_writes(config, writes, task_id, task_path)
        except BaseException as exc:
            _fail(span, exc)
            span.end()
            raise
        finally:
            _BYTES.reset(token)
        self._writes_done(span, writes, counter[0])

    async def adelete_thread(self, thread_id: str) -> None:
        await self.inner.adelete_thread(thread_id)
