"""size: every breakdown sums to the stored bytes, which equal a plain sum(length(...)) of the
same columns; a node's bytes come from what its writes made."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prune_graphs import counter_graph, saver_for

from lgscope.housekeeping import Policy, plan_prune, size
from lgscope.store import open_store

BREAKDOWNS = ("by_channel", "by_node", "by_namespace", "by_day")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(tmp_path / "store.sqlite")


def test_the_sample_store_adds_up(sample_store: Path) -> None:
    report = size(sample_store, top=None, floor=True)
    assert report.total_bytes == report.floor_bytes  # every stored byte, counted once
    for name in BREAKDOWNS:
        assert sum(e.bytes for e in getattr(report, name)) == report.total_bytes, name
    assert sum(e.bytes for e in report.by_thread) == report.total_bytes
    assert report.latest_bytes + report.history_bytes == report.total_bytes
    with sqlite3.connect(f"file:{sample_store}?mode=ro", uri=True) as conn:
        (threads,) = conn.execute("SELECT count(DISTINCT thread_id) FROM checkpoints").fetchone()
        (checkpoints,) = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
        biggest, biggest_bytes = conn.execute(
            "SELECT thread_id, sum(length(checkpoint) + length(metadata)) AS b FROM checkpoints "
            "GROUP BY thread_id ORDER BY b DESC LIMIT 1"
        ).fetchone()
    assert (report.threads, report.checkpoints) == (threads, checkpoints)
    assert report.by_thread[0].name == biggest and report.by_thread[0].bytes >= biggest_bytes
    # a growing message list is what fills a SQLite store: it is stored whole in every checkpoint
    assert report.by_channel[0].name == "messages"
    assert report.to_json()["by_thread"][0] == {
        "thread_id": biggest,
        "bytes": report.by_thread[0].bytes,
        "checkpoints": report.by_thread[0].checkpoints,
    }


def test_top_keeps_the_largest_threads(sample_store: Path) -> None:
    every = size(sample_store, top=None).by_thread
    assert size(sample_store, top=3).by_thread == every[:3]


def test_nodes_days_and_would_free_on_a_real_graph(target: str) -> None:
    with saver_for(target) as saver:
        counter_graph(saver).invoke({"limit": 15}, {"configurable": {"thread_id": "t"}})
    report = size(target, floor=True)
    assert report.total_bytes == report.floor_bytes
    for name in BREAKDOWNS:
        assert sum(e.bytes for e in getattr(report, name)) == report.total_bytes, name
    nodes = {e.name: e for e in report.by_node}
    # `step` made 15 checkpoints (each holding, or introducing, the grown list); the input one
    assert nodes["step"].checkpoints == 15 and nodes["__input__"].checkpoints == 1
    assert nodes["step"].bytes > nodes["__input__"].bytes
    assert {e.name for e in report.by_channel} >= {"items", "n", "limit"}
    today = datetime.now(UTC).date().isoformat()
    assert [e.name for e in report.by_day] in ([today], sorted({today, *[e.name for e in report.by_day]}))
    assert sum(e.checkpoints for e in report.by_day) == report.checkpoints
    keep1 = next(w for w in report.would_free if w.policy == "keep-last 1")
    (plan,) = plan_prune(target, Policy(keep_last=1))
    assert keep1.checkpoints == plan.checkpoints
    assert plan.bytes <= keep1.bytes <= report.history_bytes + 1  # an upper bound of what a plan frees


def test_postgres_counts_a_shared_blob_once(postgres_url: str) -> None:
    import psycopg

    with saver_for(postgres_url) as saver:
        counter_graph(saver).invoke({"limit": 6}, {"configurable": {"thread_id": "t"}})
    report = size(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        ((blobs,),) = conn.execute(
            "SELECT sum(length(blob)) FROM checkpoint_blobs WHERE channel = 'items'"
        ).fetchall()
        ((writes,),) = conn.execute(
            "SELECT coalesce(sum(length(blob)), 0) FROM checkpoint_writes WHERE channel = 'items'"
        ).fetchall()
    items = next(e for e in report.by_channel if e.name == "items")
    assert items.bytes == blobs + writes


def test_size_opens_the_store_read_only(sample_copy: Path) -> None:
    sample_copy.chmod(0o444)
    try:
        report = size(sample_copy)
    finally:
        sample_copy.chmod(0o644)
    assert report.total_bytes > 0
    with open_store(sample_copy) as st:
        assert len(st.thread_ids()) == report.threads


def test_size_and_plans_read_through_a_connection_that_cannot_write(target: str) -> None:
    from lgscope.housekeeping._db import rows_for
    from lgscope.housekeeping._postgres import PostgresRows
    from lgscope.housekeeping._sqlite import SqliteRows

    with saver_for(target) as saver:
        counter_graph(saver).invoke({"limit": 2}, {"configurable": {"thread_id": "t"}})
    rows = rows_for(target)
    try:
        if isinstance(rows, PostgresRows):
            import psycopg

            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                rows.conn.execute("DELETE FROM checkpoints")
        else:
            assert isinstance(rows, SqliteRows)
            with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
                rows.conn.execute("DELETE FROM checkpoints")
    finally:
        rows.close()
    assert size(target).checkpoints == 4
