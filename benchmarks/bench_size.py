"""``lgscope size`` on a large store beside the floor: ``SELECT sum(length(...))`` of the same columns.

The store (`_prune_store.py`): 1,024 threads of 1,002 LangGraph checkpoints (about a million),
one written by LangGraph and copied under new ids with SQL. `size` reads every checkpoint blob
to split it by channel (the C msgpack skip) and streams the rows through Python; the floor only
asks SQLite for the columns' lengths. Both run in this process, alternating.

    python benchmarks/bench_size.py [--threads 1024] [--steps 1000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prune_store import build  # noqa: E402

from lgscope.housekeeping import size  # noqa: E402


def floor(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (a,) = conn.execute("SELECT sum(length(checkpoint)) + sum(length(metadata)) FROM checkpoints").fetchone()
    (b,) = conn.execute("SELECT sum(length(value)) FROM writes").fetchone()
    conn.close()
    return int(a) + int(b)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    store = build(args.threads, args.steps)
    ours: list[float] = []
    base: list[float] = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        expected = floor(store)
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        report = size(store)
        ours.append(time.perf_counter() - t)
        assert report.total_bytes == expected, (report.total_bytes, expected)
    print(
        f"size ({report.checkpoints:,} checkpoints, {store.stat().st_size / 1e6:,.0f} MB): "
        f"lgscope {min(ours):.2f} s, baseline SELECT sum(length(...)) {min(base):.2f} s, "
        f"ratio {min(ours) / min(base):.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
