"""Snapshots of the main screens (regenerate with: pytest tests/tui --snapshot-update)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from lgscope import open_store
from lgscope.tui.app import LgscopeApp


def _after(settled: Any, *keys: str) -> Any:
    """A ``run_before`` hook: wait for the store reads, press ``keys``, wait again."""

    async def run_before(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press(*keys)
        await settled(pilot)

    return run_before


def test_threads_screen(snap_compare: Any, sample_store: Path, reference_now: datetime, settled: Any) -> None:
    app = LgscopeApp(open_store(sample_store), now=reference_now)
    app.sub_title = "fixtures/stores/sample.sqlite"
    assert snap_compare(app, run_before=_after(settled), terminal_size=(140, 36))


def test_thread_screen(snap_compare: Any, sample_store: Path, reference_now: datetime, settled: Any) -> None:
    app = LgscopeApp(open_store(sample_store), thread_id="support-loop-gave-up", now=reference_now)
    app.sub_title = "fixtures/stores/sample.sqlite"
    assert snap_compare(app, run_before=_after(settled, "n", "j"), terminal_size=(160, 44))


def test_thread_screen_light_theme(
    snap_compare: Any, sample_store: Path, reference_now: datetime, settled: Any
) -> None:
    app = LgscopeApp(open_store(sample_store), thread_id="support-loop-gave-up", now=reference_now)
    app.sub_title = "fixtures/stores/sample.sqlite"

    async def run_before(pilot: Any) -> None:
        pilot.app.theme = "textual-light"
        await _after(settled, "n", "j", "m", "j")(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=(160, 44))
