"""GraphInstrumentor, RunObserver, retries, sampling and the lean span path, on real graphs."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, RetryPolicy
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import NoOpTracerProvider, StatusCode
from tests.tracing.test_spans import USER, _agent, _approval

from lgscope.tracing import GraphInstrumentor, _lean, instrument, uninstrument
from lgscope.tracing._attributes import METADATA_KEY


@pytest.fixture
def exported() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    USER["provider"] = provider  # the example agent's own spans go here too
    yield provider, exporter


class Flaky(TypedDict, total=False):
    calls: int
    done: bool


def _flaky_graph(fail_times: int, policy: RetryPolicy | None) -> Any:
    attempts = {"n": 0}

    def charge(state: Flaky) -> Flaky:
        attempts["n"] += 1
        if attempts["n"] <= fail_times:
            raise ConnectionError(f"gateway timeout #{attempts['n']}")
        return {"calls": attempts["n"], "done": True}

    g = StateGraph(Flaky)
    g.add_node("charge", charge, retry_policy=policy)
    g.add_edge(START, "charge")
    return g.compile(checkpointer=InMemorySaver(), name="billing")


def test_graph_instrumentor_traces_every_graph_until_uninstrumented(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    instrumentor = GraphInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        approvals = _approval(InMemorySaver())  # compiled after instrument(): still traced
        agent = _agent(InMemorySaver())
        approvals.invoke({"amount": 5}, {"configurable": {"thread_id": "a"}})
        asyncio.run(
            agent.ainvoke(
                {"messages": [HumanMessage("where is 7?", id="h")]}, {"configurable": {"thread_id": "b"}}
            )
        )
        roots = sorted(s.name for s in exporter.get_finished_spans() if s.parent is None)
        assert roots == ["invoke_agent support_agent", "invoke_workflow approvals"]
        assert any(s.name == "execute_tool lookup_order" for s in exporter.get_finished_spans())
    finally:
        instrumentor.uninstrument()
    exporter.clear()
    _approval(InMemorySaver()).invoke({"amount": 5}, {"configurable": {"thread_id": "c"}})
    assert exporter.get_finished_spans() == ()


class Recorder:
    """A RunObserver that keeps what it hears."""

    def __init__(self) -> None:
        self.heard: list[tuple[Any, ...]] = []

    def node_finished(self, graph: str, node: str, seconds: float, error: bool) -> None:
        self.heard.append(("node", graph, node, error, seconds >= 0))

    def tool_finished(self, tool: str, seconds: float, error: bool) -> None:
        self.heard.append(("tool", tool, error))

    def checkpoint_put(self, seconds: float, size_bytes: int) -> None:
        self.heard.append(("put", size_bytes > 0))

    def interrupt(self, graph: str, node: str) -> None:
        self.heard.append(("interrupt", graph, node))

    def resume(self, graph: str) -> None:
        self.heard.append(("resume", graph))

    def run_finished(self, graph: str, seconds: float, error: str | None) -> None:
        self.heard.append(("run", graph, error))


def test_run_observer_hears_nodes_puts_interrupts_resumes_and_runs(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, _ = exported
    recorder = Recorder()
    graph = instrument(_approval(InMemorySaver()), tracer_provider=provider, observers=[recorder])
    config = {"configurable": {"thread_id": "o"}}
    graph.invoke({"amount": 10}, config)
    first = list(recorder.heard)
    assert ("interrupt", "approvals", "approve") in first
    assert first[-1] == ("run", "approvals", None)
    assert ("put", True) in first and all(h[2] != "__start__" for h in first if h[0] == "node")
    recorder.heard.clear()
    graph.invoke(Command(resume=True), config)
    assert recorder.heard[0] == ("resume", "approvals")
    assert ("node", "approvals", "approve", False, True) in recorder.heard

    agent = instrument(_agent(InMemorySaver()), tracer_provider=provider, observers=[recorder])
    agent.invoke({"messages": [HumanMessage("where is 7?", id="h")]}, {"configurable": {"thread_id": "t"}})
    assert ("tool", "lookup_order", False) in recorder.heard


def test_a_retried_node_is_one_span_with_its_attempts(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    policy = RetryPolicy(max_attempts=3, initial_interval=0.0, jitter=False, retry_on=ConnectionError)
    graph = instrument(_flaky_graph(2, policy), tracer_provider=provider)
    out = graph.invoke({"calls": 0}, {"configurable": {"thread_id": "r"}})
    assert out == {"calls": 3, "done": True}  # the writes of the third attempt, once
    (node,) = [s for s in exporter.get_finished_spans() if s.name == "invoke_node charge"]
    assert node.attributes["langgraph.node.attempt"] == 3
    assert node.attributes["gen_ai.operation.name"] == "invoke_node"
    failed = [e for e in node.events if e.name == "langgraph.attempt.failed"]
    assert [(e.attributes["langgraph.node.attempt"], e.attributes["exception.message"]) for e in failed] == [
        (1, "gateway timeout #1"),
        (2, "gateway timeout #2"),
    ]
    assert node.status.status_code == StatusCode.UNSET

    exporter.clear()
    graph = instrument(_flaky_graph(5, policy), tracer_provider=provider)
    with pytest.raises(ConnectionError):
        graph.invoke({"calls": 0}, {"configurable": {"thread_id": "r2"}})
    (node,) = [s for s in exporter.get_finished_spans() if s.name == "invoke_node charge"]
    assert node.attributes["langgraph.node.attempt"] == 3 and node.status.status_code == StatusCode.ERROR

    exporter.clear()
    instrument(_flaky_graph(0, None), tracer_provider=provider).invoke(
        {}, {"configurable": {"thread_id": "r3"}}
    )
    (node,) = [s for s in exporter.get_finished_spans() if s.name == "invoke_node charge"]
    assert node.attributes["langgraph.node.attempt"] == 1 and not node.events


@pytest.mark.parametrize("run", ["invoke", "ainvoke"])
@pytest.mark.parametrize("provider_kind", ["sampled_out", "no_sdk"])
def test_unrecorded_runs_make_no_spans_and_render_nothing(provider_kind: str, run: str) -> None:
    exporter = InMemorySpanExporter()
    if provider_kind == "sampled_out":
        provider: Any = TracerProvider(sampler=ALWAYS_OFF)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider = NoOpTracerProvider()
    USER["provider"] = provider
    rendered: list[str] = []

    def redact(text: str) -> str:
        rendered.append(text)
        return text

    saver = InMemorySaver()
    graph = instrument(_agent(saver), tracer_provider=provider, capture_content=True, redact=redact)
    config: Any = {"configurable": {"thread_id": "s"}}
    given = {"messages": [HumanMessage("where is 7?", id="h")]}
    out = graph.invoke(given, config) if run == "invoke" else asyncio.run(graph.ainvoke(given, config))
    assert out["messages"][-1].content == "It shipped."
    assert exporter.get_finished_spans() == ()
    assert rendered == []  # content is never computed for a span that does not record
    # the run's ids still go into its checkpoints: a recorded resume can link to it
    history = list(saver.list(config))
    assert len(history) > 3 and all(METADATA_KEY in t.metadata for t in history)
    assert any(t.pending_writes for t in history)  # the writes went through too
    stored = history[0].metadata[METADATA_KEY]
    assert (
        stored["trace_id"] != "0" * 32 if provider_kind == "sampled_out" else stored["trace_id"] == "0" * 32
    )


class StartWatcher(SpanProcessor):
    """A processor that does work in on_start, as some do (e.g. to stamp attributes)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started.append(span.name)
        span.set_attribute("deployment", "blue")


def test_lean_spans_reach_every_processor_and_encode_as_otlp(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    watcher = StartWatcher()
    provider.add_span_processor(watcher)
    graph = instrument(_agent(InMemorySaver()), tracer_provider=provider)
    graph.invoke({"messages": [HumanMessage("where is 7?", id="h")]}, {"configurable": {"thread_id": "l"}})
    finished = exporter.get_finished_spans()
    ours = [s for s in finished if s.instrumentation_scope and s.instrumentation_scope.name == "lgscope"]
    assert {s.name for s in ours} >= {"invoke_node agent", "execute_tool lookup_order", "checkpoint put"}
    assert sorted(watcher.started) == sorted(s.name for s in finished)
    assert all(s.attributes["deployment"] == "blue" for s in finished)
    assert len({s.context.span_id for s in finished}) == len(finished)
    assert len({s.context.trace_id for s in finished}) == 1
    request = encode_spans(finished)  # the real OTLP protobuf the exporters send
    (resource_spans,) = request.resource_spans
    encoded = [span for scope in resource_spans.scope_spans for span in scope.spans]
    assert sorted(s.name for s in encoded) == sorted(s.name for s in finished)
    put = next(s for s in encoded if s.name == "checkpoint put")
    assert {a.key for a in put.attributes} >= {"langgraph.checkpoint.bytes", "langgraph.checkpoint.id"}
    # the processor read the attributes of spans that make them late: they are all there
    for span in finished:
        if span.name == "checkpoint put":
            assert span.attributes["langgraph.thread.id"] == "l"
            assert span.attributes["langgraph.checkpoint.bytes"] > 0
        elif span.name == "invoke_node agent":
            assert span.attributes["langgraph.node"] == "agent"


def test_a_failing_checkpoint_write_is_an_error_span(
    exported: tuple[TracerProvider, InMemorySpanExporter], tmp_path: Path
) -> None:
    provider, exporter = exported
    path = tmp_path / "ro.sqlite"
    SqliteSaver(sqlite3.connect(path)).setup()
    readonly = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    saver = SqliteSaver(readonly)
    saver.is_setup = True
    graph = instrument(_approval(saver), tracer_provider=provider)
    with pytest.raises(sqlite3.OperationalError, match=re.compile("readonly", re.I)):
        graph.invoke({"amount": 1}, {"configurable": {"thread_id": "w"}})
    failed = [
        s
        for s in exporter.get_finished_spans()
        if s.name.startswith("checkpoint put") and s.status.status_code == StatusCode.ERROR
    ]
    assert failed, [s.name for s in exporter.get_finished_spans()]
    (event,) = [e for e in failed[0].events if e.name == "exception"]
    assert event.attributes["exception.type"] == "sqlite3.OperationalError"
    (root,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert failed[0].context.trace_id == root.context.trace_id


def test_user_spans_inside_nodes_still_nest(exported: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = exported
    tracer = provider.get_tracer("app")

    class S(TypedDict, total=False):
        n: int

    def work(state: S) -> S:
        with tracer.start_as_current_span("db query") as span:
            span.set_attribute("rows", 3)
        trace.get_current_span().set_attribute("app.note", "from inside the node")
        return {"n": 1}

    g = StateGraph(S)
    g.add_node("work", work)
    g.add_edge(START, "work")
    instrument(g.compile(checkpointer=InMemorySaver()), tracer_provider=provider).invoke(
        {}, {"configurable": {"thread_id": "u"}}
    )
    spans: dict[str, ReadableSpan] = {s.name: s for s in exporter.get_finished_spans()}
    node, query = spans["invoke_node work"], spans["db query"]
    assert query.parent is not None and query.parent.span_id == node.context.span_id
    assert node.attributes["app.note"] == "from inside the node"


def test_uninstrument_gives_the_saver_back_untouched(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    saver = InMemorySaver()
    serde = saver.serde
    graph = _agent(saver)
    instrument(graph, tracer_provider=provider)
    assert graph.checkpointer is not saver and saver.serde is not serde
    uninstrument(graph)
    assert graph.checkpointer is saver and saver.serde is serde
    graph.invoke({"messages": [HumanMessage("where is 7?", id="h")]}, {"configurable": {"thread_id": "u"}})
    scopes = {s.instrumentation_scope.name for s in exporter.get_finished_spans() if s.instrumentation_scope}
    assert scopes == {"user-code"}  # the app's own spans only


class Ends(SpanProcessor):
    def __init__(self) -> None:
        self.ended: list[Any] = []

    def on_end(self, span: Any) -> None:
        self.ended.append(span)


def test_a_recorded_but_unsampled_run_reaches_processors_and_not_the_batch_exporter() -> None:
    """RECORD_ONLY: spans are recorded for processors, but the batch processor exports only
    sampled spans (lgscope feeds its queue directly only for sampled runs)."""

    class RecordOnly(Sampler):
        def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
            return SamplingResult(Decision.RECORD_ONLY)

        def get_description(self) -> str:
            return "record only"

    exporter, ends = InMemorySpanExporter(), Ends()
    provider = TracerProvider(sampler=RecordOnly())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    provider.add_span_processor(ends)
    USER["provider"] = provider
    graph = instrument(_approval(InMemorySaver()), tracer_provider=provider)
    graph.invoke({"amount": 1}, {"configurable": {"thread_id": "r"}})
    provider.force_flush()
    assert exporter.get_finished_spans() == ()
    names = [s.name for s in ends.ended]
    assert "checkpoint put" in names and any(n.startswith("invoke_node") for n in names)
    assert not any(s.context.trace_flags.sampled for s in ends.ended)


class Watching(Sampler):
    """The SDK's default sampler, remembering what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def should_sample(
        self, context: Any, trace_id: int, name: str, *args: Any, **kwargs: Any
    ) -> SamplingResult:
        attributes = kwargs.get("attributes", args[1] if len(args) > 1 else None)
        self.asked.append((name, dict(attributes or {})))
        return ParentBased(ALWAYS_ON).should_sample(context, trace_id, name, *args, **kwargs)

    def get_description(self) -> str:
        return "watching"


def test_a_run_inside_an_application_span_is_its_child_and_the_sampler_decides() -> None:
    exporter, sampler = InMemorySpanExporter(), Watching()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    USER["provider"] = provider
    graph = instrument(_approval(InMemorySaver()), tracer_provider=provider)
    with provider.get_tracer("app").start_as_current_span("POST /refunds") as request:
        graph.invoke({"amount": 1}, {"configurable": {"thread_id": "in-request"}})
    spans = {s.name: s for s in exporter.get_finished_spans()}
    root = next(s for s in spans.values() if s.name.startswith(("invoke_workflow", "invoke_agent")))
    assert root.parent is not None and root.parent.span_id == request.get_span_context().span_id
    assert {s.context.trace_id for s in spans.values()} == {request.get_span_context().trace_id}
    asked = [attributes for name, attributes in sampler.asked if name == root.name]
    assert asked and asked[0]["gen_ai.conversation.id"] == "in-request"


_TRACE_STATE = trace.TraceState([("vendor", "v1")])
_PARENTS = {
    "none": None,
    "local sampled": trace.SpanContext(7, 8, False, trace.TraceFlags(1), _TRACE_STATE),
    "local unsampled": trace.SpanContext(7, 8, False, trace.TraceFlags(0), _TRACE_STATE),
    "remote sampled": trace.SpanContext(7, 8, True, trace.TraceFlags(1), _TRACE_STATE),
    "remote unsampled": trace.SpanContext(7, 8, True, trace.TraceFlags(0), _TRACE_STATE),
}
_SAMPLERS = {
    "default": ParentBased(ALWAYS_ON),
    "parent-based off": ParentBased(ALWAYS_OFF),
    "remote unsampled on": ParentBased(ALWAYS_OFF, remote_parent_not_sampled=ALWAYS_ON),
    "always on": ALWAYS_ON,
    "always off": ALWAYS_OFF,
    "ratio": TraceIdRatioBased(0.5),  # asked for every root
}


@pytest.mark.parametrize(
    ("sampler", "parent"),
    # the ratio sampler with no parent: each root has a new trace id, and so a decision of its own
    [(s, p) for s in _SAMPLERS for p in _PARENTS if (s, p) != ("ratio", "none")],
)
def test_a_root_is_started_as_the_sdk_s_tracer_would_start_it(sampler: str, parent: str) -> None:
    """The root decides, names and parents itself as the SDK's ``start_span`` does, whether
    the sampler's decisions are resolved once (static and parent-based static samplers) or
    asked for every root."""
    provider = TracerProvider(sampler=_SAMPLERS[sampler])
    tracer = provider.get_tracer("test")
    context = _PARENTS[parent]
    scope = trace.use_span(trace.NonRecordingSpan(context)) if context else contextlib.nullcontext()
    with scope:
        started = _lean.RootStarter(tracer).start("run", {"a": 1}, ())
        theirs: Any = tracer.start_span("run", attributes={"a": 1})
    assert started is not None
    ours, factory = started
    mine, sdk = ours.get_span_context(), theirs.get_span_context()
    assert ours.is_recording() == theirs.is_recording()
    assert (factory is None) == (not theirs.is_recording())
    assert mine.trace_flags == sdk.trace_flags and mine.trace_state == sdk.trace_state
    assert mine.is_valid and not mine.is_remote and mine.span_id != sdk.span_id
    if context is not None:
        assert mine.trace_id == sdk.trace_id == context.trace_id
    if factory is not None:
        assert ours.parent == theirs.parent and dict(ours.attributes or {}) == {"a": 1}
        ours.end()
        factory.flush()


def _set_from_app_code(span: trace.Span) -> None:
    span.set_attribute("app.list", [1, 2])
    span.set_attribute("app.object", object())  # type: ignore[arg-type]
    span.set_attribute("app.long", "x" * 20)
    span.add_event("checked", {"ok": 1, "bad": object()})  # type: ignore[dict-item]
    for i in range(10):
        span.set_attribute(f"app.n{i}", i)


def test_attributes_set_inside_a_node_are_checked_as_the_sdk_checks_them() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=12, max_span_attribute_length=8))
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    class S(TypedDict, total=False):
        n: int

    def work(state: S) -> S:
        _set_from_app_code(trace.get_current_span())
        return {"n": 1}

    g = StateGraph(S)
    g.add_node("work", work)
    g.add_edge(START, "work")
    instrument(g.compile(checkpointer=InMemorySaver()), tracer_provider=provider).invoke(
        {}, {"configurable": {"thread_id": "limits"}}
    )
    with provider.get_tracer("reference").start_as_current_span("sdk span") as reference:
        _set_from_app_code(reference)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    node, sdk = dict(spans["invoke_node work"].attributes or {}), dict(spans["sdk span"].attributes or {})
    assert len(node) == 12  # the provider's limit, oldest dropped first, as the SDK drops them
    assert node == {k: v for k, v in sdk.items() if k in node}
    assert node["app.long"] == "x" * 8 and node["app.n9"] == 9
    ((event,), (sdk_event,)) = spans["invoke_node work"].events, spans["sdk span"].events
    assert dict(event.attributes or {}) == dict(sdk_event.attributes or {})
    encode_spans(exporter.get_finished_spans())  # what the OTLP exporters send: every value encodes


class Count(TypedDict, total=False):
    n: int


def _in_order(**nodes: Any) -> Any:
    """A graph of ``nodes``, one after the other."""
    g = StateGraph(Count)
    for name, node in nodes.items():
        g.add_node(name, node)
    names = list(nodes)
    g.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    return g.compile(checkpointer=InMemorySaver())


def _chain(length: int) -> Any:
    return _in_order(**{f"node_{i}": lambda s: {"n": s.get("n", 0) + 1} for i in range(length)})


def _run_in_order(provider: TracerProvider, thread_id: str, **nodes: Any) -> None:
    """Run a traced graph of ``nodes``, one after the other, to its end."""
    graph = instrument(_in_order(**nodes), tracer_provider=provider)
    graph.invoke({}, {"configurable": {"thread_id": thread_id}})


def test_a_long_run_hands_checkpoint_spans_over_while_it_runs(
    exported: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's spans below its root are handed over in batches: at the end of a run, and in a
    long run at least every `_MAX_DELAY_NS` (a second; 50 ms here), so a collector sees a long
    run's work."""
    provider, exporter = exported
    monkeypatch.setattr(_lean, "_MAX_DELAY_NS", 50_000_000)
    seen: dict[str, int] = {}

    def slow(state: Count) -> Count:
        time.sleep(0.12)
        return {"n": 1}

    def check(state: Count) -> Count:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the put after `slow` runs on LangGraph's thread
            names = [s.name for s in exporter.get_finished_spans()]
            seen["puts"], seen["slow"] = names.count("checkpoint put"), names.count("invoke_node slow")
            if seen["puts"]:
                break
            time.sleep(0.01)
        return {"n": 2}

    _run_in_order(provider, "long", slow=slow, check=check)
    assert seen["puts"] >= 2  # the run's first checkpoints, exported before the run ended
    assert seen["slow"] == 1  # and the node span that ended before them


def test_a_run_stuck_in_a_node_still_hands_over_what_it_did_before(
    exported: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No span ends while a node hangs: the watcher thread hands the earlier spans over once
    they are due, so a collector shows what a stuck run did."""
    provider, exporter = exported
    monkeypatch.setattr(_lean, "_MAX_DELAY_NS", 50_000_000)
    seen: list[str] = []

    def stuck(state: Count) -> Count:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "invoke_node first" not in seen:
            seen[:] = [s.name for s in exporter.get_finished_spans()]
            time.sleep(0.02)
        return {"n": 2}

    _run_in_order(provider, "stuck", first=lambda s: {"n": 1}, stuck=stuck)
    assert "invoke_node first" in seen and "checkpoint put" in seen
    assert "invoke_node stuck" not in seen  # seen while it ran


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_process_forked_in_a_node_does_not_hand_over_the_parent_s_spans(
    exported: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node that forks (a process pool, say): the child has a copy of the run's pending spans,
    which are the parent's to hand over; the child's copy of the exporter must stay as it was."""
    provider, exporter = exported
    monkeypatch.setattr(_lean, "_MAX_DELAY_NS", 50_000_000)
    status: dict[str, int] = {}

    def firsts() -> int:
        return [s.name for s in exporter._finished_spans].count("invoke_node first")

    def forks(state: Count) -> Count:
        before = firsts()
        pid = os.fork()
        if pid == 0:  # the child runs a graph of its own, waits past a few hand-overs, reports
            try:
                graph = instrument(_chain(1), tracer_provider=provider)
                # a run of its own (in this thread's context it would be a subgraph of the node's)
                contextvars.Context().run(graph.invoke, {}, {"configurable": {"thread_id": "c"}})
                time.sleep(0.4)
                os._exit(0 if firsts() == before else 1)
            finally:
                os._exit(2)
        _, status["code"] = os.waitpid(pid, 0)
        return {"n": 2}

    _run_in_order(provider, "fork", first=lambda s: {"n": 1}, forks=forks)
    assert os.waitstatus_to_exitcode(status["code"]) == 0
    assert "invoke_node first" in [s.name for s in exporter.get_finished_spans()]  # the parent's


def test_the_batch_queue_gets_a_run_s_spans_in_the_order_they_ended() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    instrument(_chain(6), tracer_provider=provider).invoke({}, {"configurable": {"thread_id": "o"}})
    provider.force_flush()
    names = [s.name for s in exporter.get_finished_spans()]
    assert [n for n in names if n.startswith("invoke_node")] == [f"invoke_node node_{i}" for i in range(6)]
    assert names[-1] == "invoke_workflow LangGraph"  # the root ends last
    assert len(names) == len(set(id(s) for s in exporter.get_finished_spans()))
    # checkpoint spans, made from records at the hand-over, take their places among the others
    assert "checkpoint put" in names and "checkpoint put_writes" in names
    ends = [s.end_time for s in exporter.get_finished_spans()]
    assert ends == sorted(ends)


@pytest.mark.parametrize("count", [5, 12])
def test_a_batch_lands_in_the_sdk_queue_as_the_spans_would_one_by_one(
    count: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Five spans fit the queue of eight and go in at once; twelve do not, and go one by one,
    so the SDK drops the oldest and warns. The queues' worker threads are held off (their
    export lock) so that the queues can be compared."""
    source = InMemorySpanExporter()
    made = TracerProvider()
    made.add_span_processor(SimpleSpanProcessor(source))
    for i in range(count):
        made.get_tracer("t").start_span(f"s{i}").end()
    spans = list(source.get_finished_spans())
    ours, theirs = (
        BatchSpanProcessor(InMemorySpanExporter(), max_queue_size=8, max_export_batch_size=8) for _ in "ab"
    )
    batchers: list[Any] = [p._batch_processor for p in (ours, theirs)]
    # the installed SDK's queueing is the one lgscope repeats for a batch (else: one by one)
    assert _lean._hand(ours).__qualname__.startswith("_hand.")
    with batchers[0]._export_lock, batchers[1]._export_lock, caplog.at_level("WARNING"):
        _lean._hand(ours)(spans)
        warned = [r.getMessage() for r in caplog.records]
        for span in spans:
            theirs.on_end(span)
        assert list(batchers[0]._queue) == list(batchers[1]._queue) == spans[::-1][:8]
    assert any("Queue full" in m for m in warned) == (count > 8)


def test_a_processor_lgscope_does_not_know_gets_every_span_by_itself() -> None:
    """A subclass of the batch processor may do anything in ``on_end``: it is called."""

    class Counting(BatchSpanProcessor):
        def __init__(self, exporter: InMemorySpanExporter) -> None:
            super().__init__(exporter)
            self.ends = 0

        def on_end(self, span: ReadableSpan) -> None:
            self.ends += 1
            super().on_end(span)

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    processor = Counting(exporter)
    provider.add_span_processor(processor)
    instrument(_chain(3), tracer_provider=provider).invoke({}, {"configurable": {"thread_id": "c"}})
    provider.force_flush()
    assert processor.ends == len(exporter.get_finished_spans()) > 3


def test_checkpoint_attributes_are_made_once_by_their_first_reader() -> None:
    """A checkpoint span keeps what it did and makes its attributes when first read after it
    ended (by the exporter's thread, off the run): readers racing get the same attributes, and
    the run's config is not kept once they are made."""
    ends = Ends()
    provider = TracerProvider()
    provider.add_span_processor(ends)
    instrument(_chain(3), tracer_provider=provider).invoke({}, {"configurable": {"thread_id": "m"}})
    puts = [s for s in ends.ended if s.name == "checkpoint put"]
    assert len(puts) == 5  # input, one per node, and the one LangGraph writes first
    assert all(getattr(s, "config", None) is not None for s in puts)  # nothing made yet
    with ThreadPoolExecutor(8) as pool:
        reads = list(pool.map(lambda s: s.attributes, puts * 8))
    for i, span in enumerate(puts):
        assert all(dict(r) == dict(reads[i]) for r in reads[i :: len(puts)])
        assert reads[i]["langgraph.checkpoint.id"] and reads[i]["langgraph.thread.id"] == "m"
        assert span.attributes["langgraph.checkpoint.bytes"] > 0
        assert getattr(span, "config", None) is None


def test_task_path_text_is_remembered_within_a_bound_and_never_for_unhashable_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lgscope.tracing import _instrument

    monkeypatch.setattr(_instrument, "_PATHS", {})
    monkeypatch.setattr(_instrument, "_MAX_PATHS", 2)
    assert _instrument._path_text(("__pregel_pull", "a")) == "__pregel_pull, a"
    assert _instrument._path_text(("__pregel_push", 0, [1])) == "__pregel_push, 0, [1]"
    assert _instrument._path_text(("__pregel_pull", "b")) == "__pregel_pull, b"
    assert _instrument._path_text(("__pregel_pull", "c")) == "__pregel_pull, c"
    assert _instrument._PATHS == {
        ("__pregel_pull", "a"): "__pregel_pull, a",
        ("__pregel_pull", "b"): "__pregel_pull, b",
    }
