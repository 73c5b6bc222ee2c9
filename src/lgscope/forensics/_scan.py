"""`scan`: every detector over a whole store, thread by thread, in bounded memory.

A large store can be scanned in parallel (``jobs``, or any ``executor``): the sorted thread ids
are cut into runs of consecutive ids, each task opens the store read-only itself and reads its
runs in bulk, and the parent merges what they found in thread order. Growth compares each
thread with the whole store, so it runs in the parent on the merged sizes.

With ``state``, a scan remembers each thread's result and where each of its namespaces stood
(`lgscope.forensics._state`): the next scan reads again only the threads whose index entry
moved, and reuses the rest.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lgscope._exceptions import LgscopeError
from lgscope.forensics._config import GROWTH, STUCK_INTERRUPT, STUCK_RUN, DetectorConfig
from lgscope.forensics._detect import SEVERITY_ORDER, Analysis, analyze
from lgscope.forensics._executor import LocalProcesses
from lgscope.forensics._growth import growth_findings
from lgscope.model import Finding, Step, Thread, ThreadHistory
from lgscope.store import Store

__all__ = ["TIME_DEPENDENT", "ScanResult", "ScanStats", "ThreadResult", "scan"]

Progress = Callable[[int, int], None]
Runs = list[list[str]]

PARALLEL_MIN_THREADS = 2000
"""With ``jobs=0`` (automatic), fewer threads to read are scanned in-process: starting workers
would cost more than it saves."""
_CHUNKS_PER_JOB = 8  # several tasks per worker: even load, and a progress bar that moves
_MAX_JOBS = 8

TIME_DEPENDENT = frozenset({STUCK_INTERRUPT, STUCK_RUN})
"""Finding kinds that depend on the time of the scan (an age), not only on the stored steps.
A thread remembered by an incremental scan has these recomputed against ``now`` from the last
step of each namespace (which carries its time, what it waits for and its pending interrupts):
detectors of these kinds judge how long something pending has waited, so a namespace whose
last step has nothing pending (no interrupt, no next node) never has one."""


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
    """Processes (or executor tasks at once) that read the store."""
    reread: int = 0
    """Runs of threads a worker failed to return, read again in the scanning process."""
    reused: int = 0
    """Threads an incremental scan did not read again: unchanged since the state was written."""
    rebuilt: str | None = None
    """Why an incremental scan's state file was not used (it was rewritten from a whole scan)."""

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


@dataclass(frozen=True, slots=True)
class ThreadResult:
    """One thread's analysis, and the last step of each namespace as time-dependent detectors
    read it (what an incremental scan remembers of a thread)."""

    analysis: Analysis
    tails: tuple[Step, ...] = ()
    """The last step of each namespace that waits on something (a pending interrupt, a next
    node), cut to its header and pending interrupts."""


@dataclass(slots=True)
class _Part:
    """What one task gave: merged by the parent in thread order."""

    results: list[ThreadResult] = field(default_factory=list)
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
    executor: Executor | None = None,
    state: str | os.PathLike[str] | None = None,
) -> ScanResult:
    """Scan every thread (all namespaces) of a store, read-only; corrupt data is counted, not fatal.

    ``progress(done, total)`` is called as threads are done; ``visit(history)`` sees each thread
    as it streams by (the history is dropped afterwards, so memory stays bounded).
    ``jobs`` > 1 reads the store with that many local worker processes (SQLite and Postgres
    stores, without ``visit``); ``jobs=0`` picks one per CPU core when there are at least
    `PARALLEL_MIN_THREADS` threads to read. ``executor`` runs the reading tasks there instead (a
    Dask cluster's, see `lgscope.forensics.dask_executor`; ``jobs`` then says how many run at
    once). ``state`` is a file where the scan remembers what it found: the next scan with it
    reads only the threads that changed (see `lgscope.forensics._state`). The findings are
    the same either way.
    """
    config = config or DetectorConfig()
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    if jobs < 0:
        raise ValueError(f"jobs must be 0 (one per core) or more, not {jobs}.")
    if state is not None:
        from lgscope.forensics._state import incremental

        if since is not None or thread_ids is not None or visit is not None:
            raise ValueError(
                "An incremental scan (state) covers the whole store: give no since, thread_ids or visit."
            )
        results, stats = incremental(store, state, config, now, progress, jobs, executor)
    else:
        ids = list(thread_ids) if thread_ids is not None else store.thread_ids(since=since)
        whole = thread_ids is None and since is None
        part = read_threads(
            store,
            [ids],
            config,
            now,
            progress,
            jobs,
            executor,
            visit,
            whole=whole,
        )
        results, stats = part.results, part.stats
    result = assemble(results, stats, config, now)
    result.stats.seconds = time.perf_counter() - started
    return result


def assemble(
    results: Sequence[ThreadResult], stats: ScanStats, config: DetectorConfig, now: datetime
) -> ScanResult:
    """The scan's result from every thread's: findings worst first, growth across all of them."""
    findings = [f for r in results for f in r.analysis.findings]
    if GROWTH in config.detectors:
        sizes = [r.analysis.size for r in results if r.analysis.size is not None]
        findings.extend(growth_findings(sizes, config))
    findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.kind, f.thread_id, f.checkpoint_ns))
    return ScanResult(findings=findings, threads=[r.analysis.thread for r in results], stats=stats, now=now)


def refresh(result: ThreadResult, config: DetectorConfig, now: datetime) -> ThreadResult:
    """A remembered thread's result as of ``now``: its time-dependent findings recomputed by the
    same detectors, from the last step of each namespace."""
    kinds = TIME_DEPENDENT & config.detectors
    analysis = result.analysis
    if not kinds:
        return result
    waiting = tuple(t for t in result.tails if _waits(t))
    kept = [f for f in analysis.findings if f.kind not in TIME_DEPENDENT]
    if not waiting:
        return (
            result
            if len(kept) == len(analysis.findings)
            else ThreadResult(dataclasses.replace(analysis, findings=kept), result.tails)
        )
    history = ThreadHistory(analysis.thread, {t.checkpoint_ns: (t,) for t in waiting})
    timed = analyze(history, _only(config, kinds), now=now).findings
    if analysis.stopped_by_limit:  # told from the whole run when it was read, not from its last step
        timed = [f for f in timed if f.kind != STUCK_RUN]
    return ThreadResult(dataclasses.replace(analysis, findings=kept + timed), result.tails)


@functools.lru_cache(maxsize=8)
def _only(config: DetectorConfig, kinds: frozenset[str]) -> DetectorConfig:
    return dataclasses.replace(config, detectors=kinds)


def read_threads(
    store: Store,
    runs: Runs,
    config: DetectorConfig,
    now: datetime,
    progress: Progress | None,
    jobs: int,
    executor: Executor | None,
    visit: Callable[[ThreadHistory], None] | None = None,
    *,
    whole: bool = False,
    consecutive: bool = False,
) -> _Part:
    """Analyse the threads of ``runs``. ``whole``: the one run is every thread of the store, read
    in one bulk pass; ``consecutive``: each run's ids are consecutive in the store (no other
    thread between them), read in bulk; else the one run is a selection, read thread by thread
    in one process, and as sorted runs of the ids in parallel (each run's range read in bulk)."""
    total = sum(len(r) for r in runs)
    workers = _workers(store, jobs, total, visit, executor)
    if workers > 1 or (executor is not None and visit is None and store.reopener() is not None and total):
        if not (whole or consecutive):
            runs = [sorted({i for run in runs for i in run})]
        if executor is not None:
            part = _parallel(store, runs, config, now, progress, executor, max(workers, 1))
        else:
            with LocalProcesses(workers) as local:
                part = _parallel(store, runs, config, now, progress, local, workers)
        part.stats.jobs = max(workers, 1)
        return part
    if whole:
        ids = runs[0] if runs else []
        return _scan_part(store, ids, store.scan(state_writes=False), config, now, progress, visit)
    if not consecutive:
        return _scan_part(store, [i for run in runs for i in run], None, config, now, progress, visit)
    part = _Part()
    done = 0
    for run in runs:
        bulk = store.scan_chunk(run, state_writes=False) if len(run) > 1 else None
        got = _scan_part(store, run, bulk, config, now, None, visit)
        part.results.extend(got.results)
        part.stats.add(got.stats)
        done += len(run)
        if progress is not None:
            progress(done, total)
    return part


def _workers(store: Store, jobs: int, threads: int, visit: object, executor: Executor | None) -> int:
    if visit is not None or store.reopener() is None:
        return 1
    if executor is not None:
        return jobs or 4
    if jobs == 1:
        return 1
    if jobs == 0:
        if threads < PARALLEL_MIN_THREADS:
            return 1
        jobs = min(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
            _MAX_JOBS,
        )
    return max(1, min(jobs, threads))


class _Tail(Sequence[Step]):
    """A namespace's steps that remember the last one iterated (for `ThreadResult.tails`)."""

    __slots__ = ("last", "steps")

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps: Sequence[Step] = steps
        self.last: Step | None = None

    def __iter__(self) -> Iterator[Step]:
        for step in self.steps:
            self.last = step
            yield step

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index: int | slice) -> Step | Sequence[Step]:  # type: ignore[override]
        return self.steps[index]


def _cut(step: Step) -> Step:
    """A step's header, pending interrupts and control writes: what time-dependent detectors read of
    the last step."""
    return Step(
        thread_id=step.thread_id,
        checkpoint_ns=step.checkpoint_ns,
        checkpoint_id=step.checkpoint_id,
        parent_id=step.parent_id,
        step=step.step,
        source=step.source,
        ts=step.ts,
        nodes=step.nodes,
        values={},
        changed=(),
        versions={},
        next=step.next,
        # a scan's writes are its control writes: stuck_run tells paused from crashed by them
        writes=step.writes,
        interrupts=step.pending_interrupts,
        errors=step.errors,
        size=step.size,
        corrupt=step.corrupt,
        task_writes=step.task_writes,
    )


def analyse(history: ThreadHistory, config: DetectorConfig, now: datetime) -> ThreadResult:
    """One thread's `ThreadResult`: `analyze`, keeping the last step of each namespace."""
    tails = {ns: _Tail(steps) for ns, steps in history.steps.items()}
    analysis = analyze(ThreadHistory(history.thread, tails), config, now=now)
    return ThreadResult(
        analysis, tuple(_cut(t.last) for t in tails.values() if t.last is not None and _waits(t.last))
    )


def _waits(step: Step) -> bool:
    """Whether a last step waits on something (an interrupt, a next node): only then can its
    namespace have time-dependent findings."""
    return bool(step.pending_interrupts or step.next)


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
        result = analyse(history, config, now)
        stats.threads += 1
        stats.checkpoints += result.analysis.checkpoints
        stats.corrupt_checkpoints += result.analysis.corrupt
        part.results.append(result)
        if visit is not None:
            visit(history)

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


def _scan_runs(store: Store, runs: Runs, config: DetectorConfig, now: datetime) -> _Part:
    """Runs of consecutive thread ids, each read in bulk."""
    part = _Part()
    for run in runs:
        got = _scan_part(store, run, iter(store.scan_chunk(run, state_writes=False)), config, now, None, None)
        part.results.extend(got.results)
        part.stats.add(got.stats)
    return part


def scan_task(reopen: Callable[[], Store], runs: Runs, config: DetectorConfig, now: datetime) -> _Part:
    """What an executor runs: open the store read-only, read ``runs``, close it."""
    store = reopen()
    try:
        return _scan_runs(store, runs, config, now)
    finally:
        store.close()


def _chunks(runs: Runs, count: int) -> list[Runs]:
    """``runs`` cut into about ``count`` tasks of similar size, each a list of runs."""
    total = sum(len(r) for r in runs)
    size = max(1, -(-total // max(count, 1)))
    chunks: list[Runs] = []
    current: Runs = []
    held = 0
    for run in runs:
        start = 0
        while start < len(run):
            piece = run[start : start + size - held]
            current.append(piece)
            held += len(piece)
            start += len(piece)
            if held >= size:
                chunks.append(current)
                current, held = [], 0
    if current:
        chunks.append(current)
    return chunks


def _parallel(
    store: Store,
    runs: Runs,
    config: DetectorConfig,
    now: datetime,
    progress: Progress | None,
    executor: Executor,
    workers: int,
) -> _Part:
    reopen = store.reopener()
    assert reopen is not None
    chunks = _chunks(runs, workers * _CHUNKS_PER_JOB)
    total = sum(len(r) for r in runs)
    futures: dict[Future[_Part], int] = {
        executor.submit(scan_task, reopen, chunk, config, now): n for n, chunk in enumerate(chunks)
    }
    parts: dict[int, _Part] = {}
    done = 0
    for future in as_completed(futures):
        n = futures[future]
        try:
            part = future.result()
            if not isinstance(part, _Part):
                raise TypeError(f"a scan task returned a {type(part).__name__}")
        except Exception:  # the worker died or failed: this task is read here instead, and the stats say so
            part = _scan_runs(store, chunks[n], config, now)
            part.stats.reread += 1
        parts[n] = part
        done += sum(len(r) for r in chunks[n])
        if progress is not None:
            progress(done, total)
    merged = _Part()
    for n in range(len(chunks)):
        merged.results.extend(parts[n].results)
        merged.stats.add(parts[n].stats)
    return merged
