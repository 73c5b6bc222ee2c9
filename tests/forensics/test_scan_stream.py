"""The whole-store pass (one ordered read of each table) reads exactly what thread-by-thread reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lgscope import open_store
from lgscope.forensics import scan
from lgscope.model import ThreadHistory
from lgscope.store import Store


def _whole(history: ThreadHistory) -> ThreadHistory:
    return ThreadHistory(history.thread, {ns: tuple(steps) for ns, steps in history.steps.items()})


def _both(path: Path, state_writes: bool) -> tuple[list[object], list[object]]:
    # read whole while the store is open: a history from a store streams its steps
    with open_store(path) as st:
        bulk = [_whole(h) for h in st.scan(state_writes=state_writes)]
        one_by_one = [_whole(h) for h in Store.scan(st, state_writes=state_writes)]
    return bulk, one_by_one


def test_the_sample_store_reads_the_same_either_way(sample_store: Path) -> None:
    for state_writes in (True, False):
        bulk, one_by_one = _both(sample_store, state_writes)
        assert len(bulk) == 24 and bulk == one_by_one


def test_corrupt_rows_and_orphan_writes_read_the_same_either_way(damaged_sample: Path) -> None:
    path = damaged_sample
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE writes SET value = x'c1' WHERE thread_id = 'medicine-stuck' AND channel = '__interrupt__'"
        )
        # writes whose checkpoint is gone, before the first thread and between two threads
        conn.execute(
            "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, "
            "type, value) VALUES ('aaa-gone', '', 'x', 't', '', 0, 'c', 'msgpack', x'c0'), "
            "('medicine-stuck', '', 'gone', 't', '', 0, 'c', 'msgpack', x'c0'), "
            "('n-gone', '', 'x', 't', '', 0, 'c', 'msgpack', x'c0')"
        )
    for state_writes in (True, False):
        bulk, one_by_one = _both(path, state_writes)
        assert bulk == one_by_one
    with open_store(path) as st:
        result = scan(st)
    assert result.stats.threads == 24 and result.stats.corrupt_checkpoints == 2
    assert result.stats.errors == []


def test_postgres_reads_the_same_either_way(postgres_sample: str) -> None:
    import psycopg

    with psycopg.connect(postgres_sample, autocommit=True) as conn:
        # a corrupt blob, and blobs and writes of threads that have no checkpoint
        conn.execute(
            "UPDATE checkpoint_blobs SET blob = '\\xc1c1' WHERE thread_id = 'chat-turns' AND channel = 'messages' "
            "AND version = (SELECT min(version) FROM checkpoint_blobs WHERE thread_id = 'chat-turns' "
            "AND channel = 'messages')"
        )
        for orphan in ("aaa-gone", "n-gone", "zzz-gone"):
            conn.execute(
                "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob) "
                "VALUES (%s, '', 'messages', '1', 'msgpack', '\\xc0')",
                (orphan,),
            )
            conn.execute(
                "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, "
                "channel, type, blob) VALUES (%s, '', 'x', 't', '', 0, 'c', 'msgpack', '\\xc0')",
                (orphan,),
            )
    with open_store(postgres_sample) as st:
        for state_writes in (True, False):
            bulk = list(st.scan(state_writes=state_writes))
            one_by_one = list(Store.scan(st, state_writes=state_writes))
            assert len(bulk) == 24 and bulk == one_by_one
        result = scan(st)
    assert result.stats.threads == 24 and result.stats.corrupt_checkpoints >= 1
