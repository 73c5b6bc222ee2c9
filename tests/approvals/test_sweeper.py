"""The sweeper and `approvals.resume` on real stores, real graphs and real processes."""

from __future__ import annotations

import hashlib
import importlib
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from langgraph.checkpoint.sqlite import SqliteSaver
from prometheus_client import CollectorRegistry

from lgscope import AlreadyResolved, ApprovalError, open_store
from lgscope.approvals import DEFAULT_REJECTION, AuditLog, Sweeper, SweeperMetrics, resume
from lgscope.cli import main

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import approval_graph  # noqa: E402

LATER = datetime.now(UTC) + timedelta(days=2)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    store, side = tmp_path / "approvals.sqlite", tmp_path / "side.sqlite"
    with sqlite3.connect(side) as conn:
        conn.execute("CREATE TABLE side_effects (thread_id TEXT, approved INTEGER)")
    values = {"LGSCOPE_TEST_STORE": str(store), "LGSCOPE_TEST_SIDE": str(side)}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def _graph(env: dict[str, str]) -> Any:
    conn = sqlite3.connect(env["LGSCOPE_TEST_STORE"], check_same_thread=False, timeout=30)
    return approval_graph.build(SqliteSaver(conn))


def _start(graph: Any, n: int, prefix: str = "t", **state: Any) -> list[str]:
    ids = [f"{prefix}-{i:03d}" for i in range(n)]
    for tid in ids:
        graph.invoke({"amount": 6000, **state}, {"configurable": {"thread_id": tid}})
    return ids


def _side_effects(env: dict[str, str]) -> list[tuple[str, int]]:
    with sqlite3.connect(env["LGSCOPE_TEST_SIDE"]) as conn:
        return sorted(conn.execute("SELECT thread_id, approved FROM side_effects"))


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_dry_run_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    _start(_graph(env), 3)
    # -shm is the WAL's shared-memory index that every reader maps; the data files must not change
    listing = lambda: {p.name: _digest(str(p)) for p in tmp_path.iterdir() if not p.name.endswith("-shm")}  # noqa: E731
    before = listing()
    report = Sweeper(store=env["LGSCOPE_TEST_STORE"], older_than=timedelta(hours=24)).run(now=LATER)
    assert report.counts() == {"would_reject": 3}
    assert listing() == before  # no file changed, no lock directory made


def test_reject_resumes_with_the_default_payload_and_audits(env: dict[str, str], tmp_path: Path) -> None:
    graph = _graph(env)
    ids = _start(graph, 3)
    audit = AuditLog(tmp_path / "audit.jsonl")
    registry = CollectorRegistry()
    sweeper = Sweeper(
        graph, store=env["LGSCOPE_TEST_STORE"], apply=True, audit=audit, metrics=SweeperMetrics(registry)
    )
    assert sweeper.run(now=datetime.now(UTC)).counts() == {}  # not stale yet
    report = sweeper.run(now=LATER)
    assert report.counts() == {"rejected": 3}
    assert _side_effects(env) == [(tid, 0) for tid in ids]
    final = graph.get_state({"configurable": {"thread_id": ids[0]}}).values["decision"]
    assert final == {"approved": False, "reason": "approval timeout exceeded", "auto_rejected": True}
    entries = list(audit.entries())
    assert [(e["thread_id"], e["outcome"], e["policy"], e["actor"]) for e in entries] == [
        (tid, outcome, "reject", "lgscope-sweeper")
        for tid in sorted(ids)
        for outcome in ("resuming", "rejected")
    ]
    assert all(e["answer"] == dict(DEFAULT_REJECTION) for e in entries)
    assert all(e["age_seconds"] > 86400 for e in entries)
    assert (
        registry.get_sample_value(
            "lgscope_sweeper_decisions_total", {"policy": "reject", "outcome": "rejected"}
        )
        == 3
    )
    assert sweeper.run(now=LATER).counts() == {}


def test_escalate_records_once_and_calls_the_hook(env: dict[str, str], tmp_path: Path) -> None:
    _start(_graph(env), 2)
    seen: list[str] = []
    audit = AuditLog(tmp_path / "audit.jsonl")
    sweeper = Sweeper(
        store=env["LGSCOPE_TEST_STORE"],
        policy="escalate",
        apply=True,
        audit=audit,
        on_escalate=lambda c: seen.append(c.interrupt.thread_id),
    )
    assert sweeper.run(now=LATER).counts() == {"escalated": 2}
    rerun = sweeper.run(now=LATER)
    assert rerun.counts() == {"already_escalated": 2}  # once is enough
    assert (rerun.stale, rerun.pending) == (2, 2)  # still stale, and counted so
    # a rerun without --audit remembers too: the memory lives beside the locks
    bare = Sweeper(store=env["LGSCOPE_TEST_STORE"], policy="escalate", apply=True, on_escalate=seen.append)
    assert bare.run(now=LATER).counts() == {"already_escalated": 2}
    assert Sweeper(store=env["LGSCOPE_TEST_STORE"], policy="escalate").run(now=LATER).counts() == {
        "already_escalated": 2
    }
    assert sorted(seen) == ["t-000", "t-001"]
    assert len(list(audit.entries())) == 2  # re-reports are not recorded again
    assert _side_effects(env) == []
    with open_store(env["LGSCOPE_TEST_STORE"]) as store:
        assert all(t.status == "interrupted" for t in store.threads())


def test_expires_at_wins_over_the_threshold_and_node_filter(env: dict[str, str]) -> None:
    graph = _graph(env)
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    late = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    _start(graph, 1, "expired", expires_at=soon)
    _start(graph, 1, "extended", expires_at=late)
    _start(graph, 1, "plain")
    in_two_hours = datetime.now(UTC) + timedelta(hours=2)
    stale, pending = Sweeper(store=env["LGSCOPE_TEST_STORE"], older_than=timedelta(hours=24)).candidates(
        in_two_hours
    )
    assert (pending, [c.interrupt.thread_id for c in stale]) == (3, ["expired-000"])
    stale, _ = Sweeper(store=env["LGSCOPE_TEST_STORE"], older_than=timedelta(hours=24)).candidates(LATER)
    assert sorted(c.interrupt.thread_id for c in stale) == ["expired-000", "plain-000"]
    stale, _ = Sweeper(store=env["LGSCOPE_TEST_STORE"], nodes=["other"]).candidates(LATER)
    assert stale == []


def test_a_resume_that_raises_is_reported_and_the_sweep_goes_on(env: dict[str, str], tmp_path: Path) -> None:
    graph = _graph(env)
    _start(graph, 2)
    environ = {**os.environ, **env, "PYTHONPATH": str(HERE)}
    base = [
        sys.executable,
        "-m",
        "lgscope",
        "sweep",
        env["LGSCOPE_TEST_STORE"],
        "--graph",
        "approval_graph:graph",
        "--apply",
        "--audit",
        str(tmp_path / "a.jsonl"),
        "--now",
        LATER.isoformat(),
    ]
    failing = {**environ, "LGSCOPE_TEST_EXPLODE": "1"}
    result = subprocess.run(base, env=failing, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert result.stdout.count("RuntimeError: the payments API is down") == 2
    assert "2 of 2 pending interrupts are stale: 2 failed" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    with open_store(env["LGSCOPE_TEST_STORE"]) as store:
        # left pending: LangGraph keeps the interrupt open (and will replay the stored answer)
        assert [(t.status, len(t.pending_interrupts)) for t in store.threads()] == [("interrupted", 1)] * 2
    result = subprocess.run(base, env=environ, capture_output=True, text=True)
    assert result.returncode == 0 and "2 rejected" in result.stdout, result.stdout + result.stderr
    assert len(_side_effects(env)) == 2


def test_resume_answers_once(env: dict[str, str]) -> None:
    graph = _graph(env)
    (tid,) = _start(graph, 1)
    config = {"configurable": {"thread_id": tid}}
    out = resume(graph, config, {"approved": True})
    assert out["decision"] == {"approved": True}
    with pytest.raises(AlreadyResolved, match="has no pending interrupt; it was answered already"):
        resume(graph, config, {"approved": True})
    assert _side_effects(env) == [(tid, 1)]
    with pytest.raises(ApprovalError, match="needs config"):
        resume(graph, {}, True)


def test_bad_graph_specs(env: dict[str, str]) -> None:
    runner = CliRunner()
    store = env["LGSCOPE_TEST_STORE"]
    for spec, message in (
        ("approval_graph", "is not module:attr"),
        ("approval_graph:missing", "has no attribute 'missing'"),
        ("approval_graph:build", "is a function, not a compiled graph"),
    ):
        result = runner.invoke(main, ["sweep", store, "--graph", spec], env={"PYTHONPATH": str(HERE)})
        assert result.exit_code == 2 and message in result.output, result.output


def _processes(
    env: dict[str, str], sweepers: int, audit: Path, threads: list[str], extra: dict[str, str]
) -> None:
    """A human (newest first) and ``sweepers`` sweeper processes (``lgscope sweep``, oldest first)
    resolving the same interrupts at the same moment; every process must exit cleanly.

    Each process imports everything, says it is ready, and waits at a gate the test opens once all
    are ready: process start-up (seconds on a loaded machine) would otherwise decide the race."""
    gate = audit.with_name("gate")
    environ = {**os.environ, **env, **extra, "PYTHONPATH": str(HERE), "GATE": str(gate)}
    wait = (
        "import os, sys, time\n"
        "import approval_graph as g, lgscope.approvals as a\n"
        "from lgscope import AlreadyResolved\n"
        "from lgscope.cli import main\n"
        "open(os.environ['GATE'] + '.ready-' + sys.argv[1], 'w').close()\n"
        "while not os.path.exists(os.environ['GATE']): time.sleep(0.005)\n"
    )
    human = wait + (
        "for tid in reversed(sys.argv[2:]):\n"
        "    try: a.resume(g.graph, {'configurable': {'thread_id': tid}}, {'approved': True, 'by': 'human'})\n"
        "    except AlreadyResolved: pass\n"
    )
    sweep = wait + (
        "main(['sweep', os.environ['LGSCOPE_TEST_STORE'], '--older-than', '0s', '--graph', 'approval_graph:graph',"
        " '--apply', '--audit', sys.argv[2], '--actor', 'sweeper-' + sys.argv[1]], prog_name='lgscope')\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", human, "human", *threads], env=environ, stderr=subprocess.PIPE
        )
    ]
    for n in range(sweepers):
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", sweep, str(n), str(audit)],
                env=environ,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    deadline = time.monotonic() + 120
    while len(list(audit.parent.glob("gate.ready-*"))) < len(procs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a process died at start"
        time.sleep(0.01)
    gate.touch()
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()[-2000:]


def _check_exactly_once(
    threads: list[str], effects: list[tuple[str, Any]], audit: Path, *, sweepers: int = 0, in_flight: int = 0
) -> None:
    """Each interrupt resolved once (side effects, audit); ``sweepers`` > 0: the race was real.

    ``in_flight``: side effects a SIGKILL may have doubled. LangGraph runs a node again when its
    step was not saved, so a node killed after its side effect and before its checkpoint repeats
    that effect on the next resume (at-least-once nodes; make such effects idempotent). That is
    not a second resume: the audit and the history still show one resolution."""
    assert len(threads) <= len(effects) <= len(threads) + in_flight
    assert sorted({t for t, _ in effects}) == sorted(threads)
    effects = sorted(dict(effects).items())
    log = AuditLog(audit)
    entries = list(log.entries())
    rejected = [e["interrupt_id"] for e in entries if e["outcome"] == "rejected"]
    assert len(rejected) == len(set(rejected))
    humans = sum(1 for _, approved in effects if approved)
    assert humans + len(rejected) == len(threads)
    by_actor: dict[str, dict[str, int]] = {}
    for e in entries:
        by_actor.setdefault(e["actor"], {}).setdefault(e["outcome"], 0)
        by_actor[e["actor"]][e["outcome"]] += 1
    print(f"human approved {humans}; sweepers: {dict(sorted(by_actor.items()))}")  # shown with -s
    # the audit is consistent: every intent is followed by exactly one outcome, none is left open
    open_: set[str] = set()
    for e in entries:
        if e["outcome"] == "resuming":
            assert e["interrupt_id"] not in open_, e
            open_.add(e["interrupt_id"])
        else:
            open_.discard(e["interrupt_id"])
    assert open_ == set() and log.open_intents() == {}
    if sweepers:  # the race was real: the human and at least two sweepers resolved some, and every
        # sweeper met interrupts another process resolved while it waited for (or skipped) the lock.
        # (Not every sweeper: on a loaded machine one may start after the others took the rest.)
        assert humans > 0, humans
        assert len(by_actor) == sweepers, by_actor
        assert sum(1 for c in by_actor.values() if c.get("rejected", 0) > 0) >= 2, by_actor
        assert all(c.get("already_resolved", 0) > 0 for c in by_actor.values()), by_actor


def test_two_sweepers_and_a_human_on_sqlite(env: dict[str, str], tmp_path: Path) -> None:
    threads = _start(_graph(env), 40)
    audit = tmp_path / "audit.jsonl"
    _processes(env, 2, audit, threads, {"LGSCOPE_TEST_DELAY": "0.02"})
    _check_exactly_once(threads, _side_effects(env), audit, sweepers=2)
    with sqlite3.connect(env["LGSCOPE_TEST_STORE"]) as conn:
        forks = conn.execute(
            "SELECT count(*) FROM (SELECT thread_id, parent_checkpoint_id FROM checkpoints WHERE checkpoint_ns = '' "
            "GROUP BY 1, 2 HAVING count(*) > 1)"
        ).fetchone()[0]
    assert forks == 0


def test_a_killed_sweeper_loses_nothing(env: dict[str, str], tmp_path: Path) -> None:
    threads = _start(_graph(env), 30)
    audit = tmp_path / "audit.jsonl"
    environ = {**os.environ, **env, "PYTHONPATH": str(HERE), "LGSCOPE_TEST_DELAY": "0.05"}
    cmd = [
        sys.executable,
        "-m",
        "lgscope",
        "sweep",
        env["LGSCOPE_TEST_STORE"],
        "--older-than",
        "0s",
        "--graph",
        "approval_graph:graph",
        "--apply",
        "--audit",
        str(audit),
    ]
    proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(_side_effects(env)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = len(_side_effects(env))
    assert 5 <= done < 30
    rerun = subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    _check_exactly_once(threads, _side_effects(env), audit, in_flight=1)
    with open_store(env["LGSCOPE_TEST_STORE"]) as store:
        assert {t.status for t in store.threads()} == {"done"}


@pytest.mark.postgres
def test_four_sweepers_and_a_human_on_postgres_resolve_200_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        threads = _start(approval_graph.build(saver), 200)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE side_effects (thread_id TEXT, approved BOOLEAN)")
    env = {"LGSCOPE_TEST_STORE": postgres_url, "LGSCOPE_TEST_SIDE": postgres_url}
    audit = tmp_path / "audit.jsonl"
    _processes(env, 4, audit, threads, {"LGSCOPE_TEST_DELAY": "0.01"})
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        effects = conn.execute("SELECT thread_id, approved FROM side_effects").fetchall()
        forks = conn.execute(
            "SELECT count(*) FROM (SELECT thread_id, parent_checkpoint_id FROM checkpoints WHERE checkpoint_ns = '' "
            "GROUP BY 1, 2 HAVING count(*) > 1) f"
        ).fetchone()
    _check_exactly_once(threads, effects, audit, sweepers=4)
    assert forks == (0,)
    with open_store(postgres_url) as store:
        assert {t.status for t in store.threads()} == {"done"}


def test_a_thread_that_cannot_be_locked_is_reported_and_the_rest_are_swept(
    env: dict[str, str], tmp_path: Path
) -> None:
    from lgscope.approvals import FileLocks

    graph = _graph(env)
    _start(graph, 3)
    locks = FileLocks(tmp_path / "locks")
    sweeper = Sweeper(graph, store=env["LGSCOPE_TEST_STORE"], apply=True, locks=locks, lock_timeout=0.2)
    with locks.hold("t-001"):  # someone else is answering t-001 right now
        import threading

        result: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: result.update(r=sweeper.run(now=LATER)))
        worker.start()
        worker.join()
    report = result["r"]
    outcomes = {d.thread_id: d.outcome for d in report.decisions}
    assert outcomes == {"t-000": "rejected", "t-001": "failed", "t-002": "rejected"}
    (failed,) = [d for d in report.decisions if d.outcome == "failed"]
    assert failed.detail.startswith("Thread 't-001' stayed locked for 0s; it is left pending.")
    assert sweeper.run(now=LATER).counts() == {"rejected": 1}


def test_watch_stops_cleanly_on_sigterm(env: dict[str, str]) -> None:
    import signal

    _start(_graph(env), 1)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lgscope",
            "sweep",
            env["LGSCOPE_TEST_STORE"],
            "--watch",
            "--interval",
            "1s",
            "--older-than",
            "0s",
        ],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out.count("1 of 1 pending interrupts are stale") >= 2 and "Traceback" not in err


def test_an_answer_whose_node_failed_is_not_overridden(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LangGraph stores the answer of a resume whose node then raised, and replays it on every later
    resume whatever the new value: a second answer must be refused, not silently swapped."""
    graph = _graph(env)
    (tid,) = _start(graph, 1)
    config = {"configurable": {"thread_id": tid}}
    monkeypatch.setenv("LGSCOPE_TEST_EXPLODE", "1")
    with pytest.raises(RuntimeError, match="payments API is down"):
        resume(graph, config, {"approved": True, "by": "alice"})
    monkeypatch.delenv("LGSCOPE_TEST_EXPLODE")
    with pytest.raises(AlreadyResolved, match="was answered already with .*'alice'.* but the node failed"):
        resume(graph, config, {"approved": False, "by": "bob"})
    report = Sweeper(graph, store=env["LGSCOPE_TEST_STORE"], apply=True).run(now=LATER)
    (decision,) = report.decisions
    assert (decision.outcome, decision.detail) == (
        "already_resolved",
        "answered with {'approved': True, 'by': 'alice'}, then the node failed; resuming replays that answer",
    )
    assert _side_effects(env) == []
    # the same answer again retries the node
    assert resume(graph, config, {"approved": True, "by": "alice"})["decision"]["by"] == "alice"
    assert _side_effects(env) == [(tid, 1)]


def test_subgraph_interrupts_are_swept_once(env: dict[str, str], tmp_path: Path) -> None:
    from langgraph.graph import START, StateGraph

    inner = StateGraph(approval_graph.State)
    inner.add_node("approve", approval_graph.approve)
    inner.add_edge(START, "approve")
    outer = StateGraph(approval_graph.State)
    outer.add_node("review", inner.compile())
    outer.add_edge(START, "review")
    conn = sqlite3.connect(env["LGSCOPE_TEST_STORE"], check_same_thread=False)
    graph = outer.compile(checkpointer=SqliteSaver(conn))
    ids = _start(graph, 2, "nested")
    audit = AuditLog(tmp_path / "audit.jsonl")
    report = Sweeper(graph, store=env["LGSCOPE_TEST_STORE"], apply=True, audit=audit).run(now=LATER)
    assert report.counts() == {"rejected": 2}
    assert sorted(e["thread_id"] for e in audit.entries() if e["outcome"] == "rejected") == ids
    assert _side_effects(env) == [(tid, 0) for tid in ids]
    with pytest.raises(AlreadyResolved):
        resume(graph, {"configurable": {"thread_id": ids[0]}}, True)


def sweep_notified(store: str, audit: Path) -> list[str]:
    """The command line of a sweeper process that resumes `approval_graph.notified` threads."""
    return [
        sys.executable,
        "-m",
        "lgscope",
        "sweep",
        store,
        "--older-than",
        "0s",
        "--graph",
        "approval_graph:notified",
        "--apply",
        "--audit",
        str(audit),
    ]


def test_a_sweeper_killed_between_resume_and_record_is_settled_by_the_rerun(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The one window an append-after-act audit loses: the resume is saved, the process dies before
    writing its outcome. The ``resuming`` intent written before acting lets the rerun record it."""
    conn = sqlite3.connect(env["LGSCOPE_TEST_STORE"], check_same_thread=False)
    threads = _start(approval_graph.build(SqliteSaver(conn), then_notify=True), 6)
    audit = tmp_path / "audit.jsonl"
    environ = {**os.environ, **env, "PYTHONPATH": str(HERE)}
    cmd = sweep_notified(env["LGSCOPE_TEST_STORE"], audit)
    killed = subprocess.run(cmd, env={**environ, "LGSCOPE_TEST_DIE_AFTER": "t-002"}, capture_output=True)
    assert killed.returncode == -9
    last = {e["thread_id"]: e["outcome"] for e in AuditLog(audit).entries()}
    assert last == {"t-000": "rejected", "t-001": "rejected", "t-002": "resuming"}
    rerun = subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert (
        "resumed by lgscope-sweeper at" in rerun.stdout
        and "which was stopped before recording it" in rerun.stdout
    )
    assert "6 of 3 pending" not in rerun.stdout
    _check_exactly_once(threads, _side_effects(env), audit)
    outcomes = [(e["thread_id"], e["outcome"]) for e in AuditLog(audit).entries()]
    assert outcomes == [
        ("t-000", "resuming"),
        ("t-000", "rejected"),
        ("t-001", "resuming"),
        ("t-001", "rejected"),
        ("t-002", "resuming"),
        ("t-002", "rejected"),  # settled by the rerun from the stored answer
        *[(t, o) for t in ("t-003", "t-004", "t-005") for o in ("resuming", "rejected")],
    ]
    assert AuditLog(audit).open_intents() == {}


def _shared_store(saver: Any) -> tuple[Any, Any, Any]:
    """Three graphs on one store, each with a thread waiting on an approval."""
    approvals = approval_graph.build(saver)
    onboarding = approval_graph.build_onboarding(saver)
    expenses = approval_graph.build_expenses(saver)
    approvals.invoke({"amount": 6000}, {"configurable": {"thread_id": "pay-1"}})
    onboarding.invoke({"user": "ada"}, {"configurable": {"thread_id": "user-1"}})
    expenses.invoke({"expense": 40}, {"configurable": {"thread_id": "exp-1"}})
    return approvals, onboarding, expenses


def _histories(store_url: str) -> dict[str, int]:
    with open_store(store_url) as store:
        return {e.thread_id: e.checkpoints for e in store.index()}


def test_a_store_shared_by_graphs_sweeps_only_the_given_graphs_threads(
    env: dict[str, str], tmp_path: Path
) -> None:
    url = env["LGSCOPE_TEST_STORE"]
    conn = sqlite3.connect(url, check_same_thread=False, timeout=30)
    approvals, onboarding, _ = _shared_store(SqliteSaver(conn))
    before = _histories(url)
    audit = AuditLog(tmp_path / "audit.jsonl")
    report = Sweeper(approvals, store=url, apply=True, audit=audit).run(now=LATER)
    by_thread = {d.thread_id: (d.outcome, d.detail) for d in report.decisions}
    assert by_thread == {
        "pay-1": ("rejected", ""),
        "user-1": (
            "skipped",
            "not this sweep's graph: raised at node 'welcome', which graph 'approvals' does not have",
        ),
        # same node name, other channels: not ours either
        "exp-1": ("skipped", "not this sweep's graph: channels expense are not in graph 'approvals'"),
    }
    assert (report.stale, report.pending) == (3, 3)
    assert _side_effects(env) == [("pay-1", 0)]
    after = _histories(url)
    assert after["user-1"] == before["user-1"] and after["exp-1"] == before["exp-1"]  # untouched
    with open_store(url) as store:
        assert store.thread("user-1").status == "interrupted"
        assert all(not s.errors for s in store.load("user-1").all_steps())
    assert {e["thread_id"] for e in audit.entries()} == {"pay-1"}  # skips are not decisions
    # both graphs given: each thread is resumed through its own graph
    report = Sweeper(graphs=[approvals, onboarding], store=url, apply=True).run(now=LATER)
    assert {d.thread_id: d.outcome for d in report.decisions} == {"user-1": "rejected", "exp-1": "skipped"}
    assert onboarding.get_state({"configurable": {"thread_id": "user-1"}}).values["welcomed"] is False


def test_sweep_takes_several_graphs_on_the_command_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = env["LGSCOPE_TEST_STORE"]
    conn = sqlite3.connect(url, check_same_thread=False, timeout=30)
    _shared_store(SqliteSaver(conn))
    importlib.reload(approval_graph)  # its module-level graphs now open this test's store
    monkeypatch.chdir(HERE)
    result = CliRunner().invoke(
        main,
        [
            "sweep", url, "--graph", "approval_graph:graph", "--graph", "approval_graph:onboarding",
            "--apply", "--now", LATER.isoformat(),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert last == "3 of 3 pending interrupts are stale: 2 rejected, 1 skipped"
    assert "exp-1" in result.stdout and "skipped" in result.stdout


@pytest.mark.postgres
def test_escalations_are_remembered_on_postgres_without_an_audit_log(postgres_url: str) -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        approvals, onboarding, _ = _shared_store(saver)
        seen: list[str] = []

        def sweeper() -> Sweeper:
            return Sweeper(
                graphs=[approvals, onboarding],
                store=postgres_url,
                policy="escalate",
                apply=True,
                on_escalate=lambda c: seen.append(c.interrupt.thread_id),
            )

        first = sweeper().run(now=LATER)
        assert first.counts() == {"escalated": 2, "skipped": 1}
        again = sweeper().run(now=LATER)  # a new sweeper: what it knows is in the database
        assert again.counts() == {"already_escalated": 2, "skipped": 1}
        assert (again.stale, again.pending) == (3, 3)
    assert sorted(seen) == ["pay-1", "user-1"]
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT thread_id FROM lgscope_escalations ORDER BY 1").fetchall()
    assert rows == [("pay-1",), ("user-1",)]


def test_both_spellings_of_a_sqlite_store_share_its_locks(tmp_path: Path) -> None:
    from lgscope.approvals._lock import locks_for

    store = tmp_path / "app.sqlite"
    store.touch()
    as_url = "sqlite:///" + str(store).lstrip("/")
    assert locks_for(as_url).directory == locks_for(str(store)).directory
