"""`TracedSaver`: what LangGraph gets back is unchanged, and checkpoint spans follow the
database conventions, on real savers and graphs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from tests.tracing.test_spans import _approval

from lgscope.tracing import TracedSaver, instrument
from lgscope.tracing._attributes import METADATA_KEY


@pytest.fixture
def exported() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter


def _everything_read(graph: Any, config: Any) -> list[dict[str, Any]]:
    """Every checkpoint metadata LangGraph hands back for a thread, through every read path."""
    saver = graph.checkpointer
    out = [dict(graph.get_state(config).metadata)]
    out += [dict(s.metadata) for s in graph.get_state_history(config)]
    out.append(dict(saver.get_tuple(config).metadata))
    out += [dict(t.metadata) for t in saver.list(config)]
    return out


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_what_langgraph_reads_back_is_what_an_uninstrumented_graph_reads(
    exported: tuple[TracerProvider, InMemorySpanExporter], kind: str, tmp_path: Path
) -> None:
    def saver(name: str) -> Any:
        if kind == "memory":
            return InMemorySaver()
        return SqliteSaver(sqlite3.connect(tmp_path / f"{name}.sqlite", check_same_thread=False))

    provider, _ = exported
    plain, traced = (
        _approval(saver("plain")),
        instrument(_approval(saver("traced")), tracer_provider=provider),
    )
    config: Any = {"configurable": {"thread_id": "same"}}
    seen = {}
    for name, graph in (("plain", plain), ("traced", traced)):
        debug = [
            {k: v for k, v in chunk["payload"].get("metadata", {}).items()}
            for chunk in graph.stream({"amount": 3}, config, stream_mode="debug")
            if chunk["type"] == "checkpoint"
        ]
        debug += [
            dict(chunk["payload"].get("metadata", {}))
            for chunk in graph.stream(Command(resume=True), config, stream_mode="debug")
            if chunk["type"] == "checkpoint"
        ]
        seen[name] = (debug, _everything_read(graph, config))
    assert seen["traced"] == seen["plain"]
    assert all(METADATA_KEY not in m for m in seen["traced"][1])
    # the link data is still stored, where lgscope reads it for a resume
    inner = traced.checkpointer.inner
    assert all(METADATA_KEY in t.metadata for t in inner.list(config))


async def test_the_async_reads_hide_lgscope_s_metadata_too(
    exported: tuple[TracerProvider, InMemorySpanExporter], tmp_path: Path
) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    provider, _ = exported
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "a.sqlite")) as saver:
        graph = instrument(_approval(saver), tracer_provider=provider)
        config: Any = {"configurable": {"thread_id": "async"}}
        await graph.ainvoke({"amount": 3}, config)
        await graph.ainvoke(Command(resume=True), config)
        read = [dict((await graph.aget_state(config)).metadata)]
        read += [dict(s.metadata) async for s in graph.aget_state_history(config)]
        read.append(dict((await graph.checkpointer.aget_tuple(config)).metadata))
        read += [dict(t.metadata) async for t in graph.checkpointer.alist(config)]
        assert len(read) > 4 and all(METADATA_KEY not in m for m in read)
        stored = [METADATA_KEY in t.metadata async for t in saver.alist(config)]
        assert stored and all(stored)


class OldSaver(InMemorySaver):
    """A saver written before ``put_writes`` took ``task_path``: LangGraph adapts to it."""

    def put_writes(self, config: Any, writes: Any, task_id: str) -> None:  # type: ignore[override]
        super().put_writes(config, writes, task_id)

    async def aput_writes(self, config: Any, writes: Any, task_id: str) -> None:  # type: ignore[override]
        super().put_writes(config, writes, task_id)


@pytest.mark.parametrize("run", ["invoke", "ainvoke"])
def test_a_saver_without_task_path_is_called_without_it(
    exported: tuple[TracerProvider, InMemorySpanExporter], run: str
) -> None:
    provider, exporter = exported
    saver = OldSaver()
    graph = instrument(_approval(saver), tracer_provider=provider)
    config: Any = {"configurable": {"thread_id": "old"}}
    if run == "invoke":
        graph.invoke({"amount": 3}, config)
    else:
        asyncio.run(graph.ainvoke({"amount": 3}, config))
    assert graph.get_state(config).interrupts  # the interrupt's write went through
    assert [s for s in exporter.get_finished_spans() if s.name == "checkpoint put_writes"]


class Pair(TypedDict, total=False):
    quick: bool
    slow: bool


async def test_closing_astream_cancels_the_nodes_still_running(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def quick(state: Pair) -> Pair:
        await started.wait()
        return {"quick": True}

    async def slow(state: Pair) -> Pair:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {"slow": True}

    g = StateGraph(Pair)
    g.add_node("quick", quick)
    g.add_node("slow", slow)
    g.add_edge(START, "quick")
    g.add_edge(START, "slow")
    graph = instrument(g.compile(checkpointer=InMemorySaver(), name="pair"), tracer_provider=provider)
    stream = graph.astream({}, {"configurable": {"thread_id": "cancel"}}, stream_mode="updates")
    assert await anext(stream) == {"quick": {"quick": True}}
    await stream.aclose()
    await asyncio.wait_for(cancelled.wait(), 5)
    (root,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert root.name == "invoke_agent pair" and root.end_time is not None


def test_checkpoint_spans_follow_the_database_conventions(
    exported: tuple[TracerProvider, InMemorySpanExporter], tmp_path: Path
) -> None:
    provider, exporter = exported
    sqlite_saver = SqliteSaver(sqlite3.connect(tmp_path / "db.sqlite", check_same_thread=False))
    for saver in (sqlite_saver, InMemorySaver()):
        exporter.clear()
        instrument(_approval(saver), tracer_provider=provider).invoke(
            {"amount": 1}, {"configurable": {"thread_id": "db"}}
        )
        spans = {s.name: s for s in exporter.get_finished_spans() if s.name.startswith("checkpoint ")}
        assert set(spans) == {"checkpoint get_tuple", "checkpoint put", "checkpoint put_writes"}
        for name, span in spans.items():
            assert span.attributes["db.operation.name"] == name.split()[1]
            assert span.attributes["langgraph.thread.id"] == "db"
        if saver is sqlite_saver:
            assert {s.kind for s in spans.values()} == {SpanKind.CLIENT}
            assert {s.attributes["db.system.name"] for s in spans.values()} == {"sqlite"}
            assert spans["checkpoint put"].attributes["db.collection.name"] == "checkpoints"
            assert spans["checkpoint put_writes"].attributes["db.collection.name"] == "writes"
        else:  # no database: storage conventions do not apply
            assert {s.kind for s in spans.values()} == {SpanKind.INTERNAL}
            assert all("db.system.name" not in s.attributes for s in spans.values())


@pytest.mark.postgres
def test_postgres_checkpoint_spans_name_the_tables(
    exported: tuple[TracerProvider, InMemorySpanExporter], postgres_url: str
) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    provider, exporter = exported
    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        traced = TracedSaver(saver, provider.get_tracer("t"))
        graph = _approval(traced)
        graph.invoke({"amount": 1}, {"configurable": {"thread_id": "pg"}})
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["checkpoint put"].attributes["db.system.name"] == "postgresql"
    assert spans["checkpoint put_writes"].attributes["db.collection.name"] == "checkpoint_writes"
    assert spans["checkpoint put"].kind == SpanKind.CLIENT


async def test_an_async_resume_on_an_async_saver_links_back(
    exported: tuple[TracerProvider, InMemorySpanExporter], tmp_path: Path
) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    provider, exporter = exported
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "r.sqlite")) as saver:
        graph = instrument(_approval(saver), tracer_provider=provider)
        config: Any = {"configurable": {"thread_id": "async-resume"}}
        await graph.ainvoke({"amount": 3}, config)
        (first,) = [s for s in exporter.get_finished_spans() if s.parent is None]
        exporter.clear()
        await graph.ainvoke(Command(resume=True), config)
    (second,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert [link.context.span_id for link in second.links] == [first.context.span_id]
    assert second.attributes["langgraph.resume.interrupt_ids"]


@pytest.mark.postgres
def test_a_resume_with_a_uuid_thread_id_leaves_a_postgres_pipeline_usable(
    exported: tuple[TracerProvider, InMemorySpanExporter], postgres_url: str
) -> None:
    """The resume's read uses the config LangGraph's own read does (thread id as text): a read
    that failed in pipeline mode would abort LangGraph's next query."""
    import uuid

    from langgraph.checkpoint.postgres import PostgresSaver

    provider, exporter = exported
    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        with saver.conn.pipeline() as pipe:
            saver.pipe = pipe
            graph = instrument(_approval(saver), tracer_provider=provider)
            config: Any = {"configurable": {"thread_id": uuid.uuid4()}}
            graph.invoke({"amount": 3}, config)
            (first,) = [s for s in exporter.get_finished_spans() if s.parent is None]
            exporter.clear()
            assert graph.invoke(Command(resume=True), config) == {"amount": 3, "approved": True}
    (second,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert [link.context.span_id for link in second.links] == [first.context.span_id]
