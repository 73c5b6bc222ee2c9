"""Full ``lgscope scan`` vs. iterating ``saver.list(None)`` on the same store, in one run.

    python benchmarks/bench_scan.py                       # 1,000,000 checkpoints per SQLite workload + 100,000 in Postgres
    python benchmarks/bench_scan.py --checkpoints 100000 --pg-checkpoints 0 --workloads production
    python benchmarks/bench_scan.py --checkpoints 0 --pg-checkpoints 20000 --pg-workload counters

Each store is built from template threads that real graphs wrote through the real saver, their
rows copied under new thread ids (``<template>#<k>``) by SQL until the store holds the requested
number of checkpoints; every copy keeps its template's findings, so the scan must find exactly
``copies × template findings`` (checked, and printed).

Three workloads, the three state shapes of issue 22, each printed because they differ:
- ``production``: a support deployment (``_scan_workload.py``): messages carrying provider
  metadata and kilobyte tool results; 15% of the threads are the incident's loop, the rest
  oscillating reviews, stuck and answered approvals, a stalled poller, failed tasks, and 60%
  healthy conversations. Checkpoints average ~5 KB.
- ``sample``: the committed sample store's threads (toy messages, checkpoints of ~1.6 KB; the
  90-checkpoint ``support-marathon`` is left out, its copies would dwarf the rest).
- ``counters``: toy counters (``_counters_workload.py``): states of a few ints, short strings, a
  bool and a short list of ints, no messages; checkpoints of ~0.8 KB. 70% healthy tallies and
  countdowns, 5% healthy retries, the rest a poller stalled until the recursion limit, a
  thermostat oscillating between heat and cool, stuck and answered gates, and a failed task.

``production`` and ``counters`` templates are built on first use into benchmarks/.data/ and
checked against their labels (a scan of them must find exactly the labelled kinds per thread).

The baseline does no analysis at all: it only iterates ``list(None)`` (SqliteSaver /
PostgresSaver). lgscope runs as ``lgscope scan`` does (``--jobs 0``: a worker process per CPU
core) and again in one process. Each side runs in its own process, so peak RSS is its own (the
workers' is printed apart); the sides alternate, ``--repeat`` times, and the figures are
medians. The store files live in benchmarks/.data/.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
SAMPLE = ROOT / "fixtures" / "stores" / "sample.sqlite"
DATA = ROOT / "benchmarks" / ".data"
SKIP = "support-marathon"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
WORKLOADS = ("production", "sample", "counters")
BUILDERS = {"production": "_scan_workload", "counters": "_counters_workload"}
"""The workloads whose templates real graphs write here, and the module that builds them."""


def _builder(workload: str) -> Any:
    return importlib.import_module(BUILDERS[workload])


def _now(workload: str) -> datetime:
    if workload in BUILDERS:
        now: datetime = _builder(workload).NOW
        return now
    labels = json.loads((ROOT / "fixtures" / "labels.json").read_text())
    return datetime.fromisoformat(labels["reference_now"])


def _expected_per_copy(template: str, workload: str) -> Counter[str]:
    """The findings of one copy of the templates: what a scan of the template store finds."""
    from lgscope import open_store
    from lgscope.forensics import scan

    with open_store(template) as st:
        ids = [t for t in st.thread_ids() if t != SKIP]
        result = scan(st, thread_ids=ids, now=_now(workload))
    return Counter(f.kind for f in result.findings)


def templates(workload: str) -> Path:
    if workload == "sample":
        return SAMPLE
    path = DATA / f"templates-{workload}.sqlite"
    if not path.exists():
        tmp = path.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        expected = _write_templates(tmp, _builder(workload).build_templates)
        _check_labels(str(tmp), expected, workload)
        tmp.rename(path)
        for leftover in ("-wal", "-shm"):  # the read-only scan's, of an empty WAL
            Path(f"{tmp}{leftover}").unlink(missing_ok=True)
    return path


def _write_templates(path: Path, build: Any) -> dict[str, list[str]]:
    """Run a workload's template threads through SqliteSaver into a new file; their labels."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        labels: dict[str, list[str]] = build(saver)
        return labels
    finally:
        conn.close()


def _check_labels(store: str, expected: dict[str, list[str]], workload: str) -> None:
    from lgscope import open_store
    from lgscope.forensics import scan

    with open_store(store) as st:
        result = scan(st, now=_now(workload))
    found: dict[str, list[str]] = {}
    for f in result.findings:
        found.setdefault(f.thread_id, []).append(f.kind)
    wrong = {
        t: found.get(t, []) for t, kinds in expected.items() if sorted(found.get(t, [])) != sorted(kinds)
    }
    if wrong:
        raise SystemExit(f"the templates do not read as labelled: {wrong}")


def build_sqlite(path: Path, template: Path, checkpoints: int) -> int:
    """Copy the templates' rows until ``path`` holds ``checkpoints``; return the number of copies."""
    src = sqlite3.connect(f"file:{template}?mode=ro", uri=True)
    per_copy = src.execute("SELECT count(*) FROM checkpoints WHERE thread_id != ?", (SKIP,)).fetchone()[0]
    src.close()
    copies = -(-checkpoints // per_copy)
    if path.exists():
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            if conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == copies * per_copy:
                return copies
        path.unlink()
    from langgraph.checkpoint.sqlite import SqliteSaver

    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    SqliteSaver(conn).setup()
    conn.execute("PRAGMA journal_mode = DELETE")  # one file, readable with mode=ro
    conn.execute("ATTACH DATABASE ? AS src", (f"file:{template}?mode=ro",))
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
    tmp.rename(path)
    size = path.stat().st_size / 2**30
    print(
        f"built {path.name}: {copies * per_copy:,} checkpoints ({copies:,} copies of the templates, "
        f"{size:.1f} GiB) in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    return copies


def build_postgres(
    url: str,
    base_url: str,
    workload: str,
    checkpoints: int,
    *,
    schema: str = "lgscope_bench",
    src_schema: str = "lgscope_bench_src",
) -> int:
    """Build ``schema`` (which ``url`` points at) from templates in ``src_schema``; both are dropped first."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    with psycopg.connect(base_url, autocommit=True) as conn:
        for name in (schema, src_schema):
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            conn.execute(f"CREATE SCHEMA {name}")
    src = f"{base_url}?options=-csearch_path%3D{src_schema}"
    with PostgresSaver.from_conn_string(src) as saver:
        saver.setup()
        if workload in BUILDERS:
            _builder(workload).build_templates(saver)
        else:
            from lgscope.examples import REFERENCE_NOW, build_sample

            build_sample(saver, reference_now=REFERENCE_NOW)
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
    with psycopg.connect(base_url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {src_schema}.checkpoints WHERE thread_id != %s", (SKIP,)
        ).fetchone()
        per_copy = int(row[0]) if row else 0
        copies = -(-checkpoints // per_copy)
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            cols = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                    "AND table_name = %s AND column_name != 'thread_id' ORDER BY ordinal_position",
                    (src_schema, table),
                )
            ]
            conn.execute(
                f"INSERT INTO {schema}.{table} (thread_id, {', '.join(cols)}) "
                f"SELECT s.thread_id || '#' || k, {', '.join('s.' + c for c in cols)} "
                f"FROM generate_series(1, %s) k, {src_schema}.{table} s WHERE s.thread_id != %s",
                (copies, SKIP),
            )
        conn.execute("ANALYZE")
    print(
        f"built Postgres schema {schema}: {copies * per_copy:,} checkpoints ({copies:,} copies)", flush=True
    )
    return copies


def child(side: str, store: str, now: str) -> None:
    """Run one side and print its seconds, checkpoints, findings and peak RSS as JSON."""
    started = time.perf_counter()
    kinds: dict[str, int] = {}
    jobs = 1
    if side in ("lgscope", "lgscope-1"):
        from lgscope import open_store
        from lgscope.forensics import scan

        with open_store(store) as st:
            # what `lgscope scan` does (--jobs 0: a worker per core), or one process
            result = scan(st, now=datetime.fromisoformat(now), jobs=0 if side == "lgscope" else 1)
        count, jobs = result.stats.checkpoints, result.stats.jobs
        kinds = dict(Counter(f.kind for f in result.findings))
    elif store.startswith("postgresql://"):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(store) as saver:
            count = sum(1 for _ in saver.list(None))
    else:
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.is_setup = True  # setup() writes (WAL pragma, CREATE TABLE): the tables are there
        count = sum(1 for _ in saver.list(None))
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "checkpoints": count,
                "kinds": kinds,
                "rss_mb": rss_mb,
                "worker_rss_mb": worker_mb,
                "jobs": jobs,
            }
        )
    )


def measure(name: str, store: str, now: datetime, repeat: int, expected: Counter[str]) -> None:
    runs: dict[str, list[dict[str, Any]]] = {"lgscope": [], "lgscope-1": [], "baseline": []}
    for _ in range(repeat):
        for side in runs:
            out = subprocess.run(
                [sys.executable, __file__, "--child", side, "--store", store, "--now", now.isoformat()],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[side].append(json.loads(out.strip().splitlines()[-1]))
    lg = statistics.median(r["seconds"] for r in runs["lgscope"])
    base = statistics.median(r["seconds"] for r in runs["baseline"])
    first = runs["lgscope"][0]
    count = int(first["checkpoints"])
    assert all(r["checkpoints"] == count for r in runs["baseline"]), "the two sides read different stores"
    found = Counter(first["kinds"])
    verdict = "as expected" if found == expected else f"EXPECTED {dict(sorted(expected.items()))}"
    one = statistics.median(r["seconds"] for r in runs["lgscope-1"])
    jobs = runs["lgscope"][0]["jobs"]
    print(f"{name}: lgscope {lg:.1f}s, baseline {base:.1f}s, ratio {base / lg:.2f} ({jobs} worker processes)")
    print(f"{name}, lgscope in one process: lgscope {one:.1f}s, baseline {base:.1f}s, ratio {base / one:.2f}")
    print(
        f"{name} peak RSS: lgscope {max(r['rss_mb'] for r in runs['lgscope']):.0f} MB + "
        f"{max(r['worker_rss_mb'] for r in runs['lgscope']):.0f} MB per worker, in one process "
        f"{max(r['rss_mb'] for r in runs['lgscope-1']):.0f} MB, "
        f"baseline {max(r['rss_mb'] for r in runs['baseline']):.0f} MB"
    )
    print(
        f"{name} throughput: lgscope {count / lg:,.0f} checkpoints/s, baseline {count / base:,.0f} "
        f"checkpoints/s over {count:,} checkpoints"
    )
    print(f"{name} findings: {dict(sorted(found.items()))} ({verdict})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoints", type=int, default=1_000_000, help="SQLite store size (0: skip)")
    parser.add_argument("--pg-checkpoints", type=int, default=100_000, help="Postgres store size (0: skip)")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"SQLite workloads, comma-separated: {', '.join(WORKLOADS)}",
    )
    parser.add_argument("--pg-workload", default="production", choices=WORKLOADS)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", choices=["lgscope", "lgscope-1", "baseline"])
    parser.add_argument("--store")
    parser.add_argument("--now")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.store, args.now)
        return
    DATA.mkdir(parents=True, exist_ok=True)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}: choose from {', '.join(WORKLOADS)}")
    if args.checkpoints:
        for workload in workloads:
            template = templates(workload)
            path = DATA / f"scan-{workload}-{args.checkpoints}.sqlite"
            copies = build_sqlite(path, template, args.checkpoints)
            per_copy = _expected_per_copy(str(template), workload)
            expected = Counter({k: n * copies for k, n in per_copy.items()})
            name = f"scan vs SqliteSaver.list(None), {workload} workload"
            measure(name, str(path), _now(workload), args.repeat, expected)
    if args.pg_checkpoints:
        base = args.pg_url.split("?")[0]
        url = f"{base}?options=-csearch_path%3Dlgscope_bench"
        copies = build_postgres(url, base, args.pg_workload, args.pg_checkpoints)
        src = f"{base}?options=-csearch_path%3Dlgscope_bench_src"
        per_copy = _expected_per_copy(src, args.pg_workload)
        expected = Counter({k: n * copies for k, n in per_copy.items()})
        name = f"scan vs PostgresSaver.list(None), {args.pg_workload} workload"
        measure(name, url, _now(args.pg_workload), args.repeat, expected)


if __name__ == "__main__":
    main()
