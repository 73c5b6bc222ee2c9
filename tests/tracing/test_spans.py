"""Span trees from real graphs with the real OTel SDK and an in-memory exporter."""

from __future__ import annotations

import asyncio
import operator
import sqlite3
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, Send, interrupt
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from lgscope.examples._common import scripted_model
from lgscope.tracing import TracedSaver, instrument, uninstrument

USER: dict[str, TracerProvider] = {}


def user_tracer() -> trace.Tracer:
    """What application code inside a node uses (an app would use its global provider)."""
    return USER["provider"].get_tracer("user-code")


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    USER["provider"] = provider
    yield provider, exporter


def _tree(exporter: InMemorySpanExporter) -> dict[str, Any]:
    finished = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    return {"spans": finished, "parent": lambda s: by_id.get(s.parent.span_id) if s.parent else None}


def _names(finished: tuple[ReadableSpan, ...], prefix: str) -> list[str]:
    return [s.name for s in finished if s.name.startswith(prefix)]


@tool
def lookup_order(order_id: str) -> str:
    """Look up an order."""
    with user_tracer().start_as_current_span("orders-api GET"):
        return f"order {order_id}: shipped"


class AgentState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _agent(checkpointer: Any) -> Any:
    model = scripted_model(
        [
            AIMessage(
                "", id="a1", tool_calls=[{"name": "lookup_order", "args": {"order_id": "7"}, "id": "call-1"}]
            ),
            AIMessage("It shipped.", id="a2"),
        ]
    )

    def agent(state: AgentState) -> AgentState:
        with user_tracer().start_as_current_span("prompt-render"):
            pass
        return {"messages": [model.invoke(state["messages"])]}

    def route(state: AgentState) -> str:
        return "tools" if state["messages"][-1].tool_calls else END  # type: ignore[union-attr]

    g = StateGraph(AgentState)
    g.add_node("agent", agent)
    g.add_node("tools", ToolNode([lookup_order]))
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", route, ["tools", END])
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=checkpointer, name="support_agent")


def _check_agent_tree(exporter: InMemorySpanExporter) -> None:
    t = _tree(exporter)
    finished, parent = t["spans"], t["parent"]
    (root,) = [s for s in finished if s.parent is None]
    assert root.name == "invoke_agent support_agent"
    assert root.attributes["gen_ai.conversation.id"] == "t-1"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    nodes = [s for s in finished if s.name.startswith("invoke_node ")]
    # LangGraph's own input task (__start__) is hidden, as LangGraph hides it from its traces
    assert [s.name for s in sorted(nodes, key=lambda s: s.start_time)] == [
        "invoke_node agent",
        "invoke_node tools",
        "invoke_node agent",
    ]
    assert all(parent(s) is root for s in nodes)
    assert [n.attributes["langgraph.step"] for n in sorted(nodes, key=lambda s: s.start_time)] == [1, 2, 3]
    (tool_span,) = [s for s in finished if s.name == "execute_tool lookup_order"]
    assert parent(tool_span).name == "invoke_node tools"
    assert tool_span.attributes["gen_ai.tool.name"] == "lookup_order"
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call-1"
    (api,) = [s for s in finished if s.name == "orders-api GET"]
    assert parent(api) is tool_span
    renders = [s for s in finished if s.name == "prompt-render"]
    assert len(renders) == 2 and all(parent(s).name == "invoke_node agent" for s in renders)
    puts = [s for s in finished if s.name == "checkpoint put"]
    assert puts and all(s.attributes["langgraph.checkpoint.bytes"] > 0 for s in puts)
    # checkpoint spans, made when the run's spans are handed over, keep when and where they ran
    ours = [s for s in finished if s.name.startswith("checkpoint ")]
    assert all(parent(s) is root or parent(s) in nodes for s in ours)
    assert all(root.start_time <= s.start_time <= s.end_time <= root.end_time for s in ours)
    assert all(s.status.status_code != StatusCode.ERROR for s in finished)


def test_sync_span_tree(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    graph = instrument(_agent(InMemorySaver()), tracer_provider=provider)
    graph.invoke({"messages": [HumanMessage("where is 7?", id="h")]}, {"configurable": {"thread_id": "t-1"}})
    _check_agent_tree(exporter)


def test_async_span_tree(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    graph = instrument(_agent(InMemorySaver()), tracer_provider=provider)
    asyncio.run(
        graph.ainvoke(
            {"messages": [HumanMessage("where is 7?", id="h")]}, {"configurable": {"thread_id": "t-1"}}
        )
    )
    _check_agent_tree(exporter)


class FanState(TypedDict, total=False):
    items: Annotated[list[int], operator.add]


def test_send_branches_and_subgraph_nodes_are_parented(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    sub = StateGraph(FanState)
    sub.add_node("inner", lambda s: {"items": [100]})
    sub.add_edge(START, "inner")
    g = StateGraph(FanState)
    g.add_node("work", lambda s: {"items": [s["items"][0] * 2]})
    g.add_node("child", sub.compile())
    g.add_conditional_edges(START, lambda s: [Send("work", {"items": [i]}) for i in range(3)], ["work"])
    g.add_edge("work", "child")
    graph = instrument(g.compile(checkpointer=InMemorySaver(), name="fanout"), tracer_provider=provider)
    graph.invoke({"items": []}, {"configurable": {"thread_id": "f"}})
    t = _tree(exporter)
    finished, parent = t["spans"], t["parent"]
    (root,) = [s for s in finished if s.parent is None]
    work = [s for s in finished if s.name == "invoke_node work"]
    assert len(work) == 3 and all(parent(s) is root for s in work)
    assert len({s.attributes["langgraph.task.id"] for s in work}) == 3
    (child,) = [s for s in finished if s.name == "invoke_node child"]
    (inner,) = [s for s in finished if s.name == "invoke_node inner"]
    assert parent(inner) is child
    assert inner.attributes["langgraph.checkpoint_ns"].startswith("child:")


class ApprovalState(TypedDict, total=False):
    amount: int
    approved: bool


def _approval(checkpointer: Any) -> Any:
    def approve(state: ApprovalState) -> ApprovalState:
        return {"approved": bool(interrupt({"amount": state["amount"]}))}

    g = StateGraph(ApprovalState)
    g.add_node("approve", approve)
    g.add_edge(START, "approve")
    g.add_edge("approve", END)
    return g.compile(checkpointer=checkpointer, name="approvals")


def test_interrupt_is_an_event_and_a_resume_links_back(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    graph = instrument(_approval(InMemorySaver()), tracer_provider=provider)
    config = {"configurable": {"thread_id": "a"}}
    graph.invoke({"amount": 9000}, config)
    first = [s for s in exporter.get_finished_spans() if s.parent is None][0]
    (node,) = [s for s in exporter.get_finished_spans() if s.name == "invoke_node approve"]
    (event,) = node.events
    snapshot = graph.get_state(config)
    iid = snapshot.interrupts[0].id
    assert (event.name, list(event.attributes["langgraph.interrupt.ids"])) == ("langgraph.interrupt", [iid])
    assert node.status.status_code == StatusCode.UNSET and first.attributes["langgraph.interrupted"] is True
    # the root hears it from LangGraph's lifecycle callbacks, with the checkpoint it stopped at
    (heard,) = first.events
    assert heard.name == "langgraph.interrupt" and list(heard.attributes["langgraph.interrupt.ids"]) == [iid]
    assert heard.attributes["langgraph.checkpoint.id"] == snapshot.config["configurable"]["checkpoint_id"]
    exporter.clear()
    graph.invoke(Command(resume=True), config)
    (second,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert second.attributes["langgraph.resumed"] is True
    (link,) = second.links
    assert (link.context.trace_id, link.context.span_id) == (first.context.trace_id, first.context.span_id)


def test_a_resume_links_back_through_a_saver_the_app_wrapped_itself(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    saver = TracedSaver(InMemorySaver(), provider.get_tracer("app"))
    graph = instrument(_approval(saver), tracer_provider=provider)
    config = {"configurable": {"thread_id": "wrapped"}}
    graph.invoke({"amount": 9000}, config)
    (first,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    exporter.clear()
    graph.invoke(Command(resume=True), config)
    (second,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert [link.context.span_id for link in second.links] == [first.context.span_id]


def test_each_resume_names_the_interrupts_it_answers(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """A node that asks twice: the second run interrupts again without writing a checkpoint,
    so the third links to the run that wrote one, and names the interrupt it answers, which is
    on the second run's node span."""
    provider, exporter = spans

    class Review(TypedDict, total=False):
        first: str
        second: str

    def review(state: Review) -> Review:
        return {"first": interrupt("first?"), "second": interrupt("second?")}

    g = StateGraph(Review)
    g.add_node("review", review)
    g.add_edge(START, "review")
    graph = instrument(g.compile(checkpointer=InMemorySaver()), tracer_provider=provider)
    config = {"configurable": {"thread_id": "twice"}}
    runs = []
    for given in ({}, Command(resume="yes"), Command(resume="also")):
        exporter.clear()
        graph.invoke(given, config)
        finished = exporter.get_finished_spans()
        (root,) = [s for s in finished if s.parent is None]
        asked = [
            list(e.attributes["langgraph.interrupt.ids"])
            for s in finished
            if s.name.startswith("invoke_node ")
            for e in s.events
        ]
        runs.append((root, asked))
    (first, asked_first), (second, asked_second), (third, asked_third) = runs
    assert graph.get_state(config).values == {"first": "yes", "second": "also"}
    assert asked_first and asked_second and not asked_third and asked_first != asked_second
    assert [list(r.attributes["langgraph.resume.interrupt_ids"]) for r in (second, third)] == [
        asked_first[0],
        asked_second[0],
    ]
    assert [link.context.span_id for r in (second, third) for link in r.links] == [
        first.context.span_id,
        first.context.span_id,
    ]


@pytest.mark.parametrize("capture", [False, True])
def test_errors_mark_the_node_span_and_their_message_is_content(
    spans: tuple[TracerProvider, InMemorySpanExporter], capture: bool
) -> None:
    import re

    provider, exporter = spans
    g = StateGraph(ApprovalState)

    def boom(state: ApprovalState) -> ApprovalState:
        raise ValueError("card declined")

    g.add_node("charge", boom)
    g.add_edge(START, "charge")
    graph = instrument(
        g.compile(name="billing"),
        tracer_provider=provider,
        capture_content=capture,
        redact=re.compile("declined"),
    )
    with pytest.raises(ValueError):
        graph.invoke({"amount": 1})
    (node,) = [s for s in exporter.get_finished_spans() if s.name == "invoke_node charge"]
    (root,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    expected = "ValueError: card [REDACTED]" if capture else "ValueError"
    for span in (node, root):
        assert span.status.status_code == StatusCode.ERROR and span.status.description == expected
        (event,) = span.events
        assert event.name == "exception" and event.attributes["exception.type"] == "ValueError"
        assert event.attributes.get("exception.message") == ("card [REDACTED]" if capture else None)
        assert "declined" not in str(dict(event.attributes)) + str(span.status.description)
    assert root.name == "invoke_agent billing" and root.attributes["gen_ai.agent.name"] == "billing"


def test_no_content_by_default_and_attributes_do_not_grow_with_state(
    spans: tuple[TracerProvider, InMemorySpanExporter], tmp_path: Any
) -> None:
    provider, exporter = spans

    def attribute_bytes(size: int) -> int:
        exporter.clear()
        conn = sqlite3.connect(tmp_path / f"{size}.sqlite", check_same_thread=False)
        graph = instrument(_approval(SqliteSaver(conn)), tracer_provider=provider)
        graph.invoke({"amount": 1, "blob": "x" * size}, {"configurable": {"thread_id": "big"}})  # type: ignore[typeddict-unknown-key]
        total = 0
        for s in exporter.get_finished_spans():
            if s.name == "checkpoint put":
                continue  # its byte count is a number: same size whatever its value
            total += sum(len(str(k)) + len(str(v)) for k, v in s.attributes.items())
        return total

    small, large = attribute_bytes(10), attribute_bytes(200_000)
    assert small == large
    for s in exporter.get_finished_spans():
        assert "langgraph.input" not in s.attributes and "x" * 100 not in str(s.attributes)


def test_content_capture_is_redacted_and_capped(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    import re

    provider, exporter = spans
    graph = instrument(
        _approval(InMemorySaver()),
        tracer_provider=provider,
        capture_content=True,
        redact=re.compile(r"\b\d{4}\b"),
        content_limit=64,
    )
    graph.invoke({"amount": 9000}, {"configurable": {"thread_id": "c"}})
    (node,) = [s for s in exporter.get_finished_spans() if s.name == "invoke_node approve"]
    assert node.attributes["langgraph.input"] == '{"amount": [REDACTED]}'


def test_uninstrument_stops_spans(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    graph = instrument(_approval(InMemorySaver()), tracer_provider=provider)
    uninstrument(graph)
    graph.invoke({"amount": 1}, {"configurable": {"thread_id": "u"}})
    assert exporter.get_finished_spans() == ()


def test_a_traced_saver_keeps_its_serializer_s_kind_and_allowlist(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """LangGraph derives a msgpack allowlist per run (strict msgpack) by the serializer's class:
    the byte-counting serializer must still be one, or the allowlist would be silently dropped."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    provider, exporter = spans
    saver = InMemorySaver(serde=JsonPlusSerializer(allowed_msgpack_modules=[("m", "A")]))
    before = saver.serde

    class S(TypedDict):
        n: int

    g = StateGraph(S)
    g.add_node("inc", lambda s: {"n": s["n"] + 1})
    g.add_edge(START, "inc")
    g.add_edge("inc", END)
    graph = instrument(g.compile(checkpointer=saver), tracer_provider=provider)
    traced = graph.checkpointer
    assert isinstance(saver.serde, JsonPlusSerializer) and saver.serde is not before
    assert traced.with_allowlist([("m", "A")]) is traced  # nothing new: the same saver
    widened = traced.with_allowlist([("m", "B")])
    assert isinstance(widened.inner.serde, JsonPlusSerializer)
    assert set(widened.inner.serde._allowed_msgpack_modules) == {("m", "A"), ("m", "B")}
    graph.checkpointer = widened
    graph.invoke({"n": 1}, {"configurable": {"thread_id": "t"}})
    puts = [s for s in exporter.get_finished_spans() if s.name == "checkpoint put"]
    assert puts and all(s.attributes["langgraph.checkpoint.bytes"] > 0 for s in puts)
    graph.checkpointer = traced
    uninstrument(graph)
    assert graph.checkpointer is saver and saver.serde is before


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_checkpoint_spans_name_what_was_written(
    spans: tuple[TracerProvider, InMemorySpanExporter], mode: str
) -> None:
    """Each put names the checkpoint it wrote; each put_writes the checkpoint its writes belong
    to and how many it wrote; sizes are what the serializer produced. Checked against the
    saver's own history."""
    provider, exporter = spans
    saver = InMemorySaver()
    graph = instrument(_agent(saver), tracer_provider=provider)
    config: Any = {"configurable": {"thread_id": f"cp-{mode}"}}
    question = {"messages": [HumanMessage("where is 7?", id="h")]}
    if mode == "sync":
        graph.invoke(question, config)
    else:
        asyncio.run(graph.ainvoke(question, config))
    finished = exporter.get_finished_spans()
    (root,) = [s for s in finished if s.parent is None and s.name.startswith("invoke_")]
    ours = [s for s in finished if s.name.startswith("checkpoint ")]
    history = list(saver.list(config))
    ids = [t.config["configurable"]["checkpoint_id"] for t in history]
    puts = [s for s in ours if s.name == "checkpoint put"]
    assert sorted(s.attributes["langgraph.checkpoint.id"] for s in puts) == sorted(ids)
    writes = [s for s in ours if s.name == "checkpoint put_writes"]
    stored = {(t.config["configurable"]["checkpoint_id"], len(t.pending_writes or ())) for t in history}
    assert writes and all(s.attributes["langgraph.checkpoint.id"] in ids for s in writes)
    per_checkpoint: dict[str, int] = {}
    for s in writes:
        per_checkpoint[s.attributes["langgraph.checkpoint.id"]] = (
            per_checkpoint.get(s.attributes["langgraph.checkpoint.id"], 0)
            + s.attributes["langgraph.checkpoint.writes"]
        )
    assert set(per_checkpoint.items()) <= stored
    assert all(s.attributes["langgraph.checkpoint.bytes"] > 0 for s in puts + writes)
    for s in ours:
        assert s.attributes["langgraph.thread.id"] == f"cp-{mode}"
        assert s.attributes["langgraph.checkpoint_ns"] == ""
        assert s.context.trace_id == root.context.trace_id
        assert s.start_time is not None and s.end_time is not None and s.start_time <= s.end_time
        assert root.start_time <= s.start_time and s.end_time <= root.end_time


def test_functional_api_tasks_get_node_spans_with_their_paths(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """An ``@entrypoint`` and the ``@task`` calls it makes: a span each, under the run, with the
    task's path as text (a pushed task's path holds its parent's path and its index)."""
    from langgraph.func import entrypoint, task

    provider, exporter = spans

    @task
    def double(x: int) -> int:
        return 2 * x

    @entrypoint(checkpointer=InMemorySaver())
    def flow(n: int) -> int:
        return sum(f.result() for f in [double(i) for i in range(n)])

    instrument(flow, tracer_provider=provider)
    for thread in ("f1", "f2"):  # the second run's paths are the first's, as remembered text
        assert flow.invoke(3, {"configurable": {"thread_id": thread}}) == 6
    finished = exporter.get_finished_spans()
    tree = _tree(exporter)
    for thread in ("f1", "f2"):
        (root,) = [
            s for s in finished if s.parent is None and s.attributes["gen_ai.conversation.id"] == thread
        ]
        nodes = [
            s
            for s in finished
            if s.name.startswith("invoke_node") and s.context.trace_id == root.context.trace_id
        ]
        paths = sorted(s.attributes["langgraph.task.path"] for s in nodes)
        assert paths == [
            "__pregel_pull, flow",
            *(f"__pregel_push, ('__pregel_pull', 'flow'), {i}, True" for i in range(3)),
        ]
        (entry,) = [s for s in nodes if s.name == "invoke_node flow"]
        assert tree["parent"](entry) is root
        assert all(s.attributes["langgraph.node"] == "double" for s in nodes if s is not entry)
        assert all(isinstance(s.attributes["langgraph.task.id"], str) for s in nodes)
