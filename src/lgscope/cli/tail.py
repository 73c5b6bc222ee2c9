"""``tail``: follow new checkpoints and findings of a store as they land, like ``tail -f``."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType

import click

from lgscope._exceptions import UsageError
from lgscope.cli._common import DURATION, STORE, handle_errors, shown_store
from lgscope.forensics._follow import TailEvent, follow
from lgscope.model import Finding, Step
from lgscope.sanitize import safe_json, safe_text
from lgscope.store import open_store
from lgscope.units import format_duration

__all__ = ["COMMANDS", "event_line"]


def _where(thread_id: str, ns: str) -> str:
    return thread_id + (f" [{ns.split(':')[0]}]" if ns else "")


def _step_line(s: Step) -> str:
    nodes = ",".join(s.nodes) or "-"
    parts = [
        s.ts.strftime("%H:%M:%S.%f")[:-3],
        _where(s.thread_id, s.checkpoint_ns),
        f"step {s.step}",
        s.source,
        nodes,
    ]
    if s.changed:
        parts.append("changed " + ",".join(s.changed))
    if s.next:
        parts.append("next " + ",".join(s.next))
    if s.pending_interrupts:
        parts.append(f"INTERRUPT x{len(s.pending_interrupts)}")
    if s.errors:
        parts.append("ERROR " + "; ".join(f"{e.error_type}: {e.message}" for e in s.errors))
    if s.corrupt:
        parts.append("corrupt")
    parts.append(s.checkpoint_id)
    return "  ".join(safe_text(p) for p in parts)


def _finding_line(f: Finding) -> str:
    seen = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]  # UTC, as the steps' times
    return "  ".join(
        safe_text(p)
        for p in (seen, _where(f.thread_id, f.checkpoint_ns), "FINDING", f.severity, f.kind, f.summary)
    )


def event_line(event: TailEvent, fmt: str) -> str:
    """One event as ``tail`` prints it: a table line or a JSON line, sanitised."""
    if fmt == "jsonl":
        return safe_json(event.to_dict(), indent=None)
    return _step_line(event.step) if event.step is not None else _finding_line(event.finding)  # type: ignore[arg-type]


@click.command("tail")
@STORE
@click.option("--thread", "thread_id", metavar="ID", help="Follow only this thread.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True)
@click.option(
    "--interval", type=DURATION, default="1s", show_default=True, help="How often to poll the store."
)
@handle_errors
def tail_cmd(store: str, thread_id: str | None, fmt: str, interval: timedelta) -> None:
    """Follow STORE (read-only) as checkpoints land: print each new step and each new finding,
    like tail -f. Polling reads only the store's indexes. Ctrl-C stops.

    \b
    Examples:
      lgscope tail checkpoints.sqlite
      lgscope tail postgresql://app@db/prod --thread 4f1c --format jsonl --interval 500ms
    """
    if interval.total_seconds() < 0.05:
        raise UsageError("--interval must be at least 50ms.")
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        with open_store(store) as st:
            events = follow(st, thread_id=thread_id, interval=interval.total_seconds(), stop=stop)
            what = f"thread {safe_text(thread_id)} of " if thread_id else ""
            click.echo(
                f"Following {what}{shown_store(store)} (every {format_duration(interval)}); Ctrl-C stops.",
                err=True,
            )
            for event in events:
                click.echo(event_line(event, fmt))
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how tail ends
    finally:
        signal.signal(signal.SIGTERM, previous)


COMMANDS: list[click.Command] = [tail_cmd]
