"""Tracing overhead counted in CPU instructions, which a shared VM blurs far less than time.

    python benchmarks/count_tracing.py [--saver memory|sqlite] [--runs 50] [--repeat 3] [--against OLD_SRC]

Wall time on a shared VM drifts by tens of percent within seconds; `bench_tracing.py` and
`compare_tracing.py` average that out, to about one point. Instructions executed drift less:
this runs ``bench_tracing.py``'s 10-node graph under valgrind's callgrind (every thread
counted), uninstrumented and with lgscope (and with the lgscope of ``--against``'s ``src``),
once with 10 runs after the warm-up and once with ``10 + --runs``; the difference over
``--runs`` is one run's instructions, with start-up, imports and warm-up cancelled out. As in
``bench_tracing.py``'s timing, the runs and the hand-over of their spans to the exporter are
counted, not what the exporter does with them (encode them, and so make the attributes that
lgscope's checkpoint spans make when first read). Counts of the same program differ (how
LangGraph's worker threads interleave varies): lgscope's by about 0.4%, the uninstrumented
graph's by up to 1.5% (16.17-16.41 M in five counts), so ``--repeat 3`` (the median, with the
range) is worth its time before quoting a ratio. Instructions leave out what memory and cache
misses cost: they tell whether a change does less work, not its wall time. Needs valgrind
(Debian: ``apt-get install valgrind``); about two minutes per variant and repeat on two cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).with_name("bench_tracing.py")
BASE_RUNS = 10
BATCH = 5  # runs between exports, as bench_tracing.py


def _instructions(variant: str, source: str | None, saver: str, runs: int) -> int:
    """Instructions callgrind counts for a process that warms up, then does ``runs`` runs."""
    env = {**os.environ, "PYTHONHASHSEED": "1"}
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    commands = f"run {BATCH}\n" * (runs // BATCH) + "done\n"
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                str(BENCH),
                "--serve",
                variant,
                "--saver",
                saver,
            ],
            input=commands,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind failed on the {variant} variant:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def _per_run(variant: str, source: str | None, saver: str, runs: int) -> float:
    with ThreadPoolExecutor(2) as pool:
        short, long = pool.map(
            lambda n: _instructions(variant, source, saver, n), (BASE_RUNS, BASE_RUNS + runs)
        )
    return (long - short) / runs


def _counted(counts: list[float]) -> str:
    """The median count in millions, with the range when there are several."""
    text = f"{statistics.median(counts) / 1e6:.2f} M/run"
    if len(counts) > 1:
        text += f" (range {min(counts) / 1e6:.2f}-{max(counts) / 1e6:.2f})"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saver", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--runs", type=int, default=50, help="runs counted (a multiple of 5)")
    parser.add_argument("--against", metavar="OLD_SRC", help="also count the lgscope in this src directory")
    parser.add_argument("--repeat", type=int, default=1, help="counts per variant (the median is used)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: install it (Debian: apt-get install valgrind).")
    if args.repeat <= 0:
        raise SystemExit("--repeat must be at least 1.")
    if args.runs <= 0 or args.runs % BATCH:
        raise SystemExit(f"--runs must be a positive multiple of {BATCH}.")
    if args.against and not (Path(args.against) / "lgscope" / "tracing").is_dir():
        raise SystemExit(f"{args.against} holds no lgscope/tracing: give the src directory of a checkout.")
    label = "InMemorySaver" if args.saver == "memory" else "SqliteSaver"
    variants: list[tuple[str, str, str | None]] = [
        ("uninstrumented", "uninstrumented", None),
        ("lgscope", "lgscope", None),
    ]
    if args.against:
        variants.append((f"lgscope of {args.against}", "lgscope", args.against))
    base = 0.0
    for name, variant, source in variants:
        counts = [_per_run(variant, source, args.saver, args.runs) for _ in range(args.repeat)]
        count = statistics.median(counts)
        if variant == "uninstrumented":
            base = count
            print(f"instructions {label} 10 nodes: uninstrumented {_counted(counts)}", flush=True)
        else:
            print(
                f"instructions {label} 10 nodes: {name} {_counted(counts)}, ratio "
                f"{count / base:.3f} (+{(count / base - 1) * 100:.1f}%)",
                flush=True,
            )


if __name__ == "__main__":
    main()
