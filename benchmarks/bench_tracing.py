"""Tracing overhead: a 10-node graph, uninstrumented vs lgscope vs two peer instrumentations.

    python benchmarks/bench_tracing.py [--runs 200] [--repeat 7]

Every variant exports to the same in-memory exporter through a BatchSpanProcessor and runs in
its own process (the peers instrument LangChain globally). ``--repeat`` rounds run every
variant once, in an order rotated each round; a variant's overhead is the median over rounds
of its time divided by the same round's uninstrumented time, so that drifts in the machine's
speed (shared VMs drift by tens of percent over minutes) cancel; the lowest and highest round
are printed beside it, to show how far one round can be trusted. CPU time (all threads) is
printed next to wall time. Also: span attribute bytes per run with a 1 KB and a 200 KB state.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VARIANTS = ["uninstrumented", "lgscope", "openinference", "openllmetry"]


def _graph(saver: object) -> object:
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class S(TypedDict, total=False):
        n: int
        blob: str

    g = StateGraph(S)
    names = [f"node_{i}" for i in range(10)]
    for name in names:
        g.add_node(name, lambda s: {"n": s.get("n", 0) + 1})
    g.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g.compile(checkpointer=saver, name="ten_nodes")


def child(variant: str, saver_kind: str, runs: int, blob: int) -> None:
    import sqlite3

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite import SqliteSaver
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=200_000, max_export_batch_size=2048)
    )
    if saver_kind == "sqlite":
        path = Path(tempfile.mkdtemp()) / "bench.sqlite"
        saver: object = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    else:
        saver = InMemorySaver()
    graph = _graph(saver)
    if variant == "lgscope":
        from lgscope.tracing import instrument

        instrument(graph, tracer_provider=provider)
    elif variant == "openinference":
        from openinference.instrumentation.langchain import LangChainInstrumentor

        LangChainInstrumentor().instrument(tracer_provider=provider)
    elif variant == "openllmetry":
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor

        LangchainInstrumentor().instrument(tracer_provider=provider)
    state = {"n": 0, "blob": "x" * blob}
    for i in range(20):  # warm up
        graph.invoke(state, {"configurable": {"thread_id": f"w{i}"}})  # type: ignore[attr-defined]
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(runs):
        graph.invoke(state, {"configurable": {"thread_id": f"t{i}"}})  # type: ignore[attr-defined]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    provider.force_flush()
    spans = exporter.get_finished_spans()
    attr_bytes = sum(len(str(k)) + len(str(v)) for s in spans for k, v in (s.attributes or {}).items())
    print(
        json.dumps(
            {
                "ms_per_run": seconds * 1000 / runs,
                "cpu_ms_per_run": cpu_seconds * 1000 / runs,
                "spans_per_run": len(spans) / (runs + 20),
                "attr_bytes_per_run": attr_bytes / (runs + 20),
            }
        )
    )


def interleaved(saver_kind: str, rounds: int, batch: int) -> None:
    """lgscope vs uninstrumented in one process: the same graph, instrumented and not, in
    alternating batches, so that the machine's drift hits both alike; spans are exported (and
    dropped, as an OTLP exporter drops what it sent) between batches, outside the timing."""
    import sqlite3

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.sqlite import SqliteSaver
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from lgscope.tracing import instrument, uninstrument

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=200_000, max_export_batch_size=2048)
    )
    if saver_kind == "sqlite":
        path = Path(tempfile.mkdtemp()) / "bench.sqlite"
        saver: object = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    else:
        saver = InMemorySaver()
    graph: Any = _graph(saver)
    state = {"n": 0, "blob": "x" * 1000}
    count = 0

    def timed() -> float:
        nonlocal count
        started = time.perf_counter()
        for _ in range(batch):
            count += 1
            graph.invoke(state, {"configurable": {"thread_id": f"t{count}"}})
        return time.perf_counter() - started

    instrument(graph, tracer_provider=provider)
    timed()  # warm up both ways
    uninstrument(graph)
    timed()
    plain: list[float] = []
    traced: list[float] = []
    for _ in range(rounds):
        plain.append(timed())
        instrument(graph, tracer_provider=provider)
        traced.append(timed())
        uninstrument(graph)
        provider.force_flush()
        exporter.clear()
    print(
        json.dumps(
            {
                "ratio": sum(traced) / sum(plain),
                "paired_median": statistics.median(t / p for t, p in zip(traced, plain, strict=True)),
                "ms_plain": sum(plain) * 1000 / (rounds * batch),
                "ms_traced": sum(traced) * 1000 / (rounds * batch),
            }
        )
    )


def _run(variant: str, saver: str, runs: int, blob: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            variant,
            "--saver",
            saver,
            "--runs",
            str(runs),
            "--blob",
            str(blob),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", choices=[*VARIANTS, "interleaved"])
    parser.add_argument("--saver", default="memory")
    parser.add_argument("--blob", type=int, default=1000)
    args = parser.parse_args()
    if args.child == "interleaved":
        interleaved(args.saver, rounds=60, batch=10)
        return
    if args.child:
        child(args.child, args.saver, args.runs, args.blob)
        return
    for saver in ("memory", "sqlite"):
        results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
        for round_ in range(args.repeat):
            order = VARIANTS[round_ % len(VARIANTS) :] + VARIANTS[: round_ % len(VARIANTS)]
            for variant in order:  # rotated each round: no variant always runs right after another
                results[variant].append(_run(variant, saver, args.runs, 1000))
        label = "InMemorySaver" if saver == "memory" else "SqliteSaver"
        base = statistics.median(r["ms_per_run"] for r in results["uninstrumented"])
        for variant in VARIANTS[1:]:
            # each round's ratio against the same round's baseline: drifts in machine speed cancel
            ratios = [
                r["ms_per_run"] / b["ms_per_run"]
                for r, b in zip(results[variant], results["uninstrumented"], strict=True)
            ]
            ratio = statistics.median(ratios)
            cpu = statistics.median(
                r["cpu_ms_per_run"] / b["cpu_ms_per_run"]
                for r, b in zip(results[variant], results["uninstrumented"], strict=True)
            )
            ms = statistics.median(r["ms_per_run"] for r in results[variant])
            spans = results[variant][0]["spans_per_run"]
            print(
                f"overhead {label} 10 nodes: {variant} {ms:.2f} ms/run, baseline uninstrumented {base:.2f} ms/run, "
                f"ratio {ratio:.2f} (+{(ratio - 1) * 100:.0f}%; rounds {min(ratios):.2f}-{max(ratios):.2f}; "
                f"CPU time +{(cpu - 1) * 100:.0f}%), {spans:.0f} spans/run",
                flush=True,
            )
    for saver in ("memory", "sqlite"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", "interleaved", "--saver", saver],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        label = "InMemorySaver" if saver == "memory" else "SqliteSaver"
        print(
            f"overhead {label} 10 nodes, interleaved in one process (600 runs each way): lgscope "
            f"{r['ms_traced']:.2f} ms/run, baseline uninstrumented {r['ms_plain']:.2f} ms/run, "
            f"ratio {r['ratio']:.2f} (+{(r['ratio'] - 1) * 100:.0f}%; median of batch ratios "
            f"{r['paired_median']:.2f})",
            flush=True,
        )
    for variant in ("lgscope", "openinference", "openllmetry"):
        small = _run(variant, "memory", 50, 1000)["attr_bytes_per_run"]
        large = _run(variant, "memory", 50, 200_000)["attr_bytes_per_run"]
        print(
            f"attribute bytes/run {variant}: state 1 KB {small:,.0f}, state 200 KB {large:,.0f}, ratio {large / small:.2f}"
        )


if __name__ == "__main__":
    main()
