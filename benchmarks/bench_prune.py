"""``lgscope prune --keep-last 100 --apply`` on ~1M checkpoints (90% deleted): time and peak RSS,
beside the hand-written DELETE people use (a window function over the whole table), each as its
own process on a fresh copy of the store, alternating.

The store (`_prune_store.py`): 1,024 threads of 1,002 checkpoints, one written by LangGraph and
copied under new ids with SQL. lgscope plans each thread (what kept checkpoints need), takes the
sweeper's per-thread lock and deletes in one transaction per thread; the baseline deletes all in
one statement, with none of those guarantees.

    python benchmarks/bench_prune.py [--threads 1024] [--steps 1000] [--keep 100] [--repeat 1]
    python benchmarks/bench_prune.py --postgres postgresql://postgres@127.0.0.1:5432/test --threads 128

With ``--postgres``: ``--keep-last 1`` beside LangGraph's own ``PostgresSaver.prune(threads,
strategy="keep_latest")`` (the same policy), each on a store built in a fresh schema (dropped after).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prune_store import DATA, build, build_postgres, drop_schema  # noqa: E402
from bench_long_thread import run  # noqa: E402

BASELINE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
keep = int(sys.argv[2])
with conn:
    conn.execute(
        "DELETE FROM checkpoints WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() OVER ("
        "PARTITION BY thread_id, checkpoint_ns ORDER BY checkpoint_id DESC) AS rn FROM checkpoints) WHERE rn > ?)",
        (keep,),
    )
    conn.execute(
        "DELETE FROM writes WHERE NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = writes.thread_id "
        "AND c.checkpoint_ns = writes.checkpoint_ns AND c.checkpoint_id = writes.checkpoint_id)"
    )
"""


LANGGRAPH_PRUNE = """
import sys
from langgraph.checkpoint.postgres import PostgresSaver
with PostgresSaver.from_conn_string(sys.argv[1]) as saver:
    threads = [r["thread_id"] for r in saver.conn.execute("SELECT DISTINCT thread_id FROM checkpoints")]
    saver.prune(threads, strategy="keep_latest")
"""


def postgres(server: str, threads: int, steps: int, repeat: int) -> None:
    import psycopg

    results: dict[str, list[tuple[float, float]]] = {"lgscope": [], "baseline": []}
    before = after = 0
    for _ in range(repeat):
        for name in ("baseline", "lgscope"):
            url, schema = build_postgres(server, threads, steps)
            try:
                with psycopg.connect(url) as conn:
                    ((before,),) = conn.execute("SELECT count(*) FROM checkpoints").fetchall()
                if name == "lgscope":
                    argv = ["-m", "lgscope", "prune", url, "--keep-last", "1", "--apply"]
                else:
                    argv = ["-c", LANGGRAPH_PRUNE, url]
                t, rss, _out = run(argv)
                results[name].append((t, rss))
                with psycopg.connect(url) as conn:
                    ((after,),) = conn.execute("SELECT count(*) FROM checkpoints").fetchall()
                assert after == threads, (name, after)
            finally:
                drop_schema(server, schema)
    ours, base = min(results["lgscope"]), min(results["baseline"])
    print(
        f"prune, Postgres ({before:,} checkpoints, {1 - after / before:.1%} deleted, keep-last 1): lgscope "
        f"{ours[0]:.1f} s / {ours[1]:,.0f} MB peak RSS, baseline PostgresSaver.prune(keep_latest) {base[0]:.1f} s / "
        f"{base[1]:,.0f} MB, ratio {ours[0] / base[0]:.2f}",
        flush=True,
    )


def _count(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (n,) = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
    conn.close()
    return int(n)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--keep", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--postgres", metavar="URL", help="Measure Postgres (stores built in fresh schemas here)."
    )
    args = parser.parse_args()
    if args.postgres:
        postgres(args.postgres, args.threads, args.steps, args.repeat)
        return
    store = build(args.threads, args.steps)
    before = _count(store)
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        copy = Path(tmp) / "copy.sqlite"
        results: dict[str, list[tuple[float, float]]] = {"lgscope": [], "baseline": []}
        for _ in range(args.repeat):
            for name in ("baseline", "lgscope"):
                shutil.copyfile(store, copy)
                if name == "lgscope":
                    argv = ["-m", "lgscope", "prune", str(copy), "--keep-last", str(args.keep), "--apply"]
                else:
                    argv = ["-c", BASELINE, str(copy), str(args.keep)]
                t, rss, _out = run(argv)
                results[name].append((t, rss))
                after = _count(copy)
                assert after == args.threads * args.keep, (name, after)
        ours = min(results["lgscope"])
        base = min(results["baseline"])
        print(
            f"prune ({before:,} checkpoints, {1 - after / before:.0%} deleted): lgscope {ours[0]:.1f} s / "
            f"{ours[1]:,.0f} MB peak RSS, baseline hand-written DELETE {base[0]:.1f} s / {base[1]:,.0f} MB, "
            f"ratio {ours[0] / base[0]:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
