"""``lgscope size`` on a large store beside the floor: ``SELECT sum(length(...))`` of the same columns.

The store (`_prune_store.py`): 1,024 threads of 1,002 LangGraph checkpoints (about a million),
one written by LangGraph and copied under new ids with SQL. `size` reads every checkpoint blob
to split it by channel (the C msgpack skip) and streams the rows through Python; the floor only
asks SQLite for the columns' lengths. Both run in this process, alternating.

    python benchmarks/bench_size.py [--threads 1024] [--steps 1000] [--repeat 2]
    python benchmarks/bench_size.py --postgres postgresql://postgres@127.0.0.1:5432/test --threads 128

With ``--postgres``, the store is built in a fresh schema of that database (dropped afterwards)
and the floor sums the checkpoint columns' ``pg_column_size`` and the blobs' and writes' lengths.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prune_store import build, build_postgres, drop_schema  # noqa: E402
from bench_long_thread import run  # noqa: E402

from lgscope.housekeeping import size  # noqa: E402


def floor(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (a,) = conn.execute("SELECT sum(length(checkpoint)) + sum(length(metadata)) FROM checkpoints").fetchone()
    (b,) = conn.execute("SELECT sum(length(value)) FROM writes").fetchone()
    conn.close()
    return int(a) + int(b)


def measure_postgres(url: str, repeat: int) -> None:
    from lgscope.housekeeping._postgres import PostgresRows

    ours: list[float] = []
    base: list[float] = []
    for _ in range(repeat):
        t = time.perf_counter()
        rows = PostgresRows(url)
        expected = rows.floor()
        rows.close()
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        report = size(url)
        ours.append(time.perf_counter() - t)
        assert report.total_bytes == expected, (report.total_bytes, expected)
    print(
        f"size, Postgres ({report.checkpoints:,} checkpoints): lgscope {min(ours):.2f} s, baseline "
        f"SELECT sum(pg_column_size/length(...)) {min(base):.2f} s, ratio {min(ours) / min(base):.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--postgres", metavar="URL", help="Measure a Postgres store built in a fresh schema here."
    )
    args = parser.parse_args()
    if args.postgres:
        url, schema = build_postgres(args.postgres, args.threads, args.steps)
        try:
            measure_postgres(url, args.repeat)
        finally:
            drop_schema(args.postgres, schema)
        return
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
    # memory, as a user runs it: its own process, peak RSS from VmHWM
    cli_t, rss, _out = run(["-m", "lgscope", "size", str(store), "--format", "json"])
    print(
        f"size ({report.checkpoints:,} checkpoints, {store.stat().st_size / 1e6:,.0f} MB): "
        f"lgscope {min(ours):.2f} s, baseline SELECT sum(length(...)) {min(base):.2f} s, "
        f"ratio {min(ours) / min(base):.1f}; lgscope size as a command {cli_t:.1f} s, peak RSS {rss:,.0f} MB",
        flush=True,
    )


if __name__ == "__main__":
    main()
