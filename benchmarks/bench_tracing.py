"""Tracing overhead: 10-node graphs, uninstrumented vs lgscope vs two peer instrumentations.

    python benchmarks/bench_tracing.py [--rounds 60] [--batch 5] [--processes 2]
                                       [--realistic-rounds 30] [--work-ms 5]

Two graphs: ten trivial nodes (LangGraph's own work and the tracing are all there is, on an
InMemorySaver and a SqliteSaver), and a realistic one, ten nodes doing ``--work-ms`` of CPU work
each (far less than one model call) on a SqliteSaver; the work is a loop calibrated once, in the
parent, so every variant does the same.

Every variant exports to the same in-memory exporter through a BatchSpanProcessor and runs in
processes of its own (the peers instrument LangChain globally), ``--processes`` of them, so that
what differs between two processes of one program (memory layout, which core) is averaged out.
The processes run in lock step: in each round every process runs one batch of ``--batch``
invocations while the others wait, variants in an order rotated each round, so that drifts in
the machine's speed (shared VMs drift by tens of percent within seconds) hit every variant
alike. Between batches, outside the timing, each process hands its spans to the exporter and
drops them, as an OTLP exporter drops what it has sent (kept, they would pile up in memory for
the whole benchmark). A variant's overhead is its user CPU time (all threads: the work done,
without the kernel's part) over the uninstrumented graph's, with wall time beside it (which on a
shared VM varies by tens of percent from one minute to the next); the median and middle half of
the per-round CPU ratios show how far one round can be trusted. All
processes get the same ``PYTHONHASHSEED``. The "noise" line compares the uninstrumented
processes with each other (an A/A test): an overhead no larger than their spread says nothing.
Also: span attribute bytes per run with a 1 KB and a 200 KB state.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VARIANTS = ["uninstrumented", "lgscope", "openinference", "openllmetry"]
WARM_UP = 20


def _spin(loops: int) -> int:
    """CPU work standing in for a node's own (parsing, prompt building, scoring)."""
    total = 0
    for i in range(loops):
        total += i * i % 7
    return total


def calibrate(ms: float) -> int:
    """How many `_spin` loops take ``ms`` of CPU time on this machine (fastest of five tries)."""
    loops = 20_000
    best = min(_timed(loops) for _ in range(5))
    return max(1, int(loops * ms / 1000 / best))


def _timed(loops: int) -> float:
    started = time.process_time()
    _spin(loops)
    return time.process_time() - started


def _graph(saver: object, loops: int = 0) -> object:
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class S(TypedDict, total=False):
        n: int
        blob: str

    g = StateGraph(S)
    names = [f"node_{i}" for i in range(10)]
    for name in names:
        if loops:
            g.add_node(name, lambda s: {"n": s.get("n", 0) + 1 + _spin(loops) * 0})
        else:
            g.add_node(name, lambda s: {"n": s.get("n", 0) + 1})
    g.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g.compile(checkpointer=saver, name="ten_nodes")


def serve(variant: str, saver_kind: str, blob: int, attribute_bytes: bool = False, loops: int = 0) -> None:
    """One variant's process: set up, warm up, then run batches on command from stdin
    (``run N``) until ``done``, answering each with a JSON line on stdout; with
    ``attribute_bytes``, the spans' attributes are read and their bytes counted."""
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
    graph: Any = _graph(saver, loops)
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
    count = 0

    def invoke() -> None:
        nonlocal count
        count += 1
        graph.invoke(state, {"configurable": {"thread_id": f"t{count}"}})

    spans = attr_bytes = 0

    def export() -> None:
        """Hand the spans made so far to the exporter, count them, and drop them."""
        nonlocal spans, attr_bytes
        provider.force_flush()
        finished = exporter.get_finished_spans()
        spans += len(finished)
        if attribute_bytes:
            attr_bytes += sum(
                len(str(k)) + len(str(v)) for s in finished for k, v in (s.attributes or {}).items()
            )
        exporter.clear()

    for _ in range(WARM_UP):
        invoke()
    export()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "run":
            runs = int(rest[0])
            started, user = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
            for _ in range(runs):
                invoke()
            seconds = time.perf_counter() - started
            cpu_seconds = resource.getrusage(resource.RUSAGE_SELF).ru_utime - user
            export()
            print(json.dumps({"seconds": seconds, "cpu": cpu_seconds}), flush=True)
        else:
            print(
                json.dumps({"spans_per_run": spans / count, "attr_bytes_per_run": attr_bytes / count}),
                flush=True,
            )
            return


class _Variant:
    """A variant's process, driven over its stdin and stdout."""

    def __init__(
        self, variant: str, saver: str, blob: int, seed: str, attribute_bytes: bool = False, loops: int = 0
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", variant, "--saver", saver, "--blob", str(blob)]
            + ["--loops", str(loops)]
            + ["--attribute-bytes"] * attribute_bytes,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )

    def ask(self, command: str | None = None) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if command is not None:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the benchmark's child process exited with {self.proc.wait()}")
        return json.loads(line)  # type: ignore[no-any-return]

    def finish(self) -> dict[str, Any]:
        out = self.ask("done")
        self.proc.wait()
        return out


def _lock_step(
    saver: str, rounds: int, batch: int, processes: int, seed: str, loops: int = 0
) -> dict[str, Any]:
    """Per variant: its per-round times (seconds and CPU seconds, summed over its processes), each
    process's total seconds, and spans per run."""
    procs = {v: [_Variant(v, saver, 1000, seed, loops=loops) for _ in range(processes)] for v in VARIANTS}
    for proc in (p for group in procs.values() for p in group):
        proc.ask()  # ready
    times: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    totals = {v: [0.0] * processes for v in VARIANTS}
    for round_ in range(rounds):
        order = VARIANTS[round_ % len(VARIANTS) :] + VARIANTS[: round_ % len(VARIANTS)]
        for variant in order:  # rotated each round: no variant always runs right after another
            batches = [proc.ask(f"run {batch}") for proc in procs[variant]]
            for i, b in enumerate(batches):
                totals[variant][i] += b["seconds"]
            times[variant].append((sum(b["seconds"] for b in batches), sum(b["cpu"] for b in batches)))
    spans = {v: [proc.finish()["spans_per_run"] for proc in group] for v, group in procs.items()}
    return {
        v: {"rounds": times[v], "totals": totals[v], "spans_per_run": statistics.mean(spans[v])}
        for v in VARIANTS
    }


def _attribute_bytes(variant: str, blob: int, seed: str) -> float:
    proc = _Variant(variant, "memory", blob, seed, attribute_bytes=True)
    proc.ask()
    proc.ask("run 30")
    return float(proc.finish()["attr_bytes_per_run"])


def _report(label: str, results: dict[str, Any], runs: int) -> None:
    """One line per instrumented variant: its wall and CPU time per run over the uninstrumented
    graph's, with how far one round can be trusted."""
    base = results["uninstrumented"]["rounds"]
    base_s, base_cpu = sum(b[0] for b in base), sum(b[1] for b in base)
    alike = results["uninstrumented"]["totals"]
    if len(alike) > 1:  # the same program in two processes: how far apart two runs fall here
        print(
            f"noise {label}: uninstrumented processes, slowest over fastest {max(alike) / min(alike):.2f} (A/A)",
            flush=True,
        )
    for variant in VARIANTS[1:]:
        rounds = results[variant]["rounds"]
        seconds, cpu = sum(r[0] for r in rounds), sum(r[1] for r in rounds)
        per_round = sorted(r[1] / b[1] for r, b in zip(rounds, base, strict=True) if b[1] > 0)
        quarter = len(per_round) // 4
        print(
            f"overhead {label}: {variant} CPU {cpu * 1000 / runs:.2f} ms/run (wall {seconds * 1000 / runs:.2f}), "
            f"baseline uninstrumented CPU {base_cpu * 1000 / runs:.2f} ms/run (wall {base_s * 1000 / runs:.2f}), "
            f"CPU ratio {cpu / base_cpu:.3f} ({(cpu / base_cpu - 1) * 100:+.1f}%; wall {(seconds / base_s - 1) * 100:+.1f}%; "
            f"per round CPU: median {statistics.median(per_round):.2f}, "
            f"middle half {per_round[quarter]:.2f}-{per_round[-quarter - 1]:.2f}), "
            f"{results[variant]['spans_per_run']:.0f} spans/run",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--serve", choices=VARIANTS)
    parser.add_argument("--saver", default="memory")
    parser.add_argument("--blob", type=int, default=1000)
    parser.add_argument("--attribute-bytes", action="store_true")
    parser.add_argument("--loops", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--work-ms", type=float, default=5.0, help="CPU work per node of the realistic graph")
    parser.add_argument("--realistic-rounds", type=int, default=30)
    parser.add_argument(
        "--graphs", default="trivial,realistic,bytes", help="which parts to run (comma-separated)"
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.saver, args.blob, args.attribute_bytes, args.loops)
        return
    seed = str(random.randrange(1, 2**32 - 1))
    runs = args.rounds * args.batch * args.processes
    print(
        f"PYTHONHASHSEED={seed}; per variant {args.processes} processes, {args.rounds} rounds of "
        f"{args.batch} runs each ({runs} runs)",
        flush=True,
    )
    graphs = set(args.graphs.split(","))
    for saver in ("memory", "sqlite") if "trivial" in graphs else ():
        label = ("InMemorySaver" if saver == "memory" else "SqliteSaver") + " 10 trivial nodes"
        _report(label, _lock_step(saver, args.rounds, args.batch, args.processes, seed), runs)
    if "realistic" in graphs:
        loops = calibrate(args.work_ms)
        runs = args.realistic_rounds * args.batch * args.processes
        print(
            f"realistic graph: 10 nodes of {args.work_ms:g} ms CPU each ({loops} loops), SqliteSaver; "
            f"{args.realistic_rounds} rounds ({runs} runs per variant)",
            flush=True,
        )
        results = _lock_step("sqlite", args.realistic_rounds, args.batch, args.processes, seed, loops)
        _report(f"SqliteSaver 10 nodes x {args.work_ms:g} ms CPU", results, runs)
    for variant in ("lgscope", "openinference", "openllmetry") if "bytes" in graphs else ():
        small = _attribute_bytes(variant, 1000, seed)
        large = _attribute_bytes(variant, 200_000, seed)
        print(
            f"attribute bytes/run {variant}: state 1 KB {small:,.0f}, state 200 KB {large:,.0f}, ratio {large / small:.2f}"
        )


if __name__ == "__main__":
    main()
