"""The fork key: a checkpoint of the thread screen forked into a sandbox, whose copy opens (read by
workers); q comes back to the thread it was forked from."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lgscope import open_store
from lgscope.tui.app import LgscopeApp
from lgscope.tui.thread_screen import ThreadScreen
from lgscope.tui.timeline import Timeline


@pytest.mark.asyncio
async def test_f_forks_the_checkpoint_into_a_sandbox_and_opens_it(
    sample_copy: Path, reference_now: datetime, settled: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = hashlib.sha256(sample_copy.read_bytes()).hexdigest()
    source = open_store(sample_copy)
    app = LgscopeApp(source, thread_id="support-loop-gave-up", now=reference_now)
    async with app.run_test(size=(140, 40)) as pilot:
        await settled(pilot)
        original = app.screen
        assert isinstance(original, ThreadScreen) and len(original.steps) == 13
        await pilot.press("j", "j", "j")  # the fourth checkpoint (step 2)
        await settled(pilot)
        cid = original.steps[3].checkpoint_id
        await pilot.press("f")
        await settled(pilot)
        forked = app.screen
        assert isinstance(forked, ThreadScreen) and forked is not original and forked.sandbox
        assert forked.thread_id == "support-loop-gave-up" and forked.thread is not None
        assert [s.checkpoint_id for s in forked.steps] == [s.checkpoint_id for s in original.steps[:4]]
        assert forked.query_one("#timeline", Timeline).row_count == 4
        (sandbox,) = tmp_path.glob("lgscope-sandbox-*.sqlite")
        assert app.store.url == str(sandbox) and str(sandbox) in app.sub_title
        assert forked.thread.last_checkpoint_id == cid and forked.thread.next == ("agent",)
        await pilot.press("q")
        await settled(pilot)
        assert app.screen is original and app.store is source and app.sub_title == source.url
    assert hashlib.sha256(sample_copy.read_bytes()).hexdigest() == before
    with open_store(sandbox) as st:
        assert st.thread("support-loop-gave-up").checkpoints == 4


@pytest.mark.asyncio
async def test_f_in_a_subgraph_namespace_says_where_forks_start(
    sample_store: Path, reference_now: datetime, settled: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    app = LgscopeApp(open_store(sample_store), thread_id="research-fanout", now=reference_now)
    async with app.run_test(size=(140, 40)) as pilot:
        await settled(pilot)
        await pilot.press("t")  # the report subgraph's namespace
        await settled(pilot)
        await pilot.press("f")
        await settled(pilot)
        assert not list(tmp_path.glob("lgscope-sandbox-*"))
        assert any("root graph" in str(n.message) for n in app._notifications)
