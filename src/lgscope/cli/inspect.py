"""``threads``, ``show``: looking at what a store holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from rich.table import Table

from lgscope.cli._common import DURATION, STORE, console, echo_json, handle_errors
from lgscope.model import Thread
from lgscope.store import open_store

__all__ = ["COMMANDS"]


def _age(delta: timedelta) -> str:
    s = int(delta.total_seconds())
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def threads_table(threads: list[Thread], now: datetime) -> Table:
    table = Table(title=None, show_lines=False)
    table.add_column("thread", no_wrap=True)
    for col in ("status", "checkpoints", "updated", "next", "pending interrupt"):
        table.add_column(col, overflow="fold")
    for t in threads:
        pending = ""
        if t.pending_interrupts:
            oldest = min(t.pending_interrupts, key=lambda i: i.created_at)
            pending = f"{oldest.node or '?'} for {_age(oldest.age(now))}"
            if len(t.pending_interrupts) > 1:
                pending += f" (+{len(t.pending_interrupts) - 1})"
        table.add_row(
            t.thread_id,
            t.status,
            str(t.checkpoints),
            t.updated_at.strftime("%Y-%m-%d %H:%M:%S") if t.updated_at else "",
            ",".join(t.next),
            pending,
        )
    return table


@click.command("threads")
@STORE
@click.option("--since", type=DURATION, help="Only threads updated within this long (30s, 5m, 2h, 3d).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["done", "interrupted", "running", "error"]),
    help="Only threads with this status (repeatable).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def threads_cmd(store: str, since: timedelta | None, statuses: tuple[str, ...], fmt: str) -> None:
    """List the threads of STORE with their status.

    \b
    Example:
      lgscope threads checkpoints.sqlite --status interrupted --format json
    """
    now = datetime.now(UTC)
    with open_store(store) as st:
        found = [
            t
            for t in st.threads(since=now - since if since is not None else None)
            if not statuses or t.status in statuses
        ]
    if fmt == "json":
        echo_json([t.to_dict(now) for t in found])
        return
    out = console()
    if not found:
        out.print("No threads.")
        return
    out.print(threads_table(found, now))


COMMANDS: list[click.Command] = [threads_cmd]
