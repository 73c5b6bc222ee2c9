"""Two versions of lgscope's tracing side by side, to tell whether a change to it pays.

    python benchmarks/compare_tracing.py OLD_SRC NEW_SRC [--saver memory|sqlite] [--rounds 200]

``OLD_SRC`` and ``NEW_SRC`` are ``src`` directories (e.g. of a ``git worktree`` at the old
commit, or a copy). Two uninstrumented processes and two of each version run
``bench_tracing.py``'s 10-node graph in lock step, a batch of 5 runs each per round, in an
order rotated each round: every version meets the same machine. Separate runs of
``bench_tracing.py`` differ by 2-3 points on a shared VM; within one run of this script, the
same tree given twice (an A/A test) differs from itself by about one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).with_name("bench_tracing.py")


def _spawn(variant: str, source: str | None, saver: str, seed: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    if source is not None:  # ahead of the installed lgscope
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, str(BENCH), "--serve", variant, "--saver", saver],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _ask(proc: subprocess.Popen[str], command: str | None = None) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    if command is not None:
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"a benchmark process exited with {proc.wait()}")
    return json.loads(line)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("old", help="the src directory of the version to compare against")
    parser.add_argument("new", help="the src directory of the changed version")
    parser.add_argument("--saver", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    for source in (args.old, args.new):
        if not (Path(source) / "lgscope" / "tracing").is_dir():
            raise SystemExit(f"{source} holds no lgscope/tracing: give the src directory of a checkout.")
    seed = str(random.randrange(1, 2**32 - 1))
    sources: dict[str, str | None] = {"uninstrumented": None, "old": args.old, "new": args.new}
    groups = {
        name: [_spawn("lgscope" if src else "uninstrumented", src, args.saver, seed) for _ in range(2)]
        for name, src in sources.items()
    }
    for proc in (p for group in groups.values() for p in group):
        _ask(proc)  # ready
    names = list(groups)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            seconds[name].append(sum(_ask(p, "run 5")["seconds"] for p in groups[name]))
    for proc in (p for group in groups.values() for p in group):
        _ask(proc, "done")
        proc.wait()
    base = sum(seconds["uninstrumented"])
    for name in ("old", "new"):
        rounds = sorted(a / b for a, b in zip(seconds[name], seconds["uninstrumented"], strict=True))
        print(
            f"{args.saver} {name} ({sources[name]}): +{(sum(seconds[name]) / base - 1) * 100:.1f}% over "
            f"uninstrumented (median round {statistics.median(rounds):.3f})"
        )
    print(f"{args.saver} new vs old: {(sum(seconds['new']) / sum(seconds['old']) - 1) * 100:+.1f}%")


if __name__ == "__main__":
    main()
