"""``lgscope threads``: exact output on real stores, and bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, TypedDict

import pytest
from click.testing import CliRunner
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from lgscope.cli import main


class State(TypedDict, total=False):
    amount: int
    approved: bool


def _approve(state: State) -> State:
    if state["amount"] > 5000:
        return {"approved": bool(interrupt({"amount": state["amount"], "question": "approve transfer?"}))}
    return {"approved": True}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "bank.sqlite"
    conn = sqlite3.connect(path, check_same_thread=False)
    g = StateGraph(State)
    g.add_node("approve", _approve)
    g.add_edge(START, "approve")
    g.add_edge("approve", END)
    app = g.compile(checkpointer=SqliteSaver(conn))
    app.invoke({"amount": 6000}, {"configurable": {"thread_id": "transfer-big"}})
    app.invoke({"amount": 100}, {"configurable": {"thread_id": "transfer-small"}})
    conn.close()
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_threads_json_has_the_documented_fields(store: Path) -> None:
    result = run("threads", str(store), "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert [(r["thread_id"], r["status"], r["checkpoints"]) for r in rows] == [
        ("transfer-big", "interrupted", 2),
        ("transfer-small", "done", 3),
    ]
    big = rows[0]
    assert {"thread_id", "status", "checkpoints", "updated_at", "pending_interrupts"} <= set(big)
    (pending,) = big["pending_interrupts"]
    assert pending["node"] == "approve"
    assert pending["value"] == {"amount": 6000, "question": "approve transfer?"}
    assert pending["age_seconds"] >= 0


def test_threads_status_filter_and_table(store: Path) -> None:
    result = run("threads", str(store), "--status", "interrupted")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert any("transfer-big" in line and "interrupted" in line and "approve for" in line for line in lines)
    assert not any("transfer-small" in line for line in lines)


def test_since_filters_by_last_update(store: Path) -> None:
    assert json.loads(run("threads", str(store), "--since", "1h", "--format", "json").output)
    # nothing was updated in the future
    result = run("threads", str(store), "--since", "0s", "--format", "json")
    assert json.loads(result.output) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["threads", "/no/such/file.sqlite"],
            "Error: There is no file at /no/such/file.sqlite; check the path.\n",
        ),
        (
            ["threads", "mysql://x/y"],
            "Error: Unknown store URL scheme 'mysql'; use a SQLite file path, "
            "sqlite:///path, or postgresql://user@host/db.\n",
        ),
    ],
)
def test_bad_store_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output == message


def test_not_a_checkpoint_database(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    result = CliRunner().invoke(main, ["threads", str(other)])
    assert result.exit_code == 2
    assert result.output.startswith(
        f"Error: {other} is a SQLite database but not a LangGraph checkpoint store"
    )
    assert result.output.count("\n") == 1


def _on_a_terminal(*args: str) -> str:
    """Run lgscope with stdout and stderr on a pseudo-terminal; what the terminal received."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lgscope", *args], stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    received = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        received += chunk
    proc.wait(timeout=120)
    os.close(leader)
    return received.decode(errors="replace")


@pytest.mark.parametrize(
    ("command", "label"),
    [
        (["threads"], "reading threads"),
        (["report"], "scanning threads"),
        (["scan"], "scanning threads"),
        (["sweep"], "reading threads"),
    ],
)
def test_slow_commands_show_progress_on_a_terminal_and_not_when_piped(
    sample_store: Path, command: list[str], label: str
) -> None:
    import subprocess
    import sys

    assert label in _on_a_terminal(command[0], str(sample_store), *command[1:])
    piped = subprocess.run(
        [sys.executable, "-m", "lgscope", command[0], str(sample_store), *command[1:]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode in (0, 1) and label not in piped.stderr + piped.stdout
