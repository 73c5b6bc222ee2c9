"""The one private LangGraph hook: checked against the supported versions, and outside them
lgscope warns once and traces less instead of breaking."""

from __future__ import annotations

import warnings
from importlib import metadata

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.tracing.test_spans import _approval

from lgscope.tracing import _hooks, instrument, uninstrument


def test_the_installed_langgraph_is_supported_and_its_runner_is_the_one_lgscope_knows() -> None:
    assert _hooks.unsupported() is None, metadata.version("langgraph")


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("1.2.24", None),
        ("1.9.0rc1", None),
        ("1.1.9", "outside the versions lgscope supports (>=1.2,<2.0)"),
        ("2.0.0", "outside the versions lgscope supports (>=1.2,<2.0)"),
        ("banana", "not a version lgscope can read"),
    ],
)
def test_versions(version: str, problem: str | None) -> None:
    found = _hooks.unsupported(version)
    assert found is None if problem is None else problem in (found or "")


def test_outside_the_supported_range_it_warns_once_and_makes_no_node_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_hooks, "SUPPORTED", ((0, 1), (0, 2)))
    monkeypatch.setattr(_hooks, "_warned", type(_hooks._warned)())
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with pytest.warns(RuntimeWarning, match=r"makes no node spans\. Install a supported LangGraph"):
        graph = instrument(_approval(InMemorySaver()), tracer_provider=provider)
    graph.invoke({"amount": 1}, {"configurable": {"thread_id": "old"}})
    uninstrument(graph)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once is enough
        other = instrument(_approval(InMemorySaver()), tracer_provider=provider)
        uninstrument(other)
    names = [s.name for s in exporter.get_finished_spans()]
    assert "invoke_agent approvals" in names and "checkpoint put" in names
    assert not [n for n in names if n.startswith("invoke_node ")]
    (root,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert root.attributes["langgraph.interrupted"] is True  # interrupts come from LangGraph's callbacks
