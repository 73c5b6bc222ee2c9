"""Prometheus metrics: runtime metrics of instrumented graphs and store metrics from scans.

Every class takes ``registry=`` (prometheus_client's default registry otherwise).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry

from lgscope.metrics._runtime import RuntimeMetrics
from lgscope.metrics._store import StoreCollector
from lgscope.metrics._sweeper import SweeperMetrics

__all__ = ["RuntimeMetrics", "StoreCollector", "SweeperMetrics", "start_http_server"]


def start_http_server(port: int, addr: str = "127.0.0.1", registry: CollectorRegistry | None = None) -> Any:
    """Serve ``registry`` on ``http://addr:port/metrics`` from a daemon thread."""
    from prometheus_client import start_http_server as serve

    return serve(port, addr=addr, registry=registry if registry is not None else REGISTRY)
