"""The per-thread locks themselves, with real Postgres sessions, files and threads."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from lgscope import AlreadyResolved, LockUnavailable
from lgscope.approvals import FileLocks, PostgresLocks, locks_for, resume

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import approval_graph  # noqa: E402


def _race(n: int, work: Any) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released together; their results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    workers = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


def test_file_locks_exclude_threads_of_one_process(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path / "locks")
    with locks.hold("t-1"):
        (outcome,) = _race(1, lambda _: locks.hold("t-1", timeout=0.1).__enter__())
        assert isinstance(outcome, LockUnavailable)
        with locks.hold("t-2", timeout=0.1):  # other threads are not blocked
            pass


@pytest.mark.postgres
def test_postgres_locks_exclude_threads_sharing_one_saver_connection(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests of one app answer the same interrupt at once through one PostgresSaver.

    Advisory locks are re-entrant within a session: had the lock been taken on the saver's own
    connection, both requests would have held it and both resumes would have run.
    """
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    monkeypatch.setenv("LGSCOPE_TEST_SIDE", postgres_url)
    monkeypatch.setenv("LGSCOPE_TEST_DELAY", "0.3")  # the node is slow: both requests overlap
    with psycopg.connect(postgres_url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
        conn.execute("CREATE TABLE side_effects (thread_id TEXT, approved BOOLEAN)")
        saver = PostgresSaver(conn)
        saver.setup()
        graph = approval_graph.build(saver)
        config: dict[str, Any] = {"configurable": {"thread_id": "t-1"}}
        graph.invoke({"amount": 6000}, config)
        outcomes = _race(2, lambda i: resume(graph, config, {"approved": True, "by": i}))
        assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyResolved", "dict"], outcomes
        (count,) = conn.execute("SELECT count(*) AS n FROM side_effects").fetchone().values()
        assert count == 1
        assert locks_for(saver) is locks_for(saver)  # one set of lock sessions per saver
        locks = locks_for(saver)
        assert isinstance(locks, PostgresLocks)
        locks.close()


@pytest.mark.postgres
def test_postgres_locks_do_not_borrow_the_graphs_pool(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool of one connection: the lock must not take the connection the resume needs."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    monkeypatch.setenv("LGSCOPE_TEST_SIDE", postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE side_effects (thread_id TEXT, approved BOOLEAN)")
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    with ConnectionPool(postgres_url, min_size=1, max_size=1, kwargs=kwargs, timeout=3) as pool:
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()
        graph = approval_graph.build(saver)
        config: dict[str, Any] = {"configurable": {"thread_id": "t-1"}}
        graph.invoke({"amount": 6000}, config)
        assert resume(graph, config, {"approved": True})["decision"] == {"approved": True}
        with pytest.raises(AlreadyResolved):
            resume(graph, config, {"approved": True})
        locks = locks_for(saver)
        assert isinstance(locks, PostgresLocks)
        locks.close()
