"""Runtime metrics of instrumented graphs, fed by the tracing instrumentation's observer hook."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

__all__ = ["RuntimeMetrics"]

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_SIZE = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)


class RuntimeMetrics:
    """A `lgscope.tracing.RunObserver` recording Prometheus metrics on ``registry``.

    ``instrument(graph, observers=[RuntimeMetrics()])``; expose with
    `lgscope.metrics.start_http_server` or your own registry's endpoint.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else REGISTRY
        self.node_duration = Histogram(
            "lgscope_node_duration_seconds",
            "Node execution time.",
            ["graph", "node"],
            buckets=_LATENCY,
            registry=r,
        )
        self.node_errors = Counter(
            "lgscope_node_errors", "Node executions that raised.", ["graph", "node"], registry=r
        )
        self.tool_calls = Counter("lgscope_tool_calls", "Tool calls.", ["tool"], registry=r)
        self.tool_errors = Counter("lgscope_tool_errors", "Tool calls that failed.", ["tool"], registry=r)
        self.tool_duration = Histogram(
            "lgscope_tool_duration_seconds", "Tool call time.", ["tool"], buckets=_LATENCY, registry=r
        )
        self.put_duration = Histogram(
            "lgscope_checkpoint_put_duration_seconds", "Checkpoint write time.", buckets=_LATENCY, registry=r
        )
        self.checkpoint_size = Histogram(
            "lgscope_checkpoint_size_bytes",
            "Serialized size of checkpoint writes.",
            buckets=_SIZE,
            registry=r,
        )
        self.interrupts = Counter("lgscope_interrupts", "Interrupts raised.", ["graph", "node"], registry=r)
        self.resumes = Counter("lgscope_resumes", "Runs that resumed an interrupt.", ["graph"], registry=r)
        self.runs = Counter("lgscope_runs", "Graph runs by outcome.", ["graph", "outcome"], registry=r)
        self.run_duration = Histogram(
            "lgscope_run_duration_seconds", "Graph run time.", ["graph"], buckets=_LATENCY, registry=r
        )
        self.loop_guard_hits = Counter(
            "lgscope_loop_guard_hits",
            "Runs stopped by the recursion limit (GraphRecursionError).",
            ["graph"],
            registry=r,
        )

    def node_finished(self, graph: str, node: str, seconds: float, error: bool) -> None:
        self.node_duration.labels(graph, node).observe(seconds)
        if error:
            self.node_errors.labels(graph, node).inc()

    def tool_finished(self, tool: str, seconds: float, error: bool) -> None:
        self.tool_calls.labels(tool).inc()
        self.tool_duration.labels(tool).observe(seconds)
        if error:
            self.tool_errors.labels(tool).inc()

    def checkpoint_put(self, seconds: float, size_bytes: int) -> None:
        self.put_duration.observe(seconds)
        self.checkpoint_size.observe(size_bytes)

    def interrupt(self, graph: str, node: str) -> None:
        self.interrupts.labels(graph, node).inc()

    def resume(self, graph: str) -> None:
        self.resumes.labels(graph).inc()

    def run_finished(self, graph: str, seconds: float, error: str | None) -> None:
        self.run_duration.labels(graph).observe(seconds)
        self.runs.labels(graph, "error" if error else "ok").inc()
        if error == "GraphRecursionError":
            self.loop_guard_hits.labels(graph).inc()
