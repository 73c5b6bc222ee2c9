"""Full ``lgscope scan`` vs. iterating ``saver.list(None)`` on the same store, in one run.

    python benchmarks/bench_scan.py                      # 1,000,000 checkpoints in SQLite + 100,000 in Postgres
    python benchmarks/bench_scan.py --checkpoints 200000 --pg-checkpoints 0

The store is built from the sample store's threads (real rows written by LangGraph through
SqliteSaver/PostgresSaver), copied under new thread ids until it holds the requested number of
checkpoints; the looping, oscillating and stuck threads keep their share. The baseline does no
analysis at all: it only iterates ``list(None)``. Each side runs in its own process (so peak RSS
is its own), alternating, ``--repeat`` times; the figures are medians.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "fixtures" / "stores" / "sample.sqlite"
DATA = ROOT / "benchmarks" / ".data"
SKIP = "support-marathon"  # one 90-message thread; its copies would dwarf everything else


def build_sqlite(path: Path, checkpoints: int) -> None:
    if path.exists():
        with sqlite3.connect(path) as conn:
            if conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] >= checkpoints:
                return
        path.unlink()
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path)
    SqliteSaver(conn).setup()
    conn.execute("ATTACH DATABASE ? AS src", (f"file:{SAMPLE}?mode=ro",))
    per_copy = conn.execute("SELECT count(*) FROM src.checkpoints WHERE thread_id != ?", (SKIP,)).fetchone()[
        0
    ]
    copies = -(-checkpoints // per_copy)
    started = time.perf_counter()
    with conn:
        for table, cols in (
            ("checkpoints", "checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"),
            ("writes", "checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, value"),
        ):
            conn.execute(
                f"WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM r WHERE k < ?) "
                f"INSERT INTO main.{table} (thread_id, {cols}) "
                f"SELECT s.thread_id || '#' || r.k, {', '.join('s.' + c.strip() for c in cols.split(','))} "
                f"FROM r, src.{table} s WHERE s.thread_id != ?",
                (copies, SKIP),
            )
    conn.close()
    print(
        f"built {path.name}: {copies * per_copy:,} checkpoints in {time.perf_counter() - started:.0f}s",
        flush=True,
    )


def build_postgres(url: str, checkpoints: int) -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    from lgscope.examples import build_sample

    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS lgscope_bench CASCADE")
        conn.execute("CREATE SCHEMA lgscope_bench")
        conn.execute("CREATE SCHEMA IF NOT EXISTS lgscope_bench_src")
        conn.execute("DROP SCHEMA lgscope_bench_src CASCADE")
        conn.execute("CREATE SCHEMA lgscope_bench_src")
    src = url.split("?")[0] + "?options=-csearch_path%3Dlgscope_bench_src"
    with PostgresSaver.from_conn_string(src) as saver:
        saver.setup()
        build_sample(saver)
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        per_copy = conn.execute(
            "SELECT count(*) FROM lgscope_bench_src.checkpoints WHERE thread_id != %s", (SKIP,)
        ).fetchone()[0]  # type: ignore[index]
        copies = -(-checkpoints // per_copy)
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            cols = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'lgscope_bench_src' "
                    "AND table_name = %s AND column_name != 'thread_id' ORDER BY ordinal_position",
                    (table,),
                )
            ]
            conn.execute(
                f"INSERT INTO lgscope_bench.{table} (thread_id, {', '.join(cols)}) "
                f"SELECT s.thread_id || '#' || k, {', '.join('s.' + c for c in cols)} "
                f"FROM generate_series(1, %s) k, lgscope_bench_src.{table} s WHERE s.thread_id != %s",
                (copies, SKIP),
            )
        conn.execute("ANALYZE")
    print(f"built postgres lgscope_bench: {copies * per_copy:,} checkpoints", flush=True)


def child(side: str, store: str) -> None:
    """Run one side and print its seconds, checkpoints and peak RSS as JSON."""
    started = time.perf_counter()
    if side == "lgscope":
        from lgscope import open_store
        from lgscope.forensics import scan

        with open_store(store) as st:
            result = scan(st)
        count, found = result.stats.checkpoints, len(result.findings)
    else:
        if store.startswith("postgresql://"):
            from langgraph.checkpoint.postgres import PostgresSaver

            with PostgresSaver.from_conn_string(store) as saver:
                count = sum(1 for _ in saver.list(None))
        else:
            from langgraph.checkpoint.sqlite import SqliteSaver

            conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, check_same_thread=False)
            count = sum(1 for _ in SqliteSaver(conn).list(None))
        found = 0
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "checkpoints": count, "findings": found, "rss_mb": rss_mb}))


def measure(name: str, store: str, repeat: int) -> None:
    runs: dict[str, list[dict[str, float]]] = {"lgscope": [], "baseline": []}
    for _ in range(repeat):
        for side in ("lgscope", "baseline"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", side, "--store", store],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[side].append(json.loads(out.strip().splitlines()[-1]))
    lg = statistics.median(r["seconds"] for r in runs["lgscope"])
    base = statistics.median(r["seconds"] for r in runs["baseline"])
    count = int(runs["lgscope"][0]["checkpoints"])
    print(
        f"{name} ({count:,} checkpoints, {int(runs['lgscope'][0]['findings']):,} findings): "
        f"lgscope {lg:.1f}s, baseline {base:.1f}s, ratio {base / lg:.2f}"
    )
    print(
        f"{name} peak RSS: lgscope {max(r['rss_mb'] for r in runs['lgscope']):.0f} MB, "
        f"baseline {max(r['rss_mb'] for r in runs['baseline']):.0f} MB"
    )
    print(
        f"{name} throughput: lgscope {count / lg:,.0f} checkpoints/s, baseline {count / base:,.0f} checkpoints/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoints", type=int, default=1_000_000)
    parser.add_argument("--pg-checkpoints", type=int, default=100_000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", choices=["lgscope", "baseline"])
    parser.add_argument("--store")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.store)
        return
    DATA.mkdir(parents=True, exist_ok=True)
    if args.checkpoints:
        path = DATA / f"scan-{args.checkpoints}.sqlite"
        build_sqlite(path, args.checkpoints)
        measure("scan vs SqliteSaver.list(None)", str(path), args.repeat)
    if args.pg_checkpoints:
        url = f"{args.pg_url}?options=-csearch_path%3Dlgscope_bench"
        build_postgres(url, args.pg_checkpoints)
        measure("scan vs PostgresSaver.list(None)", url, args.repeat)


if __name__ == "__main__":
    main()
