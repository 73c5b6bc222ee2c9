"""Reading never changes a store: SQLite bytes, mtime and journal mode; Postgres READ ONLY."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from lgscope import open_store
from lgscope.cli import main
from lgscope.forensics import scan


def _fingerprint(path: Path) -> tuple[str, int, list[str]]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    siblings = sorted(p.name for p in path.parent.iterdir())
    return digest, path.stat().st_mtime_ns, siblings


def _journal_mode(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
def test_every_read_path_leaves_the_sqlite_file_untouched(sample_copy: Path, wal: bool) -> None:
    if wal:
        with sqlite3.connect(sample_copy) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        # a WAL database is checkpointed and closed cleanly before we read it
    before, mode = _fingerprint(sample_copy), _journal_mode(sample_copy)
    os.utime(sample_copy, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = _fingerprint(sample_copy)
    with open_store(sample_copy) as store:
        list(store.threads())
        store.thread("support-1")
        history = store.load("review-bounce")
        store.history("research-fanout")
        store.step("review-bounce", history.steps[""][-1].checkpoint_id)
        scan(store)
    for args in (["threads", str(sample_copy)], ["scan", str(sample_copy), "--format", "json"]):
        assert CliRunner().invoke(main, args).exit_code == 0
    assert _fingerprint(sample_copy) == before
    assert _journal_mode(sample_copy) == mode


def test_a_write_through_the_store_connection_is_refused(sample_copy: Path) -> None:
    with open_store(sample_copy) as store:
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|attempt to write"):
            store._conn.execute("DELETE FROM checkpoints")  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_postgres_reads_run_in_read_only_transactions(postgres_sample: str) -> None:
    with open_store(postgres_sample) as store:
        with store._tx() as cur:  # type: ignore[attr-defined]
            cur.execute("SHOW transaction_read_only")
            assert cur.fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            with store._tx() as cur:  # type: ignore[attr-defined]
                cur.execute("DELETE FROM checkpoint_writes")
        assert len(list(store.threads())) == 24


def test_the_data_version_moves_only_when_another_connection_commits(sample_copy: Path) -> None:
    with open_store(sample_copy) as st:
        before = st.data_version()
        list(st.scan_chunk(st.thread_ids()[:2]))  # reading changes nothing
        list(st.tips())
        assert st.data_version() == before
        with sqlite3.connect(sample_copy) as other:
            other.execute("DELETE FROM writes WHERE thread_id = 'support-1'")
        assert st.data_version() != before


def test_a_write_killed_half_way_is_named_not_rolled_back(sample_copy: Path) -> None:
    import subprocess
    import sys

    from lgscope import NotACheckpointStore

    with sqlite3.connect(sample_copy) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    # a writer killed mid-transaction, after its cache spilled into the file: a hot journal
    killed = (
        "import os, sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('PRAGMA cache_size = 1')\n"
        "conn.execute('BEGIN')\n"
        "conn.execute(\"UPDATE checkpoints SET metadata = metadata || ''\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", killed, str(sample_copy)], check=True)
    journal = sample_copy.with_name(sample_copy.name + "-journal")
    assert journal.stat().st_size > 0
    before = hashlib.sha256(sample_copy.read_bytes()).hexdigest()
    with pytest.raises(NotACheckpointStore, match=r"rollback journal .*-journal holds a write that stopped"):
        open_store(sample_copy)
    assert hashlib.sha256(sample_copy.read_bytes()).hexdigest() == before  # lgscope undid nothing
