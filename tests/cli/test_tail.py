"""``lgscope tail`` follows a store that a graph in another process is writing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from langgraph.checkpoint.sqlite import SqliteSaver

from lgscope import open_store
from lgscope.cli import main
from lgscope.cli.tail import event_line
from lgscope.forensics._follow import TailEvent, follow

HERE = Path(__file__).parent
INTERVAL = 0.5


def _empty_store(path: Path) -> Path:
    with SqliteSaver.from_conn_string(str(path)) as saver:
        saver.setup()
    return path


def _tail(store: Path | str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from lgscope.cli import main; main()", "tail", str(store), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("Following ")  # polling has its baseline
    return proc


def test_tail_shows_each_checkpoint_within_two_intervals(tmp_path: Path) -> None:
    _within_two_intervals(_empty_store(tmp_path / "live.sqlite"))


@pytest.mark.postgres
def test_tail_follows_postgres_within_two_intervals(postgres_url: str) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
    _within_two_intervals(postgres_url)


def _within_two_intervals(store: Path | str) -> None:
    tail = _tail(store, "--format", "jsonl", "--interval", f"{int(INTERVAL * 1000)}ms")
    arrived: list[tuple[float, dict[str, object]]] = []

    def read() -> None:
        assert tail.stdout is not None
        for line in tail.stdout:
            arrived.append((time.time(), json.loads(line)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    writer = subprocess.run(
        [sys.executable, str(HERE / "tail_writer.py"), str(store), "6", "0.4"],
        capture_output=True,
        timeout=120,
    )
    assert writer.returncode == 0, writer.stderr
    time.sleep(3 * INTERVAL)
    tail.send_signal(signal.SIGINT)
    _out, err = tail.communicate(timeout=30)
    reader.join(timeout=10)
    assert tail.returncode == 0 and "Traceback" not in err, err

    with open_store(store) as st:
        stored = {s.checkpoint_id for tid in st.thread_ids() for s in st.steps(tid)}
    steps = {e["checkpoint_id"]: (t, e) for t, e in arrived if e["event"] == "step"}
    assert set(steps) == stored and len(stored) >= 13
    delays = [t - datetime.fromisoformat(str(e["ts"])).timestamp() for t, e in steps.values()]
    assert max(delays) <= 2 * INTERVAL, sorted(delays)[-3:]
    assert [e["step"] for _t, e in steps.values() if e["thread_id"] == "live"][:3] == [-1, 0, 1]
    findings = [e for _t, e in arrived if e["event"] == "finding"]
    assert [(f["kind"], f["thread_id"]) for f in findings] == [("error", "broken")]
    assert "the tool is down" in str(findings[0]["summary"])


def test_tail_follows_one_thread_and_prints_table_lines(tmp_path: Path) -> None:
    store = _empty_store(tmp_path / "live.sqlite")
    tail = _tail(store, "--thread", "broken", "--interval", "200ms")
    writer = subprocess.run(
        [sys.executable, str(HERE / "tail_writer.py"), str(store), "2", "0"], capture_output=True, timeout=120
    )
    assert writer.returncode == 0, writer.stderr
    time.sleep(1.0)
    tail.send_signal(signal.SIGTERM)  # as a service manager stops it
    out, err = tail.communicate(timeout=30)
    assert tail.returncode == 0 and "Traceback" not in err, err
    lines = out.splitlines()
    assert lines and all("  broken  " in line for line in lines), lines
    assert "  step -1  input  __input__  " in lines[0]
    assert "  broken  FINDING  error  error  node 'work' failed: ValueError: the tool is down" in lines[-1]
    assert any("ERROR ValueError: the tool is down" in line for line in lines)


def test_follow_stops_and_sanitises(tmp_path: Path) -> None:
    store = _empty_store(tmp_path / "live.sqlite")
    stop = threading.Event()
    got: list[TailEvent] = []
    with open_store(store) as st:
        t = threading.Thread(target=lambda: got.extend(follow(st, interval=0.1, stop=stop)))
        t.start()
        time.sleep(0.3)
        with SqliteSaver.from_conn_string(str(store)) as saver:
            from langgraph.graph import END, START, StateGraph
            from typing_extensions import TypedDict

            class S(TypedDict):
                text: str

            g = StateGraph(S)
            g.add_node("say", lambda s: {"text": "\x1b[31mred\x1b[0m"})
            g.add_edge(START, "say")
            g.add_edge("say", END)
            g.compile(checkpointer=saver).invoke(
                {"text": ""}, {"configurable": {"thread_id": "evil\x1b]0;x\x07"}}
            )
        time.sleep(0.5)
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive() and [e.step.step for e in got if e.step] == [-1, 0, 1]
    line = event_line(got[0], "table")
    assert "\x1b" not in line and "\x07" not in line and "evil\\x1b]0;x\\x07" in line
    assert "\x1b" not in event_line(got[2], "jsonl") and "changed text" in event_line(got[2], "table")


def test_tail_refuses_an_export_file_and_a_tiny_interval(tmp_path: Path, sample_store: Path) -> None:
    result = CliRunner().invoke(main, ["tail", str(sample_store), "--interval", "10ms"])
    assert result.exit_code == 2 and result.output == "Error: --interval must be at least 50ms.\n"
    export = tmp_path / "t.lgscope"
    assert (
        CliRunner()
        .invoke(main, ["export", str(sample_store), "--thread", "support-1", "-o", str(export)])
        .exit_code
        == 0
    )
    result = CliRunner().invoke(main, ["tail", str(export)])
    assert result.exit_code == 2 and "needs a SQLite or Postgres store" in result.output
