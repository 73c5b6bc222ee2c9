"""Long threads: every command's time and peak memory beside reading the raw rows.

One ReAct thread per length (`_long_thread.py`: agent → tools until the recursion limit, a
message list growing by two per round, SqliteSaver storing it whole in every checkpoint). Each
command runs as its own process (`python -m lgscope …`, as a user runs it), alternating with
the baseline: a process that reads every checkpoint and write row and decodes nothing (the
floor). Printed per length and command: time and peak RSS, and the time ratio to the floor.

    python benchmarks/bench_long_thread.py [--rounds 250,500,1000,2000] [--repeat 1]

Targets (issue #22): peak RSS < 300 MB at every length, time within 3× of the floor.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _long_thread import THREAD, build_sqlite  # noqa: E402

DATA = Path(os.environ.get("LGSCOPE_BENCH_DIR", Path(tempfile.gettempdir()) / "lgscope-bench"))

FLOOR = """
import sqlite3, sys
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
n = 0
for row in conn.execute("SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints ORDER BY thread_id, checkpoint_ns, checkpoint_id"):
    n += len(row[5]) + len(row[6])
for row in conn.execute("SELECT * FROM writes ORDER BY thread_id, checkpoint_ns, checkpoint_id, task_id, idx"):
    n += len(row[-1] or b"")
print(n)
"""

TUI = """
import asyncio, sys, time
started = time.perf_counter()
from lgscope import open_store
from lgscope.tui.app import LgscopeApp
from lgscope.tui.thread_screen import ThreadScreen
from lgscope.tui.timeline import Timeline

async def main():
    store = open_store(sys.argv[1])
    app = LgscopeApp(store, thread_id=sys.argv[2])
    async with app.run_test(size=(160, 44)) as pilot:
        while not (isinstance(app.screen, ThreadScreen) and app.screen.query_one("#timeline", Timeline).row_count):
            await pilot.pause(0.01)
        first = time.perf_counter() - started
        t = time.perf_counter()
        await pilot.press("j")
        await pilot.pause()
        step = time.perf_counter() - t
    store.close()
    print(f"{first:.3f} {step:.3f}")

asyncio.run(main())
"""


# A process's own peak (VmHWM), written as it exits: rusage's maxrss of a child would count this
# benchmark's own memory, which the child starts from when it is forked.
PEAK = """
import atexit, os, runpy, sys
def peak():
    with open(os.environ["LGSCOPE_BENCH_PEAK"], "w") as out:
        out.write(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
atexit.register(peak)
kind, target, *rest = sys.argv[1:]
if kind == "-m":
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *rest]
    exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
"""


def run(argv: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of one process: ``argv`` is ``-m MODULE …`` or ``-c CODE …``."""
    with (
        tempfile.TemporaryFile() as stdout,
        tempfile.TemporaryFile() as stderr,
        tempfile.NamedTemporaryFile() as peak,
    ):
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", PEAK, *argv],
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "LGSCOPE_BENCH_PEAK": peak.name},
        )
        _pid, status, _usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        rss = int(Path(peak.name).read_text() or 0) / 1024
        stdout.seek(0)
        stderr.seek(0)
        out, err = (
            stdout.read()[-4096:].decode(errors="replace"),
            stderr.read()[-4096:].decode(errors="replace"),
        )
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.strip()[-500:]}")
    return elapsed, rss, out


def commands(store: Path, work: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    first, last = conn.execute(
        "SELECT min(checkpoint_id), max(checkpoint_id) FROM checkpoints WHERE thread_id = ?", (THREAD,)
    ).fetchone()
    conn.close()
    lg = ["-m", "lgscope"]
    export = work / "thread.lgscope.jsonl"
    return {
        "scan": [*lg, "scan", str(store), "--format", "json"],
        "show": [*lg, "show", str(store), "--thread", THREAD],
        "show --checkpoint": [*lg, "show", str(store), "--thread", THREAD, "--checkpoint", last],
        "diff": [*lg, "diff", str(store), "--thread", THREAD, first, last],
        "report": [*lg, "report", str(store), "--format", "md", "-o", str(work / "report.md")],
        "export": [*lg, "export", str(store), "--thread", THREAD, "-o", str(export)],
        "import": [*lg, "import", str(export), str(work / "imported.sqlite"), "--force"],
        "tui": ["-c", TUI, str(store), THREAD],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", default="250,500,1000,2000")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    for rounds in (int(r) for r in args.rounds.split(",")):
        store = build_sqlite(DATA / f"long-{rounds}.sqlite", rounds)
        stored = store.stat().st_size
        print(f"== {rounds} rounds: {2 * rounds + 1} checkpoints, {stored / 1e6:,.0f} MB stored", flush=True)
        with tempfile.TemporaryDirectory(dir=DATA) as tmp:
            work = Path(tmp)
            floor: list[tuple[float, float]] = []
            for name, argv in commands(store, work).items():
                best: tuple[float, float, str] | None = None
                for _ in range(args.repeat):  # alternate with the floor: the machine's noise hits both
                    t, rss, _out = run(["-c", FLOOR, str(store)])
                    floor.append((t, rss))
                    got = run(argv)
                    best = got if best is None or got[0] < best[0] else best
                assert best is not None
                base_t = min(t for t, _ in floor[-args.repeat :])
                base_rss = max(r for _, r in floor[-args.repeat :])
                extra = ""
                if name == "export":
                    size = (work / "thread.lgscope.jsonl").stat().st_size
                    extra = f", file {size / 1e6:,.1f} MB ({size / stored:.3f} of stored)"
                if name == "tui":
                    first, step = best[2].split()
                    extra = f", first paint {float(first):.2f} s, one step {float(step) * 1000:.0f} ms"
                print(
                    f"{name} ({rounds} rounds): lgscope {best[0]:.2f} s / {best[1]:,.0f} MB, "
                    f"baseline raw read {base_t:.2f} s / {base_rss:,.0f} MB, ratio {best[0] / base_t:.2f}{extra}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
