"""`instrument` / `LangGraphInstrumentor`: spans for runs, nodes, tools and checkpoints.

Everything is made through OpenTelemetry's public API, so any tracer provider works (the SDK's,
a vendor's, the no-op one). The patches, all through ``wrapt`` (`lgscope._patch`), are applied
while an instrumented graph or the instrumentor needs them and taken out, in any order, when
none does:

- ``Pregel.stream`` / ``astream`` (``invoke`` and ``ainvoke`` go through them): the run's root span;
- LangGraph's task runner (`lgscope.tracing._hooks`, the one private hook): a span per node
  execution, current while the node runs, so your own spans nest under it;
- ``BaseTool.run`` / ``arun``: a span per tool call.

Interrupts come from LangGraph's own lifecycle callbacks (``langgraph.callbacks``). Spans are only
made inside a run of an instrumented graph.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langgraph.callbacks import GraphCallbackHandler, GraphInterruptEvent
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.constants import TAG_HIDDEN
from langgraph.errors import GraphBubbleUp
from langgraph.pregel import Pregel
from langgraph.types import Command
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags, TracerProvider

from lgscope import __version__
from lgscope._patch import Patch
from lgscope.model import INTERRUPT
from lgscope.tracing import _attributes as A
from lgscope.tracing._hooks import node_patches
from lgscope.tracing._observers import RunObserver
from lgscope.tracing._run import (
    ACTIVE_RUNS,
    CURRENT_RUN,
    Content,
    RunState,
    exception_type,
    failed,
    notify,
)
from lgscope.tracing._saver import TracedSaver

__all__ = ["LangGraphInstrumentor", "instrument", "uninstrument"]

_ATTR = "_lgscope_instrumentation"


def _interrupt_ids(exc: BaseException) -> list[str]:
    items = exc.args[0] if exc.args and isinstance(exc.args[0], Sequence) else ()
    return [str(getattr(i, "id", "")) for i in items if getattr(i, "id", None)]


# -- nodes ---------------------------------------------------------------------------------


def _start_node(state: RunState, task: Any) -> trace.Span:
    config = task.config
    meta = (config.get("metadata") if config else None) or {}
    name = task.name
    attributes: dict[str, Any] = {
        A.NODE: name,
        A.TASK_ID: task.id,
        A.TASK_PATH: ", ".join(map(str, task.path)),
        A.TRIGGERS: tuple(task.triggers),
        A.CHECKPOINT_NS: meta.get("langgraph_checkpoint_ns", ""),
        A.ATTEMPT: 1,
    }
    step = meta.get("langgraph_step")
    if type(step) is int:
        attributes[A.STEP] = step
    if state.latest_names:
        attributes[A.GEN_AI_OPERATION_NAME] = A.OP_NODE
        attributes[A.GEN_AI_NODE_NAME] = name
        attributes[A.GEN_AI_NODE_ID] = task.id
    span = state.tracer.start_span(f"{A.OP_NODE} {name}", attributes=attributes)
    if state.content.capture and span.is_recording():
        span.set_attribute(A.INPUT, state.content.render(task.input))
    return span


def _end_node(
    state: RunState, task: Any, span: trace.Span, started: float, exc: BaseException | None
) -> None:
    error = False
    if exc is None:
        if state.content.capture and span.is_recording():
            span.set_attribute(A.OUTPUT, state.content.render(list(task.writes)))
    elif isinstance(exc, GraphBubbleUp):
        ids = _interrupt_ids(exc)
        if ids:
            span.add_event(A.INTERRUPT_EVENT, {A.INTERRUPT_IDS: ids})
            notify(state, "interrupt", state.graph, task.name)
    else:
        error = True
        failed(span, exc, state.content)
    span.end()
    if state.observers:
        notify(state, "node_finished", state.graph, task.name, time.perf_counter() - started, error)


class _Attempts:
    """Stands in for a task's runnable under a retry policy: counts attempts, records failures."""

    __slots__ = ("content", "count", "proc", "span")

    def __init__(self, proc: Any, span: trace.Span, content: Content) -> None:
        self.proc, self.span, self.content, self.count = proc, span, content, 0

    def _attempt(self) -> None:
        self.count += 1
        self.span.set_attribute(A.ATTEMPT, self.count)

    def _failed(self, exc: BaseException) -> None:
        if not isinstance(exc, GraphBubbleUp):
            attributes: dict[str, Any] = {A.ATTEMPT: self.count, A.EXCEPTION_TYPE: exception_type(exc)}
            if self.content.capture:
                attributes[A.EXCEPTION_MESSAGE] = self.content.text(str(exc))
            self.span.add_event(A.ATTEMPT_FAILED_EVENT, attributes)

    def invoke(self, input: Any, config: Any) -> Any:
        self._attempt()
        try:
            return self.proc.invoke(input, config)
        except Exception as exc:
            self._failed(exc)
            raise

    async def ainvoke(self, input: Any, config: Any) -> Any:
        self._attempt()
        try:
            return await self.proc.ainvoke(input, config)
        except Exception as exc:
            self._failed(exc)
            raise

    async def astream(self, input: Any, config: Any) -> AsyncIterator[Any]:
        self._attempt()
        try:
            async with contextlib.aclosing(self.proc.astream(input, config)) as chunks:
                async for chunk in chunks:
                    yield chunk
        except Exception as exc:
            self._failed(exc)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.proc, name)


def _hidden(args: tuple[Any, ...]) -> bool:
    """Whether a runner call's task is one of LangGraph's hidden ones (the input writer
    ``__start__``), which LangGraph hides from traces too."""
    config = getattr(args[0], "config", None) if args else None
    return not args or bool(config and TAG_HIDDEN in (config.get("tags") or ()))


class _Node:
    """A node execution's span, current while it runs; entering gives the runner's arguments
    (under a retry policy, with the task's attempts counted)."""

    __slots__ = ("args", "span", "started", "state", "task", "token")

    def __init__(self, state: RunState, args: tuple[Any, ...]) -> None:
        task = args[0]
        span = _start_node(state, task)
        if (task.retry_policy or (len(args) > 1 and args[1])) and span.is_recording():
            args = (dataclasses.replace(task, proc=_Attempts(task.proc, span, state.content)), *args[1:])
        self.state, self.task, self.span, self.args = state, task, span, args

    def __enter__(self) -> tuple[Any, ...]:
        self.token = otel_context.attach(trace.set_span_in_context(self.span))
        self.started = time.perf_counter()
        return self.args

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        otel_context.detach(self.token)
        _end_node(self.state, self.task, self.span, self.started, exc)


def _run_node(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    state = CURRENT_RUN.get()
    if state is None or state.idle or _hidden(args):
        return wrapped(*args, **kwargs)
    with _Node(state, args) as call:
        return wrapped(*call, **kwargs)


async def _arun_node(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    state = CURRENT_RUN.get()
    if state is None or state.idle or _hidden(args):
        return await wrapped(*args, **kwargs)
    with _Node(state, args) as call:
        return await wrapped(*call, **kwargs)


# -- tools ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _tool_call(state: RunState, tool: Any, tool_input: Any, call_id: Any) -> Iterator[list[Any]]:
    """The tool's span, current while the tool runs; the caller puts the result in the list."""
    attributes: dict[str, Any] = {A.GEN_AI_OPERATION_NAME: A.OP_TOOL, A.GEN_AI_TOOL_NAME: str(tool.name)}
    if call_id:
        attributes[A.GEN_AI_TOOL_CALL_ID] = str(call_id)
    span = state.tracer.start_span(f"{A.OP_TOOL} {tool.name}", attributes=attributes)
    if state.content.capture and span.is_recording():
        span.set_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, state.content.render(tool_input))
    started, result = time.perf_counter(), [None]
    token = otel_context.attach(trace.set_span_in_context(span))
    error = False
    try:
        yield result
    except BaseException as exc:
        error = True
        failed(span, exc, state.content)
        raise
    finally:
        otel_context.detach(token)
        if not error and getattr(result[0], "status", None) == "error":
            error = True
            span.set_status(trace.Status(trace.StatusCode.ERROR, "the tool returned an error"))
        elif not error and state.content.capture and span.is_recording():
            span.set_attribute(
                A.GEN_AI_TOOL_CALL_RESULT, state.content.render(getattr(result[0], "content", result[0]))
            )
        span.end()
        notify(state, "tool_finished", str(tool.name), time.perf_counter() - started, error)


def _run_tool(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    state = CURRENT_RUN.get()
    if state is None or state.idle:
        return wrapped(*args, **kwargs)
    with _tool_call(
        state, instance, args[0] if args else kwargs.get("tool_input"), kwargs.get("tool_call_id")
    ) as result:
        result[0] = wrapped(*args, **kwargs)
        return result[0]


async def _arun_tool(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    state = CURRENT_RUN.get()
    if state is None or state.idle:
        return await wrapped(*args, **kwargs)
    with _tool_call(
        state, instance, args[0] if args else kwargs.get("tool_input"), kwargs.get("tool_call_id")
    ) as result:
        result[0] = await wrapped(*args, **kwargs)
        return result[0]


# -- runs ----------------------------------------------------------------------------------


class _Lifecycle(GraphCallbackHandler):
    """Hears LangGraph's interrupt events for one run (its own and its subgraphs')."""

    run_inline = True
    raise_error = False

    def __init__(self, state: RunState) -> None:
        self.state = state

    # every LangChain event but LangGraph's lifecycle ones is ignored
    _ignored = property(lambda self: True)
    ignore_llm = ignore_retry = ignore_chain = ignore_agent = _ignored
    ignore_retriever = ignore_chat_model = ignore_custom_event = _ignored

    def on_interrupt(self, event: GraphInterruptEvent) -> None:
        state = self.state
        ids = [str(i.id) for i in event.interrupts if getattr(i, "id", None)]
        new = [i for i in ids if i not in state.interrupted]
        if not new and ids:
            return  # a subgraph's interrupt, heard again as its parent stops
        state.interrupted.extend(new)
        state.root.add_event(
            A.INTERRUPT_EVENT,
            {
                A.INTERRUPT_IDS: new,
                A.INTERRUPT_STATUS: str(event.status),
                A.CHECKPOINT_ID: str(event.checkpoint_id),
                A.CHECKPOINT_NS: "|".join(event.checkpoint_ns),
            },
        )


def _with_handler(given: Any, handler: GraphCallbackHandler) -> dict[str, Any]:
    """``config`` with ``handler`` among its callbacks (a new dict; the caller's is unchanged)."""
    config: dict[str, Any] = dict(given or {})
    callbacks = config.get("callbacks")
    if callbacks is None:
        config["callbacks"] = [handler]
    elif isinstance(callbacks, list | tuple):
        config["callbacks"] = [*callbacks, handler]
    else:  # a callback manager: a copy of it, with the handler inherited by everything inside
        manager = callbacks.copy()
        manager.add_handler(handler, inherit=True)
        config["callbacks"] = manager
    return config


class _Instrumentation:
    """One graph's settings and the run's begin and end."""

    def __init__(
        self, graph: Any, tracer: Any, content: Content, observers: Sequence[RunObserver], owned: bool
    ) -> None:
        self.tracer = tracer
        self.content = content
        self.observers = tuple(observers)
        self.latest_names = A.gen_ai_latest()
        self.name = str(graph.get_name())
        self.owned = owned
        """Whether `uninstrument(graph)` releases the patches (not for graphs the instrumentor met)."""
        self.original_saver = graph.checkpointer
        if isinstance(graph.checkpointer, BaseCheckpointSaver) and not isinstance(
            graph.checkpointer, TracedSaver
        ):
            graph.checkpointer = TracedSaver(graph.checkpointer, tracer, content)

    def _resume_read(self, input: Any, config: Any) -> tuple[Any, dict[str, Any]] | None:
        """The saver and config to read the checkpoint a resume starts from (None for a run
        that resumes nothing, or whose checkpoint cannot be read).

        The config is what LangGraph's own first read uses (the thread id as text): on a
        connection in pipeline mode, a read that failed would abort LangGraph's next one.
        """
        if not (isinstance(input, Command) and input.resume is not None):
            return None
        saver = self.original_saver
        if isinstance(saver, TracedSaver):  # wrapped by the app: read what it stored, untraced
            saver = saver.inner
        configurable = (config or {}).get("configurable") or {}
        if not isinstance(saver, BaseCheckpointSaver) or configurable.get("thread_id") is None:
            return None
        read = {k: v for k, v in configurable.items() if k in ("checkpoint_ns", "checkpoint_id")}
        return saver, {"configurable": {**read, "thread_id": str(configurable["thread_id"])}}

    @staticmethod
    def _links(tup: Any) -> tuple[list[Link], list[str]]:
        """A link to the run that wrote the checkpoint a resume starts from, and the ids of the
        interrupts it answers.

        Runs leave their trace context in the metadata of the checkpoints they write. A resumed
        run that interrupts again in the same node writes none, so the run after it links to
        the run that wrote the checkpoint; the interrupt ids, also on the event of the node
        span that interrupted, tie it to the run whose interrupt it answers. Read before the
        root starts, so that a sampler sees the link.
        """
        if tup is None:
            return [], []
        answered = [
            str(item.id)
            for _, channel, value in tup.pending_writes or ()
            if channel == INTERRUPT and isinstance(value, Sequence)
            for item in value
            if getattr(item, "id", None)
        ]
        stored = (tup.metadata or {}).get(A.METADATA_KEY)
        if not isinstance(stored, dict):
            return [], answered
        try:
            ctx = SpanContext(
                int(stored["trace_id"], 16),
                int(stored["span_id"], 16),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        except (KeyError, TypeError, ValueError):
            return [], answered
        return [Link(ctx, {"langgraph.link": "resumes"})] if ctx.is_valid else [], answered

    def begin(self, config: Any, resumed: bool, tup: Any) -> tuple[RunState, Any, Any, dict[str, Any]]:
        """The run's state, its context tokens, and the config to run with (``tup``: the
        checkpoint a resume starts from)."""
        thread_id = str(((config or {}).get("configurable") or {}).get("thread_id", ""))
        links, answered = self._links(tup)
        # given at the start, the sampler sees them too
        attributes: dict[str, Any] = {
            A.GEN_AI_OPERATION_NAME: A.OP_AGENT,
            A.GEN_AI_AGENT_NAME: self.name,
            A.GRAPH_NAME: self.name,
            A.RESUMED: resumed,
            A.INTERRUPTED: False,  # until a node interrupts
        }
        if answered:
            attributes[A.RESUMED_INTERRUPT_IDS] = tuple(answered)
        if thread_id:
            attributes[A.GEN_AI_CONVERSATION_ID] = thread_id
            attributes[A.THREAD_ID] = thread_id
        root = self.tracer.start_span(
            f"{A.OP_AGENT} {self.name}", kind=SpanKind.INTERNAL, attributes=attributes, links=links
        )
        state = RunState(
            self.tracer,
            self.name,
            root,
            self.content,
            self.observers,
            thread_id=thread_id,
            latest_names=self.latest_names,
        )
        if thread_id:
            ACTIVE_RUNS[thread_id] = state
        if resumed:
            notify(state, "resume", self.name)
        if not state.idle:
            config = _with_handler(config, _Lifecycle(state))
        return state, CURRENT_RUN.set(state), otel_context.attach(state.root_context), config

    @staticmethod
    def finish(state: RunState, run_token: Any, ctx_token: Any, exc: BaseException | None) -> None:
        root = state.root
        if state.observers:
            error = exc is not None and not isinstance(exc, GeneratorExit | GraphBubbleUp)
            notify(
                state,
                "run_finished",
                state.graph,
                time.perf_counter() - state.started,
                type(exc).__name__ if error and exc is not None else None,
            )
        if exc is not None and not isinstance(exc, GeneratorExit):
            failed(root, exc, state.content)
        if state.interrupted and root.is_recording():
            root.set_attribute(A.INTERRUPTED, True)
            root.set_attribute(A.INTERRUPT_IDS, state.interrupted)
        root.end()
        if ACTIVE_RUNS.get(state.thread_id) is state:
            del ACTIVE_RUNS[state.thread_id]
        if otel_context.get_current() is state.root_context:  # else closed from another context
            otel_context.detach(ctx_token)
        with contextlib.suppress(ValueError):
            CURRENT_RUN.reset(run_token)

    def stream(
        self, wrapped: Callable[..., Any], input: Any, config: Any, rest: Any, kwargs: Any
    ) -> Iterator[Any]:
        read, tup = self._resume_read(input, config), None
        if read is not None:
            with contextlib.suppress(Exception):  # no link rather than no run
                tup = read[0].get_tuple(read[1])
        state, run_token, ctx_token, config = self.begin(config, read is not None, tup)
        failure: BaseException | None = None
        try:
            yield from wrapped(input, config, *rest, **kwargs)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self.finish(state, run_token, ctx_token, failure)

    async def astream(
        self, wrapped: Callable[..., Any], input: Any, config: Any, rest: Any, kwargs: Any
    ) -> AsyncIterator[Any]:
        read, tup = self._resume_read(input, config), None
        if read is not None:
            with contextlib.suppress(Exception):
                tup = await read[0].aget_tuple(read[1])
        state, run_token, ctx_token, config = self.begin(config, read is not None, tup)
        failure: BaseException | None = None
        try:
            # closed when this is: closing a run's astream cancels the nodes still running
            async with contextlib.aclosing(wrapped(input, config, *rest, **kwargs)) as chunks:
                async for chunk in chunks:
                    yield chunk
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self.finish(state, run_token, ctx_token, failure)


def _split(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, tuple[Any, ...], dict[str, Any]]:
    """``stream``'s input, config, the other positional arguments and the keywords."""
    kwargs = dict(kwargs)
    input = args[0] if args else kwargs.pop("input", None)
    config = args[1] if len(args) > 1 else kwargs.pop("config", None)
    return input, config, args[2:], kwargs


def _instrumentation(graph: Any) -> _Instrumentation | None:
    inst = vars(graph).get(_ATTR) if hasattr(graph, "__dict__") else None
    if inst is None and _GLOBAL.settings is not None and isinstance(graph, Pregel):
        inst = _GLOBAL.adopt(graph)
    return inst


def _stream(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    inst = _instrumentation(instance) if CURRENT_RUN.get() is None else None  # inside: a subgraph
    if inst is None:
        return wrapped(*args, **kwargs)
    return inst.stream(wrapped, *_split(args, kwargs))


def _astream(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    inst = _instrumentation(instance) if CURRENT_RUN.get() is None else None
    if inst is None:
        return wrapped(*args, **kwargs)
    return inst.astream(wrapped, *_split(args, kwargs))


# -- patches -------------------------------------------------------------------------------


class _Patches:
    """The patches instrumented runs need, applied while anyone (a graph given to `instrument`,
    or the instrumentor) needs them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.applied: list[Patch] = []

    def acquire(self) -> None:
        with self.lock:
            self.users += 1
            if self.users > 1:
                return
            self.applied = [
                Patch(Pregel, "stream", _stream),
                Patch(Pregel, "astream", _astream),
                Patch(BaseTool, "run", _run_tool),
                Patch(BaseTool, "arun", _arun_tool),
                *node_patches(_run_node, _arun_node),
            ]
            for patch in self.applied:
                patch.apply()

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users > 0:
                return
            for patch in reversed(self.applied):
                patch.remove()
            self.applied = []


_PATCHES = _Patches()


def _tracer(tracer_provider: TracerProvider | None) -> trace.Tracer:
    return trace.get_tracer("lgscope", __version__, tracer_provider=tracer_provider)


def instrument(
    graph: Any,
    *,
    tracer_provider: TracerProvider | None = None,
    capture_content: bool = False,
    redact: re.Pattern[str] | Callable[[str], str] | None = None,
    content_limit: int = 4096,
    observers: Sequence[RunObserver] = (),
) -> Any:
    """Trace every run of one compiled graph; returns the same graph.

    Root span ``invoke_agent {graph}`` with ``gen_ai.conversation.id`` = thread id; a span per
    node execution, tool call and checkpoint operation; interrupts as span events; a resumed
    run links to the run it resumes. State, tool data and error messages are recorded only
    with ``capture_content=True`` (redacted by ``redact``, cut at ``content_limit`` characters).
    """
    if vars(graph).get(_ATTR) is not None:
        return graph
    content = Content(capture_content, redact, content_limit)
    _PATCHES.acquire()
    setattr(graph, _ATTR, _Instrumentation(graph, _tracer(tracer_provider), content, observers, owned=True))
    return graph


def _undo(graph: Any, inst: _Instrumentation) -> None:
    if isinstance(graph.checkpointer, TracedSaver):
        graph.checkpointer.restore()
        graph.checkpointer = inst.original_saver
    vars(graph).pop(_ATTR, None)


def uninstrument(graph: Any) -> Any:
    """Undo `instrument` on one graph (the patches go when no graph or instrumentor needs them)."""
    inst = vars(graph).get(_ATTR)
    if inst is None:
        return graph
    _undo(graph, inst)
    if inst.owned:
        _PATCHES.release()
    else:
        _GLOBAL.adopted.discard(graph)
    return graph


class _Global:
    """The instrumentor's settings while it is on, and the graphs it has instrumented."""

    def __init__(self) -> None:
        self.settings: tuple[Any, Content, tuple[RunObserver, ...]] | None = None
        self.adopted: weakref.WeakSet[Any] = weakref.WeakSet()
        self.lock = threading.Lock()

    def adopt(self, graph: Any) -> _Instrumentation | None:
        with self.lock:
            inst = vars(graph).get(_ATTR)
            if inst is None and self.settings is not None:
                tracer, content, observers = self.settings
                inst = _Instrumentation(graph, tracer, content, observers, owned=False)
                setattr(graph, _ATTR, inst)
                self.adopted.add(graph)
            return inst  # type: ignore[no-any-return]


_GLOBAL = _Global()


class LangGraphInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces every LangGraph graph of the process (OpenTelemetry's instrumentor interface).

    ``LangGraphInstrumentor().instrument(tracer_provider=..., capture_content=False, redact=None,
    content_limit=4096, observers=())``; ``uninstrument()`` takes out every patch and gives
    every graph it met its checkpointer back.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("langgraph >= 1.2, < 2",)

    def _instrument(self, **kwargs: Any) -> None:
        content = Content(
            bool(kwargs.get("capture_content", False)),
            kwargs.get("redact"),
            int(kwargs.get("content_limit", 4096)),
        )
        _GLOBAL.settings = (
            _tracer(kwargs.get("tracer_provider")),
            content,
            tuple(kwargs.get("observers", ())),
        )
        _PATCHES.acquire()

    def _uninstrument(self, **kwargs: Any) -> None:
        _GLOBAL.settings = None
        for graph in list(_GLOBAL.adopted):
            inst = vars(graph).get(_ATTR)
            if inst is not None and not inst.owned:
                _undo(graph, inst)
        _GLOBAL.adopted = weakref.WeakSet()
        _PATCHES.release()
