"""`instrument` / `GraphInstrumentor`: spans for runs, nodes, tools and checkpoints.

Node spans come from wrapping LangGraph's task runner (``run_with_retry``), tool spans from
``BaseTool.run``/``arun``: no LangChain callback handler, so the cost is one span per node and tool,
and a node's span is the current span while it runs (your own spans nest under it, in sync
and async code). Spans are only made inside a run of an instrumented graph.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.constants import TAG_HIDDEN
from opentelemetry import trace
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    Status,
    StatusCode,
    TraceFlags,
    TracerProvider,
)

from lgscope import __version__
from lgscope.model import INTERRUPT
from lgscope.tracing import _attributes as A
from lgscope.tracing._context import attach_span, current_span, detach
from lgscope.tracing._lean import LEAN, RootStarter, child_span
from lgscope.tracing._observers import RunObserver
from lgscope.tracing._run import ACTIVE_RUNS, CURRENT_RUN, Content, RunState, notify
from lgscope.tracing._saver import TracedSaver

__all__ = ["GraphInstrumentor", "instrument", "uninstrument"]

_ATTR = "_lgscope_instrumentation"
_patch_lock = threading.Lock()
_patched: dict[str, Any] = {}


_BUBBLE_UP: tuple[type[BaseException], ...] = ()
_COMMAND: list[Any] = []


def _bubble_up() -> tuple[type[BaseException], ...]:
    global _BUBBLE_UP
    if not _BUBBLE_UP:
        from langgraph.errors import GraphBubbleUp

        _BUBBLE_UP = (GraphBubbleUp,)
    return _BUBBLE_UP


def _command() -> Any:
    """LangGraph's ``Command``, imported when a run first needs it (its module is heavy)."""
    if not _COMMAND:
        from langgraph.types import Command

        _COMMAND.append(Command)
    return _COMMAND[0]


def _interrupt_ids(exc: BaseException) -> list[str]:
    items = exc.args[0] if exc.args and isinstance(exc.args[0], Sequence) else ()
    return [str(getattr(i, "id", "")) for i in items if getattr(i, "id", None)]


_PATHS: dict[tuple[Any, ...], str] = {}
"""Task paths as attribute text, by path: a graph's pull tasks have one path per node."""
_MAX_PATHS = 4096
_EMPTY: dict[str, Any] = {}


def _path_text(path: tuple[Any, ...]) -> str:
    text = ", ".join(map(str, path))
    try:
        if len(_PATHS) < _MAX_PATHS:
            _PATHS[path] = text
    except TypeError:  # unhashable: the functional API's paths hold its calls
        pass
    return text


# a node span costs far more in a run than in a loop (LangGraph's own work between two nodes
# evicts lgscope's code and data from the CPU's caches): the common case is written out, with
# as few calls and objects as it takes
def _start_node(state: RunState, task: Any, config: Any) -> Any:
    parent = current_span()
    factory = state.spans
    if factory is None and not state.root.is_recording():
        return NonRecordingSpan(parent.get_span_context())  # the run is not recorded: compute nothing
    meta = (config.get("metadata") if config else None) or _EMPTY
    path = task.path
    try:
        path_text = _PATHS[path]
    except (KeyError, TypeError):
        path_text = _path_text(path)
    name = task.name
    attributes: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: A.OP_NODE,
        A.NODE: name,
        A.TASK_ID: task.id,  # LangGraph's are str, as are checkpoint namespaces
        A.TASK_PATH: path_text,
        A.TRIGGERS: tuple(task.triggers),  # channel names
        A.CHECKPOINT_NS: meta.get("langgraph_checkpoint_ns", ""),
        A.ATTEMPT: 1,
    }
    step = meta.get("langgraph_step")
    if type(step) is int:
        attributes[A.STEP] = step
    span: Any
    if factory is not None and type(parent) in LEAN:
        span = factory.start(f"{A.OP_NODE} {name}", parent.get_span_context(), attributes)
    else:
        span = child_span(factory, state.tracer, f"{A.OP_NODE} {name}", parent, attributes)
    if state.content.capture and span.is_recording():
        span.set_attribute(A.INPUT, state.content.render(task.input))
    return span


def _end_node(state: RunState, task: Any, span: Any, started: float, exc: BaseException | None) -> None:
    error = False
    if exc is None:
        if state.content.capture and span.is_recording():
            span.set_attribute(A.OUTPUT, state.content.render(list(task.writes)))
    elif isinstance(exc, _bubble_up()):
        ids = _interrupt_ids(exc)
        if ids:
            span.add_event(A.INTERRUPT_EVENT, {A.INTERRUPT_IDS: ids})
            state.interrupted.extend(ids)
            notify(state, "interrupt", state.graph, task.name)
    else:
        error = True
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.end()
    if state.observers:
        notify(state, "node_finished", state.graph, task.name, time.perf_counter() - started, error)


class _Attempts:
    """Stands in for a task's runnable under a retry policy: counts attempts, records failures."""

    __slots__ = ("count", "proc", "span")

    def __init__(self, proc: Any, span: Any) -> None:
        self.proc, self.span, self.count = proc, span, 0

    def _failed(self, exc: BaseException) -> None:
        if not isinstance(exc, _bubble_up()) and self.span.is_recording():
            self.span.add_event(
                A.ATTEMPT_FAILED_EVENT,
                {A.ATTEMPT: self.count, "exception.type": type(exc).__name__, "exception.message": str(exc)},
            )
        self.span.set_attribute(A.ATTEMPT, self.count)

    def invoke(self, input: Any, config: Any) -> Any:
        self.count += 1
        self.span.set_attribute(A.ATTEMPT, self.count)
        try:
            return self.proc.invoke(input, config)
        except Exception as exc:
            self._failed(exc)
            raise

    async def ainvoke(self, input: Any, config: Any) -> Any:
        self.count += 1
        self.span.set_attribute(A.ATTEMPT, self.count)
        try:
            return await self.proc.ainvoke(input, config)
        except Exception as exc:
            self._failed(exc)
            raise

    async def astream(self, input: Any, config: Any) -> AsyncIterator[Any]:
        self.count += 1
        self.span.set_attribute(A.ATTEMPT, self.count)
        try:
            async for chunk in self.proc.astream(input, config):
                yield chunk
        except Exception as exc:
            self._failed(exc)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.proc, name)


def _counted(task: Any, span: Any) -> Any:
    """The task to run under a retry policy: a copy whose attempts are counted."""
    if not span.is_recording():
        return task
    return dataclasses.replace(task, proc=_Attempts(task.proc, span))


# the scope is written out in both runners rather than as a context manager or helpers: they
# run once per node. A task tagged hidden is LangGraph's own (the input writer ``__start__``),
# which it hides from traces too
def _traced_run(original: Callable[..., Any]) -> Callable[..., Any]:
    def run_with_retry(task: Any, *args: Any, **kwargs: Any) -> Any:
        state = CURRENT_RUN.get()
        if state is None or state.idle:
            return original(task, *args, **kwargs)
        config = task.config
        if config and TAG_HIDDEN in (config.get("tags") or ()):
            return original(task, *args, **kwargs)
        span = _start_node(state, task, config)
        started, token = time.perf_counter(), attach_span(span)
        if task.retry_policy or (args[0] if args else kwargs.get("retry_policy")):
            task = _counted(task, span)
        try:
            out = original(task, *args, **kwargs)
        except BaseException as exc:
            detach(token)
            _end_node(state, task, span, started, exc)
            raise
        detach(token)
        if state.quiet:
            span.end()
        else:
            _end_node(state, task, span, started, None)
        return out

    return run_with_retry


def _traced_arun(original: Callable[..., Any]) -> Callable[..., Any]:
    async def arun_with_retry(task: Any, *args: Any, **kwargs: Any) -> Any:
        state = CURRENT_RUN.get()
        if state is None or state.idle:
            return await original(task, *args, **kwargs)
        config = task.config
        if config and TAG_HIDDEN in (config.get("tags") or ()):
            return await original(task, *args, **kwargs)
        span = _start_node(state, task, config)
        started, token = time.perf_counter(), attach_span(span)
        if task.retry_policy or (args[0] if args else kwargs.get("retry_policy")):
            task = _counted(task, span)
        try:
            out = await original(task, *args, **kwargs)
        except BaseException as exc:
            detach(token)
            _end_node(state, task, span, started, exc)
            raise
        detach(token)
        if state.quiet:
            span.end()
        else:
            _end_node(state, task, span, started, None)
        return out

    return arun_with_retry


def _tool_span(state: RunState, tool: Any, tool_input: Any, call_id: Any) -> Any:
    parent = current_span()
    if state.spans is None and not state.root.is_recording():
        return NonRecordingSpan(parent.get_span_context())  # the run is not recorded: compute nothing
    attributes: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: A.OP_TOOL,
        A.GEN_AI_TOOL_NAME: str(tool.name),
    }
    if call_id:
        attributes[A.GEN_AI_TOOL_CALL_ID] = str(call_id)
    span = child_span(state.spans, state.tracer, f"{A.OP_TOOL} {tool.name}", parent, attributes)
    if state.content.capture and span.is_recording():
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
    token = attach_span(span)
    try:
        yield result
    except BaseException as exc:
        failure = exc
        raise
    finally:
        detach(token)
        _end_tool(state, tool, span, started, result[0], failure)


def _traced_tool_run(original: Callable[..., Any]) -> Callable[..., Any]:
    def run(self: Any, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        state = CURRENT_RUN.get()
        if state is None or state.idle:
            return original(self, tool_input, *args, **kwargs)
        with _tool_call(state, self, tool_input, kwargs.get("tool_call_id")) as result:
            result[0] = original(self, tool_input, *args, **kwargs)
            return result[0]

    return run


def _traced_tool_arun(original: Callable[..., Any]) -> Callable[..., Any]:
    async def arun(self: Any, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        state = CURRENT_RUN.get()
        if state is None or state.idle:
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
        self.roots = RootStarter(tracer)
        self.content = content
        self.observers = tuple(observers)
        self.name = str(graph.get_name())
        self.operation = A.OP_AGENT if "agent" in self.name.lower() else A.OP_WORKFLOW
        self.original_saver = graph.checkpointer
        self.stream, self.astream = graph.stream, graph.astream

    def _resumes(self, input: Any, config: Any) -> tuple[bool, list[Link], list[str]]:
        """Whether the run resumes an interrupted one and, if so, a link to the run that wrote
        the checkpoint it resumes from and the ids of the interrupts it answers.

        Runs leave their trace context in the metadata of the checkpoints they write. A resumed
        run that interrupts again in the same node writes none, so the run after it links to
        the run that wrote the checkpoint; the interrupt ids, also on the event of the node
        span that interrupted, tie it to the run whose interrupt it answers.
        """
        resumed = isinstance(input, _command()) and input.resume is not None
        saver = self.original_saver
        if not resumed or saver is None or isinstance(saver, bool):
            return resumed, [], []
        try:
            tup = saver.get_tuple(config)
        except Exception:
            return resumed, [], []
        if tup is None:
            return resumed, [], []
        answered = [
            str(item.id)
            for _, channel, value in tup.pending_writes or ()
            if channel == INTERRUPT and isinstance(value, Sequence)
            for item in value
            if getattr(item, "id", None)
        ]
        stored = (tup.metadata or {}).get(A.METADATA_KEY)
        if not isinstance(stored, dict):
            return resumed, [], answered
        try:
            ctx = SpanContext(
                int(stored["trace_id"], 16),
                int(stored["span_id"], 16),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        except (KeyError, TypeError, ValueError):
            return resumed, [], answered
        return resumed, [Link(ctx, {"langgraph.link": "resumes"})], answered

    def _begin(self, input: Any, config: Any) -> tuple[RunState, Any, Any]:
        thread_id = str(((config or {}).get("configurable") or {}).get("thread_id", ""))
        resumed, links, answered = self._resumes(input, config)
        # given at the start, the sampler sees them too
        attributes: dict[str, Any] = {
            A.GEN_AI_OPERATION_NAME: self.operation,
            A.GRAPH_NAME: self.name,
            A.RESUMED: resumed,
            A.INTERRUPTED: False,  # until a node interrupts
        }
        if self.operation == A.OP_AGENT:
            attributes[A.GEN_AI_AGENT_NAME] = self.name
        if answered:
            attributes[A.RESUMED_INTERRUPT_IDS] = tuple(answered)
        if thread_id:
            attributes[A.GEN_AI_CONVERSATION_ID] = thread_id
            attributes[A.THREAD_ID] = thread_id
        name = f"{self.operation} {self.name}"
        started = self.roots.start(name, attributes, links)
        root, factory = started or (self.tracer.start_span(name, attributes=attributes, links=links), None)
        state = RunState(
            self.tracer, self.name, root, self.content, self.observers, thread_id=thread_id, spans=factory
        )
        if thread_id:
            ACTIVE_RUNS[thread_id] = state
        if resumed:
            notify(state, "resume", self.name)
        return state, CURRENT_RUN.set(state), attach_span(root)

    @staticmethod
    def _finish(state: RunState, run_token: Any, ctx_token: Any, exc: BaseException | None) -> None:
        root = state.root
        if state.observers:
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
        if state.interrupted and root.is_recording():
            root.set_attribute(A.INTERRUPTED, True)
            root.set_attribute(A.INTERRUPT_IDS, state.interrupted)
        root.end()
        if state.spans is not None:  # the run's spans, the root last, in one batch
            state.spans.flush()
        if ACTIVE_RUNS.get(state.thread_id) is state:
            del ACTIVE_RUNS[state.thread_id]
        try:
            detach(ctx_token)
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
    if isinstance(graph.checkpointer, TracedSaver):
        graph.checkpointer.restore()
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
