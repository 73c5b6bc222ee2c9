"""What a new user tripped on (issue 26, item 10): one-line usage errors, plain messages."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lgscope.cli import main

NOW = "2026-01-15T12:00:00Z"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["scan"], "Error: Missing argument 'STORE'. (see: lgscope scan --help)"),
        (
            ["threads", "x.sqlite", "--format", "xml"],
            "Error: Invalid value for '--format': 'xml' is not one of 'table', 'json'. (see: lgscope threads --help)",
        ),
        (
            ["scan", "x.sqlite", "--bogus"],
            "Error: No such option '--bogus'. Did you mean '--jobs'? (see: lgscope scan --help)",
        ),
        (["frobnicate"], "Error: No such command 'frobnicate'. (see: lgscope --help)"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], line: str) -> None:
    code, out, err = _run(*args)
    assert (code, out, err) == (2, "", line + "\n")


def test_help_and_version_still_exit_zero() -> None:
    code, out, _ = _run("--help")
    assert code == 0 and "lgscope only reads a store, except where a command says it writes" in " ".join(
        out.split()
    )
    code, out, _ = _run("--version")
    assert code == 0 and out.startswith("lgscope, version ")


def test_a_threshold_of_the_wrong_type_names_the_kind(sample_store: Path) -> None:
    code, _, err = _run("scan", str(sample_store), "--set", "loop_min_repeats=three")
    assert (code, err) == (
        2,
        "Error: --set loop_min_repeats='three': expected a whole number, e.g. loop_min_repeats=3.\n",
    )
    code, _, err = _run("scan", str(sample_store), "--set", "loop_similarity=high")
    assert err == "Error: --set loop_similarity='high': expected a number, e.g. loop_similarity=0.95.\n"


def test_metrics_serve_says_its_interval_as_it_was_written(sample_store: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lgscope", "metrics", "serve", str(sample_store), "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (
        line
        == f"Serving metrics of {sample_store} on http://127.0.0.1:{port}/metrics (rescanning every 60s)\n"
    )


def test_the_export_header_names_its_format_once(sample_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    code, _, err = _run("export", str(sample_store), "--thread", "support-1", "-o", str(out))
    assert code == 0, err
    first = out.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith('{"format": "lgscope-export", ') and first.count('"format"') == 1
    assert json.loads(first)["format"] == "lgscope-export"


def test_the_html_report_shows_commands_as_code(sample_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    code, _, err = _run("report", str(sample_store), "--format", "html", "-o", str(out), "--now", NOW)
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert "<code>lgscope sweep --older-than 24h</code>" in page
    assert "`" not in page
