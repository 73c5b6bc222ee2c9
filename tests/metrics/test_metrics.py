"""Store and runtime metrics on fresh registries; ``metrics serve`` bad input."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TypedDict

from click.testing import CliRunner
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from prometheus_client import CollectorRegistry

from lgscope.cli import main
from lgscope.metrics import RuntimeMetrics, StoreCollector
from lgscope.tracing import instrument


def test_store_collector_reports_the_last_scan(sample_store: Path, reference_now: datetime) -> None:
    registry = CollectorRegistry()
    collector = StoreCollector(str(sample_store))
    registry.register(collector)
    assert registry.get_sample_value("lgscope_scans_total") == 0
    collector.refresh(now=reference_now)
    value = registry.get_sample_value
    assert [value("lgscope_threads", {"status": s}) for s in ("done", "interrupted", "running", "error")] == [
        18,
        3,
        2,
        1,
    ]
    assert (
        value("lgscope_findings", {"kind": "loop"}) == 3
        and value("lgscope_findings", {"kind": "growth"}) == 0
        and value("lgscope_findings", {"kind": "stuck_run"}) == 1
    )
    assert value("lgscope_stuck_runs", {"likely": "paused"}) == 1
    assert value("lgscope_stuck_runs", {"likely": "crashed"}) == 0
    assert value("lgscope_oldest_stuck_run_seconds") > 5 * 86400  # blog-awaiting-review
    assert value("lgscope_pending_interrupts", {"age_bucket": "1d-7d"}) == 2
    assert value("lgscope_pending_interrupts", {"age_bucket": "<1h"}) == 1
    assert value("lgscope_oldest_pending_interrupt_seconds") > 4 * 86400
    assert value("lgscope_thread_checkpoints_count") == 24 and value("lgscope_thread_checkpoints_sum") == 268
    assert value("lgscope_scans_total") == 1 and value("lgscope_scan_errors_total") == 0


def test_a_failed_scan_keeps_the_last_figures(tmp_path: Path, sample_copy: Path) -> None:
    registry = CollectorRegistry()
    collector = StoreCollector(str(sample_copy))
    registry.register(collector)
    collector.refresh()
    sample_copy.write_bytes(b"not a database any more")
    collector.refresh()
    assert registry.get_sample_value("lgscope_scan_errors_total") == 1
    assert registry.get_sample_value("lgscope_threads", {"status": "done"}) == 18


class S(TypedDict, total=False):
    n: int


def test_runtime_metrics_from_an_instrumented_graph() -> None:
    registry = CollectorRegistry()
    g = StateGraph(S)
    g.add_node("ask", lambda s: {"n": int(interrupt("ok?"))})
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    graph = instrument(
        g.compile(checkpointer=InMemorySaver(), name="asker"), observers=[RuntimeMetrics(registry)]
    )
    config = {"configurable": {"thread_id": "m"}}
    graph.invoke({"n": 0}, config)
    graph.invoke(Command(resume=5), config)
    value = registry.get_sample_value
    assert value("lgscope_interrupts_total", {"graph": "asker", "node": "ask"}) == 1
    assert value("lgscope_resumes_total", {"graph": "asker"}) == 1
    assert value("lgscope_node_duration_seconds_count", {"graph": "asker", "node": "ask"}) == 2
    assert value("lgscope_runs_total", {"graph": "asker", "outcome": "ok"}) == 2
    stored = len(list(graph.checkpointer.list(config)))
    assert (
        value("lgscope_checkpoint_size_bytes_count")
        == stored
        == value("lgscope_checkpoint_put_duration_seconds_count")
    )


def test_metrics_serve_bad_input(sample_store: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["metrics", "serve", "/no/such.sqlite"])
    assert (
        result.exit_code == 2
        and result.output == "Error: There is no file at /no/such.sqlite; check the path.\n"
    )
    result = runner.invoke(main, ["metrics", "serve", str(sample_store), "--interval", "100ms"])
    assert result.exit_code == 2 and "--interval must be at least 1s" in result.output


def _figures(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    skip = {
        "lgscope_scan_duration_seconds",
        "lgscope_last_scan_timestamp_seconds",
        "lgscope_scan_reused_threads",
    }
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if s.name not in skip
    }


def test_the_collector_rescans_only_what_changed(
    sample_copy: Path, reference_now: datetime, tmp_path: Path
) -> None:
    import sqlite3

    incremental, whole = CollectorRegistry(), CollectorRegistry()
    inc = StoreCollector(str(sample_copy), state=tmp_path / "scan.state")
    full = StoreCollector(str(sample_copy), incremental=False)
    incremental.register(inc)
    whole.register(full)
    for collector in (inc, full):
        collector.refresh(now=reference_now)
    assert incremental.get_sample_value("lgscope_scan_reused_threads") == 0
    with sqlite3.connect(sample_copy) as conn:  # a thread deleted between scans
        conn.execute("DELETE FROM checkpoints WHERE thread_id = 'support-1'")
    conn.close()
    for collector in (inc, full):
        collector.refresh(now=reference_now)
    assert incremental.get_sample_value("lgscope_scan_reused_threads") == 23
    assert whole.get_sample_value("lgscope_scan_reused_threads") == 0
    assert _figures(incremental) == _figures(whole)
    assert incremental.get_sample_value("lgscope_thread_checkpoints_count") == 23
    assert full.state is None and inc.state == tmp_path / "scan.state"


def test_the_collector_keeps_a_private_state_and_removes_it(sample_store: Path) -> None:
    collector = StoreCollector(str(sample_store))
    collector.refresh()
    collector.refresh()
    assert collector.state is not None and collector.state.exists()
    collector.stop()
    assert not collector.state.exists()


def test_metrics_serve_refuses_a_state_it_did_not_write(sample_store: Path) -> None:
    result = CliRunner().invoke(main, ["metrics", "serve", str(sample_store), "--state", str(sample_store)])
    assert result.exit_code == 2 and "is not an lgscope scan state file" in result.output
    result = CliRunner().invoke(
        main, ["metrics", "serve", str(sample_store), "--state", "/no/dir/s", "--whole"]
    )
    assert result.exit_code == 2 and "give --state or --whole, not both" in result.output
