"""`lgscope.fork`: a stored thread copied up to a checkpoint into another store, resumable, the
source unchanged; bad input refused with one sentence and nothing written."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command
from replay_graphs import medicine_graph, other_graph, review_bounce

from lgscope import CheckpointNotFound, ImportConflict, NotACheckpointStore, UsageError, open_store
from lgscope.examples import support
from lgscope.replay import fork
from lgscope.store import rebuilt_channels
from lgscope.store.export import export_thread


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ids(store: Any, thread_id: str, ns: str = "") -> list[str]:
    return [s.checkpoint_id for s in store.steps(thread_id, ns, control_only=True)]


@pytest.mark.parametrize(
    "thread_id", ["support-loop-gave-up", "medicine-stuck", "research-fanout", "project-relaunch"]
)
def test_a_whole_thread_is_copied_as_stored_and_the_source_is_unchanged(
    sample_copy: Path, tmp_path: Path, thread_id: str
) -> None:
    before = digest(sample_copy)
    target = tmp_path / "fork.sqlite"
    result = fork(str(sample_copy), thread_id, str(target))
    assert digest(sample_copy) == before
    with open_store(sample_copy) as src, open_store(target) as dst:
        thread = src.thread(thread_id)
        assert result.namespaces == thread.namespaces
        assert result.checkpoints == thread.checkpoints
        assert dst.thread(thread_id).status == thread.status
        for ns in thread.namespaces:
            assert tuple(dst.steps(thread_id, ns)) == tuple(src.steps(thread_id, ns)), ns
    # LangGraph reads the copy as it reads the source: every checkpoint, its metadata and pending writes
    with SqliteSaver.from_conn_string(str(sample_copy)) as a, SqliteSaver.from_conn_string(str(target)) as b:
        config = {"configurable": {"thread_id": thread_id}}
        theirs = [(t.checkpoint, t.metadata, t.pending_writes, t.parent_config) for t in a.list(config)]
        ours = [(t.checkpoint, t.metadata, t.pending_writes, t.parent_config) for t in b.list(config)]
    assert ours == theirs and len(ours) == result.checkpoints


def test_a_fork_at_an_earlier_checkpoint_ends_there_and_reruns_its_tasks(
    sample_copy: Path, tmp_path: Path
) -> None:
    target = tmp_path / "fork.sqlite"
    with open_store(sample_copy) as src:
        line = ids(src, "support-loop-gave-up")
    result = fork(
        str(sample_copy), "support-loop-gave-up", str(target), checkpoint=line[3][-8:], to_thread="early"
    )
    assert (result.checkpoint_id, result.head_checkpoint_id, result.checkpoints) == (line[3], line[3], 4)
    assert result.pending_writes == 0  # its writes made the next checkpoint: the rerun makes them again
    with open_store(target) as dst:
        assert ids(dst, "early") == line[:4]
        assert dst.thread("early").next == ("agent",)


def test_a_forked_interrupted_thread_resumes_in_the_sandbox(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "fork.sqlite"
    result = fork(str(sample_store), "medicine-stuck", str(target))
    assert result.pending_writes == 1
    with open_store(target) as dst:
        (pending,) = dst.thread("medicine-stuck").pending_interrupts
    with open_store(sample_store) as src:
        assert pending.id == src.thread("medicine-stuck").pending_interrupts[0].id
    with SqliteSaver.from_conn_string(str(target)) as saver:
        graph = medicine_graph(saver)
        config = {"configurable": {"thread_id": "medicine-stuck"}}
        graph.invoke(Command(resume={pending.id: {"action": "approve"}}), config)
        state = graph.get_state(config)
    assert state.values["decision"] == "approve" and state.values["final"] == [
        "amoxicillin 500mg",
        "ibuprofen 400mg",
    ]
    assert not state.next


def _add(state: Sequence[Any], writes: Sequence[Any]) -> Any:
    out: Any = state
    for w in writes:
        out = add_messages(out, w)
    return out


class DeltaState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], DeltaChannel(_add, snapshot_frequency=4)]
    tries: int


def delta_graph(checkpointer: Any) -> Any:
    def agent(state: DeltaState) -> DeltaState:
        n = state.get("tries", 0) + 1
        return {"messages": [AIMessage(f"try {n}", id=f"a{n}")], "tries": n}

    g = StateGraph(DeltaState)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", lambda s: END if s["tries"] >= 100 else "agent", ["agent", END])
    return g.compile(checkpointer=checkpointer)


DELTA = {"configurable": {"thread_id": "delta"}, "recursion_limit": 14}


@pytest.fixture
def delta_store(tmp_path: Path) -> Path:
    path = tmp_path / "delta.sqlite"
    with SqliteSaver.from_conn_string(str(path)) as saver:
        with pytest.raises(GraphRecursionError):
            delta_graph(saver).invoke({"messages": [HumanMessage("hi", id="q")]}, DELTA)
    return path


@pytest.mark.parametrize("at", [-1, 10])
def test_a_forked_delta_channel_thread_shows_its_full_value_and_resumes(
    delta_store: Path, tmp_path: Path, at: int
) -> None:
    with open_store(delta_store) as src:
        line = ids(src, "delta")
        cid = line[at]
        want = [m["id"] for m in src.step("delta", cid).values["messages"]]
    assert len(want) > 5  # past the snapshot every 4 updates: the value needs the chain behind it
    target = tmp_path / "fork.sqlite"
    fork(str(delta_store), "delta", str(target), checkpoint=cid)
    with open_store(target) as dst:
        head = dst.step("delta", cid)
        assert [m["id"] for m in head.values["messages"]] == want
        assert "messages" in rebuilt_channels(head)
    with SqliteSaver.from_conn_string(str(target)) as saver:
        graph = delta_graph(saver)
        assert [m.id for m in graph.get_state(DELTA).values["messages"]] == want  # LangGraph rebuilds it too
        with pytest.raises(GraphRecursionError):
            graph.invoke(None, DELTA)
        state = graph.get_state(DELTA).values
    assert [m.id for m in state["messages"]][: len(want)] == want
    assert len(state["messages"]) == state["tries"] + 1 > len(want)


def test_set_patches_a_plain_field_at_the_fork_point(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "fork.sqlite"
    with open_store(sample_store) as src:
        cid = ids(src, "review-bounce")[2]
    result = fork(str(sample_store), "review-bounce", str(target), checkpoint=cid, patch={"rounds": 4})
    assert result.patched == ("rounds",) and result.head_checkpoint_id != cid
    with open_store(target) as dst:
        head = dst.step("review-bounce", result.head_checkpoint_id)
        assert head.parent_id == cid and head.nodes == ("__update__",) and head.values["rounds"] == 4
        assert head.next == ("reviewer",)
    with SqliteSaver.from_conn_string(str(target)) as saver:
        graph = review_bounce(saver)
        config = {"configurable": {"thread_id": "review-bounce"}}
        assert graph.get_state(config).values["rounds"] == 4
        graph.invoke(None, config)  # the reviewer runs once and, at 4 rounds, the graph ends
        assert graph.get_state(config).values["status"] == "draft" and not graph.get_state(config).next


def test_set_through_the_graph_applies_its_reducer(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "fork.sqlite"
    with open_store(sample_store) as src:
        cid = ids(src, "support-1")[1]
    graph = support.build(None, "x", [])
    note = {"type": "human", "content": "please hurry", "id": "extra"}
    result = fork(
        str(sample_store), "support-1", str(target), checkpoint=cid, patch={"messages": [note]}, graph=graph
    )
    with open_store(target) as dst:
        head = dst.step("support-1", result.head_checkpoint_id)
        assert [m["id"] for m in head.values["messages"]] == [
            "support-1-q",
            "extra",
        ]  # appended, not replaced
        assert head.source == "update"


def test_a_patch_through_the_graph_that_fails_writes_nothing(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "fork.sqlite"
    with pytest.raises(UsageError, match="The graph refused the patch"):
        fork(
            str(sample_store),
            "support-1",
            str(target),
            patch={"messages": [{"type": "nonsense"}]},
            graph=support.build(None, "x", []),
        )
    assert not target.exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"checkpoint": "zzzz"}, CheckpointNotFound, "has no checkpoint matching 'zzzz'"),
        ({"graph": other_graph}, UsageError, "The graph has no node 'agent', 'tools' that thread"),
        ({"patch": {"nope": 1}}, UsageError, "has no field 'nope' at checkpoint"),
        (
            {"patch": {"nope": 1}, "graph": support.build(None, "x", [])},
            UsageError,
            "The graph has no field 'nope'",
        ),
        ({"patch": {"messages": []}}, UsageError, "'messages' is a reducer channel .* pass --graph"),
        ({"as_node": "agent"}, UsageError, "--as-node needs --graph"),
    ],
)
def test_bad_input_is_one_sentence_and_writes_nothing(
    sample_store: Path, tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    target = tmp_path / "fork.sqlite"
    with pytest.raises(error, match=message):
        fork(str(sample_store), "support-1", str(target), **kwargs)
    assert not target.exists()


def test_an_existing_target_thread_is_refused_unless_forced(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "fork.sqlite"
    fork(str(sample_store), "support-1", str(target))
    before = digest(target)
    with pytest.raises(ImportConflict, match="already has a thread 'support-1'; pass --force"):
        fork(
            str(sample_store),
            "support-1",
            str(target),
            checkpoint=ids(open_store(sample_store), "support-1")[1],
        )
    assert digest(target) == before
    result = fork(
        str(sample_store), "support-1", str(target), checkpoint=result_cid(sample_store), force=True
    )
    with open_store(target) as dst:
        assert dst.thread("support-1").checkpoints == result.checkpoints == 2


def result_cid(store: Path) -> str:
    with open_store(store) as src:
        return ids(src, "support-1")[1]


def test_the_source_store_is_written_only_as_a_new_thread(sample_copy: Path) -> None:
    with pytest.raises(UsageError, match="is the source store: give --to-thread NEW_ID"):
        fork(str(sample_copy), "support-1", str(sample_copy))
    with open_store(sample_copy) as src:
        original = tuple(src.steps("support-1"))
    fork(
        str(sample_copy),
        "support-1",
        str(sample_copy),
        to_thread="support-1-fork",
        checkpoint=result_cid(sample_copy),
    )
    with open_store(sample_copy) as src:
        assert tuple(src.steps("support-1")) == original
        assert len(src.steps("support-1-fork")) == 2


def test_an_export_file_is_a_source(sample_store: Path, tmp_path: Path) -> None:
    with open_store(sample_store) as src:
        export_thread(src, "research-fanout", tmp_path / "r.jsonl")
        want = {
            ns: tuple(src.steps("research-fanout", ns)) for ns in src.thread("research-fanout").namespaces
        }
    target = tmp_path / "fork.sqlite"
    fork(str(tmp_path / "r.jsonl"), "research-fanout", str(target))
    with open_store(target) as dst:
        assert {ns: tuple(dst.steps("research-fanout", ns)) for ns in want} == want


@pytest.mark.postgres
def test_postgres_source_read_with_select_rights_only_and_postgres_target(
    postgres_sample: str, postgres_server: str, tmp_path: Path
) -> None:
    import uuid

    import psycopg
    from psycopg import sql

    schema = postgres_sample.rsplit("search_path%3D", 1)[1]
    role = f"lgscope_ro_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role))
        )
        conn.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
    try:
        readonly = postgres_sample.replace("postgresql://postgres@", f"postgresql://{role}@")
        target = tmp_path / "fork.sqlite"
        result = fork(readonly, "research-fanout", str(target))
        assert len(result.namespaces) == 2
        with open_store(readonly) as src, open_store(target) as dst:
            for ns in result.namespaces:
                # a step's stored size is counted the way each backend stores it; the rest is the same
                assert sized(dst.steps("research-fanout", ns)) == sized(src.steps("research-fanout", ns))
        # a replay reads the source with the same rights: its sandbox gets the writes
        from lgscope.replay import replay

        rerun = replay(
            readonly,
            "medicine-stuck",
            medicine_graph,
            resume={"action": "approve"},
            into=str(tmp_path / "r.sqlite"),
        )
        assert rerun.status == "done" and rerun.fixed == ("stuck_interrupt",)
        # into Postgres (another schema of the same server), then LangGraph resumes it there
        pg_target = _schema(postgres_server)
        try:
            fork(readonly, "medicine-stuck", pg_target[0])
            with open_store(pg_target[0]) as dst, open_store(readonly) as src:
                assert sized(dst.steps("medicine-stuck")) == sized(src.steps("medicine-stuck"))
                assert dst.thread("medicine-stuck").status == "interrupted"
            from langgraph.checkpoint.postgres import PostgresSaver

            with PostgresSaver.from_conn_string(pg_target[0]) as saver:
                graph = medicine_graph(saver)
                graph.invoke(
                    Command(resume={"action": "approve"}), {"configurable": {"thread_id": "medicine-stuck"}}
                )
                assert (
                    graph.get_state({"configurable": {"thread_id": "medicine-stuck"}}).values["decision"]
                    == "approve"
                )
        finally:
            with psycopg.connect(postgres_server, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(pg_target[1])))
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _schema(server: str) -> tuple[str, str]:
    import uuid

    import psycopg
    from psycopg import sql

    name = f"lgscope_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return f"{server}?options=-csearch_path%3D{name}", name


def test_a_sqlite_target_that_is_not_a_checkpoint_store_is_refused(
    sample_store: Path, tmp_path: Path
) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("not a database, but someone's notes\n" * 100)
    before = digest(target)
    with pytest.raises(NotACheckpointStore, match="Cannot fork into .* it is not a SQLite checkpoint store"):
        fork(str(sample_store), "support-1", str(target))
    assert digest(target) == before


def sized(steps: Any) -> list[Any]:
    import dataclasses

    return [dataclasses.replace(s, size=0, thread_id="") for s in steps]


@pytest.mark.postgres
def test_a_patch_through_the_graph_into_postgres_is_one_transaction(
    sample_store: Path, postgres_url: str
) -> None:
    graph = support.build(None, "x", [])
    note = {"type": "human", "content": "please hurry", "id": "extra"}
    result = fork(str(sample_store), "support-1", postgres_url, patch={"messages": [note]}, graph=graph)
    with open_store(postgres_url) as dst:
        head = dst.step("support-1", result.head_checkpoint_id)
        assert [m["id"] for m in head.values["messages"]][-1] == "extra" and head.source == "update"
        assert dst.thread("support-1").checkpoints == result.checkpoints + 1
    with pytest.raises(UsageError, match="The graph refused the patch"):
        fork(
            str(sample_store),
            "support-2",
            postgres_url,
            patch={"messages": [{"type": "nonsense"}]},
            graph=graph,
        )
    with open_store(postgres_url) as dst:
        assert dst.thread_ids() == ["support-1"]  # the failed fork left nothing


def test_an_open_store_as_the_source_is_still_never_overwritten(sample_copy: Path) -> None:
    with open_store(sample_copy) as src:
        with pytest.raises(UsageError, match="is the source store: give --to-thread NEW_ID"):
            fork(src, "support-1", str(sample_copy), force=True)
        with pytest.raises(UsageError, match="needs the store's path, not the open store"):
            fork(src, "support-1", str(sample_copy), to_thread="other")
        assert len(src.steps("support-1")) == 5 and "other" not in src.thread_ids()


def test_the_source_named_as_a_sqlite_url_is_still_the_source(sample_copy: Path) -> None:
    # sqlite:///tmp/... names /tmp/... when only that exists, as open_store reads it: the guard
    # that keeps the source thread from being overwritten must see the same file
    as_url = "sqlite:///" + str(sample_copy).lstrip("/")
    before = digest(sample_copy)
    with pytest.raises(UsageError, match="is the source store: give --to-thread NEW_ID"):
        fork(as_url, "support-1", str(sample_copy), checkpoint=result_cid(sample_copy), force=True)
    assert digest(sample_copy) == before
