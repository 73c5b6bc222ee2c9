"""The SQL fast paths and the generic saver path read every sample thread identically."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from lgscope import open_store
from lgscope.forensics import scan
from lgscope.model import Step, ThreadHistory
from lgscope.store import Store


def _normalized(history: ThreadHistory) -> Any:
    # The public saver API cannot know byte sizes or write positions/paths/type tags:
    # those are compared between the SQL paths only (Step.size, Write.task_path/idx/type/size).
    def step(s: Step) -> Step:
        writes = tuple(dataclasses.replace(w, task_path="", idx=0, type="", size=0) for w in s.writes)
        resumes = tuple(dataclasses.replace(w, task_path="", idx=0, type="", size=0) for w in s.resumes)
        return dataclasses.replace(s, size=0, writes=writes, resumes=resumes)

    return (
        dataclasses.replace(history.thread, size=0),
        {ns: tuple(step(s) for s in steps) for ns, steps in history.steps.items()},
    )


def _all(store: Store) -> dict[str, Any]:
    return {h.thread.thread_id: _normalized(h) for h in store.scan()}


@pytest.fixture
def sqlite_saver(sample_store: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(f"file:{sample_store}?mode=ro", uri=True, check_same_thread=False)
    yield SqliteSaver(conn)
    conn.close()


def test_sqlite_fast_path_equals_generic_saver_path(sample_store: Path, sqlite_saver: SqliteSaver) -> None:
    with open_store(sample_store) as fast, open_store(sqlite_saver) as generic:
        a, b = _all(fast), _all(generic)
        assert fast.thread_ids() == generic.thread_ids()
    assert len(a) == 24
    for tid in a:
        assert a[tid] == b[tid], tid


@pytest.mark.postgres
def test_postgres_fast_path_equals_generic_saver_path_and_sqlite(
    postgres_sample: str, sample_store: Path
) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(postgres_sample) as saver, open_store(postgres_sample) as fast:
        with open_store(saver) as generic:
            a, b = _all(fast), _all(generic)
    with open_store(sample_store) as sqlite:
        c = _all(sqlite)
    assert sorted(a) == sorted(c)
    for tid in a:
        assert a[tid] == b[tid], tid
        # same threads written through a different saver: same nodes, values and statuses
        pg_thread, pg_steps = a[tid]
        sq_thread, sq_steps = c[tid]
        assert pg_thread.status == sq_thread.status
        assert [s.nodes for s in pg_steps[""]] == [s.nodes for s in sq_steps[""]]
        assert pg_steps[""][-1].values == sq_steps[""][-1].values


def test_thread_summary_agrees_with_the_full_load(sample_store: Path) -> None:
    with open_store(sample_store) as store:
        for tid in store.thread_ids():
            assert store.thread(tid) == store.load(tid).thread, tid


@pytest.mark.postgres
def test_postgres_summary_agrees_with_the_full_load(postgres_sample: str) -> None:
    with open_store(postgres_sample) as store:
        result = scan(store)
        assert len(result.threads) == 24
        for tid in store.thread_ids():
            assert store.thread(tid) == store.load(tid).thread, tid
