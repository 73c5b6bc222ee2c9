"""``lgscope size`` and ``lgscope prune``: exact output, and bad input (one ``Error:`` line, exit 2,
nothing deleted)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from lgscope.cli import main


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_size_json_carries_the_breakdowns(sample_store: Path) -> None:
    code, out, err = _run("size", str(sample_store), "--format", "json", "--top", "2")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert {
        "total_bytes",
        "by_channel",
        "by_thread",
        "by_node",
        "by_day",
        "by_namespace",
        "would_free",
    } <= set(data)
    assert data["total_bytes"] == 1018117 == sum(e["bytes"] for e in data["by_channel"])
    assert [e["thread_id"] for e in data["by_thread"]] == ["support-marathon", "support-loop-recursion"]
    assert data["latest_bytes"] + data["history_bytes"] == data["total_bytes"]


def test_size_table(sample_store: Path) -> None:
    code, out, _err = _run("size", str(sample_store), "--by", "namespace", "--top", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        f"{sample_store} (sqlite): 994.3 KiB (1018117 bytes) in 268 checkpoints and 456 writes of 24 threads"
    )
    assert lines[1] == "latest state 57.8 KiB (5.8%), history 936.5 KiB (94.2%)"
    assert "│ (root)    │ 991.1 KiB │ 99.7% │         264 │" in lines
    assert "│ report    │   3.1 KiB │  0.3% │           4 │" in lines
    assert any(line.startswith("│ keep-last 1 ") for line in lines)


def test_prune_dry_run_deletes_nothing(sample_copy: Path) -> None:
    before = _digest(sample_copy)
    code, out, err = _run("prune", str(sample_copy), "--keep-last", "2", "--thread", "medicine-stuck")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"Dry run, nothing deleted (add --apply): keep-last 2 on {sample_copy}"
    assert "│ medicine-stuck │           3 │      1 │      2 │     0 │ 418 B │ pending interrupt │" in lines
    assert "Would delete 1 checkpoints, 2 writes and 0 blobs of 1 threads: 418 B (418 bytes)." in lines
    assert _digest(sample_copy) == before


def test_prune_apply_archive_and_undo(sample_copy: Path, tmp_path: Path) -> None:
    archive = tmp_path / "stuck.jsonl"
    code, out, err = _run(
        "prune",
        str(sample_copy),
        "--keep-last",
        "1",
        "--thread",
        "medicine-stuck",
        "--archive",
        str(archive),
        "--apply",
    )
    assert (code, err) == (0, "")
    assert f"Archived to {archive}; undo with: lgscope import {archive} STORE --merge" in out.splitlines()
    code, out, err = _run("import", str(archive), str(sample_copy), "--merge")
    assert (code, err) == (0, "")
    assert out == f"Imported 2 checkpoints as thread medicine-stuck into {sample_copy}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--apply",),
            "Give a retention policy: --keep-last N or --older-than DURATION (one of them); nothing was deleted.",
        ),
        (
            ("--keep-last", "1", "--older-than", "3d", "--apply"),
            "Give a retention policy: --keep-last N or --older-than DURATION (one of them); nothing was deleted.",
        ),
        (
            ("--keep-last", "0", "--apply"),
            "--keep-last 0 would delete every checkpoint; keep at least 1 (the thread's state). Nothing was deleted.",
        ),
        (
            ("--keep-last", "1", "--vacuum"),
            "--vacuum compacts the store after deleting; add --apply (nothing was deleted).",
        ),
    ],
)
def test_prune_bad_input_is_one_sentence_and_deletes_nothing(
    sample_copy: Path, args: tuple[str, ...], message: str
) -> None:
    before = _digest(sample_copy)
    code, out, err = _run("prune", str(sample_copy), *args)
    assert (code, out, err) == (2, "", f"Error: {message}\n")
    assert _digest(sample_copy) == before


def test_size_and_prune_refuse_an_export_file(sample_store: Path, tmp_path: Path) -> None:
    exported = tmp_path / "t.lgscope.jsonl"
    assert _run("export", str(sample_store), "--thread", "support-1", "-o", str(exported))[0] == 0
    for command in (("size",), ("prune", "--keep-last", "1")):
        code, out, err = _run(command[0], str(exported), *command[1:])
        assert (code, out) == (2, "")
        assert err == (
            f"Error: {exported} is an lgscope export file; size and prune work on a SQLite or Postgres store.\n"
        )


def test_prune_refuses_a_read_only_store(sample_copy: Path) -> None:
    before = _digest(sample_copy)
    sample_copy.chmod(0o444)
    try:
        code, out, err = _run("prune", str(sample_copy), "--keep-last", "1", "--apply")
    finally:
        sample_copy.chmod(0o644)
    assert (code, out) == (2, "")
    assert err == (
        f"Error: The store {sample_copy} is read-only for this user (file or directory permissions); prune --apply "
        "must write it, so nothing was deleted: run it as the store's owner.\n"
    )
    assert _digest(sample_copy) == before


def test_prune_an_unknown_thread(sample_copy: Path) -> None:
    code, out, err = _run("prune", str(sample_copy), "--keep-last", "1", "--thread", "nope", "--apply")
    assert (code, out) == (2, "")
    assert (
        err
        == f"Error: The store {sample_copy} has none of the threads given with --thread; nothing was deleted.\n"
    )


def test_import_merge_and_force_together(tmp_path: Path) -> None:
    code, _out, err = _run(
        "import", str(tmp_path / "x.jsonl"), str(tmp_path / "s.sqlite"), "--merge", "--force"
    )
    assert (
        code == 2 and err == "Error: --force replaces the thread and --merge adds to it; give one of them.\n"
    )


@pytest.mark.postgres
def test_prune_refuses_a_role_without_delete(postgres_sample: str) -> None:
    import psycopg
    from psycopg import sql

    role = f"lgscope_ro_{uuid.uuid4().hex[:8]}"
    schema = postgres_sample.rsplit("%3D", 1)[1]
    with psycopg.connect(postgres_sample, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role))
        )
        conn.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
        ((count,),) = conn.execute("SELECT count(*) FROM checkpoints").fetchall()
    url = postgres_sample.replace("postgresql://postgres@", f"postgresql://{role}@")
    try:
        code, out, err = _run("prune", url, "--keep-last", "1", "--apply")
    finally:
        with psycopg.connect(postgres_sample, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert (code, out) == (2, "")
    assert err.startswith("Error: The Postgres role of ") and err.endswith(
        "may not DELETE from the checkpoint tables; prune --apply needs that privilege, so nothing was deleted: "
        "connect as the tables' owner.\n"
    )
    with psycopg.connect(postgres_sample) as conn:
        assert conn.execute("SELECT count(*) FROM checkpoints").fetchall() == [(count,)]


README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("command", ["size prod.sqlite --by node --top 3", "prune prod.sqlite --keep-last 2"])
def test_the_readme_shows_what_the_commands_print(
    command: str, sample_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = README.read_text()
    section = text[text.index("## Size and retention") : text.index("## CI asserts")]
    start = section.index(f"$ lgscope {command}")
    line, _, rest = section[start:].partition("\n")
    shown = rest[: rest.index("```")]
    (tmp_path / "prod.sqlite").write_bytes(sample_store.read_bytes())
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(*line.removeprefix("$ lgscope ").split())
    assert (code, err) == (0, "")
    assert out.startswith(shown)


def test_prune_json_lists_each_thread_and_what_it_keeps(sample_copy: Path) -> None:
    code, out, err = _run(
        "prune", str(sample_copy), "--keep-last", "1", "--thread", "transfer-9000-pending", "--format", "json"
    )
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["applied"], data["policy"], data["checkpoints"]) == (False, "keep-last 1", 3)
    (thread,) = data["threads"]
    assert thread["outcome"] == "would_prune" and thread["checkpoints_before"] == 4
    assert [k["reason"] for k in thread["kept"]] == ["pending interrupt"]
    assert thread["namespaces"][0]["checkpoint_ns"] == "" and thread["namespaces"][0]["checkpoints"] == 3
