"""``tui``: the terminal UI."""

from __future__ import annotations

import sys

import click

from lgscope._exceptions import MissingExtra
from lgscope.cli._common import STORE, handle_errors
from lgscope.store import open_store

__all__ = ["COMMANDS"]


@click.command("tui")
@STORE
@click.option("--thread", "thread_id", metavar="ID", help="Open this thread directly.")
@handle_errors
def tui_cmd(store: str, thread_id: str | None) -> None:
    """Browse STORE (or an export file) in the terminal: threads, then a thread's checkpoints.

    Keys: j/k step, n/N next/previous finding, m mark, d diff, / search, t namespace,
    e export, y copy id, q back.

    \b
    Example:
      lgscope tui checkpoints.sqlite --thread support-7
    """
    try:
        from lgscope.tui.app import LgscopeApp
    except ImportError as exc:
        raise MissingExtra("The TUI", "tui") from exc
    st = open_store(store)
    if thread_id is not None:
        st.thread(thread_id)  # an unknown thread is an error before the UI starts
    app = LgscopeApp(st, thread_id=thread_id)
    try:
        app.run()
    finally:
        st.close()
    if app.return_code:  # the app failed (Textual has printed why): say so in the exit code
        sys.exit(app.return_code)


COMMANDS: list[click.Command] = [tui_cmd]
