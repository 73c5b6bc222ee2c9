"""The one private LangGraph hook: checked against the supported versions, and outside them
lgscope warns once and traces less instead of breaking."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from lgscope.tracing import _hooks

ROOT = Path(__file__).resolve().parents[2]


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


OUTSIDE = textwrap.dedent(
    """
    import json, warnings
    from langgraph.checkpoint.memory import InMemorySaver
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from tests.tracing.test_spans import _approval
    from lgscope.tracing import _hooks, instrument, uninstrument

    _hooks.SUPPORTED = ((0, 1), (0, 2))  # as if the installed LangGraph were outside the range
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        for thread in ("a", "b"):
            graph = instrument(_approval(InMemorySaver()), tracer_provider=provider)
            graph.invoke({"amount": 1}, {"configurable": {"thread_id": thread}})
            uninstrument(graph)
    roots = [s for s in exporter.get_finished_spans() if s.parent is None]
    print(json.dumps({
        "warnings": [(w.category.__name__, str(w.message)) for w in heard],
        "names": sorted({s.name for s in exporter.get_finished_spans()}),
        "interrupted": [r.attributes["langgraph.interrupted"] for r in roots],
    }))
    """
)


def test_outside_the_supported_range_it_warns_once_and_makes_no_node_spans() -> None:
    """In a fresh process: the patches are applied once per process while anything needs them."""
    result = subprocess.run(
        [sys.executable, "-c", OUTSIDE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    ((category, message),) = out["warnings"]  # once, for two graphs
    assert category == "RuntimeWarning"
    assert message.endswith(
        "lgscope traces runs, tools and checkpoints but makes no node spans. "
        "Install a supported LangGraph, or upgrade lgscope."
    )
    assert out["names"] == [
        "checkpoint get_tuple",
        "checkpoint put",
        "checkpoint put_writes",
        "invoke_agent approvals",
    ]
    assert out["interrupted"] == [True, True]  # interrupts come from LangGraph's callbacks
