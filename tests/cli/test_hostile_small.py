"""Issue 25 item 10: secrets, timeouts, valid JSON, and one ``Error:`` line where there were tracebacks."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.hostile import THREAD, latest_checkpoint, plant_write

from lgscope.cli import main


def _run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def _one_error(out: str) -> str:
    assert out.startswith("Error: ") and out.count("\n") == 1 and "Traceback" not in out, out
    return out


def test_show_json_is_valid_with_nan_and_infinity(sample_copy: Path) -> None:
    import ormsgpack

    plant_write(
        sample_copy, ormsgpack.packb({"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf")})
    )
    code, out = _run(
        "show",
        sample_copy,
        "--thread",
        THREAD,
        "--checkpoint",
        latest_checkpoint(sample_copy),
        "--format",
        "json",
    )
    assert code == 0
    step = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    (write,) = [w for w in step["writes"] if w["channel"] == "evil"]
    assert write["value"] == {"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity"}


def test_a_thread_id_that_is_not_utf8_or_a_blob(sample_copy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(sample_copy.read_bytes())
    with sqlite3.connect(bad) as conn:
        conn.execute(
            "UPDATE checkpoints SET thread_id = CAST(X'626164ff' AS TEXT) WHERE thread_id = 'support-3'"
        )
    conn.close()
    code, out = _run("threads", bad)
    assert code == 2 and "The SQLite store could not be read" in _one_error(out)
    with sqlite3.connect(sample_copy) as conn:
        conn.execute("UPDATE checkpoints SET thread_id = CAST('blob' AS BLOB) WHERE thread_id = 'support-2'")
    conn.close()
    for command in ("threads", "scan"):
        code, out = _run(command, sample_copy)
        assert code == 2 and "holds a thread id stored as bytes (b'blob')" in _one_error(out)


def test_tables_whose_names_need_quoting(sample_copy: Path) -> None:
    with sqlite3.connect(sample_copy) as conn:
        conn.execute("CREATE TABLE [my table] (x)")
        conn.execute('CREATE TABLE "x"");DROP TABLE checkpoints;--" (x)')
    conn.close()
    code, out = _run("threads", sample_copy)
    assert code == 0 and "support-1" in out


def test_a_json_typed_checkpoint_exports(sample_copy: Path, tmp_path: Path) -> None:
    cid = latest_checkpoint(sample_copy)
    checkpoint = {"v": 1, "id": cid, "ts": "2026-01-12T12:00:03+00:00", "channel_values": {"x": [1, 2]}}
    with sqlite3.connect(sample_copy) as conn:
        conn.execute(
            "UPDATE checkpoints SET type = 'json', checkpoint = ? WHERE thread_id = ? AND checkpoint_id = ?",
            (json.dumps({**checkpoint, "channel_versions": {}, "versions_seen": {}}).encode(), THREAD, cid),
        )
    conn.close()
    code, out = _run("export", sample_copy, "--thread", THREAD, "-o", tmp_path / "e.jsonl")
    assert code == 0, out
    last = json.loads((tmp_path / "e.jsonl").read_text().splitlines()[-2])
    assert last["changes"] == {"x": {"set": [1, 2]}}  # format 2: what changed since the record before


def test_an_export_whose_trailer_is_not_an_object(sample_store: Path, tmp_path: Path) -> None:
    export = tmp_path / "e.jsonl"
    assert _run("export", sample_store, "--thread", THREAD, "-o", export)[0] == 0
    lines = export.read_text().splitlines()
    export.write_text("\n".join([*lines[:-1], "[1, 2]"]) + "\n")
    code, out = _run("import", export, tmp_path / "new.sqlite")
    assert code == 2 and "is truncated: it has no end record" in _one_error(out)


@pytest.mark.parametrize(
    ("args"),
    [["threads", "{s}", "--since", "99999999999d"], ["metrics", "serve", "{s}", "--interval", "99999999w"]],
)
def test_durations_past_100_years(sample_store: Path, args: list[str]) -> None:
    code, out = _run(*[a.format(s=sample_store) for a in args])
    assert code == 2 and "is longer than lgscope counts (at most 100 years, 36500d)." in out
    assert "Traceback" not in out


def test_an_audit_file_with_lines_that_are_not_objects(sample_copy: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_text('[1, 2]\n"x"\n7\n{"thread_id": "a", "interrupt_id": "b", "outcome": "escalated"}\n')
    from lgscope.approvals import AuditLog

    assert AuditLog(audit).escalated() == {"b"}
    code, out = _run(
        "sweep", sample_copy, "--audit", audit, "--older-than", "1s", "--policy", "escalate", "--apply"
    )
    assert code == 0 and "Traceback" not in out, out


@pytest.mark.parametrize(
    "body", ['{"resourceSpans": 5}', '{"resourceSpans": [{"scopeSpans": [{"spans": [7]}]}]}', "[[[]]]"]
)
def test_a_malformed_spans_file(tmp_path: Path, body: str) -> None:
    path = tmp_path / "spans.json"
    path.write_text(body)
    code, out = _run("spans", path)
    assert code in (0, 2), out
    if code == 2:
        assert "is not a file of OTLP JSON spans" in _one_error(out)
    else:
        assert out == "No node spans found (span names start with 'invoke_node ').\n"


def test_a_graph_module_that_exits(
    sample_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "exits_at_import.py").write_text("import sys\nsys.exit(0)\n")
    monkeypatch.chdir(tmp_path)
    code, out = _run("sweep", sample_store, "--graph", "exits_at_import:graph", "--apply")
    assert code == 2
    assert _one_error(out) == (
        "Error: Importing 'exits_at_import' for --graph called sys.exit(0); point --graph at a module that "
        "defines the graph without running a program.\n"
    )


@pytest.fixture
def secret_store(postgres_url: str) -> str:
    """An empty Postgres checkpoint store, its URL carrying a password (trust auth ignores it)."""
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
    return postgres_url.replace("postgres@", "postgres:s3cr3t@")


@pytest.mark.postgres
def test_the_password_is_never_printed(secret_store: str, sample_store: Path, tmp_path: Path) -> None:
    code, out = _run("scan", secret_store, "--format", "json")
    assert (
        code == 0
        and "s3cr3t" not in out
        and json.loads(out)["store"].startswith("postgresql://postgres:***@")
    )
    export = tmp_path / "e.jsonl"
    assert _run("export", sample_store, "--thread", THREAD, "-o", export)[0] == 0
    code, out = _run("import", export, secret_store)
    assert code == 0 and "s3cr3t" not in out and "postgres:***@" in out, out
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from lgscope.cli import main; main()",
            "metrics",
            "serve",
            secret_store,
            "--port",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert line.startswith("Serving metrics of postgresql://postgres:***@") and "s3cr3t" not in line


@pytest.mark.postgres
def test_a_read_behind_an_exclusive_lock_fails_in_time(
    postgres_sample: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    from lgscope.store import _postgres

    monkeypatch.setattr(_postgres, "LOCK_TIMEOUT_S", 1)
    with psycopg.connect(postgres_sample) as locker:
        locker.execute("LOCK TABLE checkpoint_blobs IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        code, out = _run("show", postgres_sample, "--thread", THREAD)
        waited = time.monotonic() - started
        locker.rollback()
    assert code == 2 and "did not answer in time" in _one_error(out)
    assert waited < 15


def test_import_into_a_server_that_never_answers(
    sample_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lgscope.store import export as export_module

    monkeypatch.setattr(export_module, "_TIMEOUT_S", 1)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    export = tmp_path / "e.jsonl"
    assert _run("export", sample_store, "--thread", THREAD, "-o", export)[0] == 0
    port = listener.getsockname()[1]
    started = time.monotonic()
    try:
        code, out = _run("import", export, f"postgresql://u:pw@127.0.0.1:{port}/db")
    finally:
        stop.set()
        thread.join()
        for s in accepted:
            s.close()
        listener.close()
    assert code == 2 and "Cannot import into postgresql://u:***@127.0.0.1" in _one_error(out)
    assert time.monotonic() - started < 20 and accepted
    assert os.environ.get("PGCONNECT_TIMEOUT") is None
