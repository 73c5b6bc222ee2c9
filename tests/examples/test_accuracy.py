"""The accuracy fixtures: each pattern's faulty thread is found, each healthy twin is left alone,
on SQLite and Postgres; the README's accuracy table is the one the labels give."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lgscope import open_store
from lgscope.examples import REFERENCE_NOW, build_accuracy
from lgscope.forensics import ScanResult, scan

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LABELS: dict[str, Any] = json.loads((FIXTURES / "accuracy-labels.json").read_text())
STORE = FIXTURES / LABELS["store"]


def _mismatches(result: ScanResult) -> dict[str, Any]:
    found: dict[str, list[str]] = {}
    for f in result.findings:
        found.setdefault(f.thread_id, []).append(f.kind)
    statuses = {t.thread_id: t.status for t in result.threads}
    assert sorted(statuses) == sorted(LABELS["threads"])
    return {
        tid: (statuses[tid], sorted(found.get(tid, [])), label["status"], sorted(label["findings"]))
        for tid, label in LABELS["threads"].items()
        if statuses[tid] != label["status"] or sorted(found.get(tid, [])) != sorted(label["findings"])
    }


def _scan(target: Any) -> ScanResult:
    with open_store(target) as store:
        return scan(store, now=datetime.fromisoformat(LABELS["reference_now"]))


def test_every_accuracy_thread_has_exactly_its_labelled_findings() -> None:
    assert _mismatches(_scan(STORE)) == {}
    healthy = [tid for tid, label in LABELS["threads"].items() if not label["findings"]]
    assert len(healthy) >= 12


def test_the_findings_say_what_happened() -> None:
    by = {(f.thread_id, f.kind): f for f in _scan(STORE).findings}
    paused = by["support-bot-paused", "stuck_run"]
    assert paused.summary.startswith("paused before sensitive_tools for 2d23h (after assistant)")
    assert paused.evidence["likely"] == "paused"
    twice = by["approval-resumed-twice", "interrupt_integrity"]
    assert twice.evidence["pattern"] == "resumed_twice" and twice.evidence["ran_twice"] == [
        "execute",
        "review",
    ]
    ignored = by["approval-answer-ignored", "interrupt_integrity"]
    assert (ignored.evidence["given"], ignored.evidence["used"]) == ('"reject"', '"approve"')
    assert by["approval-asked-again", "interrupt_integrity"].evidence["times"] == 4
    assert by["sql-same-error", "loop"].evidence["repeats"] >= 6
    retry = by["plan-retry-same", "loop"]
    assert retry.checkpoint_ns.startswith("execute:") and retry.evidence["counters"] == ["tries"]
    assert by["chat-runaway", "growth"].evidence["turn_messages"] == 62


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return [
            *conn.execute("SELECT * FROM checkpoints ORDER BY thread_id, checkpoint_ns, checkpoint_id"),
            *conn.execute(
                "SELECT * FROM writes ORDER BY thread_id, checkpoint_ns, checkpoint_id, task_id, idx"
            ),
        ]


def test_rebuilding_writes_the_committed_accuracy_store(tmp_path: Path) -> None:
    rebuilt = tmp_path / "accuracy.sqlite"
    labels = build_accuracy(rebuilt, reference_now=REFERENCE_NOW, seed=0)
    assert {e.thread_id: e.to_dict() for e in labels} == LABELS["threads"]
    assert _rows(rebuilt) == _rows(STORE)


def test_postgres_reads_the_accuracy_threads_the_same(postgres_url: str) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        build_accuracy(saver, reference_now=REFERENCE_NOW)
    assert _mismatches(_scan(postgres_url)) == {}


def test_the_readme_accuracy_table_is_the_one_the_labels_give() -> None:
    spec = importlib.util.spec_from_file_location("fixture_accuracy", FIXTURES / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.table()
    assert table in (FIXTURES.parent / "README.md").read_text()
    assert all(line.endswith("| 0 |") for line in table.splitlines() if line.startswith("| `"))
    assert module.threads_table() in (FIXTURES / "README.md").read_text()


@pytest.mark.parametrize("thread_id", ["sql-same-error", "react-same-search", "plan-retry-same"])
def test_the_loop_patterns_are_one_finding_per_thread(thread_id: str) -> None:
    loops = [f for f in _scan(STORE).findings if f.thread_id == thread_id and f.kind == "loop"]
    assert len(loops) == 1
