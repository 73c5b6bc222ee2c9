"""Store metrics: a collector refreshed by a background scan every interval, never per scrape."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from lgscope.forensics import ALL_KINDS, STUCK_RUN, DetectorConfig, scan
from lgscope.metrics._sweeper import AGE_BUCKETS, age_bucket
from lgscope.model import ThreadStatus
from lgscope.store import open_store

__all__ = ["StoreCollector"]

_CHECKPOINT_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 5000, 10000)
_BYTE_BUCKETS = (1e3, 1e4, 1e5, 1e6, 1e7, 1e8)
_STATUSES = tuple(s.value for s in ThreadStatus)


def _histogram(name: str, doc: str, values: list[float], buckets: tuple[float, ...]) -> HistogramMetricFamily:
    counts = [sum(1 for v in values if v <= b) for b in buckets]
    family = HistogramMetricFamily(name, doc)
    family.add_metric(
        [],
        [(str(b), float(c)) for b, c in zip(buckets, counts, strict=True)] + [("+Inf", float(len(values)))],
        sum_value=float(sum(values)),
    )
    return family


class StoreCollector(Collector):
    """Metrics of a checkpoint store from a read-only scan every ``interval``.

    Scrapes return the last scan's figures (``lgscope_last_scan_timestamp_seconds`` says how
    old); a failed scan keeps the previous figures and counts ``lgscope_scan_errors_total``.
    Scans of a SQLite or Postgres store are incremental: each reads only the threads that
    changed since the last one (remembered in ``state``, or in a private temporary file when
    none is given). ``incremental=False`` scans the whole store every time.
    """

    def __init__(
        self,
        store: str,
        *,
        interval: timedelta = timedelta(seconds=60),
        config: DetectorConfig | None = None,
        state: str | Path | None = None,
        incremental: bool = True,
    ) -> None:
        self.store = store
        self.interval = interval
        self.config = config or DetectorConfig()
        self._own_state: tempfile.TemporaryDirectory[str] | None = None
        if state is None and incremental:
            self._own_state = tempfile.TemporaryDirectory(prefix="lgscope-metrics-")
            state = Path(self._own_state.name) / "scan.state"
        self.state = Path(state) if state is not None and incremental else None
        """Where the scans remember what they found (None: whole scans)."""
        self._families: list[Any] = []
        self._errors = 0
        self._scans = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self, now: datetime | None = None) -> None:
        """Scan the store once and replace the figures."""
        started = time.perf_counter()
        now = now or datetime.now(UTC)
        try:
            with open_store(self.store) as st:
                # a store that cannot list its tips (an export file, a saver) is scanned whole
                state = self.state if self.state is not None and st.identity() is not None else None
                result = scan(st, config=self.config, now=now, state=state)
        except Exception:  # the exporter keeps serving the last good figures
            with self._lock:
                self._errors += 1
            return
        families: list[Any] = []
        threads = GaugeMetricFamily(
            "lgscope_threads", "Threads by status at the last scan.", labels=["status"]
        )
        statuses = {s: 0 for s in _STATUSES}
        for t in result.threads:
            statuses[t.status] = statuses.get(t.status, 0) + 1
        for status, n in statuses.items():
            threads.add_metric([status], n)
        families.append(threads)
        pending = GaugeMetricFamily(
            "lgscope_pending_interrupts", "Pending interrupts by age.", labels=["age_bucket"]
        )
        ages = [i.age(now).total_seconds() for t in result.threads for i in t.pending_interrupts]
        for bucket in AGE_BUCKETS:
            pending.add_metric([bucket], sum(1 for a in ages if age_bucket(a) == bucket))
        families.append(pending)
        families.append(
            GaugeMetricFamily(
                "lgscope_oldest_pending_interrupt_seconds",
                "Age of the oldest pending interrupt.",
                value=max(ages, default=0.0),
            )
        )
        # static pauses (interrupt_before/after) and crashed runs store no interrupt: the stuck_run
        # findings are how they show up next to pending interrupts
        stuck = [f for f in result.findings if f.kind == STUCK_RUN]
        runs = GaugeMetricFamily(
            "lgscope_stuck_runs",
            "Threads left with tasks pending, no interrupt and no error past --older-than, by what "
            "they most likely are (paused: a static interrupt_before/after; crashed).",
            labels=["likely"],
        )
        for likely in ("paused", "crashed"):
            runs.add_metric([likely], sum(1 for f in stuck if f.evidence.get("likely") == likely))
        families.append(runs)
        families.append(
            GaugeMetricFamily(
                "lgscope_oldest_stuck_run_seconds",
                "Age of the oldest stuck run (static pause or crash).",
                value=max((float(f.evidence.get("age_seconds", 0.0)) for f in stuck), default=0.0),
            )
        )
        findings = GaugeMetricFamily(
            "lgscope_findings", "Findings by detector kind at the last scan.", labels=["kind"]
        )
        by_kind = result.by_kind()
        for kind in sorted(ALL_KINDS):
            findings.add_metric([kind], by_kind.get(kind, 0))
        families.append(findings)
        families.append(
            GaugeMetricFamily(
                "lgscope_threads_with_findings",
                "Threads with at least one finding.",
                value=len({f.thread_id for f in result.findings}),
            )
        )
        families.append(
            _histogram(
                "lgscope_thread_checkpoints",
                "Checkpoints per thread.",
                [float(t.checkpoints) for t in result.threads],
                _CHECKPOINT_BUCKETS,
            )
        )
        families.append(
            _histogram(
                "lgscope_thread_size_bytes",
                "Serialized bytes per thread.",
                [float(t.size) for t in result.threads],
                _BYTE_BUCKETS,
            )
        )
        families.append(
            GaugeMetricFamily(
                "lgscope_corrupt_checkpoints",
                "Checkpoints that could not be decoded.",
                value=result.stats.corrupt_checkpoints,
            )
        )
        families.append(
            GaugeMetricFamily(
                "lgscope_scan_duration_seconds",
                "How long the last scan took.",
                value=time.perf_counter() - started,
            )
        )
        families.append(
            GaugeMetricFamily(
                "lgscope_scan_reused_threads",
                "Threads the last scan did not read again: unchanged since the scan before.",
                value=result.stats.reused,
            )
        )
        families.append(
            GaugeMetricFamily(
                "lgscope_last_scan_timestamp_seconds", "When the last scan finished.", value=time.time()
            )
        )
        with self._lock:
            self._families = families
            self._scans += 1

    def collect(self) -> Iterator[Any]:
        with self._lock:
            families, errors, scans = list(self._families), self._errors, self._scans
        yield from families
        yield CounterMetricFamily("lgscope_scan_errors", "Scans that failed.", value=errors)
        yield CounterMetricFamily("lgscope_scans", "Scans done.", value=scans)

    def start(self) -> None:
        """Scan now, then every ``interval`` in a daemon thread."""
        self.refresh()

        def loop() -> None:
            while not self._stop.wait(self.interval.total_seconds()):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="lgscope-store-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the rescans (and remove the private state file, if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval.total_seconds() + 60)
        if self._own_state is not None:
            self._own_state.cleanup()
