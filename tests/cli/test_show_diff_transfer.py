"""``show``, ``diff``, ``export`` and ``import`` on the sample store: exact output and bad input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lgscope.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _ids(store: Path, thread: str) -> list[str]:
    code, out = run("show", str(store), "--thread", thread, "--format", "json")
    assert code == 0
    return [s["checkpoint_id"] for s in json.loads(out)["steps"]]


def test_show_timeline(sample_store: Path) -> None:
    code, out = run("show", str(sample_store), "--thread", "transfer-9000-pending")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "thread transfer-9000-pending: interrupted, 4 checkpoints; next: approval"
    rows = [line for line in lines if line.startswith("│")]
    assert [r.split("│")[3].strip() for r in rows] == ["__input__", "__start__", "validate_input", "prepare"]
    assert "⏸ interrupt (pending)" in rows[-1]


def test_show_one_checkpoint_as_json(sample_store: Path) -> None:
    last = _ids(sample_store, "ingest-failed")[-1]
    code, out = run(
        "show", str(sample_store), "--thread", "ingest-failed", "--checkpoint", last, "--format", "json"
    )
    assert code == 0
    step = json.loads(out)
    assert step["errors"] == [  # the one JSON form of a failed task (TaskError.to_dict)
        {
            "node": "parse",
            "type": "ValueError",
            "message": "row 42: unexpected delimiter ';'",
            "checkpoint_id": last,
        }
    ]
    assert step["values"] == {"path": "s3://bucket/export.csv", "rows": 1200}
    assert step["next"] == ["parse"]


def test_diff_is_message_aware(sample_store: Path) -> None:
    ids = _ids(sample_store, "support-1")
    code, out = run("diff", str(sample_store), "--thread", "support-1", ids[1], ids[4])
    assert code == 0
    assert out.splitlines() == [
        'messages[1] added: ai lookup_order({"order_id": "1001"})',
        'messages[2] added: tool "order 1001: shipped"',
        'messages[3] added: ai "It shipped yesterday."',
        "tool_calls_made added: 1",
    ]
    code, out = run("diff", str(sample_store), "--thread", "support-1", ids[4], ids[4])
    assert (code, out) == (0, "No differences.\n")


def test_export_then_import_under_a_new_id(sample_store: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "m.jsonl"
    code, out = run("export", str(sample_store), "--thread", "medicine-stuck", "-o", str(out_file))
    assert (code, out) == (0, f"Exported 3 checkpoints of thread medicine-stuck to {out_file}\n")
    target = tmp_path / "t.sqlite"
    code, out = run("import", str(out_file), str(target), "--thread", "copy-1")
    assert (code, out) == (0, f"Imported 3 checkpoints as thread copy-1 into {target}\n")
    code, out = run("threads", str(target), "--format", "json")
    assert [(t["thread_id"], t["status"]) for t in json.loads(out)] == [("copy-1", "interrupted")]
    code, out = run("import", str(out_file), str(target), "--thread", "copy-1")
    assert code == 2
    assert out == (
        "Error: The target store already has a thread 'copy-1'; pass --force to replace it, or "
        "--thread NEW_ID to import it under another id.\n"
    )


def test_export_bad_input(sample_store: Path, tmp_path: Path) -> None:
    code, out = run("export", str(sample_store), "--thread", "nope", "-o", str(tmp_path / "x.jsonl"))
    assert code == 2 and out.startswith("Error: The store") and "has no thread 'nope'" in out
    assert not (tmp_path / "x.jsonl").exists()
    code, out = run(
        "export", str(sample_store), "--thread", "support-1", "--redact-re", "(", "-o", str(tmp_path / "x")
    )
    assert code == 2 and out.startswith("Error: --redact-re '(' is not a valid regular expression")
    code, out = run("import", str(tmp_path / "missing.jsonl"), str(tmp_path / "t.sqlite"))
    assert code == 2 and out.startswith("Error: Cannot read the export file")
    assert not (tmp_path / "t.sqlite").exists()


def test_show_and_threads_open_export_files(sample_store: Path, tmp_path: Path) -> None:
    exported = tmp_path / "r.jsonl"
    run("export", str(sample_store), "--thread", "research-fanout", "-o", str(exported))
    code, out = run("threads", str(exported), "--format", "json")
    assert code == 0 and json.loads(out)[0]["namespaces"][0] == ""
    assert len(json.loads(out)[0]["namespaces"]) == 2


def test_the_short_ids_views_print_are_accepted(sample_store: Path) -> None:
    ids = _ids(sample_store, "support-loop-gave-up")
    whole = ids[3]
    show = ("show", str(sample_store), "--thread", "support-loop-gave-up", "--checkpoint")
    # what scan prints (the last 8), a copied start, head…tail, and the whole id all name it
    for fragment in (
        whole[-8:],
        "…" + whole[-8:],
        whole[:23],
        f"{whole[:8]}…{whole[-4:]}",
        f"{whole[:8]}...{whole[-4:]}",
        whole,
    ):
        code, out = run(*show, fragment)
        assert (code, out.splitlines()[0]) == (
            0,
            f"checkpoint {whole} (step 2, loop) of thread support-loop-gave-up",
        ), fragment
    code, out = run(*show, whole[:4])  # every id of the thread starts alike
    assert code == 2
    assert out.startswith(
        f"Error: '{whole[:4]}' matches 13 checkpoints of thread 'support-loop-gave-up' ({ids[0]}, "
    )
    assert out.rstrip().endswith(
        "give more of the id (list them with: lgscope show "
        + str(sample_store)
        + " --thread support-loop-gave-up)."
    )
    code, out = run(*show, "zzzz")
    assert (code, out) == (
        2,
        "Error: Thread 'support-loop-gave-up' has no checkpoint matching 'zzzz' (an id, or its first or last "
        f"characters); list them with: lgscope show {sample_store} --thread support-loop-gave-up.\n",
    )
    # the first…last pair scan prints for a finding names two checkpoints: say which
    code, out = run(*show, f"{ids[2][-8:]}…{ids[5][-8:]}")
    assert (code, out) == (
        2,
        f"Error: '{ids[2][-8:]}…{ids[5][-8:]}' names two checkpoints, as scan prints a finding's first and last: "
        f"{ids[2]} and {ids[5]}; give one of them (e.g. {ids[2][-8:]}).\n",
    )
    code, out = run("diff", str(sample_store), "--thread", "support-loop-gave-up", ids[1][-8:], ids[2][-8:])
    assert code == 0 and out.startswith("messages")


def test_show_names_every_column(sample_store: Path) -> None:
    code, out = run("show", str(sample_store), "--thread", "transfer-9000-pending")
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")] == [
        "step", "source", "node(s)", "time", "changed", "next", "marks", "checkpoint",
    ]  # fmt: skip
