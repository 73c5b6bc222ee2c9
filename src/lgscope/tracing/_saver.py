"""A checkpointer wrapper: a span for every checkpoint read and write, and the trace context
stored in checkpoint metadata so that a resume — in any process, any day — links back.

What LangGraph gets back is what the wrapped saver returns: the trace context is taken out of
the metadata of every checkpoint read (`get_tuple`, `list` and their async twins).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer

from lgscope.tracing import _attributes as A
from lgscope.tracing._run import CURRENT_RUN, Content, RunState, failed, notify, run_for

__all__ = ["TracedSaver"]

_EMPTY: dict[str, Any] = {}
_NO_CONTENT = Content()
_GET, _LIST, _PUT, _PUT_WRITES = "get_tuple", "list", "put", "put_writes"
_TABLES = {
    "sqlite": {_GET: "checkpoints", _LIST: "checkpoints", _PUT: "checkpoints", _PUT_WRITES: "writes"},
    "postgresql": {
        _GET: "checkpoints",
        _LIST: "checkpoints",
        _PUT: "checkpoints",
        _PUT_WRITES: "checkpoint_writes",
    },
}
"""The table each operation of LangGraph's SQLite and Postgres savers reads or writes."""


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


def _db_system(saver: Any) -> str | None:
    """``db.system.name`` of the database behind one of LangGraph's savers (None for others)."""
    module = type(saver).__module__
    if module.startswith("langgraph.checkpoint.sqlite"):
        return "sqlite"
    if module.startswith("langgraph.checkpoint.postgres"):
        return "postgresql"
    return None


def _takes_task_path(method: Any) -> bool:
    """Whether a saver's ``put_writes``/``aput_writes`` takes ``task_path`` (older savers do not:
    LangGraph asks the same question of the signature and passes it only if so)."""
    try:
        return inspect.signature(method).parameters.get("task_path") is not None
    except (TypeError, ValueError):
        return True


def _hidden(tup: Any) -> Any:
    """A checkpoint tuple as the wrapped saver stored it, without lgscope's metadata key."""
    metadata = getattr(tup, "metadata", None)
    if not metadata or A.METADATA_KEY not in metadata:
        return tup
    return tup._replace(metadata={k: v for k, v in metadata.items() if k != A.METADATA_KEY})


class _Op:
    """One checkpoint operation's span and the bytes its serializer wrote."""

    __slots__ = ("bytes", "content", "span")

    def __init__(self, span: trace.Span, content: Content) -> None:
        self.span, self.content, self.bytes = span, content, 0

    def fail(self, exc: BaseException) -> None:
        failed(self.span, exc, self.content)
        self.span.end()

    def finish(self) -> None:
        self.span.end()

    def stopped(self, exc: BaseException) -> None:
        """A listing ended by ``exc``: closed early by its reader (not a failure), or failed."""
        if isinstance(exc, GeneratorExit):
            self.span.end()
        else:
            self.fail(exc)

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


_IDLE = _Op(trace.INVALID_SPAN, _NO_CONTENT)
"""The operation of a run with nothing to record or tell: shared; its writes go straight to the
wrapped saver (with the run's trace ids in the metadata), counting no bytes."""
_BYTES: ContextVar[_Op] = ContextVar("lgscope_checkpoint_op", default=_Op(trace.INVALID_SPAN, _NO_CONTENT))  # noqa: B039
"""The operation whose bytes a serialization counts; by default one that nobody reads (cheaper,
per serialized value, than asking whether an operation is open)."""


class TracedSaver(BaseCheckpointSaver[Any]):
    """Wraps any saver; forwards every method (sync, async, ``with_allowlist``) and traces them.

    ``content`` decides whether an error's message goes on a failed operation's span.
    """

    def __init__(
        self, inner: BaseCheckpointSaver[Any], tracer: Tracer, content: Content = _NO_CONTENT
    ) -> None:
        self.inner = inner
        self._tracer = tracer
        self._content = content
        system = _db_system(inner)
        self._kind = SpanKind.CLIENT if system else SpanKind.INTERNAL
        self._attributes = {
            op: {A.DB_OPERATION_NAME: op}
            | ({A.DB_SYSTEM_NAME: system, A.DB_COLLECTION_NAME: _TABLES[system][op]} if system else {})
            for op in (_GET, _LIST, _PUT, _PUT_WRITES)
        }
        self._task_path = _takes_task_path(inner.put_writes)
        self._atask_path = _takes_task_path(inner.aput_writes)
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
        return self if inner is self.inner else TracedSaver(inner, self._tracer, self._content)

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
        """The run a checkpoint operation belongs to and its span: a leaf under the current span
        (or the run's root, from a thread outside the run's context).

        The span is not made current: the wrapped saver's own work is not lgscope's to trace.
        """
        run = CURRENT_RUN.get()
        parent: Any = None  # the current context
        if run is None:
            run = run_for(config)
            if run is not None:
                parent = run.root_context
        if run is not None and run.idle:
            return run, _IDLE
        configurable = (config.get("configurable") if config else None) or _EMPTY
        attributes = {
            **self._attributes[name],
            A.THREAD_ID: str(configurable.get("thread_id", "")),
            A.CHECKPOINT_NS: str(configurable.get("checkpoint_ns", "")),
        }
        if name != _PUT and configurable.get("checkpoint_id"):
            attributes[A.CHECKPOINT_ID] = str(configurable["checkpoint_id"])
        span = self._tracer.start_span(f"checkpoint {name}", parent, self._kind, attributes)
        return run, _Op(span, run.content if run is not None else self._content)

    # -- sync --------------------------------------------------------------------------

    def get_tuple(self, config: Any) -> Any:
        _, op = self._op(_GET, config)
        try:
            tup = self.inner.get_tuple(config)
        except BaseException as exc:
            op.fail(exc)
            raise
        op.finish()
        return _hidden(tup)

    def list(self, config: Any, **kwargs: Any) -> Iterator[Any]:
        # open over the iteration without becoming current: the caller's code runs between items
        _, op = self._op(_LIST, config)
        try:
            items: Any = self.inner.list(config, **kwargs)
            with contextlib.closing(items):
                for tup in items:
                    yield _hidden(tup)
        except BaseException as exc:
            op.stopped(exc)
            raise
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
        args = (config, writes, task_id, task_path) if self._task_path else (config, writes, task_id)
        if op is _IDLE:
            self.inner.put_writes(*args)
            return
        token = _BYTES.set(op)
        try:
            self.inner.put_writes(*args)
        except BaseException as exc:
            op.fail(exc)
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
            tup = await self.inner.aget_tuple(config)
        except BaseException as exc:
            op.fail(exc)
            raise
        op.finish()
        return _hidden(tup)

    async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[Any]:
        _, op = self._op(_LIST, config)
        try:
            items: Any = self.inner.alist(config, **kwargs)
            async with contextlib.aclosing(items):
                async for tup in items:
                    yield _hidden(tup)
        except BaseException as exc:
            op.stopped(exc)
            raise
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
        args = (config, writes, task_id, task_path) if self._atask_path else (config, writes, task_id)
        if op is _IDLE:
            await self.inner.aput_writes(*args)
            return
        token = _BYTES.set(op)
        try:
            await self.inner.aput_writes(*args)
        except BaseException as exc:
            op.fail(exc)
            raise
        finally:
            _BYTES.reset(token)
        op.writes_done(len(writes))

    async def adelete_thread(self, thread_id: str) -> None:
        await self.inner.adelete_thread(thread_id)
