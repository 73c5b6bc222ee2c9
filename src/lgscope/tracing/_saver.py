"""A checkpointer wrapper: a span for every checkpoint read and write, and the trace context
stored in checkpoint metadata so that a resume — in any process, any day — links back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from opentelemetry import trace
from opentelemetry.trace import Tracer

from lgscope.tracing import _attributes as A
from lgscope.tracing._run import CURRENT_RUN, notify, run_for

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

    def _span(self, op: str, config: Any) -> Any:
        thread_id, ns, checkpoint_id = _cfg(config)
        run = run_for(config)
        parent = (
            trace.set_span_in_context(run.root) if run is not None and CURRENT_RUN.get() is None else None
        )
        span = self._tracer.start_span(f"checkpoint {op}", context=parent)
        if span.is_recording():
            span.set_attribute(A.THREAD_ID, thread_id)
            span.set_attribute(A.CHECKPOINT_NS, ns)
            if checkpoint_id:
                span.set_attribute(A.CHECKPOINT_ID, checkpoint_id)
        return trace.use_span(span, end_on_exit=True)

    def _with_trace(self, metadata: Any, config: Any) -> Any:
        run = run_for(config)
        if run is None:
            return metadata
        ctx = run.root.get_span_context()
        return {
            **metadata,
            A.METADATA_KEY: {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"},
        }

    def _put_done(self, span: Any, counter: list[int], started: float, checkpoint: Any, config: Any) -> None:
        if span.is_recording():
            span.set_attribute(A.CHECKPOINT_BYTES, counter[0])
            span.set_attribute(A.CHECKPOINT_ID, str(checkpoint.get("id", "")))
        run = run_for(config)
        if run is not None:
            notify(run, "checkpoint_put", time.perf_counter() - started, counter[0])

    # -- sync --------------------------------------------------------------------------

    def get_tuple(self, config: Any) -> Any:
        with self._span("get", config):
            return self.inner.get_tuple(config)

    def list(self, config: Any, **kwargs: Any) -> Iterator[Any]:
        # open over the iteration without becoming current: the caller's code runs between items
        span = self._tracer.start_span("checkpoint list")
        try:
            yield from self.inner.list(config, **kwargs)
        finally:
            span.end()

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        counter = [0]
        token = _BYTES.set(counter)
        started = time.perf_counter()
        try:
            with self._span("put", config) as span:
                out = self.inner.put(config, checkpoint, self._with_trace(metadata, config), new_versions)
                self._put_done(span, counter, started, checkpoint, config)
                return out
        finally:
            _BYTES.reset(token)

    def put_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        counter = [0]
        token = _BYTES.set(counter)
        try:
            with self._span("put_writes", config) as span:
                self.inner.put_writes(config, writes, task_id, task_path)
                if span.is_recording():
                    span.set_attribute(A.CHECKPOINT_WRITES, len(writes))
                    span.set_attribute(A.CHECKPOINT_BYTES, counter[0])
        finally:
            _BYTES.reset(token)

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
        with self._span("get", config):
            return await self.inner.aget_tuple(config)

    async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[Any]:
        span = self._tracer.start_span("checkpoint list")
        try:
            async for item in self.inner.alist(config, **kwargs):
                yield item
        finally:
            span.end()

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        counter = [0]
        token = _BYTES.set(counter)
        started = time.perf_counter()
        try:
            with self._span("put", config) as span:
                out = await self.inner.aput(
                    config, checkpoint, self._with_trace(metadata, config), new_versions
                )
                self._put_done(span, counter, started, checkpoint, config)
                return out
        finally:
            _BYTES.reset(token)

    async def aput_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        counter = [0]
        token = _BYTES.set(counter)
        try:
            with self._span("put_writes", config) as span:
                await self.inner.aput_writes(config, writes, task_id, task_path)
                if span.is_recording():
                    span.set_attribute(A.CHECKPOINT_WRITES, len(writes))
                    span.set_attribute(A.CHECKPOINT_BYTES, counter[0])
        finally:
            _BYTES.reset(token)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.inner.adelete_thread(thread_id)
