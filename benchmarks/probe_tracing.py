"""Where lgscope's tracing time goes inside real runs: its own time per node span, per checkpoint
operation and per run (the root's start and end), with every cache as cold as a run leaves it.

    python benchmarks/probe_tracing.py [--saver memory|sqlite] [--runs 600]

Runs ``bench_tracing.py``'s 10-node graph with lgscope and times lgscope's code where it wraps
LangGraph's (``time.perf_counter_ns`` on both sides of each call it forwards): before and after
the node's own work, around each checkpoint operation less the wrapped saver's time, and the
run's start and end. The same code costs several times more here than in a loop (a node span's
start and end, ~1.4 µs in a loop): between two of them, LangGraph's own work evicts lgscope's
code and data from the CPU's caches. So a change that removes calls and objects can pay in a
run though it saves few bytecodes. The "probes alone" line times the same probes around
LangGraph with nothing of lgscope's between them: subtract it. Medians and tenth percentiles,
in µs; run it with ``PYTHONPATH=OLD_SRC`` to see another version.
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_tracing import WARM_UP, _graph

_now = time.perf_counter_ns


def _quantiles(values: list[int]) -> str:
    ordered = sorted(values)
    return f"median {ordered[len(ordered) // 2] / 1000:.2f}, p10 {ordered[len(ordered) // 10] / 1000:.2f}"


def _probe(saver_kind: str, runs: int, lgscope: bool) -> dict[str, list[int]]:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite import SqliteSaver
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from lgscope.tracing import _instrument, instrument

    exporter, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=200_000, max_export_batch_size=2048)
    )
    if saver_kind == "sqlite":
        path = Path(tempfile.mkdtemp()) / "probe.sqlite"
        saver: Any = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    else:
        saver = InMemorySaver()
    graph: Any = _graph(saver)
    instrument(graph, tracer_provider=provider)
    times: dict[str, list[int]] = defaultdict(list)
    inside = [0, 0]  # when the wrapped call started and ended

    def marked(call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            inside[0] = _now()
            try:
                return call(*args, **kwargs)
            finally:
                inside[1] = _now()

        return run

    def timed(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started, inside[0] = _now(), 0
            out = call(*args, **kwargs)
            ended = _now()
            if inside[0]:  # lgscope forwarded the call: its time is what lies outside it
                times[name].append(inside[0] - started + ended - inside[1])
            return out

        return run

    runner: Any = importlib.import_module("langgraph.pregel._runner")
    node = marked(_instrument._patched["run"])  # LangGraph's own runner
    runner.run_with_retry = timed("node span", _instrument._traced_run(node) if lgscope else node)
    traced = graph.checkpointer
    inner = traced.inner
    for method in ("get_tuple", "put", "put_writes"):
        setattr(inner, method, marked(getattr(inner, method)))
        wrapper = getattr(traced, method) if lgscope else getattr(inner, method)
        # an instance attribute: LangGraph calls the saver's methods through the instance
        setattr(traced, method, timed(f"checkpoint {method}", wrapper))
    if lgscope:
        cls = _instrument._Instrumentation
        begin, finish = cls._begin, cls._finish

        def timed_begin(self: Any, *args: Any) -> Any:
            started = _now()
            out = begin(self, *args)
            times["run start"].append(_now() - started)
            return out

        def timed_finish(*args: Any) -> None:
            started = _now()
            finish(*args)
            times["run end"].append(_now() - started)

        cls._begin = timed_begin  # type: ignore[method-assign]
        cls._finish = staticmethod(timed_finish)  # type: ignore[method-assign,assignment]

    for i in range(WARM_UP + runs):
        if i == WARM_UP:
            times.clear()
        graph.invoke({"n": 0, "blob": "x" * 1000}, {"configurable": {"thread_id": f"t{i}"}})
        if i % 5 == 4:  # as bench_tracing: the exporter takes the spans between batches
            provider.force_flush()
            exporter.clear()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saver", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--runs", type=int, default=600)
    args = parser.parse_args()
    for label, lgscope in (("lgscope", True), ("probes alone", False)):
        times = _probe(args.saver, args.runs, lgscope)
        parts = "; ".join(
            f"{name} ({len(values) / args.runs:.0f}/run) {_quantiles(values)}"
            for name, values in times.items()
        )
        print(f"{args.saver} {label}: {parts} µs", flush=True)


if __name__ == "__main__":
    main()
