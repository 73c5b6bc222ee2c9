"""The TUI driven by Textual's pilot on the sample store: every binding, and what it shows."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from textual.widgets import DataTable, Static

from lgscope import open_store
from lgscope.cli import main
from lgscope.tui.app import LgscopeApp
from lgscope.tui.state_tree import StateTree
from lgscope.tui.thread_screen import ThreadScreen
from lgscope.tui.threads_screen import ThreadsScreen
from lgscope.tui.timeline import Timeline


def _walk(node: Any) -> list[Any]:
    return [node, *(n for child in node.children for n in _walk(child))]


def _text(widget: Static) -> str:
    return str(widget.render())


@pytest.mark.asyncio
async def test_threads_screen_filters_sorts_and_searches(
    sample_store: Path, reference_now: datetime, settled: Any
) -> None:
    app = LgscopeApp(open_store(sample_store), now=reference_now)
    async with app.run_test(size=(140, 40)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadsScreen)
        table = screen.query_one("#threads", DataTable)
        assert table.row_count == 24
        await pilot.press("f", "f")  # all → done → interrupted
        assert screen.status == "interrupted" and table.row_count == 3
        await pilot.press("f", "f", "f")  # running, error, back to all
        assert screen.status == "all" and table.row_count == 24
        await pilot.press("c")  # first finding kind: error
        assert screen.kind == "error"
        assert sorted(str(table.get_row_at(i)[0]) for i in range(table.row_count)) == [
            "ingest-failed",
            "support-loop-recursion",
        ]
        await pilot.press("c")  # the kinds found: loop
        assert screen.kind == "loop" and table.row_count == 3
        await pilot.press(
            "c", "c", "c", "c", "c"
        )  # no_progress, oscillation, stuck_interrupt, stuck_run, all
        assert screen.kind == "all"
        await pilot.press("slash")
        await pilot.press(*"medicine")
        assert table.row_count == 4
        await pilot.press("enter")
        await pilot.press("s")
        assert screen.sort_by == "status"
        assert "status: all   finding: all   sort: status   search: medicine   (4 of 24 threads)" in _text(
            screen.query_one("#filters", Static)
        )


@pytest.mark.asyncio
async def test_thread_screen_bindings(
    sample_store: Path, reference_now: datetime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settled: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    app = LgscopeApp(open_store(sample_store), thread_id="support-loop-gave-up", now=reference_now)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadScreen)
        timeline = screen.query_one("#timeline", Timeline)
        assert timeline.row_count == 13
        await pilot.press("j", "j")
        assert timeline.cursor_row == 2 and screen.current().nodes == ("agent",)  # type: ignore[union-attr]
        assert "messages[1] added: ai search_kb" in _text(screen.query_one("#diff", Static))
        await pilot.press("k")
        assert timeline.cursor_row == 1
        await pilot.press("n")  # the loop finding starts here
        (loop,) = screen.findings
        assert screen.current().checkpoint_id == loop.first_checkpoint_id  # type: ignore[union-attr]
        row = timeline.cursor_row
        assert "● finding" in str(timeline.get_row_at(row)[5])
        await pilot.press("m", "j", "j")
        diff = _text(screen.query_one("#diff", Static))
        assert diff.startswith(f"diff vs marked (step {screen.steps[row].step})")
        await pilot.press("d")  # d switches the diff between the marked step and the parent
        assert _text(screen.query_one("#diff", Static)).startswith(
            f"diff vs parent (step {screen.current().step - 1}) — d: vs marked:"  # type: ignore[union-attr]
        )
        await pilot.press("d")
        assert _text(screen.query_one("#diff", Static)).startswith(
            f"diff vs marked (step {screen.steps[row].step}) — d: vs parent:"
        )
        await pilot.press("y")
        assert app.clipboard == screen.current().checkpoint_id  # type: ignore[union-attr]
        await pilot.press("slash", *"warranty", "enter")
        assert screen.search == "warranty"
        tree = screen.query_one("#state", StateTree)
        hits = [n for n in _walk(tree.root) if "warranty" in str(n.label)]
        assert hits and all(n.parent is not None and n.parent.is_expanded for n in hits)
        await pilot.press("e")
        await settled(pilot)
        exported = tmp_path / "support-loop-gave-up.lgscope.jsonl"
        with open_store(exported) as copy:
            assert copy.thread("support-loop-gave-up").checkpoints == 13
        await pilot.press("q")
        assert isinstance(app.screen, ThreadsScreen)


@pytest.mark.asyncio
async def test_namespaces_and_corrupt_checkpoints(
    sample_copy: Path, reference_now: datetime, settled: Any
) -> None:
    import sqlite3

    with sqlite3.connect(sample_copy) as conn:
        conn.execute(
            "UPDATE checkpoints SET checkpoint = substr(checkpoint, 1, 9) WHERE thread_id = 'research-fanout' "
            "AND checkpoint_ns = '' AND checkpoint_id = (SELECT checkpoint_id FROM checkpoints "
            "WHERE thread_id = 'research-fanout' AND checkpoint_ns = '' ORDER BY checkpoint_id LIMIT 1 OFFSET 2)"
        )
    app = LgscopeApp(open_store(sample_copy), thread_id="research-fanout", now=reference_now)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadScreen)
        timeline = screen.query_one("#timeline", Timeline)
        markers = [str(timeline.get_row_at(i)[5]) for i in range(timeline.row_count)]
        assert markers.count("⚠ corrupt") == 1
        assert "— root namespace (1 of " in _text(screen.query_one("#title", Static))
        await pilot.press("t")
        await settled(pilot)
        assert screen.ns.startswith("report:") and timeline.row_count == 4
        assert f"— namespace {screen.ns} (2 of " in _text(screen.query_one("#title", Static))


def test_bad_store_and_unknown_thread_fail_before_the_ui(sample_store: Path) -> None:
    result = CliRunner().invoke(main, ["tui", str(sample_store), "--thread", "nope"])
    assert result.exit_code == 2 and "has no thread 'nope'" in result.output
    result = CliRunner().invoke(main, ["tui", "/no/such.sqlite"])
    assert result.exit_code == 2 and result.output.startswith("Error: There is no file at")
    assert os.environ.get("TEXTUAL") is None


@pytest.mark.asyncio
async def test_large_thread_mode_reads_steps_on_demand(
    sample_copy: Path, reference_now: datetime, settled: Any
) -> None:
    """Above the interactive limit the timeline decodes no state: steps load when shown,
    a corrupt one is marked when visited, and findings come with F."""
    import sqlite3

    from lgscope.tui import app as tui_app

    with sqlite3.connect(sample_copy) as conn:
        conn.execute(
            "UPDATE checkpoints SET checkpoint = substr(checkpoint, 1, 9) WHERE thread_id = 'support-loop-gave-up' "
            "AND checkpoint_ns = '' AND checkpoint_id = (SELECT checkpoint_id FROM checkpoints "
            "WHERE thread_id = 'support-loop-gave-up' ORDER BY checkpoint_id LIMIT 1 OFFSET 3)"
        )
    limit = tui_app.INTERACTIVE_CHECKPOINTS
    tui_app.INTERACTIVE_CHECKPOINTS = 5
    try:
        app = LgscopeApp(open_store(sample_copy), thread_id="support-loop-gave-up", now=reference_now)
        async with app.run_test(size=(160, 48)) as pilot:
            await settled(pilot)
            screen = app.screen
            assert isinstance(screen, ThreadScreen) and screen.lazy
            timeline = screen.query_one("#timeline", Timeline)
            assert timeline.row_count == 13 and screen.findings == []
            assert "press F" in _text(screen.query_one("#title", Static))
            assert screen.steps[2].values == {}  # the timeline holds no state…
            await pilot.press("j", "j")
            await settled(pilot)
            assert "messages" in screen._full[screen.steps[2].checkpoint_id].values  # read by the worker
            assert "messages" in screen.full(screen.steps[2].checkpoint_id).values  # …steps load on demand
            await pilot.press("j")
            await settled(pilot)
            assert str(timeline.get_row_at(3)[5]) == "⚠ corrupt"
            await pilot.press("F")
            await settled(pilot)
            assert [f.kind for f in screen.findings] == ["loop"]
            await pilot.press("n")
            await settled(pilot)
            assert screen.current().checkpoint_id == screen.findings[0].first_checkpoint_id  # type: ignore[union-attr]
    finally:
        tui_app.INTERACTIVE_CHECKPOINTS = limit


@pytest.mark.asyncio
async def test_timeline_keys_and_mouse(sample_store: Path, reference_now: datetime, settled: Any) -> None:
    app = LgscopeApp(open_store(sample_store), thread_id="support-loop-gave-up", now=reference_now)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadScreen)
        timeline = screen.query_one("#timeline", Timeline)
        await pilot.press("end")
        assert timeline.cursor_row == 12 and screen.current() is screen.steps[12]
        await pilot.press("up", "up")
        assert timeline.cursor_row == 10
        await pilot.press("home", "down")
        assert timeline.cursor_row == 1
        await pilot.click("#timeline", offset=(3, 5))  # line 0 is the header: line 5 shows row 4
        await pilot.pause()
        assert timeline.cursor_row == 4
        assert screen.current().checkpoint_id == screen.steps[4].checkpoint_id  # type: ignore[union-attr]
        assert "diff vs parent (step 2)" in _text(screen.query_one("#diff", Static))


@pytest.mark.asyncio
async def test_timeline_formats_only_the_rows_on_screen(
    sample_store: Path, reference_now: datetime, settled: Any
) -> None:
    """100,000 rows cost what a screenful costs: a row is made when its line is painted."""
    app = LgscopeApp(open_store(sample_store), thread_id="support-loop-gave-up", now=reference_now)
    async with app.run_test(size=(160, 30)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadScreen)
        timeline = screen.query_one("#timeline", Timeline)
        steps = [screen.steps[i % len(screen.steps)] for i in range(100_000)]
        asked: list[int] = []

        def marker(step: Any) -> str:
            asked.append(1)
            return ""

        timeline.set_steps(steps, marker)
        await pilot.pause()
        assert 0 < len(asked) <= 2 * timeline.size.height
        asked.clear()
        timeline.move_cursor(99_999)
        await pilot.pause()
        assert timeline.scroll_offset.y > 99_000 and 0 < len(asked) <= 2 * timeline.size.height
        assert timeline.row_count == 100_000 and timeline.get_row_at(99_999)[0] == str(steps[-1].step)


@pytest.mark.asyncio
async def test_large_threads_read_the_timeline_page_by_page(
    sample_store: Path, reference_now: datetime, monkeypatch: pytest.MonkeyPatch, settled: Any
) -> None:
    from lgscope.tui import app as tui_app
    from lgscope.tui.timeline import TimelinePages

    monkeypatch.setattr(tui_app, "INTERACTIVE_CHECKPOINTS", 5)
    monkeypatch.setattr(TimelinePages, "PAGE", 4)
    store = open_store(sample_store)
    reads: list[tuple[int, int | None]] = []
    timeline = store.timeline

    def counted(thread_id: str, ns: str = "", *, offset: int = 0, limit: int | None = None) -> Any:
        reads.append((offset, limit))
        return timeline(thread_id, ns, offset=offset, limit=limit)

    monkeypatch.setattr(store, "timeline", counted)
    app = LgscopeApp(store, thread_id="support-loop-gave-up", now=reference_now)
    async with app.run_test(size=(160, 12)) as pilot:  # a short screen: 13 rows do not all show
        await settled(pilot)  # the first page is read in a worker
        screen = app.screen
        assert isinstance(screen, ThreadScreen) and isinstance(screen.steps, TimelinePages)
        assert reads and all(limit == 4 for _offset, limit in reads)
        assert {offset for offset, _ in reads} < {0, 4, 8, 12}  # not every page yet
        await pilot.press("end")
        await settled(pilot)
        assert screen.current().checkpoint_id == store.history("support-loop-gave-up")[-1].checkpoint_id  # type: ignore[union-attr]
        assert (12, 4) in reads
        await pilot.press("F")
        await settled(pilot)
        await pilot.press("home", "n")  # the finding's row comes from the store, not a scan of pages
        await settled(pilot)
        (loop,) = screen.findings
        assert screen.current().checkpoint_id == loop.first_checkpoint_id  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_the_store_is_read_in_workers_and_keys_stay_live(
    sample_store: Path, reference_now: datetime, settled: Any
) -> None:
    """While the store is busy (its lock held here, as a slow Postgres round trip would), the
    screens paint a loading state and answer keys; what was read appears when the read ends."""
    app = LgscopeApp(open_store(sample_store), now=reference_now)
    app.store_lock.acquire()
    try:
        async with app.run_test(size=(140, 36)) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ThreadsScreen)
            table = screen.query_one("#threads", DataTable)
            assert table.loading and table.row_count == 0
            assert "reading the store…" in _text(screen.query_one("#filters", Static))
            await pilot.press("f", "s")  # keys are live while the store is read
            assert (screen.status, screen.sort_by) == ("done", "status")
            app.store_lock.release()
            await settled(pilot)
            assert not table.loading and table.row_count == 18  # the done threads of 24
            assert "(18 of 24 threads)" in _text(screen.query_one("#filters", Static))
            await pilot.press("f", "f", "f", "f", "s", "s", "s")
            app.store_lock.acquire()
            await pilot.press("enter")  # opening a thread: its screen paints before the thread is read
            await pilot.pause()
            thread_screen = app.screen
            assert isinstance(thread_screen, ThreadScreen) and thread_screen.thread is None
            assert "loading the thread…" in _text(thread_screen.query_one("#title", Static))
            await pilot.press("j", "n", "d", "t", "F")  # nothing to act on yet, and nothing breaks
            app.store_lock.release()
            await settled(pilot)
            assert thread_screen.thread is not None and thread_screen.steps
            await pilot.press("q")
            assert app.screen is screen
    finally:
        if app.store_lock.locked():
            app.store_lock.release()


@pytest.mark.asyncio
async def test_a_large_thread_pages_and_steps_in_workers(
    sample_store: Path, reference_now: datetime, monkeypatch: pytest.MonkeyPatch, settled: Any
) -> None:
    from lgscope.tui import app as tui_app
    from lgscope.tui.timeline import TimelinePages

    monkeypatch.setattr(tui_app, "INTERACTIVE_CHECKPOINTS", 5)
    monkeypatch.setattr(TimelinePages, "PAGE", 4)
    app = LgscopeApp(open_store(sample_store), thread_id="support-loop-gave-up", now=reference_now)
    async with app.run_test(size=(160, 12)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadScreen) and screen.lazy
        timeline = screen.query_one("#timeline", Timeline)
        app.store_lock.acquire()
        try:
            await pilot.press("end")  # the last page is not read yet: the row says so, the keys answer
            await pilot.pause()
            assert timeline.cursor_row == 12
            assert timeline.get_row_at(12) == ("12", "…", "", "", "", "reading")
            assert _text(screen.query_one("#details", Static)) == "reading step 12…"
            await pilot.press("up", "down")
            assert timeline.cursor_row == 12
        finally:
            app.store_lock.release()
        await settled(pilot)
        assert timeline.get_row_at(12)[1] == "agent"
        assert _text(screen.query_one("#details", Static)).startswith(("write", "checkpoint", "interrupt"))
        assert screen.current().checkpoint_id == screen._full[screen.current().checkpoint_id].checkpoint_id  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_large_store_shows_threads_first_then_finds_problems(
    sample_store: Path, reference_now: datetime, monkeypatch: pytest.MonkeyPatch, settled: Any
) -> None:
    from lgscope.tui import app as tui_app

    monkeypatch.setattr(tui_app, "INTERACTIVE_CHECKPOINTS", 5)
    app = LgscopeApp(open_store(sample_store), now=reference_now)
    async with app.run_test(size=(140, 36)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadsScreen)
        assert screen.query_one("#threads", DataTable).row_count == 24
        assert screen.findings  # the background scan's findings arrived
        assert _text(screen.query_one("#filters", Static)).endswith("(24 of 24 threads)")
        # between the two: the threads are listed and the status line says the scan goes on
        screen.set_threads(screen.threads, None)
        assert _text(screen.query_one("#filters", Static)).endswith("(24 of 24 threads)   finding problems…")
        screen.set_progress("finding problems: 10 of 24 threads…")
        assert _text(screen.query_one("#filters", Static)).endswith("finding problems: 10 of 24 threads…")


@pytest.mark.asyncio
async def test_threads_screen_moves_like_the_thread_screen(
    sample_store: Path, reference_now: datetime, settled: Any
) -> None:
    app = LgscopeApp(open_store(sample_store), now=reference_now)
    async with app.run_test(size=(140, 20)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadsScreen)
        table = screen.query_one("#threads", DataTable)
        await pilot.press("j", "j", "j", "k")
        assert table.cursor_row == 2
        await pilot.press("end")  # the cursor goes to the last row, not only the view
        assert table.cursor_row == 23
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("j", "enter")
        await settled(pilot)
        assert isinstance(app.screen, ThreadScreen) and app.screen.thread_id == "blog-published"


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.asyncio
async def test_a_thread_opens_at_a_checkpoint_named_by_a_short_id(
    sample_store: Path, reference_now: datetime, monkeypatch: pytest.MonkeyPatch, settled: Any, large: bool
) -> None:
    from lgscope.store.resolve import resolve_checkpoint
    from lgscope.tui import app as tui_app

    if large:
        monkeypatch.setattr(tui_app, "INTERACTIVE_CHECKPOINTS", 5)
    store = open_store(sample_store)
    sub = next(ns for ns in store.thread("research-fanout").namespaces if ns)
    wanted = store.history("research-fanout", sub)[2].checkpoint_id
    start = resolve_checkpoint(store, "research-fanout", wanted[-8:])  # what scan prints
    assert start == (wanted, sub)
    app = LgscopeApp(store, thread_id="research-fanout", start=start, now=reference_now)
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadScreen) and screen.lazy is large
        assert screen.ns == sub and screen.query_one("#timeline", Timeline).cursor_row == 2
        assert screen.current().checkpoint_id == wanted  # type: ignore[union-attr]


def test_tui_checks_a_short_checkpoint_id_before_the_ui(sample_store: Path) -> None:
    result = CliRunner().invoke(main, ["tui", str(sample_store), "--checkpoint", "abc"])
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: --checkpoint needs --thread: checkpoint ids are looked up within a thread.\n",
    )
    result = CliRunner().invoke(
        main, ["tui", str(sample_store), "--thread", "support-loop-gave-up", "--checkpoint", "1f0e"]
    )
    assert result.exit_code == 2 and result.stderr.startswith("Error: '1f0e' matches 13 checkpoints")


@pytest.mark.postgres
@pytest.mark.asyncio
async def test_the_tui_on_postgres_reads_in_workers(
    postgres_sample: str, reference_now: datetime, monkeypatch: pytest.MonkeyPatch, settled: Any
) -> None:
    from lgscope.tui import app as tui_app

    monkeypatch.setattr(tui_app, "INTERACTIVE_CHECKPOINTS", 5)  # large-thread mode: a read per step
    app = LgscopeApp(open_store(postgres_sample), now=reference_now)
    async with app.run_test(size=(140, 36)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadsScreen)
        assert screen.query_one("#threads", DataTable).row_count == 24 and screen.findings
        await pilot.press("slash", *"support-loop-gave-up", "enter", "enter")
        await settled(pilot)
        thread_screen = app.screen
        assert isinstance(thread_screen, ThreadScreen) and thread_screen.lazy
        await pilot.press("j", "j")
        await settled(pilot)
        step = thread_screen.current()
        assert step is not None and "messages" in thread_screen._full[step.checkpoint_id].values


@pytest.mark.asyncio
async def test_the_status_line_stays_on_screen_over_many_threads(
    sample_store: Path, reference_now: datetime, settled: Any
) -> None:
    import dataclasses

    app = LgscopeApp(open_store(sample_store), now=reference_now)
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ThreadsScreen)
        many = [
            dataclasses.replace(t, thread_id=f"{t.thread_id}-{i:04d}")
            for i in range(80)
            for t in screen.threads
        ]
        screen.set_threads(many, [])
        await pilot.press("end")
        await pilot.pause()
        filters = screen.query_one("#filters", Static)
        assert screen.query_one("#threads", DataTable).cursor_row == 1919
        assert filters.region.y == 1 and screen.scroll_offset.y == 0
        assert _text(filters).endswith("(1920 of 1920 threads)")
