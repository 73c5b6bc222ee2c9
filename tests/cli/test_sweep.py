"""``lgscope sweep``: exact output of a dry run, and bad input (one ``Error:`` line, exit 2)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from lgscope.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REFERENCE_NOW = json.loads((FIXTURES / "labels.json").read_text())["reference_now"]


def _sweep(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["sweep", *args])
    return result.exit_code, result.stdout, result.stderr


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    """A module of graphs in the working directory (where --graph looks first); its unique name."""
    name = f"graphs_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "import sqlite3\n"
        "from typing import TypedDict\n"
        "from langgraph.checkpoint.sqlite import SqliteSaver\n"
        "from langgraph.graph import START, StateGraph\n"
        "from langgraph.types import interrupt\n\n"
        "class S(TypedDict, total=False):\n    ok: bool\n\n"
        "def ask(state: S) -> S:\n    return {'ok': bool(interrupt('approve?'))}\n\n"
        "g = StateGraph(S)\ng.add_node('ask', ask)\ng.add_edge(START, 'ask')\n" + body
    )
    monkeypatch.chdir(tmp_path)
    return name


def test_dry_run_lists_what_it_would_do(sample_copy: Path) -> None:
    before = hashlib.sha256(sample_copy.read_bytes()).hexdigest()
    code, out, err = _sweep(str(sample_copy), "--older-than", "24h", "--now", REFERENCE_NOW)
    assert (code, err) == (0, "")
    assert out == (
        "┏━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ thread                ┃ node     ┃ waited ┃ outcome        ┃ detail                                                                     ┃\n"
        "┡━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│ blog-awaiting-review  │ review   │ 5d20h  │ would escalate │ a static pause: escalated, never rejected (moving it runs the paused node) │\n"
        "│ medicine-stuck        │ approval │ 4d17h  │ would reject   │                                                                            │\n"
        "│ transfer-9000-pending │ approval │ 3d15h  │ would reject   │                                                                            │\n"
        "└───────────────────────┴──────────┴────────┴────────────────┴────────────────────────────────────────────────────────────────────────────┘\n"
        "2 of 3 pending interrupts are stale, and 1 static pause: 1 would escalate, 2 would reject (dry run: add --apply to act)\n"
    )
    code, out, _ = _sweep(str(sample_copy), "--older-than", "24h", "--no-pauses", "--now", REFERENCE_NOW)
    assert out.endswith("2 of 3 pending interrupts are stale: 2 would reject (dry run: add --apply to act)\n")
    assert hashlib.sha256(sample_copy.read_bytes()).hexdigest() == before


def test_node_filter_and_escalate_dry_run(sample_copy: Path) -> None:
    code, out, _ = _sweep(
        str(sample_copy), "--policy", "escalate", "--node", "review", "--now", REFERENCE_NOW
    )
    assert (code, out) == (
        0,
        "┏━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━┓\n"
        "┃ thread               ┃ node   ┃ waited ┃ outcome        ┃ detail ┃\n"
        "┡━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━┩\n"
        "│ blog-awaiting-review │ review │ 5d20h  │ would escalate │        │\n"
        "└──────────────────────┴────────┴────────┴────────────────┴────────┘\n"
        "0 of 3 pending interrupts are stale, and 1 static pause: 1 would escalate (dry run: add --apply to act)\n",
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["--payload", "{approved: false}"],
            "Error: --payload is not JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
            "(char 1)); quote it, e.g. --payload '{\"approved\": false}'.\n",
        ),
        (
            ["--apply"],
            "Error: Rejecting resumes the thread, so the sweeper needs the graph: pass --graph module:attr.\n",
        ),
        (
            ["--graph", "no_such_module_here:graph"],
            "Error: Cannot import 'no_such_module_here' for --graph (ModuleNotFoundError: No module named "
            "'no_such_module_here'); check the module path.\n",
        ),
        (
            ["--graph", "json"],
            "Error: --graph 'json' is not module:attr (for example myapp.graphs:approval_graph).\n",
        ),
        (
            ["--graph", "json:dumps"],
            "Error: --graph json:dumps is a function, not a compiled graph; point it at "
            "graph.compile(...)'s result.\n",
        ),
    ],
)
def test_bad_input_is_one_error_line(sample_copy: Path, args: list[str], error: str) -> None:
    assert _sweep(str(sample_copy), *args) == (2, "", error)


def test_a_graph_without_a_checkpointer(
    sample_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _module(tmp_path, monkeypatch, "graph = g.compile()\n")
    assert _sweep(str(sample_copy), "--graph", f"{name}:graph") == (
        2,
        "",
        f"Error: --graph {name}:graph has no checkpointer; compile it with the checkpointer of STORE so it can "
        "resume threads.\n",
    )


def test_a_graph_on_another_store(sample_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a graph on another store every interrupt would look resolved: refuse, don't "sweep" nothing."""
    other = tmp_path / "other.sqlite"
    name = _module(
        tmp_path,
        monkeypatch,
        f"graph = g.compile(checkpointer=SqliteSaver(sqlite3.connect({str(other)!r}, check_same_thread=False)))\n"
        "graph.invoke({}, {'configurable': {'thread_id': 'x'}})\n",
    )
    assert _sweep(str(sample_copy), "--graph", f"{name}:graph", "--apply") == (
        2,
        "",
        f"Error: The graph's checkpointer writes to {other}, but the store swept is {sample_copy}; point --graph "
        "at a graph compiled with the checkpointer of STORE.\n",
    )


def test_a_missing_store(tmp_path: Path) -> None:
    code, out, err = _sweep(str(tmp_path / "nope.sqlite"))
    assert (code, out) == (2, "")
    assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_an_audit_log_that_cannot_be_written_stops_the_sweep(sample_copy: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    code, out, err = _sweep(
        str(sample_copy),
        "--policy",
        "escalate",
        "--apply",
        "--audit",
        str(blocker / "audit.jsonl"),
        "--now",
        REFERENCE_NOW,
    )
    assert (code, out) == (2, "")
    assert err == (
        f"Error: Cannot append to the audit log {blocker / 'audit.jsonl'} (File exists); the sweep stopped so "
        "that no decision goes unrecorded. Fix the path or its permissions and run it again.\n"
    )
