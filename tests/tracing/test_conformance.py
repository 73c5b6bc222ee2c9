"""`TracedSaver` passes langgraph-checkpoint-conformance (every base capability) around real savers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import BASE_CAPABILITIES
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgscope.tracing import TracedSaver

BASE = {c.value for c in BASE_CAPABILITIES}


def _tracer() -> tuple[InMemorySpanExporter, object]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter, provider.get_tracer("conformance")


def test_traced_async_sqlite_saver_passes_the_base_suite(tmp_path: Path) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    exporter, tracer = _tracer()
    counter = iter(range(1000))

    @checkpointer_test(name="TracedSaver(AsyncSqliteSaver)")
    async def factory() -> AsyncGenerator[TracedSaver, None]:
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / f"c{next(counter)}.sqlite")) as saver:
            yield TracedSaver(saver, tracer)  # type: ignore[arg-type]

    report = asyncio.run(validate(factory, capabilities=BASE))
    assert report.passed_all_base(), report
    assert any(s.name == "checkpoint put" for s in exporter.get_finished_spans())


@pytest.mark.postgres
def test_traced_async_postgres_saver_passes_the_base_suite(postgres_url: str) -> None:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    exporter, tracer = _tracer()

    @checkpointer_test(name="TracedSaver(AsyncPostgresSaver)")
    async def factory() -> AsyncGenerator[TracedSaver, None]:
        async with AsyncPostgresSaver.from_conn_string(postgres_url) as saver:
            await saver.setup()
            async with saver.conn.cursor() as cur:
                for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints"):
                    await cur.execute(f"DELETE FROM {table}")
            yield TracedSaver(saver, tracer)  # type: ignore[arg-type]

    report = asyncio.run(validate(factory, capabilities=BASE))
    assert report.passed_all_base(), report
    assert any(s.name == "checkpoint put" for s in exporter.get_finished_spans())


def test_every_saver_method_is_forwarded() -> None:
    """Methods the base class defines must not shadow the wrapped saver's own."""
    from langgraph.checkpoint.base import BaseCheckpointSaver

    public = {
        n
        for n in dir(BaseCheckpointSaver)
        if not n.startswith("_") and callable(getattr(BaseCheckpointSaver, n))
    }
    inherited = public - set(TracedSaver.__dict__) - {"get", "aget"}  # these two call get_tuple/aget_tuple
    assert inherited == set()
