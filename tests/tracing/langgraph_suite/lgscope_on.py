"""A pytest plugin for LangGraph's own test suite: every graph it runs is traced by lgscope.

``python -m pytest -p lgscope_on`` (with this directory on ``PYTHONPATH``) from an unpacked
LangGraph source distribution. `LangGraphInstrumentor` is on for the whole session, with the
real OpenTelemetry SDK and an in-memory exporter emptied after every test, and every saver a
test is given (LangGraph's ``sync_checkpointer`` / ``async_checkpointer`` fixtures) is wrapped
in `TracedSaver`, so that what the tests read back goes through it too. The session's summary
says how many spans were made, so that a green run is known to have traced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgscope.tracing import LangGraphInstrumentor, TracedSaver

EXPORTER = InMemorySpanExporter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))
SAVERS = ("sync_checkpointer", "async_checkpointer", "checkpointer")
SEEN = {"spans": 0, "roots": 0, "nodes": 0, "checkpoints": 0}


def pytest_configure(config: pytest.Config) -> None:
    LangGraphInstrumentor().instrument(tracer_provider=PROVIDER)


@pytest.hookimpl(wrapper=True)  # around every plugin's call, anyio's and pytest-asyncio's too
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[None]:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    for name in SAVERS:
        saver = pyfuncitem.funcargs.get(name)
        if isinstance(saver, BaseCheckpointSaver) and not isinstance(saver, TracedSaver):
            pyfuncitem.funcargs[name] = TracedSaver(saver, PROVIDER.get_tracer("lgscope"))
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    LangGraphInstrumentor().uninstrument()


@pytest.fixture(autouse=True)
def _count_spans() -> Iterator[None]:
    yield
    finished = EXPORTER.get_finished_spans()
    SEEN["spans"] += len(finished)
    SEEN["roots"] += sum(s.name.startswith("invoke_agent ") for s in finished)
    SEEN["nodes"] += sum(s.name.startswith("invoke_node ") for s in finished)
    SEEN["checkpoints"] += sum(s.name.startswith("checkpoint ") for s in finished)
    EXPORTER.clear()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        "lgscope: {spans} spans ({roots} runs, {nodes} node spans, {checkpoints} checkpoint spans)".format(
            **SEEN
        )
    )
