"""`scan`: every detector over a whole store, thread by thread, in bounded memory.

A large store can be scanned by several processes (``jobs``): the sorted thread ids are cut
into runs of consecutive ids, each worker opens the store read-only itself and reads its runs
in bulk, and the parent merges what they found in thread order. Growth compares each thread
with the whole store, so it runs in the parent on the merged sizes.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

from lgscope._exceptions import LgscopeError
from lgscope.forensics._config import GROWTH, DetectorConfig
from lgscope.forensics._detect import SEVERITY_ORDER, analyze
from lgscope.forensics._growth import ThreadSize, growth_findings
from lgscope.model import Finding, Thread, ThreadHistory
from lgscope.store import Store

__all__ = ["ScanResult", "ScanStats", "scan"]

Progress = Callable[[int, int], None]

PARALLEL_MIN_THREADS = 2000
"""With ``jobs=0`` (automatic), smaller stores are scanned in-process: starting workers would
cost more than it saves."""
_CHUNKS_PER_JOB = 8  # several runs per worker: even load, and a progress bar that moves
_MAX_JOBS = 8


@dataclass(slots=True)
class ScanStats:
    """What a scan read."""

    threads: int = 0
    checkpoints: int = 0
    corrupt_checkpoints: int = 0
    errors: list[str] = field(default_factory=list)
    """Threads that could not be read at all, one sentence each."""
    seconds: float = 0.0
    jobs: int = 1
    """Processes that read the store."""
    reread: int = 0
    """Runs of threads a worker process failed to return, read again in the scanning process."""

    def add(self, other: ScanStats) -> None:
        """Count in what another part of the same scan read."""
        self.threads += other.threads
        self.checkpoints += other.checkpoints
        self.corrupt_checkpoints += other.corrupt_checkpoints
        self.errors.extend(other.errors)
        self.reread += other.reread


@dataclass(slots=True)
class ScanResult:
    """Findings (worst first), every thread's summary, and what was read."""

    findings: list[Finding]
    threads: list[Thread]
    stats: ScanStats
    now: datetime

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out


@dataclass(slots=True)
class _Part:
    """What one run of threads gave: merged by the parent in thread order."""

    findings: list[Finding] = field(default_factory=list)
    threads: list[Thread] = field(default_factory=list)
    sizes: list[ThreadSize] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)


def scan(
    store: Store,
    *,
    since: datetime | None = None,
    thread_ids: Iterable[str] | None = None,
    config: DetectorConfig | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    visit: Callable[[ThreadHistory], None] | None = None,
    jobs: int = 1,
) -> ScanResult:
    """Scan every thread (all namespaces) of a store, read-only; corrupt data is counted, not fatal.

    ``progress(done, total)`` is called as threads are done; ``visit(history)`` sees each thread
    as it streams by (the history is dropped afterwards, so memory stays bounded).
    ``jobs`` > 1 reads the store with that many worker processes (SQLite and Postgres stores,
    without ``visit``); ``jobs=0`` picks one per CPU core for stores of at least
    `PARALLEL_MIN_THREADS` threads. The findings are the same either way.
    """
    config = config or DetectorConfig()
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    selected = thread_ids is not None
    ids = list(thread_ids) if thread_ids is not None else store.thread_ids(since=since)
    workers = _workers(store, jobs, len(ids), visit)
    if workers > 1:
        part = _parallel(store, sorted(set(ids)), config, now, progress, workers)
    else:
        bulk = store.scan(state_writes=False) if not selected and since is None else None
        part = _scan_part(store, ids, bulk, config, now, progress, visit)
    findings = part.findings
    if GROWTH in config.detectors:
        findings.extend(growth_findings(part.sizes, config))
    findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.kind, f.thread_id, f.checkpoint_ns))
    part.stats.seconds = time.perf_counter() - started
    part.stats.jobs = workers
    return ScanResult(findings=findings, threads=part.threads, stats=part.stats, now=now)


def _workers(store: Store, jobs: int, threads: int, visit: object) -> int:
    if jobs < 0:
        raise ValueError(f"jobs must be 0 (one per core) or more, not {jobs}.")
    if jobs == 1 or visit is not None or store.reopener() is None:
        return 1
    if jobs == 0:
        if threads < PARALLEL_MIN_THREADS:
            return 1
        jobs = min(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
            _MAX_JOBS,
        )
    return max(1, min(jobs, threads))


def _scan_part(
    store: Store,
    ids: Sequence[str],
    bulk: Iterator[ThreadHistory] | None,
    config: DetectorConfig,
    now: datetime,
    progress: Progress | None,
    visit: Callable[[ThreadHistory], None] | None,
) -> _Part:
    """Detect over ``ids``: from ``bulk`` (the same threads, read in bulk) where given; after
    a read error there, the rest are read one by one, so that one thread's error is its own."""
    part = _Part()
    stats = part.stats
    total, done = len(ids), 0

    def take(history: ThreadHistory) -> None:
        analysis = analyze(history, config, now=now)
        stats.threads += 1
        stats.checkpoints += analysis.checkpoints
        stats.corrupt_checkpoints += analysis.corrupt
        part.threads.append(analysis.thread)
        part.findings.extend(analysis.findings)
        if visit is not None:
            visit(history)
        if analysis.size is not None:
            part.sizes.append(analysis.size)

    rest: Sequence[str] = ids
    if bulk is not None:
        seen: set[str] = set()
        while True:
            try:
                history = next(bulk, None)
            except LgscopeError:
                rest = [tid for tid in ids if tid not in seen]
                break
            if history is None:
                rest = []
                break
            seen.add(history.thread.thread_id)
            take(history)
            done += 1
            if progress is not None:
                progress(min(done, total), total)
        total = done + len(rest)
    for tid in rest:
        try:
            history = next(iter(store.scan(thread_ids=[tid], state_writes=False)), None)
        except LgscopeError as exc:
            stats.errors.append(f"thread {tid!r}: {exc}")
            continue
        finally:
            done += 1
            if progress is not None:
                progress(done, total)
        if history is not None:
            take(history)
    return part


def _scan_run(store: Store, ids: list[str], config: DetectorConfig, now: datetime) -> _Part:
    """One run of consecutive thread ids, read in bulk: what a worker does with each run."""
    return _scan_part(store, ids, iter(store.scan_chunk(ids, state_writes=False)), config, now, None, None)


def _parallel(
    store: Store,
    ids: list[str],
    config: DetectorConfig,
    now: datetime,
    progress: Progress | None,
    workers: int,
) -> _Part:
    reopen = store.reopener()
    assert reopen is not None
    size = max(1, -(-len(ids) // (workers * _CHUNKS_PER_JOB)))
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for n in range(len(chunks)):
        todo.put(n)
    results: queue.SimpleQueue[tuple[int, _Part | None]] = queue.SimpleQueue()
    procs = [_Worker(reopen, config, now) for _ in range(workers)]

    def feed(worker: _Worker) -> None:
        # one thread per worker: hand it the next run, wait for its part, repeat
        while True:
            try:
                n = todo.get_nowait()
            except queue.Empty:
                return
            results.put((n, worker.run(chunks[n])))

    threads = [threading.Thread(target=feed, args=(w,), daemon=True) for w in procs]
    for t in threads:
        t.start()
    parts: dict[int, _Part] = {}
    done = 0
    try:
        for _ in range(len(chunks)):
            n, part = results.get()
            if part is None:  # the worker died: this run is read here instead, and the stats say so
                part = _scan_run(store, chunks[n], config, now)
                part.stats.reread += 1
            parts[n] = part
            done += len(chunks[n])
            if progress is not None:
                progress(done, len(ids))
    finally:
        for w in procs:
            w.close()
    merged = _Part()
    for n in range(len(chunks)):
        part = parts[n]
        merged.findings.extend(part.findings)
        merged.threads.extend(part.threads)
        merged.sizes.extend(part.sizes)
        merged.stats.add(part.stats)
    return merged


class _Worker:
    """A child Python running `lgscope.forensics._worker`: runs of thread ids in, `_Part`s out.

    A plain subprocess rather than multiprocessing: multiprocessing's spawn re-imports the
    caller's main module, which breaks scripts without an ``if __name__ == "__main__"`` guard.
    Only this process's own pickles are read back: nothing from the store is unpickled.
    """

    def __init__(self, reopen: Callable[[], Store], config: DetectorConfig, now: datetime) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        # Results come back on a pipe of their own: whatever a library prints in the worker
        # goes to its stdout (discarded), never into the stream of results.
        read, write = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "lgscope.forensics._worker", str(write)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                pass_fds=(write,),
                env=env,
            )
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        self._results = os.fdopen(read, "rb")
        self._send((reopen, config, now))

    def _send(self, obj: object) -> None:
        assert self._proc.stdin is not None
        pickle.dump(obj, self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.flush()

    def run(self, ids: list[str]) -> _Part | None:
        """The run's part, or None if the worker is gone."""
        try:
            self._send(ids)
            part = pickle.load(self._results)
        except (OSError, EOFError, pickle.UnpicklingError):
            return None
        return part if isinstance(part, _Part) else None

    def close(self) -> None:
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            self._proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
        finally:
            self._results.close()


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The worker's side: open the store, then answer each run of ids with its `_Part`."""
    reopen, config, now = pickle.load(stdin)
    store = reopen()
    try:
        while True:
            try:
                ids = pickle.load(stdin)
            except EOFError:
                return
            part = _scan_run(store, ids, config, now)
            pickle.dump(part, stdout, protocol=pickle.HIGHEST_PROTOCOL)
            stdout.flush()
    finally:
        store.close()
