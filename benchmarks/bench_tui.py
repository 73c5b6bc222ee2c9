"""TUI speed on a thread of 10,000 checkpoints with ~50 KB states, driven by Textual's pilot.

    python benchmarks/bench_tui.py [--checkpoints 10000] [--state-kb 50]

lgscope's thread screen paints from a timeline that decodes no state and reads each step when
it is shown; the baseline is the eager way: load the whole history (every state) first.
Targets: first screen < 1 s, each step < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import time
from pathlib import Path
from typing import TypedDict

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / ".data"


class S(TypedDict, total=False):
    n: int
    doc: str


def build(path: Path, checkpoints: int, state_kb: int) -> None:
    if path.exists():
        return
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    def edit(state: S) -> S:
        n = state["n"] + 1
        doc = state["doc"]
        return {"n": n, "doc": doc[:-8] + f"{n:08d}"}

    g = StateGraph(S)
    g.add_node("edit", edit)
    g.add_edge(START, "edit")
    g.add_conditional_edges("edit", lambda s: END if s["n"] >= checkpoints - 2 else "edit", ["edit", END])
    conn = sqlite3.connect(path, check_same_thread=False)
    graph = g.compile(checkpointer=SqliteSaver(conn))
    started = time.perf_counter()
    graph.invoke(
        {"n": 0, "doc": "x" * (state_kb * 1024)},
        {"configurable": {"thread_id": "big"}, "recursion_limit": checkpoints + 10},
    )
    conn.close()
    print(
        f"built {path.name} in {time.perf_counter() - started:.0f}s ({path.stat().st_size / 1e6:.0f} MB)",
        flush=True,
    )


async def measure(path: Path, lazy: bool, steps: int) -> tuple[float, float]:
    from lgscope import open_store
    from lgscope.tui import app as tui_app
    from lgscope.tui.app import LgscopeApp

    if not lazy:  # the baseline: every thread is "small", so the whole history is loaded first
        tui_app.INTERACTIVE_CHECKPOINTS = 10**9
    store = open_store(path)
    started = time.perf_counter()
    app = LgscopeApp(store, thread_id="big")  # what `lgscope tui STORE --thread big` does
    async with app.run_test(size=(160, 44)) as pilot:
        await pilot.pause()
        first = time.perf_counter() - started
        timings = []
        for _ in range(steps):
            t = time.perf_counter()
            await pilot.press("j")
            await pilot.pause()
            timings.append(time.perf_counter() - t)
    store.close()
    return first, statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoints", type=int, default=10_000)
    parser.add_argument("--state-kb", type=int, default=50)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"tui-{args.checkpoints}x{args.state_kb}kb.sqlite"
    build(path, args.checkpoints, args.state_kb)
    lazy_first, lazy_step = asyncio.run(measure(path, True, args.steps))
    eager_first, eager_step = asyncio.run(measure(path, False, args.steps))
    print(
        f"tui first screen ({args.checkpoints:,} checkpoints, ~{args.state_kb} KB states): lgscope {lazy_first:.2f}s, "
        f"baseline eager {eager_first:.2f}s, ratio {eager_first / lazy_first:.1f} (target < 1 s)"
    )
    print(
        f"tui step (median of {args.steps}): lgscope {lazy_step * 1000:.0f} ms, baseline eager {eager_step * 1000:.0f} ms, "
        f"ratio {eager_step / lazy_step:.1f} (target < 100 ms)"
    )


if __name__ == "__main__":
    main()
