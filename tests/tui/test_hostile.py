"""Issue 25 items 2-4 in the TUI: hostile ids, names, errors and keys paint inertly; a thread with a
value nested past the limit opens (the value shown as corrupt) instead of crashing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.hostile import (
    EVIL_ID,
    EVIL_NODE,
    THREAD,
    assert_inert,
    deep_array,
    nested_ext_bomb,
    plant_channel_value,
    plant_hostile_text,
    plant_write,
)
from textual.widgets import DataTable, Static

from lgscope import open_store
from lgscope.sanitize import safe_text
from lgscope.tui.app import LgscopeApp
from lgscope.tui.state_tree import StateTree
from lgscope.tui.thread_screen import ThreadScreen
from lgscope.tui.threads_screen import ThreadsScreen
from lgscope.tui.timeline import Timeline


def _painted(app: LgscopeApp) -> str:
    """Everything the screen shows (an SVG screenshot, notifications included)."""
    return app.export_screenshot()


def _walk(node: Any) -> list[Any]:
    return [node, *(n for child in node.children for n in _walk(child))]


def _everything(screen: ThreadScreen) -> str:
    timeline = screen.query_one("#timeline", Timeline)
    rows = [" ".join(map(str, timeline.get_row_at(i))) for i in range(timeline.row_count)]
    tree = screen.query_one("#state", StateTree)
    return "\n".join(
        [
            str(screen.query_one("#title", Static).render()),
            str(screen.query_one("#details", Static).render()),
            str(screen.query_one("#diff", Static).render()),
            tree.full_text(),
            *(str(n.label) for n in _walk(tree.root)),
            *rows,
        ]
    )


@pytest.mark.asyncio
async def test_hostile_text_paints_inertly(sample_copy: Path, reference_now: datetime, settled: Any) -> None:
    plant_hostile_text(sample_copy)
    with open_store(sample_copy) as store:
        app = LgscopeApp(store, now=reference_now)
        async with app.run_test(size=(160, 48)) as pilot:
            await settled(pilot)
            screen = app.screen
            assert isinstance(screen, ThreadsScreen)
            table = screen.query_one("#threads", DataTable)
            ids = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            assert safe_text(EVIL_ID) in ids
            await pilot.press("slash", *"evil", "enter")
            assert table.row_count == 1
            await pilot.press("enter")
            await settled(pilot)
            screen = app.screen
            assert isinstance(screen, ThreadScreen)
            for _ in range(5):
                text = _everything(screen)
                assert_inert(text)
                await pilot.press("j")
                await settled(pilot)
            await pilot.press("end")
            await settled(pilot)
            text = _everything(screen)
            assert (
                safe_text(EVIL_NODE) in text and "[/INST]" in text and "[link=https://evil.example]" in text
            )
            await pilot.press("enter")  # the whole value, as a notification
            await settled(pilot)
            assert_inert(_painted(app))
        assert app.return_code in (None, 0)


@pytest.mark.asyncio
async def test_a_thread_with_a_hostile_deep_value_opens(
    sample_copy: Path, reference_now: datetime, settled: Any
) -> None:
    plant_channel_value(sample_copy, nested_ext_bomb())
    plant_write(sample_copy, deep_array(8_000))
    with open_store(sample_copy) as store:
        app = LgscopeApp(store, thread_id=THREAD, now=reference_now)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            assert isinstance(screen, ThreadScreen)
            await settled(pilot)
            await pilot.press("end")
            await settled(pilot)
            assert "nests deeper than 200 levels" in str(screen.query_one("#details", Static).render())
            await pilot.press("k")
            await settled(pilot)
            assert screen.current().values["messages"]  # type: ignore[union-attr]
        assert app.return_code in (None, 0)


@pytest.mark.asyncio
async def test_a_value_at_the_depth_limit_paints(
    sample_copy: Path, reference_now: datetime, settled: Any
) -> None:
    inner = b"\x91" * 190 + b"\xa4leaf"
    plant_channel_value(
        sample_copy, b"\xc9" + (len(inner) + 5).to_bytes(4, "big") + b"\x00\x93\xa1m\xa1n" + inner
    )
    with open_store(sample_copy) as store:
        app = LgscopeApp(store, thread_id=THREAD, now=reference_now)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            assert isinstance(screen, ThreadScreen)
            await settled(pilot)
            await pilot.press("end")
            await settled(pilot)
            await pilot.press("slash", *"leaf", "enter")  # the search expands the path down to it
            await settled(pilot)
            tree = screen.query_one("#state", StateTree)
            assert any("leaf" in str(n.label) for n in _walk(tree.root))
            await pilot.press("d", "d", "k", "enter")
            await pilot.pause()
        assert app.return_code in (None, 0)
