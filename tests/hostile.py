"""Planting hostile rows in real stores, and running every command that reads them.

Shared by the hostile-data tests (issue 25). Each planting helper writes through plain SQL into a
private copy of the sample store, as an attacker with write access to the database would.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import ormsgpack

THREAD = "support-1"
"""The sample thread the hostile values are planted in (5 checkpoints, done)."""


def nested_ext_bomb(wrappers: int = 40, arrays: int = 400) -> bytes:
    """``wrappers`` msgpack extensions, each holding ``arrays`` nested arrays around the next one:
    about 16 KB that overflowed the C stack when every extension restarted the depth count."""
    inner = ormsgpack.packb(1)
    for _ in range(wrappers):
        body = b"\x91" * arrays + b"\x93\xa1m\xa1n" + inner
        inner = b"\xc9" + len(body).to_bytes(4, "big") + b"\x00" + body
    return inner


def deep_array(levels: int) -> bytes:
    return b"\x91" * levels + ormsgpack.packb(1)


def latest_checkpoint(path: Path, thread: str = THREAD) -> str:
    with sqlite3.connect(path) as conn:
        (cid,) = conn.execute(
            "SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''", (thread,)
        ).fetchone()
    return str(cid)


def plant_channel_value(path: Path, raw: bytes, *, channel: str = "evil", thread: str = THREAD) -> str:
    """Put the msgpack bytes ``raw`` into the latest checkpoint's ``channel_values[channel]``."""
    cid = latest_checkpoint(path, thread)
    with sqlite3.connect(path) as conn:
        (blob,) = conn.execute(
            "SELECT checkpoint FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ?",
            (thread, cid),
        ).fetchone()
        # keep every extension as its bytes: nothing of the stored checkpoint is rebuilt here
        ck = ormsgpack.unpackb(blob, ext_hook=ormsgpack.Ext, option=ormsgpack.OPT_NON_STR_KEYS)
        ck["channel_values"][channel] = _RawMsgpack(raw)
        conn.execute(
            "UPDATE checkpoints SET checkpoint = ? WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ?",
            (_pack(ck), thread, cid),
        )
    return cid


def plant_write(
    path: Path,
    value: bytes,
    *,
    type_: str = "msgpack",
    channel: str = "evil",
    task_path: str = "evil",
    idx: int = 0,
    thread: str = THREAD,
    checkpoint_id: str | None = None,
) -> str:
    cid = checkpoint_id or latest_checkpoint(path, thread)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, "
            "type, value) VALUES (?, '', ?, 'evil-task', ?, ?, ?, ?, ?)",
            (thread, cid, task_path, idx, channel, type_, value),
        )
    return cid


class _RawMsgpack:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw


def _pack(value: Any) -> bytes:
    """msgpack of ``value`` where `_RawMsgpack` leaves are spliced in as they are."""
    if isinstance(value, _RawMsgpack):
        return value.raw
    if isinstance(value, dict):
        return _map_header(len(value)) + b"".join(_pack(k) + _pack(v) for k, v in value.items())
    if isinstance(value, list):
        n = len(value)
        head = bytes([0x90 | n]) if n <= 15 else b"\xdc" + n.to_bytes(2, "big")
        return head + b"".join(_pack(v) for v in value)
    return ormsgpack.packb(value)


def _map_header(n: int) -> bytes:
    return bytes([0x80 | n]) if n <= 15 else b"\xde" + n.to_bytes(2, "big")


READERS: list[tuple[str, ...]] = [
    ("threads", "{store}"),
    ("threads", "{store}", "--format", "json"),
    ("show", "{store}", "--thread", "{thread}"),
    ("show", "{store}", "--thread", "{thread}", "--checkpoint", "{checkpoint}"),
    ("show", "{store}", "--thread", "{thread}", "--checkpoint", "{checkpoint}", "--format", "json"),
    ("diff", "{store}", "--thread", "{thread}", "{first}", "{checkpoint}"),
    ("scan", "{store}"),
    ("scan", "{store}", "--format", "json"),
    ("report", "{store}", "--format", "md"),
    ("report", "{store}", "--format", "html"),
    ("report", "{store}", "--format", "json"),
    ("export", "{store}", "--thread", "{thread}", "-o", "{out}"),
    ("sweep", "{store}", "--older-than", "1s"),
    ("scan", "{store}", "--state", "{state}"),
    ("scan", "{store}", "--state", "{state}"),
    ("size", "{store}"),
    ("size", "{store}", "--format", "json"),
    ("prune", "{store}", "--keep-last", "1"),
    ("fork", "{store}", "--thread", "{thread}", "--into", "{fork}"),
]
"""Every command that reads a thread's values, as argument templates."""

_RUNNER = r"""
import json, sys
from click.testing import CliRunner
from lgscope.cli import main
out = []
for args in json.loads(sys.argv[1]):
    r = CliRunner().invoke(main, args)
    exc = None if r.exception is None or isinstance(r.exception, SystemExit) else repr(r.exception)
    out.append({"args": args, "code": r.exit_code, "output": r.output, "exception": exc})
print(json.dumps(out))
"""


def run_readers(
    store: Path | str, tmp: Path, *, thread: str = THREAD, ids: list[str] | None = None, timeout: float = 240
) -> list[dict[str, Any]]:
    """Run every command of `READERS` on ``store`` in a child process (a crash kills only it);
    ``ids`` are the thread's root checkpoint ids (read from a SQLite ``store`` if not given)."""
    if ids is None:
        with sqlite3.connect(store) as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
                    "ORDER BY checkpoint_id",
                    (thread,),
                )
            ]
    fields = {
        "store": str(store),
        "thread": thread,
        "checkpoint": ids[-1],
        "first": ids[0],
        "out": str(tmp / "out.lgscope.jsonl"),
        "state": str(tmp / "scan.state"),
        "fork": str(tmp / "fork.sqlite"),
    }
    commands = [[a.format(**fields) for a in args] for args in READERS]
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp,
    )
    assert proc.returncode == 0, (
        f"the commands crashed the process (exit {proc.returncode}): {proc.stderr[-2000:]}"
    )
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    return results


def assert_all_read(results: list[dict[str, Any]]) -> None:
    """No traceback and no unexpected exception; exit 0 (or 1 for a sweep that found work), or a
    refusal in one ``Error:`` line (export refuses a corrupt checkpoint: an export is faithful)."""
    for r in results:
        assert r["exception"] is None, (r["args"], r["exception"])
        assert "Traceback" not in r["output"], (r["args"], r["output"][-2000:])
        if r["code"] == 2:
            assert r["output"].startswith("Error: ") and r["output"].count("\n") == 1, r
        else:
            assert r["code"] in (0, 1), (r["args"], r["code"], r["output"][-2000:])


EVIL_ID = "evil\x1b]0;pwned\x07\x1b[2J[/b][link=https://evil.example]x[/link]<script>alert(1)</script>"
"""A thread id that retitles and erases a terminal and is Rich markup (closing an unopened tag)."""
EVIL_NODE = "agent\x1b[31m[/INST]\u202e"
EVIL_TEXT = (
    "[/INST] \x1b]8;;https://evil.example\x07click\x1b]8;;\x07 [link=https://evil.example]here[/link] \x9b2J"
)


def clone_thread(path: Path, new_id: str, source: str = THREAD) -> None:
    """Copy every row of thread ``source`` under ``new_id``."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO checkpoints SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
            "checkpoint, metadata FROM checkpoints WHERE thread_id = ?",
            (new_id, source),
        )
        cols = [r[1] for r in conn.execute("PRAGMA table_info(writes)")]
        rest = ", ".join(c for c in cols if c != "thread_id")
        conn.execute(
            f"INSERT INTO writes (thread_id, {rest}) SELECT ?, {rest} FROM writes WHERE thread_id = ?",
            (new_id, source),
        )


def plant_hostile_text(path: Path) -> str:
    """A thread ``EVIL_ID`` whose node names, error, interrupt and a state key are hostile text."""
    clone_thread(path, EVIL_ID)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE writes SET task_path = ? WHERE thread_id = ? AND task_path LIKE '%agent'",
            (f"~__pregel_pull, {EVIL_NODE}", EVIL_ID),
        )
    error = ormsgpack.packb(f"ValueError('{EVIL_TEXT}')")
    interrupt = ormsgpack.packb(
        [
            ormsgpack.Ext(
                2,
                ormsgpack.packb(
                    ["langgraph.types", "Interrupt", {"value": {"question": EVIL_TEXT}, "id": "e" * 32}]
                ),
            )
        ]
    )
    cid = plant_write(
        path, error, channel="__error__", task_path=f"~__pregel_pull, {EVIL_NODE}", thread=EVIL_ID
    )
    plant_write(
        path, interrupt, channel="__interrupt__", task_path="~__pregel_pull, approval", thread=EVIL_ID, idx=1
    )
    plant_channel_value(path, ormsgpack.packb({EVIL_TEXT: EVIL_TEXT}), channel=EVIL_NODE, thread=EVIL_ID)
    return cid


def assert_inert(text: str) -> None:
    """Nothing a terminal acts on, no markup error."""
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\u202e" not in text, repr(
        text[:3000]
    )
    assert "MarkupError" not in text, text[-3000:]
