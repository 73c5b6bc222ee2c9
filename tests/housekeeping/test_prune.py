"""prune on real LangGraph threads, SQLite and Postgres: what it deletes, what it must keep, and
that the thread still works — resumed, rebuilt, appended to meanwhile, put back from its archive."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from prune_graphs import counter_graph, delta_graph, question, saver_for

from lgscope.housekeeping import Policy, plan_prune, prune
from lgscope.store import open_store
from lgscope.store.export import export_thread, import_thread

HERE = Path(__file__).resolve().parent


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(tmp_path / "store.sqlite")


def _count(target: str, thread_id: str) -> int:
    with open_store(target) as st:
        return sum(1 for ns in st.thread(thread_id).namespaces for _ in st.timeline(thread_id, ns))


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def _interrupted(target: str, thread_id: str = "t", limit: int = 12) -> None:
    with saver_for(target) as saver:
        counter_graph(saver).invoke({"limit": limit}, _config(thread_id))


def test_a_pending_interrupt_still_resumes_after_keep_last_1(target: str) -> None:
    _interrupted(target)
    before = _count(target, "t")
    result = prune(target, Policy(keep_last=1), apply=True)
    (t,) = result.threads
    assert t.outcome == "pruned" and t.plan.checkpoints == before - 1
    assert _count(target, "t") == 1
    assert [k.reason for k in t.plan.kept] == ["pending interrupt"]
    with saver_for(target) as saver:
        graph = counter_graph(saver)
        state = graph.get_state(_config("t"))
        assert state.next == ("approve",) and len(state.values["items"]) == 12
        out = graph.invoke(Command(resume="yes"), _config("t"))
    assert out["approved"] == "yes" and len(out["items"]) == 12 and out["n"] == 12


def test_a_dry_run_deletes_nothing_and_says_exactly_what_apply_deletes(target: str) -> None:
    _interrupted(target, "a", 8)
    _interrupted(target, "b", 4)
    counts = {t: _count(target, t) for t in ("a", "b")}
    planned = plan_prune(target, Policy(keep_last=3))
    assert {t: _count(target, t) for t in ("a", "b")} == counts  # nothing deleted
    assert {p.thread_id: p.checkpoints for p in planned} == {t: n - 3 for t, n in counts.items()}
    done = prune(target, Policy(keep_last=3), apply=True)
    assert [(t.plan.thread_id, t.plan.checkpoints, t.plan.bytes) for t in done.threads] == [
        (p.thread_id, p.checkpoints, p.bytes) for p in planned
    ]
    assert {t: _count(target, t) for t in ("a", "b")} == {"a": 3, "b": 3}


def test_only_the_threads_named_are_pruned(target: str) -> None:
    _interrupted(target, "a", 5)
    _interrupted(target, "b", 5)
    before = _count(target, "b")
    prune(target, Policy(keep_last=1), threads=["a"], apply=True)
    assert _count(target, "a") == 1 and _count(target, "b") == before


def test_older_than_keeps_recent_checkpoints_and_the_latest(target: str) -> None:
    from datetime import UTC, datetime, timedelta

    _interrupted(target, "t", 6)
    n = _count(target, "t")
    # everything is seconds old: an hour's cutoff keeps it all; a cutoff in the future keeps the latest
    assert plan_prune(target, Policy(older_than=timedelta(hours=1)))[0].checkpoints == 0
    later = datetime.now(UTC) + timedelta(days=2)
    (plan,) = plan_prune(target, Policy(older_than=timedelta(days=1), now=later))
    assert plan.checkpoints == n - 1


def _delta_thread(target: str) -> dict[str, Any]:
    with saver_for(target) as saver:
        graph = delta_graph(saver)
        graph.invoke({"messages": [question("where is my refund?", "q")], "limit": 10}, _config("d"))
        return dict(graph.get_state(_config("d")).values)


def test_a_delta_channel_thread_keeps_its_chain_shows_its_value_and_resumes(target: str) -> None:
    values = _delta_thread(target)
    assert [m.id for m in values["messages"]] == ["q", *(f"a{i}" for i in range(1, 11))]
    before = _count(target, "d")
    result = prune(target, Policy(keep_last=1), apply=True)
    (t,) = result.threads
    assert t.plan.delta and t.plan.checkpoints > 0
    chain = [k for k in t.plan.kept if k.reason == "delta chain"]
    assert chain, "the chain back to the snapshot must be kept"
    assert _count(target, "d") == before - t.plan.checkpoints == 1 + len(chain)
    with saver_for(target) as saver:
        graph = delta_graph(saver)
        assert graph.get_state(_config("d")).values == values  # the full value, rebuilt by LangGraph
        out = graph.invoke({"messages": [question("and now?", "q2")], "limit": 12}, _config("d"))
    assert [m.id for m in out["messages"]][-4:] == ["a10", "q2", "a11", "a12"]
    assert len(out["messages"]) == 14


def test_without_its_chain_the_delta_value_would_be_lost(target: str) -> None:
    """The control: deleting the chain the plan keeps does lose the value, so the plan's rule matters."""
    _delta_thread(target)
    (plan,) = plan_prune(target, Policy(keep_last=1))
    root = plan.namespaces[0]
    chain = [k.checkpoint_id for k in plan.kept if k.reason == "delta chain"]
    assert chain
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("DELETE FROM checkpoints WHERE checkpoint_id = ANY(%s)", (chain,))
    else:
        with sqlite3.connect(target) as conn:
            conn.executemany("DELETE FROM checkpoints WHERE checkpoint_id = ?", [(c,) for c in chain])
    assert root.upto is not None
    with saver_for(target) as saver:
        got = delta_graph(saver).get_state(_config("d")).values
    assert len(got.get("messages", [])) < 11


def _records(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


def test_prune_then_import_of_the_archive_gives_back_the_same_export(target: str, tmp_path: Path) -> None:
    _interrupted(target, "t", 10)
    _delta_thread(target)
    before = {}
    for tid in ("t", "d"):
        with open_store(target) as st:
            export_thread(st, tid, tmp_path / f"before-{tid}.jsonl")
        before[tid] = _records(tmp_path / f"before-{tid}.jsonl")
    archive = tmp_path / "archive"
    result = prune(target, Policy(keep_last=2), apply=True, archive=archive)
    assert {t.plan.thread_id for t in result.threads if t.archive} == {"t", "d"}
    for t in result.threads:
        assert t.archive is not None and t.archive.parent == archive
        header = json.loads(t.archive.read_text().splitlines()[0])
        assert header["partial"] is True
        assert len(_records(t.archive)) - 1 == t.plan.checkpoints  # the end record is the last line
        assert import_thread(t.archive, target, merge=True) == (t.plan.thread_id, t.plan.checkpoints)
    for tid in ("t", "d"):
        with open_store(target) as st:
            export_thread(st, tid, tmp_path / f"after-{tid}.jsonl")
        assert _records(tmp_path / f"after-{tid}.jsonl") == before[tid]


def test_an_archive_file_holds_one_thread(target: str, tmp_path: Path) -> None:
    from lgscope._exceptions import UsageError

    _interrupted(target, "a", 4)
    _interrupted(target, "b", 4)
    counts = {t: _count(target, t) for t in ("a", "b")}
    with pytest.raises(UsageError, match="one file, but 2 threads"):
        prune(target, Policy(keep_last=1), apply=True, archive=tmp_path / "one.jsonl")
    assert {t: _count(target, t) for t in ("a", "b")} == counts
    result = prune(target, Policy(keep_last=1), threads=["a"], apply=True, archive=tmp_path / "one.jsonl")
    assert result.threads[0].archive == tmp_path / "one.jsonl"


def test_a_writer_appending_while_prune_runs_loses_nothing_and_resumes(target: str, tmp_path: Path) -> None:
    rounds = 12
    done = tmp_path / "writer.done"
    with saver_for(target):
        pass  # set up the tables before two processes race to
    writer = subprocess.Popen(
        [sys.executable, str(HERE / "prune_graphs.py"), target, "w", str(rounds), str(done)],
        stderr=subprocess.PIPE,
        text=True,
    )
    pruned = 0
    try:
        while writer.poll() is None:
            try:
                result = prune(target, Policy(keep_last=2), threads=["w"], apply=True)
                pruned += result.checkpoints
            except Exception as exc:  # the thread not written yet
                assert "none of the threads" in str(exc)
    finally:
        _out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert done.read_text() == "done"
    pruned += prune(target, Policy(keep_last=2), threads=["w"], apply=True).checkpoints
    assert pruned > 0
    with saver_for(target) as saver:
        graph = counter_graph(saver, approve=False)
        state = graph.get_state(_config("w"))
        n = 3 * rounds
        assert state.values["n"] == n
        assert [i.split(":")[0] for i in state.values["items"]] == [f"item-{k}" for k in range(1, n + 1)]
        out = graph.invoke({"limit": n + 2}, _config("w"))
    assert out["n"] == n + 2 and len(out["items"]) == n + 2


def test_two_prunes_at_once_are_safe(target: str) -> None:
    for tid in ("a", "b", "c"):
        _interrupted(target, tid, 10)
    errors: list[BaseException] = []
    deleted: list[int] = []

    def run() -> None:
        try:
            deleted.append(prune(target, Policy(keep_last=2), apply=True).checkpoints)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert {t: _count(target, t) for t in ("a", "b", "c")} == {"a": 2, "b": 2, "c": 2}
    assert sum(deleted) == 3 * (_count_written(10) - 2)
    with saver_for(target) as saver:
        for tid in ("a", "b", "c"):
            assert counter_graph(saver).invoke(Command(resume="ok"), _config(tid))["approved"] == "ok"


def _count_written(limit: int) -> int:
    # input, __start__'s step, `limit` steps of `step`: one checkpoint each (the interrupt adds none)
    return limit + 2


def test_the_audit_log_records_intent_and_outcome(target: str, tmp_path: Path) -> None:
    _interrupted(target, "t", 5)
    log = tmp_path / "audit.jsonl"
    prune(target, Policy(keep_last=1), apply=True, audit=log, actor="ops")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["thread_id"], e["outcome"], e["actor"]) for e in lines] == [
        ("t", "pruning", "ops"),
        ("t", "pruned", "ops"),
    ]
    assert lines[1]["checkpoints"] == _count_written(5) - 1
    assert lines[1]["kept"] == [["", lines[1]["kept"][0][1], "pending interrupt"]]


def test_a_subgraph_call_goes_with_its_root_checkpoint(sample_copy: Path) -> None:
    target = str(sample_copy)
    with open_store(target) as st:
        namespaces = st.thread("research-fanout").namespaces
    subs = [ns for ns in namespaces if ns]
    assert subs
    with sqlite3.connect(target) as conn:
        roots = {
            ns: json.loads(meta)["parents"][""]
            for ns, meta in conn.execute(
                "SELECT checkpoint_ns, metadata FROM checkpoints WHERE thread_id = 'research-fanout' AND checkpoint_ns != ''"
            )
        }
    for keep in range(1, _count(target, "research-fanout")):
        (plan,) = plan_prune(target, Policy(keep_last=keep), threads=["research-fanout"])
        root = plan.namespaces[0]
        for ns in subs:
            (sub,) = [n for n in plan.namespaces if n.checkpoint_ns == ns]
            assert (sub.checkpoints > 0) == root.deletes(roots[ns]), (keep, ns)


def test_an_interrupt_inside_a_subgraph_still_resumes_after_keep_last_1(target: str) -> None:
    from prune_graphs import nested_graph

    with saver_for(target) as saver:
        nested_graph(saver).invoke({"n": 0}, _config("s"))
    with open_store(target) as st:
        namespaces = st.thread("s").namespaces
    assert len(namespaces) == 2  # the root graph and the subgraph call waiting on the interrupt
    result = prune(target, Policy(keep_last=1), apply=True)
    (t,) = result.threads
    assert t.plan.checkpoints > 0
    assert {k.reason for k in t.plan.kept} == {"pending interrupt"}
    with open_store(target) as st:
        assert st.thread("s").namespaces == namespaces  # the call under the kept root checkpoint stays
    with saver_for(target) as saver:
        out = nested_graph(saver).invoke(Command(resume="yes"), _config("s"))
    assert out == {"n": 5, "answer": "yes"}


def test_a_thread_whose_lock_is_held_is_left_and_reported(target: str) -> None:
    from lgscope.approvals import locks_for

    _interrupted(target, "a", 4)
    _interrupted(target, "b", 4)
    locks = locks_for(target)
    with locks.hold("a"):  # as a sweeper answering its approval would
        result = prune(target, Policy(keep_last=1), apply=True, lock_timeout=0.2)
    assert {t.plan.thread_id: t.outcome for t in result.threads} == {"a": "locked", "b": "pruned"}
    assert _count(target, "a") == _count_written(4) and _count(target, "b") == 1
    close = getattr(locks, "close", None)
    if close is not None:
        close()


def test_a_pre_v4_checkpoint_keeps_the_parent_holding_its_pending_sends(target: str) -> None:
    """Before checkpoint format v4, pending Sends were the parent's ``__pregel_tasks`` writes
    (LangGraph's own keep_latest keeps that parent too). The rows are put through the saver."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.types import Send

    ids = []
    with saver_for(target) as saver:
        config: dict[str, Any] = {"configurable": {"thread_id": "old", "checkpoint_ns": ""}}
        for step in range(4):
            checkpoint = empty_checkpoint()
            checkpoint["v"] = 3
            checkpoint["channel_values"] = {"n": step}
            checkpoint["channel_versions"] = {"n": step + 1}
            config = saver.put(
                config, checkpoint, {"source": "loop", "step": step, "parents": {}}, {"n": step + 1}
            )
            ids.append(checkpoint["id"])
            if step == 2:
                saver.put_writes(config, [("__pregel_tasks", Send("worker", {"n": 1}))], "task-1")
    (plan,) = plan_prune(target, Policy(keep_last=1))
    assert [(k.checkpoint_id, k.reason) for k in plan.kept] == [(ids[2], "sends parent")]
    assert plan.checkpoints == 2
    prune(target, Policy(keep_last=1), apply=True)
    with open_store(target) as st:
        assert [s.checkpoint_id for s in st.timeline("old")] == ids[2:]
