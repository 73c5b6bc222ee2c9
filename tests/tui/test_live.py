"""Live mode: the thread screen follows checkpoints a real graph writes while it is open."""

from __future__ import annotations

import asyncio
import operator
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from textual.widgets import Static

from lgscope import open_store
from lgscope.tui.app import LgscopeApp
from lgscope.tui.thread_screen import ThreadScreen
from lgscope.tui.timeline import Timeline


class State(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    fail: bool


def _work(state: State) -> dict[str, Any]:
    if state.get("fail"):
        raise ValueError("the tool is down")
    return {"log": [f"step {len(state.get('log', []))}"]}


def _write(path: Path, *, fail: bool = False) -> None:
    """One run of a real graph on thread ``t``, through its own saver connection."""
    g = StateGraph(State)
    g.add_node("work", _work)
    g.add_edge(START, "work")
    g.add_edge("work", END)
    with SqliteSaver.from_conn_string(str(path)) as saver:
        try:
            g.compile(checkpointer=saver).invoke(
                {"log": ["more"], "fail": fail}, {"configurable": {"thread_id": "t"}}
            )
        except ValueError:
            pass


async def _until(pilot: Any, condition: Any, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"live mode never showed {what}")
        await pilot.pause(0.05)


def _title(screen: ThreadScreen) -> str:
    return str(screen.query_one("#title", Static).render())


@pytest.mark.asyncio
async def test_live_mode_shows_new_checkpoints_and_findings(tmp_path: Path, settled: Any) -> None:
    store = tmp_path / "live.sqlite"
    _write(store)
    app = LgscopeApp(open_store(store), thread_id="t", live_interval=0.1)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadScreen)
        timeline = screen.query_one("#timeline", Timeline)
        assert timeline.row_count == 3 and "live" not in _title(screen)
        screen.show_step(2)  # the cursor on the last row follows new ones
        await pilot.press("L")
        assert _title(screen).startswith("● live — t — done, 3 checkpoints")
        await asyncio.to_thread(_write, store)
        await _until(pilot, lambda: timeline.row_count == 6, "three new checkpoints")
        await _until(pilot, lambda: timeline.cursor_row == 5, "the cursor at the new last row")
        assert screen.current().step == 4  # type: ignore[union-attr]
        assert _title(screen).startswith("● live — t — done, 6 checkpoints")
        screen.show_step(1)  # elsewhere, the cursor stays where it is
        await asyncio.to_thread(_write, store, fail=True)  # a failed task: an error write, then a finding
        await _until(pilot, lambda: "1 finding" in _title(screen), "the new error finding")
        assert "the tool is down" in _title(screen) and timeline.cursor_row == 1
        assert timeline.row_count == 8 and "✖ error" in " ".join(timeline.get_row_at(7))
        await pilot.press("L")
        assert not _title(screen).startswith("●")
        await asyncio.to_thread(_write, store)
        await pilot.pause(0.5)
        assert timeline.row_count == 8  # not following any more


@pytest.mark.asyncio
async def test_live_from_the_command_line_starts_following(tmp_path: Path, settled: Any) -> None:
    store = tmp_path / "live.sqlite"
    _write(store)
    app = LgscopeApp(open_store(store), thread_id="t", live=True, live_interval=0.1)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadScreen)
        await _until(pilot, lambda: _title(screen).startswith("● live"), "the live marker")
        await asyncio.to_thread(_write, store)
        await _until(pilot, lambda: screen.query_one("#timeline", Timeline).row_count == 6, "new checkpoints")
