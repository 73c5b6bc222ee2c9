"""Prometheus metrics of the sweeper (pass your own ``registry=``; tests use a fresh one).

| metric | type | labels | meaning |
| --- | --- | --- | --- |
| ``lgscope_sweeper_decisions_total`` | counter | policy, outcome | decisions (rejected, escalated, already_resolved, failed, interrupted, would_*) |
| ``lgscope_sweeper_failures_total`` | counter | reason | interrupts that could not be handled (lock, read, resume, hook) |
| ``lgscope_sweeper_pending_interrupts`` | gauge | age_bucket | pending interrupts at the last run, by age (<1h, 1h-24h, 1d-7d, >7d) |
| ``lgscope_sweeper_oldest_pending_seconds`` | gauge | | age of the oldest pending interrupt at the last run |
| ``lgscope_sweeper_wait_seconds`` | histogram | policy | how long an interrupt had waited when the sweeper decided |
| ``lgscope_sweeper_last_run_timestamp_seconds`` | gauge | | when the last sweep finished |
| ``lgscope_sweeper_run_duration_seconds`` | gauge | | how long the last sweep took |
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["AGE_BUCKETS", "SweeperMetrics", "age_bucket"]

AGE_BUCKETS = ("<1h", "1h-24h", "1d-7d", ">7d")
_WAIT_BUCKETS = (60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 3 * 86400, 7 * 86400, 30 * 86400)


def age_bucket(seconds: float) -> str:
    if seconds < 3600:
        return "<1h"
    if seconds < 86400:
        return "1h-24h"
    if seconds < 7 * 86400:
        return "1d-7d"
    return ">7d"


class SweeperMetrics:
    """The sweeper's metrics on ``registry`` (default: prometheus_client's global registry)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else REGISTRY
        self.decisions = Counter(
            "lgscope_sweeper_decisions",
            "Sweeper decisions by policy and outcome.",
            ["policy", "outcome"],
            registry=registry,
        )
        self.failures = Counter(
            "lgscope_sweeper_failures",
            "Interrupts the sweeper could not handle.",
            ["reason"],
            registry=registry,
        )
        self.pending = Gauge(
            "lgscope_sweeper_pending_interrupts",
            "Pending interrupts at the last sweep, by age.",
            ["age_bucket"],
            registry=registry,
        )
        self.oldest = Gauge(
            "lgscope_sweeper_oldest_pending_seconds",
            "Age of the oldest pending interrupt at the last sweep.",
            registry=registry,
        )
        self.wait = Histogram(
            "lgscope_sweeper_wait_seconds",
            "How long interrupts had waited when the sweeper decided.",
            ["policy"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.last_run = Gauge(
            "lgscope_sweeper_last_run_timestamp_seconds", "When the last sweep finished.", registry=registry
        )
        self.duration = Gauge(
            "lgscope_sweeper_run_duration_seconds", "How long the last sweep took.", registry=registry
        )
        for bucket in AGE_BUCKETS:
            self.pending.labels(bucket).set(0)
        for reason in ("lock", "read", "resume", "hook"):
            self.failures.labels(reason)  # zero until it happens: dashboards and alerts see a series

    def observe_pending(self, ages: Iterable[float]) -> None:
        counts = dict.fromkeys(AGE_BUCKETS, 0)
        oldest = 0.0
        for age in ages:
            counts[age_bucket(age)] += 1
            oldest = max(oldest, age)
        for bucket, n in counts.items():
            self.pending.labels(bucket).set(n)
        self.oldest.set(oldest)
