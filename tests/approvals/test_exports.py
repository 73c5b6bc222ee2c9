"""The public names of lgscope.approvals, pinned: adding or removing one is a decision."""

from __future__ import annotations

import lgscope.approvals


def test_public_names() -> None:
    assert lgscope.approvals.__all__ == [
        "DEFAULT_REJECTION",
        "AuditLog",
        "Candidate",
        "Decision",
        "FileLocks",
        "LocalLocks",
        "PostgresLocks",
        "SweepReport",
        "Sweeper",
        "SweeperMetrics",
        "ThreadLocks",
        "locks_for",
        "resume",
    ]
    assert all(hasattr(lgscope.approvals, name) for name in lgscope.approvals.__all__)


def test_metric_names_are_the_documented_ones() -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    metrics = lgscope.approvals.SweeperMetrics(registry)
    metrics.observe_pending([30.0, 7200.0, 90000.0, 900000.0])
    documented = lgscope.approvals.SweeperMetrics.__module__
    doc = __import__(documented, fromlist=["x"]).__doc__
    names = {m.name for m in registry.collect()}
    assert names == {
        "lgscope_sweeper_decisions",
        "lgscope_sweeper_failures",
        "lgscope_sweeper_pending_interrupts",
        "lgscope_sweeper_oldest_pending_seconds",
        "lgscope_sweeper_wait_seconds",
        "lgscope_sweeper_last_run_timestamp_seconds",
        "lgscope_sweeper_run_duration_seconds",
    }
    for name in names:
        assert f"``{name}" in doc, name
    assert [
        registry.get_sample_value("lgscope_sweeper_pending_interrupts", {"age_bucket": b})
        for b in ("<1h", "1h-24h", "1d-7d", ">7d")
    ] == [1, 1, 1, 1]
    assert registry.get_sample_value("lgscope_sweeper_oldest_pending_seconds") == 900000.0
    for reason in ("lock", "read", "resume", "hook"):
        assert registry.get_sample_value("lgscope_sweeper_failures_total", {"reason": reason}) == 0
