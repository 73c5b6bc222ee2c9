"""The committed sample store: every labelled thread reads as labelled, and rebuilds are exact."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from lgscope import open_store
from lgscope.examples import REFERENCE_NOW, bank, build_sample
from lgscope.forensics import scan


def test_every_thread_has_its_labelled_status_and_exactly_its_findings(
    sample_store: Path, labels: dict[str, Any], reference_now: datetime
) -> None:
    with open_store(sample_store) as store:
        result = scan(store, now=reference_now)
    found: dict[str, list[str]] = {}
    for f in result.findings:
        found.setdefault(f.thread_id, []).append(f.kind)
    statuses = {t.thread_id: t.status for t in result.threads}
    expected = labels["threads"]
    assert sorted(statuses) == sorted(expected)
    mismatches = {
        tid: (statuses[tid], sorted(found.get(tid, [])), label["status"], sorted(label["findings"]))
        for tid, label in expected.items()
        if statuses[tid] != label["status"] or sorted(found.get(tid, [])) != sorted(label["findings"])
    }
    assert mismatches == {}
    healthy = [tid for tid, label in expected.items() if not label["findings"]]
    assert len(healthy) >= 12 and not any(tid in found for tid in healthy)


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return [
            *conn.execute("SELECT * FROM checkpoints ORDER BY thread_id, checkpoint_ns, checkpoint_id"),
            *conn.execute(
                "SELECT * FROM writes ORDER BY thread_id, checkpoint_ns, checkpoint_id, task_id, idx"
            ),
        ]


def test_rebuilding_writes_the_committed_store_byte_for_byte(sample_store: Path, tmp_path: Path) -> None:
    rebuilt = tmp_path / "rebuilt.sqlite"
    build_sample(rebuilt, reference_now=REFERENCE_NOW, seed=0)
    assert _rows(rebuilt) == _rows(sample_store)


def test_a_pending_transfer_in_the_sample_resumes(sample_copy: Path) -> None:
    conn = sqlite3.connect(sample_copy, check_same_thread=False)
    graph = bank.build(SqliteSaver(conn))
    out = graph.invoke(
        Command(resume={"approved": True}), {"configurable": {"thread_id": "transfer-9000-pending"}}
    )
    conn.close()
    assert (out["status"], out["approved"], out["execution_history"][-1]) == ("executed", True, "execute")
    with open_store(sample_copy) as store:
        assert store.thread("transfer-9000-pending").status == "done"


def test_the_multi_day_project_resumed_on_three_days(sample_store: Path) -> None:
    with open_store(sample_store) as store:
        steps = store.history("project-relaunch")
    assert len({s.ts.date() for s in steps}) == 3
    answered = [s for s in steps if s.interrupts]
    assert [i.value["day"] for s in answered for i in s.interrupts] == [1, 2]
    assert all(s.resumes for s in answered)
    assert steps[-1].values["report"] == "website relaunch: 6 tasks done in 3 days"
