"""Incremental scans (``--state``) vs. a whole scan of the same store, in one run.

    python benchmarks/bench_incremental.py                          # 1,000,000 checkpoints in SQLite, 200,000 in Postgres
    python benchmarks/bench_incremental.py --checkpoints 100000 --pg-checkpoints 0 --no-dask

The stores are synthesised as `bench_scan.py` builds them: the sample store's threads, which the
real graphs wrote through the real saver, copied under new thread ids by SQL until the store
holds the requested number of checkpoints (cached in benchmarks/.data/). For each store:

- the whole scan (the baseline; ``jobs=0``, a worker process per core), twice;
- the first scan with a state file (a whole scan that also writes the state);
- an incremental scan with nothing changed, twice, in the process that wrote the state (as the
  exporter rescans, or the API is called again) and as a new process would (reading the state
  file: as ``lgscope scan --state`` does; Python's start-up not counted) (goal: <= 5%);
- 1% of the threads extended by one checkpoint each, written through the real saver's ``put``
  (a copy of each thread's latest checkpoint under a new id, as ``update_state`` with no
  change writes it), then an incremental scan (goal: <= 10%); its findings are checked
  against a whole scan of the extended store; the added checkpoints are deleted afterwards;
- the exporter's CPU for one interval (``StoreCollector.refresh``, CPU of this process and its
  worker processes): whole scans vs incremental, nothing changed;
- with Dask: the whole scan on a LocalCluster of 2 worker processes (1 thread each) beside
  local worker processes; the findings must be equal.

Each line: ``name: lgscope X, baseline Y, ratio Z``. The machine is shared: only ratios from one
run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_scan  # noqa: E402

DATA = ROOT / "benchmarks" / ".data"
PG_SCHEMA, PG_SRC_SCHEMA = "lgscope_bench_incremental", "lgscope_bench_incremental_src"


def _cpu() -> float:
    """CPU seconds of this process and its finished children (worker processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _same(a: Any, b: Any) -> bool:
    def form(r: Any) -> str:
        return json.dumps(
            [[f.to_dict() for f in r.findings], [t.to_dict(r.now) for t in r.threads]],
            default=str,
            sort_keys=True,
        )

    return form(a) == form(b)


def _extend(store: str, thread_ids: list[str]) -> list[tuple[str, str]]:
    """Put one checkpoint on each thread through the real saver; the (thread, id) added."""
    from langgraph.checkpoint.base.id import uuid6

    if store.startswith("postgresql://"):
        from langgraph.checkpoint.postgres import PostgresSaver

        opener: Any = PostgresSaver.from_conn_string(store)
    else:
        from langgraph.checkpoint.sqlite import SqliteSaver

        opener = SqliteSaver.from_conn_string(store)
    added = []
    with opener as saver:
        for tid in thread_ids:
            latest = saver.get_tuple({"configurable": {"thread_id": tid, "checkpoint_ns": ""}})
            if latest is None:
                continue
            checkpoint = dict(latest.checkpoint)
            checkpoint["id"] = str(uuid6(clock_seq=latest.metadata.get("step", 0) + 1))
            checkpoint["ts"] = datetime.now(UTC).isoformat()
            metadata = {**latest.metadata, "source": "update", "step": latest.metadata.get("step", 0) + 1}
            saver.put(latest.config, checkpoint, metadata, {})  # type: ignore[arg-type]
            added.append((tid, checkpoint["id"]))
    return added


def _unextend(store: str, added: list[tuple[str, str]]) -> None:
    """Delete what `_extend` added, so the cached store is as it was built."""
    if store.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store, autocommit=True) as conn:
            for table in ("checkpoint_writes", "checkpoints"):
                conn.cursor().executemany(
                    f"DELETE FROM {table} WHERE thread_id = %s AND checkpoint_id = %s", added
                )
        return
    with sqlite3.connect(store) as conn:
        conn.executemany("DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id = ?", added)
    conn.close()


def run(name: str, store: str, now: datetime, repeat: int, dask: bool) -> None:
    from lgscope import open_store
    from lgscope.forensics import _state, scan
    from lgscope.metrics import StoreCollector

    with open_store(store) as st:
        threads = len(st.thread_ids())
        checkpoints = sum(t.checkpoints for t in st.tips() or ())
    print(f"{name}: {checkpoints:,} checkpoints in {threads:,} threads", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="lgscope-bench-"))
    state = tmp / "scan.state"

    def whole() -> Any:
        with open_store(store) as st:
            return scan(st, now=now, jobs=0)

    def incremental() -> Any:
        with open_store(store) as st:
            return scan(st, now=now, jobs=0, state=state)

    def cold() -> Any:
        _state._MEMO.clear()  # what this process remembers of the state: a new process has nothing
        return incremental()

    first_state, first = _timed(incremental)
    wholes: list[float] = []
    unchanged: list[float] = []
    unchanged_cold: list[float] = []
    reference = None
    for _ in range(repeat):  # alternating: whole, incremental (same process), incremental (new process)
        seconds, reference = _timed(whole)
        wholes.append(seconds)
        seconds, result = _timed(incremental)
        unchanged.append(seconds)
        assert result.stats.reused == threads and _same(result, reference), "incremental != whole"
        seconds, result = _timed(cold)
        unchanged_cold.append(seconds)
        assert result.stats.reused == threads and _same(result, reference), "incremental != whole"
    base = statistics.median(wholes)
    print(
        f"{name} first scan with --state (whole + writing {state.stat().st_size / 2**20:.0f} MB of state): "
        f"lgscope {first_state:.2f}s, baseline {base:.2f}s, ratio {first_state / base:.3f}",
        flush=True,
    )
    assert _same(first, reference)
    inc, inc_cold = statistics.median(unchanged), statistics.median(unchanged_cold)
    print(
        f"{name} incremental, nothing changed, same process (the exporter; the API called again): "
        f"lgscope {inc:.2f}s, baseline whole scan {base:.2f}s, ratio {inc / base:.3f} (goal <= 0.05)",
        flush=True,
    )
    print(
        f"{name} incremental, nothing changed, new process (the state file read; the CLI): "
        f"lgscope {inc_cold:.2f}s, baseline whole scan {base:.2f}s, ratio {inc_cold / base:.3f} (goal <= 0.05)",
        flush=True,
    )

    with open_store(store) as st:
        ids = st.thread_ids()
    chosen = ids[:: max(1, len(ids) // max(1, threads // 100))][: max(1, threads // 100)]
    added = _extend(store, chosen)
    try:
        seconds, result = _timed(incremental)
        after, reference = _timed(whole)
        assert result.stats.reused == threads - len(added) and _same(result, reference), (
            "incremental != whole"
        )
        print(
            f"{name} incremental (same process), {len(added):,} threads (1%) extended by a checkpoint: lgscope {seconds:.2f}s, "
            f"baseline whole scan {after:.2f}s, ratio {seconds / after:.3f} (goal <= 0.10)",
            flush=True,
        )
    finally:
        _unextend(store, added)

    # the exporter: CPU of one interval's refresh, whole vs incremental (nothing changed)
    whole_collector = StoreCollector(store, incremental=False)
    inc_collector = StoreCollector(store, state=tmp / "exporter.state")
    shutil.copyfile(state, tmp / "exporter.state")  # as if its first interval (a whole scan) had run
    inc_collector.refresh(now=now)  # reads again the threads put back as they were
    cpu: dict[str, list[float]] = {"whole": [], "incremental": []}
    for _ in range(1):
        for label, collector in (("whole", whole_collector), ("incremental", inc_collector)):
            before = _cpu()
            collector.refresh(now=now)
            cpu[label].append(_cpu() - before)
    w, i = statistics.median(cpu["whole"]), statistics.median(cpu["incremental"])
    print(
        f"{name} exporter CPU per interval (nothing changed): lgscope incremental {i:.2f} CPU-s, "
        f"baseline whole {w:.2f} CPU-s, ratio {i / w:.3f}",
        flush=True,
    )
    if dask:
        _dask(name, store, now)
    shutil.rmtree(tmp)


def _dask(name: str, store: str, now: datetime) -> None:
    from distributed import LocalCluster

    from lgscope import open_store
    from lgscope.forensics import dask_executor, scan

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        executor, slots = dask_executor(cluster.scheduler_address)
        try:
            with open_store(store) as st:
                local, local_result = _timed(lambda: scan(st, now=now, jobs=2))
                spread, spread_result = _timed(lambda: scan(st, now=now, executor=executor, jobs=slots))
        finally:
            executor.shutdown()
    assert _same(local_result, spread_result) and spread_result.findings == local_result.findings
    print(
        f"{name} whole scan on Dask (LocalCluster, 2 worker processes): lgscope-dask {spread:.2f}s, "
        f"baseline 2 local worker processes {local:.2f}s, ratio {spread / local:.3f}; findings equal",
        flush=True,
    )


def _postgres(base_url: str, checkpoints: int) -> str:
    url = f"{base_url}?options=-csearch_path%3D{PG_SCHEMA}"
    import psycopg

    with psycopg.connect(url) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
        except psycopg.Error:
            row = None
    per_copy = 267  # the sample store without support-marathon
    if row is None or row[0] != -(-checkpoints // per_copy) * per_copy:
        bench_scan.build_postgres(
            url, base_url, "sample", checkpoints, schema=PG_SCHEMA, src_schema=PG_SRC_SCHEMA
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE checkpoints")  # the index-only scan the tips read needs it
            conn.execute("VACUUM ANALYZE checkpoint_writes")
    return url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoints", type=int, default=1_000_000, help="SQLite store size (0: skip)")
    parser.add_argument("--pg-checkpoints", type=int, default=200_000, help="Postgres store size (0: skip)")
    parser.add_argument("--pg-url", default=bench_scan.PG_URL)
    parser.add_argument("--repeat", type=int, default=2, help="whole/incremental pairs (exporter: once)")
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    now = bench_scan._now("sample") + timedelta(days=1)
    DATA.mkdir(exist_ok=True)
    print(
        f"2-core shared machine ({os.cpu_count()} CPUs seen); the sample store's threads, copied", flush=True
    )
    if args.checkpoints:
        path = DATA / f"incremental-sample-{args.checkpoints}.sqlite"
        bench_scan.build_sqlite(path, bench_scan.SAMPLE, args.checkpoints)
        run("sqlite", str(path), now, args.repeat, not args.no_dask)
    if args.pg_checkpoints:
        run("postgres", _postgres(args.pg_url, args.pg_checkpoints), now, args.repeat, False)


if __name__ == "__main__":
    main()
