"""Bad stores get one clear sentence (API: the right exception; CLI: one line, exit 2)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from lgscope import NotACheckpointStore, StoreNotFound, StoreUnavailable, ThreadNotFound, open_store
from lgscope.cli import main


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def one_error_line(out: str) -> str:
    assert out.startswith("Error: ") and out.count("\n") == 1 and "Traceback" not in out, out
    return out[len("Error: ") : -1]


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.sqlite"
    with pytest.raises(StoreNotFound) as info:
        open_store(path)
    assert str(info.value) == f"There is no file at {path}; check the path."
    code, out = cli("threads", str(path))
    assert code == 2 and one_error_line(out) == str(info.value)
    assert not path.exists()


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotACheckpointStore, match="is a directory; give the SQLite file itself"):
        open_store(tmp_path)
    code, out = cli("threads", str(tmp_path))
    assert code == 2 and one_error_line(out) == f"{tmp_path} is a directory; give the SQLite file itself."


def test_a_sqlite_file_without_checkpoint_tables(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    with pytest.raises(NotACheckpointStore) as info:
        open_store(path)
    assert str(info.value) == (
        f"{path} is a SQLite database but not a LangGraph checkpoint store (no usable checkpoints "
        "and writes table); give the file your SqliteSaver writes."
    )
    code, out = cli("threads", str(path))
    assert code == 2 and one_error_line(out) == str(info.value)


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


def test_a_truncated_checkpoint_marks_its_step_corrupt_and_the_rest_loads(sample_copy: Path) -> None:
    with sqlite3.connect(sample_copy) as conn:
        (cid,) = conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'support-1' AND checkpoint_ns = '' "
            "ORDER BY checkpoint_id LIMIT 1 OFFSET 2"
        ).fetchone()
        conn.execute(
            "UPDATE checkpoints SET checkpoint = substr(checkpoint, 1, 20) WHERE thread_id = 'support-1' "
            "AND checkpoint_id = ?",
            (cid,),
        )
    with open_store(sample_copy) as store:
        steps = store.history("support-1")
        thread = store.thread("support-1")
    assert [s.nodes for s in steps] == [("__input__",), ("__start__",), ("agent",), ("tools",), ("agent",)]
    assert [s.checkpoint_id == cid for s in steps] == [s.corrupt is not None for s in steps]
    assert steps[2].corrupt == (
        "A msgpack blob of 20 bytes is corrupt or truncated (unexpected end of file); "
        "the rest of the history is still readable."
    )
    assert thread.status == "done" and len(steps[-1].values["messages"]) == 4
    code, out = cli("threads", str(sample_copy))
    assert code == 0 and "support-1" in out


def test_metadata_json_that_only_the_standard_library_reads(sample_copy: Path) -> None:
    # json.dumps writes NaN and integers past 64 bits; the fast parser refuses them, json takes them
    with sqlite3.connect(sample_copy) as conn:
        conn.execute(
            "UPDATE checkpoints SET metadata = ? WHERE thread_id = 'support-1' AND checkpoint_ns = ''",
            (b'{"source": "loop", "step": 3, "score": NaN, "big": 123456789012345678901234567890}',),
        )
        conn.execute(
            "UPDATE checkpoints SET metadata = ? WHERE thread_id = 'support-2' AND checkpoint_ns = ''",
            (b'{"source": "loop", "step": ',),
        )
    with open_store(sample_copy) as store:
        steps = store.history("support-1")
        broken = store.history("support-2")
    assert steps[0].metadata["big"] == 123456789012345678901234567890
    assert steps[0].metadata["score"] != steps[0].metadata["score"]  # NaN
    assert all(s.corrupt is not None and "metadata is not valid JSON" in s.corrupt for s in broken)


@pytest.mark.postgres
def test_a_truncated_postgres_blob_marks_its_step_corrupt(postgres_sample: str) -> None:
    import psycopg

    with psycopg.connect(postgres_sample, autocommit=True) as conn:
        (version,) = conn.execute(  # type: ignore[misc]
            "SELECT version FROM checkpoint_blobs WHERE thread_id = 'support-1' AND channel = 'messages' "
            "ORDER BY version LIMIT 1 OFFSET 1"
        ).fetchone()
        conn.execute(
            "UPDATE checkpoint_blobs SET blob = substring(blob from 1 for 5) WHERE thread_id = 'support-1' "
            "AND channel = 'messages' AND version = %s",
            (version,),
        )
    with open_store(postgres_sample) as store:
        steps = store.history("support-1")
    assert [s.corrupt is not None for s in steps] == [False, False, True, False, False]
    assert steps[2].corrupt == (
        "channel 'messages': A msgpack blob of 5 bytes is corrupt or truncated (unexpected end of file); "
        "the rest of the history is still readable."
    )
    assert steps[2].nodes == ("agent",) and len(steps[-1].values["messages"]) == 4


def test_unknown_serializer_type_is_an_inert_placeholder(sample_copy: Path) -> None:
    with sqlite3.connect(sample_copy) as conn:
        conn.execute(
            "UPDATE writes SET type = 'msgpack+aes' WHERE thread_id = 'support-1' AND channel = 'messages'"
        )
    with open_store(sample_copy) as store:
        writes = [w for s in store.history("support-1") for w in s.writes if w.channel == "messages"]
    assert writes and all(w.value["undecoded"].startswith("serializer type 'msgpack+aes'") for w in writes)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h:1/db", "postgresql://u:***@h:1/db"),
        (
            "postgresql://u@h/db?sslmode=disable&password=secret",
            "postgresql://u@h/db?sslmode=disable&password=***",
        ),
        ("postgresql://u@h/db?options=-csearch_path%3Ds", "postgresql://u@h/db?options=-csearch_path%3Ds"),
    ],
)
def test_safe_url_hides_every_password(url: str, shown: str) -> None:
    from lgscope.store._postgres import safe_url

    assert safe_url(url) == shown


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
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "postgresql://postgres@127.0.0.1:5432/lgscope_no_such_db",
            'database "lgscope_no_such_db" does not exist',
        ),
        ("postgresql://lgscope_no_role:secret@127.0.0.1:5432/test", 'role "lgscope_no_role" does not exist'),
    ],
    ids=["missing-database", "unknown-role"],
)
def test_postgres_refuses_us(postgres_server: str, url: str, reason: str) -> None:
    with pytest.raises(StoreUnavailable) as info:
        open_store(url)
    message = str(info.value)
    assert message.startswith("Cannot connect to the Postgres store ") and reason in message
    assert "secret" not in message
    code, out = cli("threads", url)
    assert code == 2 and one_error_line(out) == message


@pytest.mark.postgres
def test_postgres_database_without_checkpoint_tables(postgres_url: str) -> None:
    with pytest.raises(
        NotACheckpointStore, match="has no checkpoints, checkpoint_blobs, checkpoint_writes table"
    ):
        open_store(postgres_url)
