"""``tui``: the terminal UI."""

from __future__ import annotations

import sys

import click

from lgscope._exceptions import MissingExtra, UsageError
from lgscope.cli._common import STORE, handle_errors
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
@handle_errors
def tui_cmd(store: str, thread_id: str | None, checkpoint: str | None) -> None:
    """Browse STORE (or an export file) in the terminal: threads, then a thread's checkpoints.

    Keys: j/k move, Enter open (a thread) or show the whole value, n/N next/previous finding,
    m mark, d diff vs parent/marked, / search, t namespace, c finding kind, e export, y copy id,
    q back.

    \b
    Examples:
      lgscope tui checkpoints.sqlite --thread support-7
      lgscope tui checkpoints.sqlite --thread support-7 --checkpoint 5c1d2e3f
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
    app = LgscopeApp(st, thread_id=thread_id, start=start)
    try:
        app.run()
    finally:
        st.close()
    if app.return_code:  # the app failed (Textual has printed why): say so in the exit code
        sys.exit(app.return_code)


COMMANDS: list[click.Command] = [tui_cmd]
