"""Issue 25 item 8: a sweeper killed inside the node after the approval leaves a half-run thread;
the rerun settles the interrupt and finishes the run (or reports it unfinished), and counts right."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from lgscope import open_store
from lgscope.approvals import AuditLog

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import approval_graph  # noqa: E402
from test_sweeper import sweep_notified  # noqa: E402


def _setup(tmp_path: Path, n: int) -> tuple[dict[str, str], list[str]]:
    store, side = tmp_path / "approvals.sqlite", tmp_path / "side.sqlite"
    with sqlite3.connect(side) as conn:
        conn.execute("CREATE TABLE side_effects (thread_id TEXT, approved INTEGER)")
    conn.close()
    env = {
        **os.environ,
        "LGSCOPE_TEST_STORE": str(store),
        "LGSCOPE_TEST_SIDE": str(side),
        "PYTHONPATH": str(HERE),
    }
    saver_conn = sqlite3.connect(store, check_same_thread=False)
    graph = approval_graph.build(SqliteSaver(saver_conn), then_notify=True)
    ids = [f"t-{i:03d}" for i in range(n)]
    for tid in ids:
        graph.invoke({"amount": 6000}, {"configurable": {"thread_id": tid}})
    saver_conn.close()
    return env, ids


def _sweep(env: dict[str, str], audit: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    cmd = sweep_notified(env["LGSCOPE_TEST_STORE"], audit)
    return subprocess.run(cmd, env={**env, **extra}, capture_output=True, text=True, timeout=180)


def test_the_rerun_finishes_a_run_cut_off_in_the_next_node(tmp_path: Path) -> None:
    env, ids = _setup(tmp_path, 3)
    audit = tmp_path / "audit.jsonl"
    killed = _sweep(env, audit, LGSCOPE_TEST_DIE_AFTER="t-001")
    assert killed.returncode == -9
    with open_store(env["LGSCOPE_TEST_STORE"]) as store:
        half = store.thread("t-001")
    assert (half.status, half.next, half.pending_interrupts) == ("running", ("notify",), ())
    rerun = _sweep(env, audit)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    out = " ".join(rerun.stdout.split())
    assert "its run had stopped before notify: finished it" in out
    # t-001 is settled from the earlier sweep and t-002 swept now: never "2 of 1"
    assert "1 of 1 pending interrupts are stale: 2 rejected; 1 left open by an earlier sweep settled" in out
    with open_store(env["LGSCOPE_TEST_STORE"]) as store:
        statuses = {tid: store.thread(tid).status for tid in ids}
    assert statuses == {"t-000": "done", "t-001": "done", "t-002": "done"}
    assert AuditLog(audit).open_intents() == {}
