"""``lgscope scan`` and ``lgscope demo`` on real stores: formats, gates, bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from langgraph.checkpoint.sqlite import SqliteSaver

from lgscope.cli import main

NOW = "2026-01-15T12:00:00+00:00"


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def test_json_findings_have_the_documented_fields(sample_store: Path) -> None:
    result = run("scan", str(sample_store), "--format", "json", "--now", NOW)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["stats"]["threads"] == 24 and report["stats"]["corrupt_checkpoints"] == 0
    stuck = [f for f in report["findings"] if f["kind"] == "stuck_interrupt"]
    assert [f["thread_id"] for f in stuck] == ["medicine-stuck", "transfer-9000-pending"]
    first = stuck[1]
    assert set(first) == {
        "kind",
        "thread_id",
        "checkpoint_ns",
        "first_checkpoint_id",
        "last_checkpoint_id",
        "severity",
        "summary",
        "evidence",
    }
    assert first["summary"] == "interrupt at approval has waited 3d15h for an answer"
    assert first["evidence"]["node"] == "approval"


def test_fail_on_exits_1_only_for_the_named_kinds(sample_store: Path) -> None:
    gate = run("scan", str(sample_store), "--fail-on", "loop", "--now", NOW, "--format", "jsonl")
    assert gate.exit_code == 1
    assert "Failing: found loop (--fail-on loop)." in gate.output
    clean = run(
        "scan", str(sample_store), "--thread", "support-1", "--fail-on", "loop,oscillation", "--now", NOW
    )
    assert clean.exit_code == 0
    assert (
        clean.output.strip() == "1 threads, 5 checkpoints scanned in " + clean.output.split(" in ")[1].strip()
    )


def test_fail_on_a_kind_whose_detector_is_not_run_is_a_usage_error(sample_store: Path) -> None:
    result = run("scan", str(sample_store), "--fail-on", "growth", "--detectors", "loop", "--now", NOW)
    assert result.exit_code == 2
    assert result.output == (
        "Error: --fail-on growth can never fail: --detectors loop does not run that detector; add "
        "growth to --detectors or leave it out of --fail-on.\n"
    )
    both = run("scan", str(sample_store), "--fail-on", "loop", "--detectors", "loop", "--now", NOW)
    assert both.exit_code == 1


def test_thresholds_from_the_cli(sample_store: Path) -> None:
    default = run("scan", str(sample_store), "--detectors", "loop", "--format", "jsonl", "--now", NOW)
    stricter = run(
        "scan",
        str(sample_store),
        "--detectors",
        "loop",
        "--set",
        "loop_min_repeats=6",
        "--format",
        "jsonl",
        "--now",
        NOW,
    )
    kinds = lambda r: sorted(json.loads(line)["thread_id"] for line in r.output.splitlines())  # noqa: E731
    assert kinds(default) == ["review-bounce", "support-loop-gave-up", "support-loop-recursion"]
    assert kinds(stricter) == ["support-loop-recursion"]
    assert (
        run(
            "scan",
            str(sample_store),
            "--detectors",
            "stuck_interrupt",
            "--older-than",
            "4d",
            "--format",
            "jsonl",
            "--now",
            NOW,
        ).output.count("\n")
        == 1
    )


def test_empty_store_gives_an_empty_valid_report(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    conn = sqlite3.connect(path)
    SqliteSaver(conn).setup()
    conn.close()
    result = run("scan", str(path), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["findings"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2 weeks"], "Error: Invalid value for '--since': '2 weeks' is not a duration;"),
        (["--fail-on", "loops"], "Error: --fail-on names unknown finding kind 'loops'; the kinds are"),
        (["--set", "loop_min=2"], "Error: --set 'loop_min=2' is not NAME=VALUE with a known threshold;"),
        (["--now", "yesterday"], "Error: --now 'yesterday' is not an ISO 8601 time;"),
    ],
)
def test_bad_options_are_one_line_errors(sample_store: Path, args: list[str], message: str) -> None:
    result = run("scan", str(sample_store), *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_demo_builds_a_store_and_shows_threads_and_findings(tmp_path: Path) -> None:
    result = run("demo", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Built a sample store from the example graphs: {tmp_path / 'sample.sqlite'}"
    assert lines[1] == "24 threads, 268 checkpoints: 18 done, 3 interrupted, 2 running, 1 error"
    assert any(
        "support-loop-recursion" in line and "agent → tools repeated 12 times" in line for line in lines
    )
    assert any("transfer-7500-fresh" in line and "approval for 59m" in line for line in lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.sqlite"]  # no staging file left


def test_demo_builds_in_the_users_cache_and_two_runs_do_not_collide(tmp_path: Path) -> None:
    """Two runs at once by one user (the default place is the user's cache directory, not a
    shared /tmp directory): both succeed and the store they leave is whole."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "lgscope", "demo"], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    where = tmp_path / "cache" / "lgscope" / "demo" / "sample.sqlite"
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
        assert output.splitlines()[0] == f"Built a sample store from the example graphs: {where}"
    assert sorted(p.name for p in where.parent.iterdir()) == ["sample.sqlite"]
    from lgscope import open_store

    with open_store(where) as store:
        assert len(store.thread_ids()) == 24


def test_the_summary_says_how_many_processes_read_the_store(sample_store: Path) -> None:
    one = run("scan", str(sample_store), "--jobs", "1", "--now", NOW, "--detectors", "loop")
    two = run("scan", str(sample_store), "--jobs", "2", "--now", NOW, "--detectors", "loop")
    assert one.exit_code == two.exit_code == 0, two.output
    (one_line,) = [line for line in one.output.splitlines() if "scanned in" in line]
    (two_line,) = [line for line in two.output.splitlines() if "scanned in" in line]
    assert one_line.startswith("24 threads, 268 checkpoints scanned in ") and " by " not in one_line
    assert (
        two_line.startswith("24 threads, 268 checkpoints scanned in ")
        and " by 2 processes: 3 loop" in two_line
    )
