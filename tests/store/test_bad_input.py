"""Bad stores get one clear sentence (API: the right exception; CLI: one line, exit 2)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from lgscope import NotACheckpointStore, StoreUnavailable, ThreadNotFound, open_store
from lgscope.cli import main


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotACheckpointStore, match="is a directory; give the SQLite file itself"):
        open_store(tmp_path)


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 100)
    code, out = cli("threads", str(path))
    assert code == 2
    assert out.startswith(f"Error: {path} is not a SQLite database (file is not a database);")
    assert out.count("\n") == 1 and "Traceback" not in out


def test_an_old_schema_without_task_path_still_reads(sample_copy: Path) -> None:
    with sqlite3.connect(sample_copy) as conn:
        conn.execute("ALTER TABLE writes DROP COLUMN task_path")
    with open_store(sample_copy) as store:
        steps = store.history("support-1")
        thread = store.thread("medicine-stuck")
    assert [s.nodes for s in steps] == [("__input__",), ("__start__",), ("agent",), ("tools",), ("agent",)]
    assert thread.status == "interrupted" and thread.pending_interrupts[0].node == "approval"


def test_unknown_thread(sample_store: Path) -> None:
    with open_store(sample_store) as store, pytest.raises(ThreadNotFound) as info:
        store.load("nope")
    assert str(info.value) == (
        f"The store {sample_store} has no thread 'nope'; list its threads with: lgscope threads {sample_store}."
    )


def test_unknown_serializer_type_is_an_inert_placeholder(sample_copy: Path) -> None:
    with sqlite3.connect(sample_copy) as conn:
        conn.execute(
            "UPDATE writes SET type = 'msgpack+aes' WHERE thread_id = 'support-1' AND channel = 'messages'"
        )
    with open_store(sample_copy) as store:
        writes = [w for s in store.history("support-1") for w in s.writes if w.channel == "messages"]
    assert writes and all(w.value["undecoded"].startswith("serializer type 'msgpack+aes'") for w in writes)


def test_unreachable_postgres() -> None:
    with pytest.raises(StoreUnavailable) as info:
        open_store("postgresql://lg:secret@127.0.0.1:1/prod")
    message = str(info.value)
    assert message.startswith("Cannot connect to the Postgres store postgresql://lg:***@127.0.0.1:1/prod (")
    assert message.endswith("check that the server is running and the URL, user and database are right.")
    assert "secret" not in message
    code, out = cli("scan", "postgresql://lg:secret@127.0.0.1:1/prod")
    assert code == 2 and out.startswith("Error: Cannot connect") and "secret" not in out


@pytest.mark.postgres
def test_postgres_database_without_checkpoint_tables(postgres_url: str) -> None:
    with pytest.raises(
        NotACheckpointStore, match="has no checkpoints, checkpoint_blobs, checkpoint_writes table"
    ):
        open_store(postgres_url)
