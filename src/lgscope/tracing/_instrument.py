"""`instrument` / `GraphInstrumentor`: spans for runs, nodes, tools and checkpoints.

Node spans come from wrapping LangGraph's task runner (``run_with_retry``), tool spans from
``BaseTool.run``/``arun``: no LangChain callback handler, so the cost is one span per node and tool,
and a node's span is the current span while it runs (your own spans nest under it, in sync
and async code). Spans are only made inside a run of an instrumented graph.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags, TracerProvider

from lgscope import __version__
from lgscope.tracing import _attributes as A
from lgscope.tracing._observers import RunObserver
from lgscope.tracing._run import ACTIVE_RUNS, CURRENT_RUN, Content, RunState, notify
from lgscope.tracing._saver import TracedSaver

__all__ = ["GraphInstrumentor", "instrument", "uninstrument"]

_ATTR = "_lgscope_instrumentation"
_patch_lock = threading.Lock()
_patched: dict[str, Any] = {}


def _bubble_up() -> tuple[type[BaseException], ...]:
    from langgraph.errors import GraphBubbleUp

    return (GraphBubbleUp,)


def _interrupt_ids(exc: BaseException) -> list[str]:
    items = exc.args[0] if exc.args and isinstance(exc.args[0], Sequence) else ()
    return [str(getattr(i, "id", "")) for i in items if getattr(i, "id", None)]


def _start_node(state: RunState, task: Any) -> Any:
    meta = (task.config or {}).get("metadata") or {}
    span = state.tracer.start_span(f"{A.OP_NODE} {task.name}")
    if span.is_recording():
        span.set_attribute(A.NODE, task.name)
        span.set_attribute(A.TASK_ID, str(task.id))
        span.set_attribute(A.TASK_PATH, ", ".join(map(str, task.path)))
        span.set_attribute(A.TRIGGERS, [str(t) for t in task.triggers])
        span.set_attribute(A.CHECKPOINT_NS, str(meta.get("langgraph_checkpoint_ns", "")))
        if isinstance(meta.get("langgraph_step"), int):
            span.set_attribute(A.STEP, meta["langgraph_step"])
        if state.content.capture:
            span.set_attribute(A.INPUT, state.content.render(task.input))
    return span


def _end_node(state: RunState, task: Any, span: Any, started: float, exc: BaseException | None) -> None:
    error = False
    if exc is not None and isinstance(exc, _bubble_up()):
        ids = _interrupt_ids(exc)
        if ids:
            span.add_event(A.INTERRUPT_EVENT, {A.INTERRUPT_IDS: ids})
            state.interrupted.extend(ids)
            notify(state, "interrupt", state.graph, task.name)
    elif exc is not None:
        error = True
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    elif state.content.capture and span.is_recording():
        span.set_attribute(A.OUTPUT, state.content.render(list(task.writes)))
    span.end()
    notify(state, "node_finished", state.graph, task.name, time.perf_counter() - started, error)


@contextlib.contextmanager
def _node_span(state: RunState, task: Any) -> Iterator[None]:
    """The node span, current while the task runs (sync or async)."""
    span, started, failure = _start_node(state, task), time.perf_counter(), None
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield
    except BaseException as exc:
        failure = exc
        raise
    finally:
        otel_context.detach(token)
        _end_node(state, task, span, started, failure)


def _traced_run(original: Callable[..., Any]) -> Callable[..., Any]:
    def run_with_retry(task: Any, *args: Any, **kwargs: Any) -> Any:
        state = CURRENT_RUN.get()
        if state is None:
            return original(task, *args, **kwargs)
        with _node_span(state, task):
            return original(task, *args, **kwargs)

    return run_with_retry


def _traced_arun(original: Callable[..., Any]) -> Callable[..., Any]:
    async def arun_with_retry(task: Any, *args: Any, **kwargs: Any) -> Any:
        state = CURRENT_RUN.get()
        if state is None:
            return await original(task, *args, **kwargs)
        with _node_span(state, task):
            return await original(task, *args, **kwargs)

    return arun_with_retry


def _tool_span(state: RunState, tool: Any, tool_input: Any, call_id: Any) -> Any:
    span = state.tracer.start_span(f"{A.OP_TOOL} {tool.name}")
    if span.is_recording():
        span.set_attribute(A.GEN_AI_OPERATION_NAME, A.OP_TOOL)
        span.set_attribute(A.GEN_AI_TOOL_NAME, str(tool.name))
        if call_id:
            span.set_attribute(A.GEN_AI_TOOL_CALL_ID, str(call_id))
        if state.content.capture:
            span.set_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, state.content.render(tool_input))
    return span


def _end_tool(
    state: RunState, tool: Any, span: Any, started: float, result: Any, exc: BaseException | None
) -> None:
    error = exc is not None or getattr(result, "status", None) == "error"
    if exc is not None:
        span.record_exception(exc)
    if error:
        span.set_status(Status(StatusCode.ERROR, str(exc) if exc else "tool returned an error"))
    elif state.content.capture and span.is_recording():
        span.set_attribute(
            A.GEN_AI_TOOL_CALL_RESULT, state.content.render(getattr(result, "content", result))
        )
    span.end()
    notify(state, "tool_finished", str(tool.name), time.perf_counter() - started, error)


@contextlib.contextmanager
def _tool_call(state: RunState, tool: Any, tool_input: Any, call_id: Any) -> Iterator[list[Any]]:
    """The tool span, current while the tool runs; the caller puts the result in the list."""
    span, started, result, failure = (
        _tool_span(state, tool, tool_input, call_id),
        time.perf_counter(),
        [None],
        None,
    )
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield result
    except BaseException as exc:
        failure = exc
        raise
    finally:
        otel_context.detach(token)
        _end_tool(state, tool, span, started, result[0], failure)


def _traced_tool_run(original: Callable[..., Any]) -> Callable[..., Any]:
    def run(self: Any, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        state = CURRENT_RUN.get()
        if state is None:
            return original(self, tool_input, *args, **kwargs)
        with _tool_call(state, self, tool_input, kwargs.get("tool_call_id")) as result:
            result[0] = original(self, tool_input, *args, **kwargs)
            return result[0]

    return run


def _traced_tool_arun(original: Callable[..., Any]) -> Callable[..., Any]:
    async def arun(self: Any, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        state = CURRENT_RUN.get()
        if state is None:
            return await original(self, tool_input, *args, **kwargs)
        with _tool_call(state, self, tool_input, kwargs.get("tool_call_id")) as result:
            result[0] = await original(self, tool_input, *args, **kwargs)
            return result[0]

    return arun


def _patch_runtime() -> None:
    """Wrap LangGraph's task runner and LangChain's tool entry points, once per process."""
    with _patch_lock:
        if _patched:
            return
        from langchain_core.tools import BaseTool

        runner: Any = importlib.import_module("langgraph.pregel._runner")
        _patched["run"], _patched["arun"] = runner.run_with_retry, runner.arun_with_retry
        _patched["tool"], _patched["atool"] = BaseTool.run, BaseTool.arun
        runner.run_with_retry = _traced_run(runner.run_with_retry)
        runner.arun_with_retry = _traced_arun(runner.arun_with_retry)
        BaseTool.run = _traced_tool_run(BaseTool.run)  # type: ignore[method-assign]
        BaseTool.arun = _traced_tool_arun(BaseTool.arun)  # type: ignore[method-assign]


def _unpatch_runtime() -> None:
    with _patch_lock:
        if not _patched:
            return
        from langchain_core.tools import BaseTool

        runner: Any = importlib.import_module("langgraph.pregel._runner")
        runner.run_with_retry, runner.arun_with_retry = _patched["run"], _patched["arun"]
        BaseTool.run, BaseTool.arun = _patched["tool"], _patched["atool"]  # type: ignore[method-assign]
        _patched.clear()


class _Instrumentation:
    def __init__(self, graph: Any, tracer: Any, content: Content, observers: Sequence[RunObserver]) -> None:
        self.graph = graph
        self.tracer = tracer
        self.content = content
        self.observers = tuple(observers)
        self.name = str(graph.get_name())
        self.operation = A.OP_AGENT if "agent" in self.name.lower() else A.OP_WORKFLOW
        self.original_saver = graph.checkpointer
        self.stream, self.astream = graph.stream, graph.astream

    def _links(self, input: Any, config: Any) -> tuple[list[Link], bool]:
        from langgraph.types import Command

        resumed = isinstance(input, Command) and input.resume is not None
        saver = self.original_saver
        if not resumed or saver is None or isinstance(saver, bool):
            return [], resumed
        try:
            tup = saver.get_tuple(config)
        except Exception:
            return [], resumed
        stored = ((tup.metadata if tup else None) or {}).get(A.METADATA_KEY)
        if not isinstance(stored, dict):
            return [], resumed
        try:
            ctx = SpanContext(
                int(stored["trace_id"], 16),
                int(stored["span_id"], 16),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        except (KeyError, TypeError, ValueError):
            return [], resumed
        return [Link(ctx, {"langgraph.link": "resumes"})], resumed

    def _begin(self, input: Any, config: Any) -> tuple[RunState, Any, Any]:
        thread_id = str(((config or {}).get("configurable") or {}).get("thread_id", ""))
        links, resumed = self._links(input, config)
        root = self.tracer.start_span(f"{self.operation} {self.name}", links=links)
        if root.is_recording():
            root.set_attribute(A.GEN_AI_OPERATION_NAME, self.operation)
            root.set_attribute(A.GRAPH_NAME, self.name)
            root.set_attribute(A.RESUMED, resumed)
            if self.operation == A.OP_AGENT:
                root.set_attribute(A.GEN_AI_AGENT_NAME, self.name)
            if thread_id:
                root.set_attribute(A.GEN_AI_CONVERSATION_ID, thread_id)
                root.set_attribute(A.THREAD_ID, thread_id)
        state = RunState(self.tracer, self.name, root, self.content, self.observers, thread_id=thread_id)
        if thread_id:
            ACTIVE_RUNS[thread_id] = state
        if resumed:
            notify(state, "resume", self.name)
        return state, CURRENT_RUN.set(state), otel_context.attach(trace.set_span_in_context(root))

    @staticmethod
    def _finish(state: RunState, run_token: Any, ctx_token: Any, exc: BaseException | None) -> None:
        root = state.root
        failed = exc is not None and not isinstance(exc, (GeneratorExit, *_bubble_up()))
        notify(
            state,
            "run_finished",
            state.graph,
            time.perf_counter() - state.started,
            type(exc).__name__ if failed and exc is not None else None,
        )
        if exc is not None and not isinstance(exc, GeneratorExit):
            root.record_exception(exc)
            root.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        if root.is_recording():
            root.set_attribute(A.INTERRUPTED, bool(state.interrupted))
            if state.interrupted:
                root.set_attribute(A.INTERRUPT_IDS, state.interrupted)
        root.end()
        if ACTIVE_RUNS.get(state.thread_id) is state:
            del ACTIVE_RUNS[state.thread_id]
        try:
            otel_context.detach(ctx_token)
            CURRENT_RUN.reset(run_token)
        except ValueError:
            pass  # closed from another context (an abandoned generator): nothing to restore

    def traced_stream(self, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
        if CURRENT_RUN.get() is not None:  # called from inside a run: a subgraph, already traced
            yield from self.stream(input, config, **kwargs)
            return
        state, run_token, ctx_token = self._begin(input, config)
        failure: BaseException | None = None
        try:
            yield from self.stream(input, config, **kwargs)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._finish(state, run_token, ctx_token, failure)

    async def traced_astream(self, input: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
        if CURRENT_RUN.get() is not None:
            async for chunk in self.astream(input, config, **kwargs):
                yield chunk
            return
        state, run_token, ctx_token = self._begin(input, config)
        failure: BaseException | None = None
        try:
            async for chunk in self.astream(input, config, **kwargs):
                yield chunk
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._finish(state, run_token, ctx_token, failure)


def instrument(
    graph: Any,
    *,
    tracer_provider: TracerProvider | None = None,
    capture_content: bool = False,
    redact: re.Pattern[str] | Callable[[str], str] | None = None,
    content_limit: int = 4096,
    observers: Sequence[RunObserver] = (),
) -> Any:
    """Trace every run of a compiled graph; returns the same graph.

    Root span ``invoke_workflow {graph}`` (``invoke_agent`` for agents) with
    ``gen_ai.conversation.id`` = thread id; a span per node execution, tool call and
    checkpoint operation; interrupts as span events; a resumed run links to the run it resumes.
    State and tool data are recorded only with ``capture_content=True`` (redacted by ``redact``,
    cut at ``content_limit`` characters).
    """
    if getattr(graph, _ATTR, None) is not None:
        return graph
    tracer = trace.get_tracer("lgscope", __version__, tracer_provider=tracer_provider)
    _patch_runtime()
    inst = _Instrumentation(graph, tracer, Content(capture_content, redact, content_limit), observers)
    from langgraph.checkpoint.base import BaseCheckpointSaver

    if isinstance(graph.checkpointer, BaseCheckpointSaver) and not isinstance(
        graph.checkpointer, TracedSaver
    ):
        graph.checkpointer = TracedSaver(graph.checkpointer, tracer)
    graph.stream = inst.traced_stream
    graph.astream = inst.traced_astream
    setattr(graph, _ATTR, inst)
    return graph


def uninstrument(graph: Any) -> Any:
    """Undo `instrument` on one graph."""
    inst = getattr(graph, _ATTR, None)
    if inst is None:
        return graph
    graph.checkpointer = inst.original_saver
    for name in ("stream", "astream"):
        graph.__dict__.pop(name, None)
    setattr(graph, _ATTR, None)
    return graph


class GraphInstrumentor:
    """Instruments every compiled graph of the process (OpenTelemetry instrumentor style)."""

    def __init__(self) -> None:
        self._originals: dict[str, Any] = {}

    def instrument(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        capture_content: bool = False,
        observers: Sequence[RunObserver] = (),
    ) -> None:
        from langgraph.pregel import Pregel

        if self._originals:
            return
        self._originals = {"stream": Pregel.stream, "astream": Pregel.astream}
        settings = {
            "tracer_provider": tracer_provider,
            "capture_content": capture_content,
            "observers": observers,
        }

        def ensure(graph: Any) -> _Instrumentation:
            inst = getattr(graph, _ATTR, None)
            if inst is None:
                instrument(graph, **settings)  # type: ignore[arg-type]
                inst = getattr(graph, _ATTR)
            return inst  # type: ignore[no-any-return]

        originals = self._originals

        def stream(graph: Any, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
            inst = ensure(graph)
            inst.stream = lambda i, c=None, **k: originals["stream"](graph, i, c, **k)
            return inst.traced_stream(input, config, **kwargs)

        def astream(graph: Any, input: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
            inst = ensure(graph)
            inst.astream = lambda i, c=None, **k: originals["astream"](graph, i, c, **k)
            return inst.traced_astream(input, config, **kwargs)

        Pregel.stream = stream  # type: ignore[method-assign,assignment]
        Pregel.astream = astream  # type: ignore[method-assign,assignment]

    def uninstrument(self) -> None:
        from langgraph.pregel import Pregel

        if self._originals:
            Pregel.stream = self._originals["stream"]  # type: ignore[method-assign]
            Pregel.astream = self._originals["astream"]  # type: ignore[method-assign]
            self._originals = {}
        _unpatch_runtime()
