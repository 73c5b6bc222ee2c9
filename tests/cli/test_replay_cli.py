"""``fork`` and ``replay``: exact output, JSON, and bad input as one ``Error:`` line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from lgscope import open_store
from lgscope.cli import main

GRAPHS = str(Path(__file__).resolve().parents[1] / "replay" / "replay_graphs.py")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def ids(store: Path, thread: str) -> list[str]:
    code, out, _ = run("show", str(store), "--thread", thread, "--format", "json")
    assert code == 0
    return [s["checkpoint_id"] for s in json.loads(out)["steps"]]


def test_fork_prints_one_line(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "fork.sqlite"
    cid = ids(sample_store, "review-bounce")[2]
    code, out, err = run(
        "fork",
        str(sample_store),
        "--thread",
        "review-bounce",
        "--checkpoint",
        cid[-8:],
        "--into",
        str(target),
        "--to-thread",
        "rb",
        "--set",
        "rounds=4",
    )
    assert (code, err) == (0, "")
    ((line, head),) = [(out.strip(), out.strip().rsplit("checkpoint ", 1)[1].rstrip(")"))]
    assert line == (
        f"Forked thread review-bounce at {cid} into {target} as thread rb: 3 checkpoints, 1 namespace, "
        f"0 pending writes; set rounds (checkpoint {head})"
    )
    with open_store(target) as st:
        assert st.step("rb", head).values["rounds"] == 4


def test_fork_json(sample_store: Path, tmp_path: Path) -> None:
    code, out, _ = run(
        "fork",
        str(sample_store),
        "--thread",
        "medicine-stuck",
        "--into",
        str(tmp_path / "f.sqlite"),
        "--format",
        "json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["checkpoints"] == 3 and data["pending_writes"] == 1 and data["patched"] == []
    assert data["checkpoint_id"] == data["head_checkpoint_id"] == ids(sample_store, "medicine-stuck")[-1]


def test_replay_table(sample_copy: Path, tmp_path: Path) -> None:
    before = hashlib.sha256(sample_copy.read_bytes()).hexdigest()
    sandbox = tmp_path / "s.sqlite"
    cid = ids(sample_copy, "sync-stalled")[1]
    code, out, err = run(
        "replay",
        str(sample_copy),
        "--thread",
        "sync-stalled",
        "--checkpoint",
        cid,
        "--graph",
        f"{GRAPHS}:sync_fixed",
        "--into",
        str(sandbox),
    )
    assert (code, err) == (0, "")
    assert hashlib.sha256(sample_copy.read_bytes()).hexdigest() == before
    lines = out.splitlines()
    assert lines[0] == (
        f"Sandbox: forked thread sync-stalled at {cid} into {sandbox} as thread sync-stalled: 2 checkpoints, "
        "1 namespace, 0 pending writes"
    )
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    assert rows[:3] == [["1", "wait", "wait", ""], ["2", "check", "check", ""], ["3", "wait", "-", "≠"]]
    assert len(rows) == 12
    assert lines[-5:] == [
        "First divergence: step 3 (recorded wait, replayed nothing).",
        "Status: recorded done, replayed done.",
        "Findings: recorded no_progress; replayed none. Gone in the replay: no_progress.",
        "Final state, replayed vs recorded (1 change):",
        '  status: "submitted" → "done"',
    ]


def test_replay_resume_and_json(sample_store: Path, tmp_path: Path) -> None:
    code, out, _ = run(
        "replay",
        str(sample_store),
        "--thread",
        "medicine-stuck",
        "--graph",
        f"{GRAPHS}:medicine_graph",
        "--resume",
        '{"action": "approve"}',
        "--into",
        str(tmp_path / "s.sqlite"),
        "--format",
        "json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["recorded"] == [] and data["replayed"] == ["approval", "finalize"]
    assert (data["recorded_status"], data["status"], data["fixed"]) == (
        "interrupted",
        "done",
        ["stuck_interrupt"],
    )
    assert {"path": ["decision"], "kind": "added", "old": None, "new": "approve"} in data["state_diff"]


def test_replay_async(tmp_path: Path, sample_store: Path) -> None:
    code, out, _ = run(
        "replay",
        str(sample_store),
        "--thread",
        "support-loop-gave-up",
        "--checkpoint",
        ids(sample_store, "support-loop-gave-up")[1],
        "--graph",
        f"{GRAPHS}:support_fixed",
        "--async",
        "--into",
        str(tmp_path / "s.sqlite"),
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out)["fixed"] == ["loop"] and json.loads(out)["replayed"] == ["agent"]


def test_replay_prints_its_default_sandbox(sample_store: Path) -> None:
    code, out, _ = run(
        "replay",
        str(sample_store),
        "--thread",
        "support-1",
        "--graph",
        f"{GRAPHS}:support_fixed",
        "--format",
        "json",
    )
    assert code == 0
    sandbox = Path(json.loads(out)["sandbox"])
    assert sandbox.name.startswith("lgscope-sandbox-") and sandbox.exists()
    sandbox.unlink()


def test_bad_input_is_one_line_and_writes_nothing(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "f.sqlite"
    cases = [
        (
            [
                "fork",
                str(sample_store),
                "--thread",
                "support-1",
                "--checkpoint",
                "zzzz",
                "--into",
                str(target),
            ],
            "Error: Thread 'support-1' has no checkpoint matching 'zzzz' (an id, or its first or last characters); "
            f"list them with: lgscope show {sample_store} --thread support-1.",
        ),
        (
            [
                "fork",
                str(sample_store),
                "--thread",
                "support-1",
                "--into",
                str(target),
                "--set",
                "messages=[]",
            ],
            "Error: 'messages' is a reducer channel (its stored value is not simply the last write), so setting it "
            "needs the graph's reducer; pass --graph MODULE:ATTR (and --as-node NODE) to patch it through update_state.",
        ),
        (
            ["fork", str(sample_store), "--thread", "support-1", "--into", str(target), "--set", "nope=1"],
            f"Error: Thread 'support-1' has no field 'nope' at checkpoint {ids(sample_store, 'support-1')[-1]} (its "
            "fields: messages, tool_calls_made); check the name, or pass --graph to set a field the graph has but the "
            "thread has not written yet.",
        ),
        (
            ["fork", str(sample_store), "--thread", "support-1", "--into", str(target), "--set", "status"],
            "Error: --set 'status' is not FIELD=JSON; e.g. --set status='\"approved\"' or --set rounds=0.",
        ),
        (
            [
                "replay",
                str(sample_store),
                "--thread",
                "support-1",
                "--graph",
                f"{GRAPHS}:other_graph",
                "--into",
                str(target),
            ],
            "Error: The graph has no node 'agent', 'tools' that thread 'support-1' ran (its nodes: elsewhere); give the "
            "graph that wrote the thread.",
        ),
        (
            [
                "replay",
                str(sample_store),
                "--thread",
                "support-1",
                "--graph",
                "no_such_module:graph",
                "--into",
                str(target),
            ],
            "Error: --graph 'no_such_module:graph': importing no_such_module failed (ModuleNotFoundError: No module "
            "named 'no_such_module'); fix the module.",
        ),
        (
            ["replay", str(sample_store), "--thread", "support-1", "--graph", "graph"],
            "Error: --graph 'graph' is not MODULE:ATTR; MODULE:ATTR names a compiled graph, a StateGraph, or a function "
            "that builds one (given checkpointer=… when it takes that argument); MODULE is a dotted module or a "
            "path/to/file.py.",
        ),
    ]
    for args, message in cases:
        code, out, err = run(*args)
        assert (code, out, err) == (2, "", message + "\n"), args
        assert not target.exists()
    run("fork", str(sample_store), "--thread", "support-1", "--into", str(target))
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    code, _, err = run("fork", str(sample_store), "--thread", "support-1", "--into", str(target))
    assert (code, err) == (
        2,
        "Error: The target store already has a thread 'support-1'; pass --force to replace it, or --to-thread "
        "NEW_ID to fork under another id.\n",
    )
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    code, _, _ = run("fork", str(sample_store), "--thread", "support-1", "--into", str(target), "--force")
    assert code == 0


def test_a_graph_module_that_exits_or_is_not_a_graph_is_one_line(sample_store: Path, tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "notgraph.py").write_text("graph = 42\n")
    code, out, err = run(
        "replay", str(sample_store), "--thread", "support-1", "--graph", f"{tmp_path}/script.py:graph"
    )
    assert (code, out) == (2, "") and err == (
        f"Error: --graph '{tmp_path}/script.py:graph': importing {tmp_path}/script.py called sys.exit(3); point "
        "--graph at a module that defines the graph without running a program.\n"
    )
    code, out, err = run(
        "replay", str(sample_store), "--thread", "support-1", "--graph", f"{tmp_path}/notgraph.py:graph"
    )
    assert (code, out) == (2, "") and err.startswith(
        "Error: The graph is an object of type int, not a graph; MODULE:ATTR names"
    )
