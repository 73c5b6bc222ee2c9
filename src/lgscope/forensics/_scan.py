"""`scan`: every detector over a whole store, thread by thread, in bounded memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lgscope._exceptions import LgscopeError
from lgscope.forensics._config import GROWTH, DetectorConfig
from lgscope.forensics._detect import SEVERITY_ORDER, detect
from lgscope.forensics._growth import ThreadSize, growth_findings, norms_of, size_of
from lgscope.model import Finding, Thread, ThreadHistory
from lgscope.store import Store

__all__ = ["ScanResult", "ScanStats", "scan"]

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class ScanStats:
    """What a scan read."""

    threads: int = 0
    checkpoints: int = 0
    corrupt_checkpoints: int = 0
    errors: list[str] = field(default_factory=list)
    """Threads that could not be read at all, one sentence each."""
    seconds: float = 0.0


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


def scan(
    store: Store,
    *,
    since: datetime | None = None,
    thread_ids: Iterable[str] | None = None,
    config: DetectorConfig | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    visit: Callable[[ThreadHistory], None] | None = None,
) -> ScanResult:
    """Scan every thread (all namespaces) of a store, read-only; corrupt data is counted, not fatal.

    ``progress(done, total)`` is called after each thread; ``visit(history)`` sees each thread
    as it streams by (the history is dropped afterwards, so memory stays bounded).
    """
    config = config or DetectorConfig()
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    ids = list(thread_ids) if thread_ids is not None else store.thread_ids(since=since)
    stats = ScanStats()
    findings: list[Finding] = []
    threads: list[Thread] = []
    sizes: list[ThreadSize] = []
    done = 0

    def take(history: ThreadHistory) -> None:
        stats.threads += 1
        stats.checkpoints += history.thread.checkpoints
        stats.corrupt_checkpoints += history.thread.corrupt
        threads.append(history.thread)
        findings.extend(detect(history, config, now=now))
        if visit is not None:
            visit(history)
        size = size_of(history)
        if size is not None:
            sizes.append(size)

    if thread_ids is None and since is None:
        # One pass over the whole store (backends read it in bulk); should a thread fail to
        # read, the rest are read one by one below, so that one thread's error is its own.
        seen: set[str] = set()
        stream = store.scan(state_writes=False)
        while True:
            try:
                history = next(stream, None)
            except LgscopeError:
                ids = [tid for tid in ids if tid not in seen]
                break
            if history is None:
                ids = []
                break
            seen.add(history.thread.thread_id)
            take(history)
            done += 1
            if progress is not None:
                progress(min(done, len(ids)), len(ids))
    total = done + len(ids)
    for tid in ids:
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
    if GROWTH in config.detectors:
        findings.extend(growth_findings(sizes, norms_of(sizes), config))
    findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.kind, f.thread_id, f.checkpoint_ns))
    stats.seconds = time.perf_counter() - started
    return ScanResult(findings=findings, threads=threads, stats=stats, now=now)
