"""TUI speed on a thread of 10,000 checkpoints with ~50 KB states, driven by Textual's pilot.

    python benchmarks/bench_tui.py [--checkpoints 10000] [--state-kb 50]

lgscope's thread screen reads the timeline a page at a time without decoding any state, paints
only the rows on screen, and reads each step when it is shown; the baseline is the eager way:
load the whole history (every state) first. Targets: first screen < 1 s, each step < 100 ms.

First screen: from opening the store to the first paint of the thread screen with a state shown.
A step: from the app handling `j` to the end of the last screen refresh that follows (both
measured inside the app); the pilot's round trip (press + pause) is printed too: it adds the
pilot's own waiting for the app to go idle.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any, TypedDict

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


def _step_shown(screen: Any) -> bool:
    """The step under the cursor is painted: its writes (or id) are in the details pane."""
    text = str(screen.query_one("#details").render())
    return bool(text) and not text.startswith("reading step")


async def _settle(app: Any, pilot: Any) -> None:
    from textual.worker import WorkerCancelled

    for _ in range(50):
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:  # an exclusive worker replaced by a newer one
            pass
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            return


async def measure(path: Path, lazy: bool, steps: int) -> dict[str, float]:
    """Time to the first painted thread screen, and per step: key handled → screen painted
    (in the app), and the pilot's whole round trip (which adds the pilot's own waiting)."""
    from textual.app import App

    from lgscope import open_store
    from lgscope.tui import app as tui_app
    from lgscope.tui.app import LgscopeApp
    from lgscope.tui.thread_screen import ThreadScreen
    from lgscope.tui.timeline import Timeline

    if not lazy:  # the baseline: every thread is "small", so the whole history is loaded first
        tui_app.INTERACTIVE_CHECKPOINTS = 10**9
    paints: list[tuple[float, bool]] = []
    keys: list[float] = []
    display, step = App._display, ThreadScreen.action_step

    def painted(app: App[object], screen: Any, renderable: Any) -> None:  # every write to the terminal
        display(app, screen, renderable)
        # the thread screen with its timeline rows and the first step's state (read by workers)
        shown = (
            isinstance(screen, ThreadScreen)
            and screen.query_one("#timeline", Timeline).row_count > 0
            and _step_shown(screen)
        )
        paints.append((time.perf_counter(), shown))

    def stepped(screen: ThreadScreen, delta: int) -> None:
        keys.append(time.perf_counter())
        step(screen, delta)

    App._display = painted  # type: ignore[method-assign]
    ThreadScreen.action_step = stepped  # type: ignore[method-assign]
    try:
        started = time.perf_counter()  # opening the store counts: `lgscope tui` does it first
        store = open_store(path)
        app = LgscopeApp(store, thread_id="big")  # what `lgscope tui STORE --thread big` does
        async with app.run_test(size=(160, 44)) as pilot:
            await _settle(app, pilot)  # the thread is read in a worker; the screen fills in when it lands
            first = next(t for t, shown in paints if shown) - started
            in_app, round_trips = [], []
            for _ in range(steps):
                paints.clear()
                t = time.perf_counter()
                await pilot.press("j")
                await _settle(app, pilot)  # a large thread's step is read in a worker
                round_trips.append(time.perf_counter() - t)
                in_app.append(paints[-1][0] - keys[-1])
            print("step latencies (ms):", " ".join(f"{x * 1000:.0f}" for x in in_app), flush=True)
        store.close()
    finally:
        App._display = display  # type: ignore[method-assign]
        ThreadScreen.action_step = step  # type: ignore[method-assign]
        tui_app.INTERACTIVE_CHECKPOINTS = 2000
    return {
        "first": first,
        "step": statistics.median(in_app),
        "step_max": max(in_app),
        "round_trip": statistics.median(round_trips),
    }


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
    lazy = asyncio.run(measure(path, True, args.steps))
    eager = asyncio.run(measure(path, False, args.steps))
    print(
        f"tui first screen ({args.checkpoints:,} checkpoints, ~{args.state_kb} KB states): "
        f"lgscope {lazy['first']:.2f}s, baseline eager {eager['first']:.2f}s, "
        f"ratio {eager['first'] / lazy['first']:.1f} (target < 1 s)"
    )
    print(
        f"tui step, key handled → screen painted (median of {args.steps}): lgscope {lazy['step'] * 1000:.0f} ms "
        f"(max {lazy['step_max'] * 1000:.0f}), baseline eager {eager['step'] * 1000:.0f} ms, "
        f"ratio {eager['step'] / lazy['step']:.1f} (target < 100 ms)"
    )
    print(
        f"tui step, pilot round trip (press + pause, median): lgscope {lazy['round_trip'] * 1000:.0f} ms, "
        f"baseline eager {eager['round_trip'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
