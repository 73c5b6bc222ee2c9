"""Fork: a long thread copied into a new SQLite sandbox, beside copying its rows with SQL.

One ReAct thread per length (`_long_thread.py`; SqliteSaver stores the message list whole in
every checkpoint, so the file grows with the square of the rounds). Each run is its own process,
alternating: `lgscope fork` (reads through lgscope.store, writes through SqliteSaver with the
stored bytes as they are) and the baseline, a process that attaches a new file and copies the
thread's checkpoint and write rows with INSERT … SELECT (the floor: no decoding, no saver). The
export-then-import route lgscope had before is printed too. Time and peak RSS per run.

    python benchmarks/bench_fork.py [--rounds 100,250,500] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _long_thread import THREAD, build_sqlite  # noqa: E402
from bench_long_thread import DATA, run  # noqa: E402

FLOOR = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[2])
conn.execute("CREATE TABLE checkpoints (thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL DEFAULT '', checkpoint_id TEXT NOT NULL, parent_checkpoint_id TEXT, type TEXT, checkpoint BLOB, metadata BLOB, PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id))")
conn.execute("CREATE TABLE writes (thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL DEFAULT '', checkpoint_id TEXT NOT NULL, task_id TEXT NOT NULL, idx INTEGER NOT NULL, channel TEXT NOT NULL, type TEXT, value BLOB, task_path TEXT NOT NULL DEFAULT '', PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx))")
conn.execute("ATTACH DATABASE ? AS src", (f"file:{sys.argv[1]}?mode=ro",))
conn.execute("INSERT INTO checkpoints SELECT * FROM src.checkpoints WHERE thread_id = ?", (sys.argv[3],))
conn.execute("INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path) SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path FROM src.writes WHERE thread_id = ?", (sys.argv[3],))
conn.commit()
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", default="100,250,500")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    for rounds in (int(r) for r in args.rounds.split(",")):
        store = build_sqlite(DATA / f"long-{rounds}.sqlite", rounds)
        stored = store.stat().st_size
        print(f"== {rounds} rounds: {2 * rounds + 1} checkpoints, {stored / 1e6:,.0f} MB stored", flush=True)
        best: dict[str, tuple[float, float]] = {}
        with tempfile.TemporaryDirectory(dir=DATA) as tmp:
            work = Path(tmp)
            for i in range(args.repeat):  # alternating: the machine's noise hits each
                runs = {
                    "floor": ["-c", FLOOR, str(store), str(work / f"floor-{i}.sqlite"), THREAD],
                    "fork": [
                        "-m",
                        "lgscope",
                        "fork",
                        str(store),
                        "--thread",
                        THREAD,
                        "--into",
                        str(work / f"fork-{i}.sqlite"),
                    ],
                    "export": [
                        "-m",
                        "lgscope",
                        "export",
                        str(store),
                        "--thread",
                        THREAD,
                        "-o",
                        str(work / f"t-{i}.jsonl"),
                    ],
                    "import": [
                        "-m",
                        "lgscope",
                        "import",
                        str(work / f"t-{i}.jsonl"),
                        str(work / f"imp-{i}.sqlite"),
                    ],
                }
                for name, argv in runs.items():
                    t, rss, _out = run(argv)
                    if name not in best or t < best[name][0]:
                        best[name] = (t, max(rss, best.get(name, (0, 0))[1]))
        base_t, base_rss = best["floor"]
        fork_t, fork_rss = best["fork"]
        via = best["export"][0] + best["import"][0]
        via_rss = max(best["export"][1], best["import"][1])
        print(
            f"fork ({rounds} rounds): lgscope {fork_t:.2f} s / {fork_rss:,.0f} MB, baseline SQL row copy "
            f"{base_t:.2f} s / {base_rss:,.0f} MB, ratio {fork_t / base_t:.2f}; export+import {via:.2f} s / "
            f"{via_rss:,.0f} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
