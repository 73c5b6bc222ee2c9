"""``tui``: the terminal UI."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from lgscope._exceptions import MissingExtra, UsageError
from lgscope.cli._common import DURATION, STORE, handle_errors
from lgscope.store import open_store
from lgscope.store.resolve import resolve_checkpoint

__all__ = ["COMMANDS"]


@click.command("tui")
@STORE
@click.option("--thread", "thread_id", metavar="ID", help="Open this thread directly.")
@click.option(
    "--checkpoint",
    "checkpoint",
    metavar="ID",
    help="With --thread: start at this checkpoint (its whole id, or any unique part a view printed).",
)
@click.option("--live", is_flag=True, help="Follow new checkpoints of the thread shown (key L toggles it).")
@click.option(
    "--interval", type=DURATION, default="1s", show_default=True, help="How often live mode polls the store."
)
@handle_errors
def tui_cmd(
    store: str, thread_id: str | None, checkpoint: str | None, live: bool, interval: timedelta
) -> None:
    """Browse STORE (or an export file) in the terminal: threads, then a thread's checkpoints.

    Keys: j/k move, Enter open (a thread) or show the whole value, n/N next/previous finding,
    m mark, d diff vs parent/marked, / search, t namespace, c finding kind, e export, y copy id,
    L live (follow new checkpoints), q back.

    \b
    Examples:
      lgscope tui checkpoints.sqlite --thread support-7
      lgscope tui checkpoints.sqlite --thread support-7 --checkpoint 5c1d2e3f
      lgscope tui postgresql://app@db/prod --thread support-7 --live
    """
    try:
        from lgscope.tui.app import LgscopeApp
    except ImportError as exc:
        raise MissingExtra("The TUI", "tui") from exc
    if checkpoint is not None and thread_id is None:
        raise UsageError("--checkpoint needs --thread: checkpoint ids are looked up within a thread.")
    st = open_store(store)
    start = None
    try:
        if thread_id is not None:
            st.thread(thread_id)  # an unknown thread is an error before the UI starts
        if thread_id is not None and checkpoint is not None:
            start = resolve_checkpoint(st, thread_id, checkpoint)
    except BaseException:
        st.close()
        raise
    if interval.total_seconds() < 0.05:
        st.close()
        raise UsageError("--interval must be at least 50ms.")
    app = LgscopeApp(st, thread_id=thread_id, start=start, live=live, live_interval=interval.total_seconds())
    try:
        app.run()
    finally:
        st.close()
    if app.return_code:  # the app failed (Textual has printed why): say so in the exit code
        sys.exit(app.return_code)


COMMANDS: list[click.Command] = [tui_cmd]
