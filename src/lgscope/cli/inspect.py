"""``threads``, ``show``: looking at what a store holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from rich.table import Table

from lgscope.cli._common import DURATION, STORE, console, echo_json, echo_json_stream, handle_errors, progress
from lgscope.forensics.diff import diff_steps, format_change, summarize
from lgscope.model import Step, Thread, ThreadStatus
from lgscope.sanitize import safe_json, safe_text
from lgscope.store import open_store, rebuilt_channels
from lgscope.store.resolve import resolve_checkpoint
from lgscope.units import format_age

__all__ = ["COMMANDS"]


def threads_table(threads: list[Thread], now: datetime) -> Table:
    table = Table(title=None, show_lines=False)
    table.add_column("thread", no_wrap=True)
    for col in ("status", "checkpoints", "updated", "next", "pending interrupt"):
        table.add_column(col, overflow="fold")
    for t in threads:
        pending = ""
        if t.pending_interrupts:
            oldest = min(t.pending_interrupts, key=lambda i: i.created_at)
            pending = f"{safe_text(oldest.node or '?')} for {format_age(oldest.age(now).total_seconds())}"
            if len(t.pending_interrupts) > 1:
                pending += f" (+{len(t.pending_interrupts) - 1})"
        table.add_row(
            safe_text(t.thread_id),
            t.status,
            str(t.checkpoints),
            t.updated_at.strftime("%Y-%m-%d %H:%M:%S") if t.updated_at else "",
            safe_text(",".join(t.next)),
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
    type=click.Choice([s.value for s in ThreadStatus]),
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
    cutoff = now - since if since is not None else None
    found = []
    with open_store(store) as st, progress("reading threads") as tick:
        total = len(st.index(since=cutoff))
        for done, t in enumerate(st.threads(since=cutoff), 1):
            if not statuses or t.status in statuses:
                found.append(t)
            tick(done, total)
    if fmt == "json":
        echo_json([t.to_dict(now) for t in found])
        return
    out = console()
    if not found:
        out.print("No threads.")
        return
    out.print(threads_table(found, now))


def step_to_dict(step: Step, *, full: bool) -> dict[str, Any]:
    """The JSON form of a step (``lgscope show --format json``): `Step.to_dict`."""
    return step.to_dict(full=full)


def _markers(step: Step) -> str:
    marks = []
    if step.pending_interrupts:
        marks.append("⏸ interrupt (pending)")
    elif step.interrupts:
        marks.append("⏸ interrupt")
    if step.resumes:
        marks.append("▶ resumed")
    if step.errors:
        marks.append("✖ " + safe_text(", ".join(f"{e.node}: {e.error_type}" for e in step.errors)))
    if step.corrupt:
        marks.append("⚠ corrupt")
    return "; ".join(marks)


def _timeline(steps: Sequence[Step]) -> Table:
    table = Table()
    table.add_column("step", justify="right")
    for col in ("source", "node(s)", "time", "changed", "next"):
        table.add_column(col, overflow="fold")
    table.add_column("marks", overflow="fold")
    table.add_column("checkpoint", no_wrap=True)
    for st in steps:
        table.add_row(
            str(st.step),
            safe_text(st.source),
            safe_text(", ".join(st.nodes)),
            st.ts.strftime("%Y-%m-%d %H:%M:%S"),
            safe_text(", ".join(st.changed)),
            safe_text(", ".join(st.next)),
            _markers(st),
            safe_text(st.checkpoint_id),
        )
    return table


@click.command("show")
@STORE
@click.option("--thread", "thread_id", required=True, metavar="ID", help="The thread to show.")
@click.option("--checkpoint", "checkpoint_id", metavar="ID", help="Show this checkpoint in full.")
@click.option("--ns", default="", show_default=True, metavar="NS", help="Namespace ('' is the root graph).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def show_cmd(store: str, thread_id: str, checkpoint_id: str | None, ns: str, fmt: str) -> None:
    """Show a thread's timeline of checkpoints, or one checkpoint in full.

    \b
    Examples:
      lgscope show checkpoints.sqlite --thread support-7
      lgscope show checkpoints.sqlite --thread support-7 --checkpoint 1f0e…

    --checkpoint takes the whole id or any unique part a view printed: its first or last
    characters (5c1d2e3f), or head…tail.
    """
    with open_store(store) as st:
        if checkpoint_id:
            whole, where = resolve_checkpoint(st, thread_id, checkpoint_id, ns or None)
            step = st.step(thread_id, whole, where)
            if fmt == "json":
                echo_json(step_to_dict(step, full=True))
                return
            _print_step(step)
            return
        thread = st.thread(thread_id)
        # streamed: no state is decoded, and a step is let go once it is printed
        steps = st.steps(thread_id, ns, control_only=True)
        if fmt == "json":
            echo_json_stream(
                {"thread": thread.to_dict()}, "steps", (step_to_dict(s, full=False) for s in steps)
            )
            return
        out = console()
        others = [n for n in thread.namespaces if n != ns]
        out.print(
            f"thread {safe_text(thread.thread_id)}: {thread.status}, {thread.checkpoints} checkpoints"
            + (f"; next: {safe_text(', '.join(thread.next))}" if thread.next else "")
            + (f"; namespace {safe_text(repr(ns))}" if ns else "")
        )
        if others:
            out.print("other namespaces: " + safe_text(", ".join(repr(n) for n in others)))
        out.print(_timeline(steps))


_SHOWN_CHARS = 2000
"""A string value longer than this is cut in ``show --checkpoint``'s table view (JSON has it whole)."""


def _clipped(value: Any) -> Any:
    """``value`` with every string past `_SHOWN_CHARS` cut, saying how long it was: a 200 MB value
    does not flood the terminal (``--format json`` prints it whole)."""
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return f"{value[:_SHOWN_CHARS]}… ({len(value):,} characters; --format json shows all)"
    if isinstance(value, dict):
        return {k: _clipped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clipped(v) for v in value]
    return value


def _print_step(step: Step) -> None:
    out = console()
    out.print(
        safe_text(
            f"checkpoint {step.checkpoint_id} (step {step.step}, {step.source}) of thread {step.thread_id}"
        )
    )
    out.print(
        safe_text(
            f"parent: {step.parent_id or '-'}   namespace: {step.checkpoint_ns or '(root)'}   "
            f"time: {step.ts.isoformat()}"
        )
    )
    out.print(
        safe_text(
            f"produced by: {', '.join(step.nodes)}   next: {', '.join(step.next) or '-'}   size: {step.size} bytes"
        )
    )
    if step.corrupt:
        out.print(f"corrupt: {safe_text(step.corrupt)}")
    out.print("values:")
    click.echo(safe_json(_clipped(dict(step.values))))
    for channel, how in rebuilt_channels(step).items():
        out.print(f"{safe_text(channel)}: {how}")
    for label, items in (
        (
            "pending writes",
            [f"{w.node or w.task_id[:8]} → {w.channel}: {summarize(w.value)}" for w in step.writes],
        ),
        (
            "interrupts",
            [
                f"{i.id} at {i.node}: {summarize(i.value)}"
                + (" (pending)" if i in step.pending_interrupts else "")
                for i in step.interrupts
            ],
        ),
        ("errors", [f"{e.node}: {e.error_type}: {e.message}" for e in step.errors]),
    ):
        if items:
            out.print(f"{label}:")
            for item in items:
                out.print(f"  {safe_text(item)}")


@click.command("diff")
@STORE
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option(
    "--thread", "thread_id", required=True, metavar="ID", help="The thread both checkpoints belong to."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def diff_cmd(store: str, a: str, b: str, thread_id: str, fmt: str) -> None:
    """Show how checkpoint B's state differs from checkpoint A's (nested, list- and
    message-aware: messages are matched by id).

    \b
    Example:
      lgscope diff checkpoints.sqlite --thread support-7 1f0e…a1 1f0e…b2

    A and B are whole checkpoint ids or any unique part a view printed (first or last characters).
    """
    with open_store(store) as st:
        first, second = (st.step(thread_id, *resolve_checkpoint(st, thread_id, c)) for c in (a, b))
    changes = diff_steps(first, second)
    if fmt == "json":
        echo_json([c.to_dict() for c in changes])
        return
    if not changes:
        click.echo("No differences.")
    for change in changes:
        click.echo(safe_text(format_change(change)))


COMMANDS: list[click.Command] = [threads_cmd, show_cmd, diff_cmd]
