"""LangGraphInstrumentor, RunObserver, retries, sampling and processors, on real graphs."""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
from collections.abc import Iterator
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
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import NoOpTracerProvider, StatusCode
from tests.tracing.test_spans import USER, _agent, _approval

from lgscope.tracing import LangGraphInstrumentor, TracedSaver, instrument, uninstrument
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
    instrumentor = LangGraphInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    assert instrumentor.is_instrumented_by_opentelemetry
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
        assert roots == ["invoke_agent approvals", "invoke_agent support_agent"]
        assert any(s.name == "execute_tool lookup_order" for s in exporter.get_finished_spans())
        assert isinstance(approvals.checkpointer, TracedSaver)
    finally:
        instrumentor.uninstrument()
    # the graphs it met have their own checkpointers back, and nothing is traced any more
    assert isinstance(approvals.checkpointer, InMemorySaver)
    exporter.clear()
    approvals.invoke({"amount": 5}, {"configurable": {"thread_id": "c"}})
    _approval(InMemorySaver()).invoke({"amount": 5}, {"configurable": {"thread_id": "d"}})
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
    assert "gen_ai.operation.name" not in node.attributes  # no node convention is merged yet
    failed = [e for e in node.events if e.name == "langgraph.attempt.failed"]
    # an attempt's error message is content: off by default
    assert [(e.attributes["langgraph.node.attempt"], e.attributes["exception.type"]) for e in failed] == [
        (1, "ConnectionError"),
        (2, "ConnectionError"),
    ]
    assert all("exception.message" not in e.attributes for e in failed)
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


def test_spans_reach_every_processor_and_encode_as_otlp(
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
    sampled spans."""

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
    root = spans["invoke_agent approvals"]
    assert root.parent is not None and root.parent.span_id == request.get_span_context().span_id
    assert {s.context.trace_id for s in spans.values()} == {request.get_span_context().trace_id}
    asked = [attributes for name, attributes in sampler.asked if name == root.name]
    assert asked and asked[0]["gen_ai.conversation.id"] == "in-request"


def _originals() -> dict[str, Any]:
    import langgraph.pregel._runner as runner
    from langchain_core.tools import BaseTool
    from langgraph.pregel import Pregel

    return {
        "Pregel.stream": Pregel.__dict__["stream"],
        "Pregel.astream": Pregel.__dict__["astream"],
        "run_with_retry": vars(runner)["run_with_retry"],
        "arun_with_retry": vars(runner)["arun_with_retry"],
        "BaseTool.run": BaseTool.__dict__["run"],
        "BaseTool.arun": BaseTool.__dict__["arun"],
    }


@pytest.mark.parametrize("stops", list(itertools.permutations("AGR")))
@pytest.mark.parametrize("starts", list(itertools.permutations("AGR")))
def test_every_order_of_instrument_record_and_uninstrument_gives_langgraph_its_functions_back(
    exported: tuple[TracerProvider, InMemorySpanExporter], starts: tuple[str, ...], stops: tuple[str, ...]
) -> None:
    """A: the instrumentor; G: `instrument(graph)`; R: the test recorder. Each wraps some of the
    same functions; whichever stops first, the others keep working, and when all have stopped
    LangGraph's and LangChain's functions are the very objects they were."""
    from lgscope.testing import RunRecorder

    provider, exporter = exported
    before = _originals()
    graph, recorder, instrumentor = _approval(InMemorySaver()), RunRecorder(), LangGraphInstrumentor()
    start = {
        "A": lambda: instrumentor.instrument(tracer_provider=provider),
        "G": lambda: instrument(graph, tracer_provider=provider),
        "R": recorder.start,
    }
    stop = {"A": instrumentor.uninstrument, "G": lambda: uninstrument(graph), "R": recorder.stop}
    for name in starts:
        start[name]()
    graph.invoke({"amount": 1}, {"configurable": {"thread_id": "all"}})
    assert [r.thread_id for r in recorder.runs] == ["all"]
    assert [s.name for s in exporter.get_finished_spans() if s.parent is None] == ["invoke_agent approvals"]
    for i, name in enumerate(stops):
        stop[name]()
        on = set(stops[i + 1 :])
        exporter.clear()
        recorder.runs.clear()
        graph.invoke({"amount": 1}, {"configurable": {"thread_id": f"after-{name}"}})
        roots = [s.name for s in exporter.get_finished_spans() if s.parent is None]
        assert roots == (["invoke_agent approvals"] if on & {"A", "G"} else [])
        assert [r.thread_id for r in recorder.runs] == ([f"after-{name}"] if "R" in on else [])
    assert _originals() == before
    assert all(a is b for a, b in zip(_originals().values(), before.values(), strict=True))
    assert isinstance(graph.checkpointer, InMemorySaver)


def test_the_public_names() -> None:
    import lgscope.tracing

    assert lgscope.tracing.__all__ == [
        "LangGraphInstrumentor",
        "RunObserver",
        "TracedSaver",
        "configure",
        "instrument",
        "shutdown",
        "uninstrument",
    ]
    assert LangGraphInstrumentor().instrumentation_dependencies() == ("langgraph >= 1.2, < 2",)


def test_node_spans_carry_the_proposed_gen_ai_names_when_opted_in(
    exported: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, exporter = exported
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http, gen_ai_latest_experimental")
    instrument(_flaky_graph(0, None), tracer_provider=provider).invoke(
        {}, {"configurable": {"thread_id": "n"}}
    )
    (node,) = [s for s in exporter.get_finished_spans() if s.name == "invoke_node charge"]
    assert node.attributes["gen_ai.operation.name"] == "invoke_node"
    assert node.attributes["gen_ai.node.name"] == "charge" == node.attributes["langgraph.node"]
    assert node.attributes["gen_ai.node.id"] == node.attributes["langgraph.task.id"]
