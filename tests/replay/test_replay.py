"""`lgscope.replay`: every sample incident, forked before its fault and rerun fixed (or patched), is
gone in the replay; a healthy thread rerun with its own graph and recorded model takes the same
path; the source is never written and the graph never touches its own checkpointer."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

import pytest
import replay_graphs as fixed
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from lgscope import UsageError, open_store
from lgscope.examples import bank, support
from lgscope.replay import ReplayResult, areplay, replay
from lgscope.testing import recorded_replies


def nth(store: Path, thread_id: str, n: int) -> str:
    with open_store(store) as st:
        return [s.checkpoint_id for s in st.steps(thread_id, control_only=True)][n]


# thread, the finding kinds it has, the fixed graph, where to fork (index of its root checkpoints), options
INCIDENTS: list[tuple[str, set[str], Any, int, dict[str, Any]]] = [
    ("support-loop-gave-up", {"loop"}, fixed.support_fixed, 1, {}),
    ("support-loop-recursion", {"loop", "error"}, fixed.support_fixed, 1, {}),
    ("review-bounce", {"loop", "oscillation"}, fixed.review_bounce, 2, {"patch": {"rounds": 4}}),
    ("sync-stalled", {"no_progress"}, fixed.sync_fixed, 1, {}),
    ("ingest-failed", {"error"}, fixed.ingest_fixed, 1, {}),
    ("medicine-stuck", {"stuck_interrupt"}, fixed.medicine_graph, -1, {"resume": {"action": "approve"}}),
    (
        "transfer-9000-pending",
        {"stuck_interrupt"},
        bank.build,
        -1,
        {"resume": {"approved": True, "by": "m-7"}},
    ),
]


@pytest.mark.parametrize(
    ("thread_id", "kinds", "graph", "at", "options"), INCIDENTS, ids=[i[0] for i in INCIDENTS]
)
def test_each_incident_forked_before_its_fault_and_fixed_is_gone_in_the_replay(
    sample_copy: Path,
    tmp_path: Path,
    thread_id: str,
    kinds: set[str],
    graph: Any,
    at: int,
    options: dict[str, Any],
) -> None:
    before = hashlib.sha256(sample_copy.read_bytes()).hexdigest()
    sandbox = tmp_path / "sandbox.sqlite"
    result = replay(
        str(sample_copy),
        thread_id,
        graph,
        checkpoint=nth(sample_copy, thread_id, at),
        into=str(sandbox),
        **options,
    )
    assert hashlib.sha256(sample_copy.read_bytes()).hexdigest() == before
    assert {f.kind for f in result.recorded_findings} >= kinds
    assert not kinds & {f.kind for f in result.replayed_findings}
    assert set(result.fixed) >= kinds and result.introduced == ()
    assert (result.status, result.error) == ("done", None)
    assert result.sandbox == str(sandbox) and result.fork.thread_id == thread_id
    assert result.recorded != result.replayed and result.first_divergence is not None
    with open_store(sandbox) as st:  # the sandbox holds the rerun: the fork point, then the new steps
        steps = st.history(thread_id)
        assert result.fork.checkpoint_id in [s.checkpoint_id for s in steps]
        assert steps[-1].checkpoint_id > result.fork.checkpoint_id


def test_the_rerun_of_an_unfixed_fault_shows_it_again(sample_store: Path) -> None:
    result = replay(
        str(sample_store),
        "ingest-failed",
        fixed.ingest_broken,
        checkpoint=nth(sample_store, "ingest-failed", 1),
    )
    assert result.status == "error" and "error" in {f.kind for f in result.replayed_findings}
    assert result.error == "ValueError: row 42: unexpected delimiter ';'"
    assert result.fixed == () and result.replayed == ("load",)  # parse failed: no checkpoint of its own
    assert Path(result.sandbox).parent == Path(__import__("tempfile").gettempdir())
    assert list(Path(result.sandbox).parent.glob(Path(result.sandbox).name + "*")) == [Path(result.sandbox)]
    Path(result.sandbox).unlink()


@pytest.mark.parametrize("thread_id", ["support-1", "support-2", "support-3", "support-4", "support-5"])
def test_a_healthy_thread_replayed_with_its_graph_and_recorded_model_takes_the_same_path(
    sample_store: Path, tmp_path: Path, thread_id: str
) -> None:
    cid = nth(sample_store, thread_id, 1)
    graph = support.build(None, thread_id, recorded_replies(str(sample_store), thread_id, after=cid))
    result = replay(str(sample_store), thread_id, graph, checkpoint=cid, into=str(tmp_path / "s.sqlite"))
    assert result.replayed == result.recorded == ("agent", "tools", "agent")
    assert result.first_divergence is None and all(row.same for row in result.aligned)
    assert result.state_diff == ()  # the same messages, ids and all
    assert result.recorded_findings == result.replayed_findings == ()
    assert (result.recorded_status, result.status) == ("done", "done")


def test_the_graph_runs_on_the_sandbox_never_on_its_own_checkpointer(
    sample_store: Path, tmp_path: Path
) -> None:
    production = tmp_path / "production.sqlite"
    with SqliteSaver.from_conn_string(str(production)) as saver:
        graph = fixed.support_fixed(saver)  # compiled with the production checkpointer
        result = replay(
            str(sample_store),
            "support-loop-gave-up",
            graph,
            checkpoint=nth(sample_store, "support-loop-gave-up", 1),
        )
        assert graph.checkpointer is saver
        assert next(iter(saver.list(None)), None) is None  # nothing was written to it
    assert result.fixed == ("loop",)
    Path(result.sandbox).unlink()


def test_a_patch_of_an_unknown_field_or_a_graph_of_other_nodes_runs_nothing(
    sample_store: Path, tmp_path: Path
) -> None:
    sandbox = tmp_path / "s.sqlite"
    with pytest.raises(UsageError, match="The graph has no field 'nope'"):
        replay(str(sample_store), "review-bounce", fixed.review_bounce, patch={"nope": 1}, into=str(sandbox))
    with pytest.raises(
        UsageError, match="The graph has no node 'reviewer', 'writer' that thread 'review-bounce' ran"
    ):
        replay(str(sample_store), "review-bounce", fixed.other_graph, into=str(sandbox))
    assert not sandbox.exists()


def test_several_pending_interrupts_need_a_map(sample_store: Path, tmp_path: Path) -> None:
    # one interrupt: a bare value is enough (checked above); the map form works too
    with open_store(sample_store) as st:
        (pending,) = st.thread("medicine-stuck").pending_interrupts
    result = replay(
        str(sample_store), "medicine-stuck", fixed.medicine_graph, resume={pending.id: {"action": "approve"}}
    )
    assert result.status == "done" and result.replayed == ("approval", "finalize")
    Path(result.sandbox).unlink()


def test_a_rerun_that_stops_at_an_interrupt_is_resumed(sample_store: Path, tmp_path: Path) -> None:
    # forked before the approval step ran: the rerun asks again, and --resume answers
    cid = nth(sample_store, "transfer-9000-pending", 2)
    asked = replay(
        str(sample_store),
        "transfer-9000-pending",
        bank.build,
        checkpoint=cid,
        into=str(tmp_path / "a.sqlite"),
    )
    assert asked.status == "interrupted" and asked.replayed == ("prepare",)
    answered = replay(
        str(sample_store),
        "transfer-9000-pending",
        bank.build,
        checkpoint=cid,
        resume={"approved": False, "by": "m-7"},
        into=str(tmp_path / "b.sqlite"),
    )
    assert answered.status == "done" and answered.replayed[:2] == ("prepare", "approval")


class Counter(TypedDict, total=False):
    n: int


def async_counter(checkpointer: Any) -> Any:
    async def step(state: Counter) -> Counter:
        await asyncio.sleep(0)
        return {"n": state.get("n", 0) + 1}

    g = StateGraph(Counter)
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", lambda s: END if s["n"] >= 3 else "step", ["step", END])
    return g.compile(checkpointer=checkpointer)


async def test_an_async_graph_replays_on_an_async_saver(tmp_path: Path) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    source = tmp_path / "source.sqlite"
    async with AsyncSqliteSaver.from_conn_string(str(source)) as saver:
        await async_counter(saver).ainvoke({"n": 0}, {"configurable": {"thread_id": "c"}})
    cid = nth(source, "c", 2)
    result: ReplayResult = await areplay(
        str(source), "c", async_counter, checkpoint=cid, into=str(tmp_path / "s.sqlite")
    )
    assert result.recorded == result.replayed == ("step", "step")
    assert result.status == "done" and result.state_diff == () and result.error is None
    patched = await areplay(
        str(source),
        "c",
        async_counter,
        checkpoint=cid,
        patch={"n": 2},
        into=str(tmp_path / "p.sqlite"),
        as_node="step",
    )
    assert patched.replayed == ("step",) and patched.first_divergence == 1
    assert [c.to_dict() for c in patched.state_diff] == []  # n ends at 3 either way


async def test_an_async_replay_into_an_existing_store_keeps_its_journal_mode(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    source = tmp_path / "source.sqlite"
    async with AsyncSqliteSaver.from_conn_string(str(source)) as saver:
        await async_counter(saver).ainvoke({"n": 0}, {"configurable": {"thread_id": "c"}})
    sandbox = tmp_path / "kept.sqlite"
    with closing(sqlite3.connect(sandbox)) as conn:  # an existing file in SQLite's default mode
        conn.execute("CREATE TABLE notes (x)")
    result = await areplay(str(source), "c", async_counter, checkpoint=nth(source, "c", 2), into=str(sandbox))
    assert result.replayed == ("step", "step")
    with closing(sqlite3.connect(sandbox)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_result_json_carries_the_comparison(sample_store: Path) -> None:
    result = replay(
        str(sample_store), "sync-stalled", fixed.sync_fixed, checkpoint=nth(sample_store, "sync-stalled", 1)
    )
    data = result.to_dict()
    assert data["replayed"] == ["wait", "check"] and data["recorded"][:2] == ["wait", "check"]
    assert data["first_divergence"] == 2 and data["aligned"][2] == {
        "recorded": "wait",
        "replayed": None,
        "same": False,
    }
    assert data["fixed"] == ["no_progress"] and data["status"] == "done"
    assert {"path": ["status"], "kind": "changed", "old": "submitted", "new": "done"} in data["state_diff"]
    Path(result.sandbox).unlink()


def test_a_fork_point_holding_pickle_is_refused_before_the_graph_sees_it(
    sample_copy: Path, tmp_path: Path
) -> None:
    from hostile import plant_write

    cid = plant_write(sample_copy, b"\x80\x04K\x01.", type_="pickle", channel="messages", task_path="agent")
    sandbox = tmp_path / "s.sqlite"
    with pytest.raises(
        UsageError, match=f"Checkpoint {cid} of thread 'support-1' holds pickle, which LangGraph's"
    ):
        replay(str(sample_copy), "support-1", fixed.support_fixed, into=str(sandbox))
    assert not sandbox.exists()
    # without a graph nothing decodes it: fork copies the bytes as they are
    fork_target = tmp_path / "f.sqlite"
    from lgscope.replay import fork

    assert fork(str(sample_copy), "support-1", str(fork_target)).pending_writes == 1


@pytest.mark.postgres
def test_a_postgres_sandbox_sync_and_async(sample_store: Path, postgres_url: str) -> None:
    result = replay(
        str(sample_store),
        "medicine-stuck",
        fixed.medicine_graph,
        resume={"action": "approve"},
        into=postgres_url,
    )
    assert (result.status, result.replayed, result.fixed) == (
        "done",
        ("approval", "finalize"),
        ("stuck_interrupt",),
    )
    assert "search_path" in result.sandbox
    cid = nth(sample_store, "support-loop-gave-up", 1)
    again = asyncio.run(
        areplay(
            str(sample_store), "support-loop-gave-up", fixed.support_fixed, checkpoint=cid, into=postgres_url
        )
    )
    assert again.fixed == ("loop",) and again.replayed == ("agent",)
    with open_store(postgres_url) as st:
        assert sorted(st.thread_ids()) == ["medicine-stuck", "support-loop-gave-up"]


def test_an_export_file_is_a_replay_source(sample_store: Path, tmp_path: Path) -> None:
    from lgscope.store.export import export_thread

    with open_store(sample_store) as st:
        export_thread(st, "support-loop-gave-up", tmp_path / "incident.jsonl")
    cid = nth(sample_store, "support-loop-gave-up", 1)
    result = replay(
        str(tmp_path / "incident.jsonl"),
        "support-loop-gave-up",
        fixed.support_fixed,
        checkpoint=cid,
        into=str(tmp_path / "s.sqlite"),
    )
    assert result.fixed == ("loop",) and len(result.recorded) == 11 and result.replayed == ("agent",)


def test_a_replay_into_the_source_store_adds_a_thread_and_keeps_its_journal_mode(sample_copy: Path) -> None:
    import sqlite3

    with open_store(sample_copy) as st:
        before = tuple(st.steps("support-loop-gave-up"))
    result = replay(
        str(sample_copy),
        "support-loop-gave-up",
        fixed.support_fixed,
        checkpoint=nth(sample_copy, "support-loop-gave-up", 1),
        into=str(sample_copy),
        to_thread="support-loop-gave-up-fixed",
    )
    assert result.fixed == ("loop",)
    with open_store(sample_copy) as st:
        assert tuple(st.steps("support-loop-gave-up")) == before
        assert st.thread("support-loop-gave-up-fixed").status == "done"
    with sqlite3.connect(sample_copy) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_a_rerun_left_waiting_at_the_same_interrupt_is_not_fixed_by_being_young(
    sample_store: Path, tmp_path: Path
) -> None:
    result = replay(
        str(sample_store),
        "medicine-stuck",
        fixed.medicine_graph,
        checkpoint=nth(sample_store, "medicine-stuck", 1),  # before the question: asked anew
        into=str(tmp_path / "s.sqlite"),
    )
    assert result.status == "interrupted"  # nobody answered the rerun either
    assert "stuck_interrupt" in {f.kind for f in result.recorded_findings}
    assert "stuck_interrupt" in {f.kind for f in result.replayed_findings}
    assert "stuck_interrupt" not in result.fixed
    with open_store(tmp_path / "s.sqlite") as st:  # asked by the rerun, minutes ago
        asked = st.thread("medicine-stuck").pending_interrupts[0].created_at
    assert (datetime.now(UTC) - asked).total_seconds() < 600


def test_a_rerun_of_a_finished_thread_stopped_at_a_fresh_interrupt_is_not_stuck(
    sample_store: Path, tmp_path: Path
) -> None:
    result = replay(
        str(sample_store),
        "medicine-approved",
        fixed.medicine_graph,
        checkpoint=nth(sample_store, "medicine-approved", 1),
        into=str(tmp_path / "s.sqlite"),
    )
    assert (result.recorded_status, result.status) == ("done", "interrupted")  # asked, not yet answered
    assert "stuck_interrupt" not in {f.kind for f in result.replayed_findings}
    assert result.introduced == ()
