"""Each detector on a real LangGraph graph run against a real SQLite checkpointer."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from forensics_graphs import (
    agent_graph,
    approval_graph,
    ask,
    cfg,
    failing_graph,
    poll_graph,
    review_graph,
    saver,
    tool_call,
    turns_graph,
)
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.errors import GraphRecursionError
from langgraph.types import Command

from lgscope import open_store
from lgscope.forensics import (
    ALL_KINDS,
    DETECTORS,
    ERROR,
    GROWTH,
    LOOP,
    NO_PROGRESS,
    OSCILLATION,
    STUCK_INTERRUPT,
    DetectorConfig,
    StoreNorms,
    detect,
    scan,
)
from lgscope.model import Finding, ThreadHistory


def _load(path: Path, thread_id: str) -> ThreadHistory:
    """A thread read whole, to use after the store is closed (a store's histories stream)."""
    with open_store(path) as st:
        history = st.load(thread_id)
        return ThreadHistory(history.thread, {ns: tuple(steps) for ns, steps in history.steps.items()})


def _kinds(findings: list[Finding]) -> list[str]:
    return sorted(f.kind for f in findings)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    with saver(path) as s:
        s.setup()
    return path


def test_the_public_api_is_pinned() -> None:
    import lgscope.forensics as forensics

    assert sorted(forensics.__all__) == sorted(
        [
            "ALL_KINDS",
            "DETECTORS",
            "ERROR",
            "GROWTH",
            "INTERRUPT_INTEGRITY",
            "LocalProcesses",
            "LOOP",
            "NO_PROGRESS",
            "OSCILLATION",
            "STUCK_INTERRUPT",
            "STUCK_RUN",
            "TIME_DEPENDENT",
            "TailEvent",
            "DetectorConfig",
            "Frames",
            "ScanResult",
            "ScanStats",
            "StoreNorms",
            "dask_executor",
            "detect",
            "follow",
            "frames",
            "scan",
        ]
    )
    assert set(DETECTORS) | {GROWTH} == ALL_KINDS
    assert DetectorConfig(loop_min_repeats=5, stuck_after=timedelta(hours=2)).loop_min_repeats == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        DetectorConfig().loop_min_repeats = 1  # type: ignore[misc]
    from lgscope.forensics import diff  # another engineer's module stays importable

    assert diff.__name__ == "lgscope.forensics.diff"


def test_the_looping_agent_is_a_loop_and_a_recursion_limit_stop(db: Path) -> None:
    with saver(db) as s:
        graph = agent_graph(s, [tool_call(n) for n in range(40)])
        with pytest.raises(GraphRecursionError):
            graph.invoke(ask("what is the refund policy?"), cfg("looping", recursion_limit=25))
    history = _load(db, "looping")
    findings = detect(history)
    assert _kinds(findings) == [ERROR, LOOP]
    loop = next(f for f in findings if f.kind == LOOP)
    assert loop.summary == "agent → tools repeated 12 times with the same state changes"
    assert loop.evidence["cycle"] == ["agent", "tools"] and loop.evidence["repeats"] == 12
    assert '"q": "refund policy"' in loop.evidence["values"][0]  # the same tool call, every time
    error = next(f for f in findings if f.kind == ERROR)
    root = history.steps[""]
    assert (error.first_checkpoint_id, error.last_checkpoint_id) == (
        root[0].checkpoint_id,
        root[-1].checkpoint_id,
    )
    assert error.evidence["inferred"] is True and error.evidence["recursion_limit"] == 25
    assert "no __error__ write exists" in error.evidence["reason"]
    assert error.summary == "hit the recursion limit (25, inferred) with tools still to run"
    # a limit lgscope is not told about is not guessed
    assert _kinds(detect(history, DetectorConfig(recursion_limits=(30,)))) == [LOOP]


def test_a_custom_recursion_limit_is_recognized_when_configured(db: Path) -> None:
    with saver(db) as s:
        graph = agent_graph(s, [tool_call(n) for n in range(40)])
        with pytest.raises(GraphRecursionError):
            graph.invoke(ask("refund?"), cfg("t", recursion_limit=12))
    history = _load(db, "t")
    assert _kinds(detect(history, DetectorConfig(detectors=frozenset({ERROR})))) == []
    found = detect(history, DetectorConfig(detectors=frozenset({ERROR}), recursion_limits=(12,)))
    assert [f.evidence["recursion_limit"] for f in found] == [12]


def test_a_healthy_agent_has_no_findings(db: Path) -> None:
    with saver(db) as s:
        graph = agent_graph(
            s, [tool_call(1), AIMessage("Refunds take 3 days."), tool_call(2, "x"), AIMessage("ok")]
        )
        graph.invoke(ask("refund?"), cfg("ok"))
        graph.invoke(ask("and x?"), cfg("ok"))
    assert detect(_load(db, "ok")) == []


def test_a_repeating_assistant_is_a_loop_by_its_messages(db: Path) -> None:
    with saver(db) as s:
        replies = [
            AIMessage(f"I am sorry, I could not find anything about that (attempt {n}).") for n in range(5)
        ]
        graph = agent_graph(s, replies)
        for n in range(5):
            graph.invoke(ask(f"question {n}"), cfg("parrot"))
    findings = detect(_load(db, "parrot"))
    assert _kinds(findings) == [LOOP]
    assert findings[0].evidence["similar_messages"] == 5
    assert findings[0].evidence["excerpt"].startswith("I am sorry, I could not find anything")
    assert "cycle" not in findings[0].evidence  # every step added a different message
    assert detect(_load(db, "parrot"), DetectorConfig(loop_similarity=0.999)) == []


def test_a_bounced_review_oscillates_and_loops(db: Path) -> None:
    with saver(db) as s:
        review_graph(s, bounces=4).invoke({"draft": ""}, cfg("bounce"))
        review_graph(s, bounces=1).invoke({"draft": ""}, cfg("once"))
    findings = detect(_load(db, "bounce"))
    assert _kinds(findings) == [LOOP, OSCILLATION]
    osc = next(f for f in findings if f.kind == OSCILLATION)
    assert osc.evidence == {"field": "status", "flips": 8, "values": ["in_review", "draft"]}
    assert detect(_load(db, "bounce"), DetectorConfig(oscillation_min_flips=9, loop_min_repeats=5)) == []
    assert detect(_load(db, "once")) == []


def test_a_legitimately_alternating_field_is_not_an_oscillation(db: Path) -> None:
    with saver(db) as s:
        graph = turns_graph(s)
        for n in range(10):
            graph.invoke({"messages": [HumanMessage(f"question {n}")], "turn": "assistant"}, cfg("chat"))
    history = _load(db, "chat")
    turns = [st.values["turn"] for st in history.steps[""] if "turn" in st.values]
    assert sum(a != b for a, b in zip(turns, turns[1:], strict=False)) >= 18  # it does flip, a lot
    assert detect(history) == []  # …but every flip comes with a new message


def test_a_poller_that_never_moves_is_no_progress_not_a_loop(db: Path) -> None:
    with saver(db) as s:
        poll_graph(s, polls=6).invoke({"job": "j1", "status": "submitted"}, cfg("poll"))
        poll_graph(s, polls=2).invoke({"job": "j2", "status": "submitted"}, cfg("short"))
    findings = detect(_load(db, "poll"))
    assert _kinds(findings) == [NO_PROGRESS]
    assert findings[0].evidence["steps"] == 10
    assert findings[0].summary == "10 checkpoints in a row changed nothing (nodes: check, wait)"
    assert detect(_load(db, "short")) == []  # 2 stalled checkpoints: under the default of 4
    assert detect(_load(db, "poll"), DetectorConfig(no_progress_min_steps=11)) == []


def test_an_unanswered_interrupt_is_stuck_after_the_threshold(db: Path) -> None:
    with saver(db) as s:
        graph = approval_graph(s)
        graph.invoke({"amount": 9000}, cfg("pending"))
        graph.invoke({"amount": 100}, cfg("answered"))
        graph.invoke(Command(resume=True), cfg("answered"))
    history = _load(db, "pending")
    (intr,) = history.thread.pending_interrupts
    at = intr.created_at
    assert detect(history, now=at + timedelta(hours=23)) == []
    (stuck,) = detect(history, now=at + timedelta(hours=25))
    assert stuck.kind == STUCK_INTERRUPT and stuck.severity == "warning"
    assert stuck.summary == "interrupt at approve has waited 1d01h for an answer"
    assert stuck.evidence["interrupt_id"] == intr.id and stuck.evidence["node"] == "approve"
    assert stuck.evidence["value"] == '{"question": "approve transfer of 9000?"}'
    assert stuck.evidence["age_seconds"] == 25 * 3600
    assert detect(history, DetectorConfig(stuck_after=timedelta(hours=1)), now=at + timedelta(hours=2)) != []
    assert detect(history, now=at + timedelta(days=4))[0].severity == "error"
    assert detect(_load(db, "answered"), now=at + timedelta(days=30)) == []


def test_failed_tasks_are_errors_resolved_or_not(db: Path) -> None:
    fail = {"parse": True}
    with saver(db) as s:
        graph = failing_graph(s, fail)
        for tid in ("failed", "retried"):
            with pytest.raises(ValueError):
                graph.invoke({"path": "a.csv"}, cfg(tid))
        fail["parse"] = False
        graph.invoke(None, cfg("retried"))
    (failed,) = detect(_load(db, "failed"))
    assert (failed.kind, failed.severity) == (ERROR, "error")
    assert failed.summary == "node 'parse' failed: ValueError: row 7: unexpected delimiter"
    assert failed.evidence["unresolved"] is True
    (retried,) = detect(_load(db, "retried"))
    assert retried.severity == "warning" and retried.summary.endswith("(the thread ran on afterwards)")


def test_growth_compares_a_threads_turns_with_threads_of_the_same_graph(db: Path) -> None:
    with saver(db) as s:
        for n in range(4):
            agent_graph(s, [AIMessage("Sure.")]).invoke(ask(f"hi {n}"), cfg(f"short-{n}"))
        topics = ["billing", "shipping", "returns", "warranty", "accounts", "invoices"]
        answers = [f"{topics[n % 6]} rule {n * 37 % 101}: " + "covered " * (n % 5 + 1) for n in range(30)]
        graph = agent_graph(s, [AIMessage(text) for text in answers])
        for n in range(30):  # a long, healthy conversation: 30 turns of one answer each
            graph.invoke(ask(f"and topic {n}?"), cfg("marathon"))
        # one turn that searched 30 times, each search different: runaway, not a loop
        searches = [tool_call(n, f"query {n}") for n in range(30)] + [AIMessage("Found nothing.")]
        agent_graph(s, searches).invoke(ask("find it"), {**cfg("runaway"), "recursion_limit": 100})
    with open_store(db) as st:
        result = scan(st, config=DetectorConfig(detectors=frozenset({GROWTH})))
    (growth,) = result.findings
    assert growth.thread_id == "runaway" and growth.evidence["turn_messages"] == 62
    assert growth.summary == "runaway growth: 62 messages, 31× the median of its graph's threads"
    assert growth.evidence["like_threads"] == 6
    history = _load(db, "runaway")
    assert detect(history) == []  # growth needs the norms of like threads…
    assert _kinds(detect(history, norms=StoreNorms(2, 5000, 5))) == [GROWTH]  # …given here
    assert detect(history, DetectorConfig(growth_min_messages=63), norms=StoreNorms(2, 5000, 5)) == []
    assert detect(_load(db, "marathon"), norms=StoreNorms(2, 5000, 5)) == []  # 2 messages a turn


def test_the_detector_selection(db: Path) -> None:
    with saver(db) as s:
        review_graph(s, bounces=4).invoke({"draft": ""}, cfg("bounce"))
    history = _load(db, "bounce")
    assert _kinds(detect(history, DetectorConfig(detectors=frozenset({OSCILLATION})))) == [OSCILLATION]
    assert detect(history, DetectorConfig(detectors=frozenset())) == []


def test_scan_counts_corrupt_checkpoints_and_reads_on(db: Path) -> None:
    with saver(db) as s:
        review_graph(s, bounces=4).invoke({"draft": ""}, cfg("bounce"))
        poll_graph(s, polls=6).invoke({"job": "j1", "status": "submitted"}, cfg("poll"))
    with sqlite3.connect(db) as conn:
        (cid,) = conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'poll' ORDER BY checkpoint_id LIMIT 1 OFFSET 3"
        ).fetchone()
        conn.execute("UPDATE checkpoints SET checkpoint = x'c1c1c1' WHERE checkpoint_id = ?", (cid,))
    with open_store(db) as st:
        seen: list[tuple[int, int]] = []
        result = scan(st, progress=lambda done, total: seen.append((done, total)))
    assert result.stats.threads == 2 and result.stats.corrupt_checkpoints == 1 and result.stats.errors == []
    assert seen == [(1, 2), (2, 2)]
    assert {f.thread_id for f in result.findings} == {"bounce", "poll"}
    assert result.findings[0].severity == "error"  # worst first


def test_scan_selects_threads_and_since(db: Path) -> None:
    with saver(db) as s:
        review_graph(s, bounces=4).invoke({"draft": ""}, cfg("bounce"))
        poll_graph(s, polls=6).invoke({"job": "j1", "status": "submitted"}, cfg("poll"))
    with open_store(db) as st:
        only = scan(st, thread_ids=["poll"])
        last = st.thread("poll").updated_at
        assert last is not None
        later = scan(st, since=last + timedelta(seconds=1))
    assert [t.thread_id for t in only.threads] == ["poll"] and _kinds(only.findings) == [NO_PROGRESS]
    assert later.threads == [] and later.findings == [] and later.stats.checkpoints == 0


def test_postgres_scan_finds_what_sqlite_finds(
    postgres_sample: str, sample_store: Path, reference_now: object
) -> None:
    from datetime import datetime

    assert isinstance(reference_now, datetime)
    with open_store(sample_store) as st:
        lite = scan(st, now=reference_now)
    with open_store(postgres_sample) as st:
        pg = scan(st, now=reference_now)
    key = lambda f: (f.kind, f.thread_id, f.checkpoint_ns, f.summary)  # noqa: E731
    assert sorted(map(key, pg.findings)) == sorted(map(key, lite.findings))
    assert pg.stats.checkpoints == lite.stats.checkpoints and pg.stats.threads == lite.stats.threads
