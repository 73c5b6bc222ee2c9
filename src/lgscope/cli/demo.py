"""``demo``: build the sample store from the example graphs and show what lgscope sees in it."""

from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import click

from lgscope._exceptions import UsageError
from lgscope.cli._common import console, handle_errors
from lgscope.cli.forensics import findings_table, run_scan, summary_line
from lgscope.cli.inspect import threads_table
from lgscope.model import ThreadStatus

__all__ = ["COMMANDS"]


def user_cache_dir() -> Path:
    """This user's cache directory for lgscope: ``$XDG_CACHE_HOME/lgscope`` (``~/.cache/lgscope``)
    on Linux, ``~/Library/Caches/lgscope`` on macOS, ``%LOCALAPPDATA%\\lgscope\\Cache`` on Windows."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "lgscope" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "lgscope"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "lgscope"


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build the store [default: your cache directory, e.g. ~/.cache/lgscope/demo].",
)
@handle_errors
def demo_cmd(directory: Path | None) -> None:
    """Build a sample SQLite store from the example graphs, then show its threads and findings.

    The graphs model real deployments (blog review, approvals, a looping support agent …) with a
    fake chat model; the store is rebuilt on every run, in your own cache directory (printed),
    so other users and other runs do not rebuild it under you.

    \b
    Example:
      lgscope demo --dir ./demo
    """
    from lgscope.examples import build_sample

    directory = directory or user_cache_dir() / "demo"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"Cannot make {directory} ({exc.strerror}); pick another place with --dir."
        ) from None
    path = directory / "sample.sqlite"
    # built under a name of its own, then moved into place in one step: a concurrent run
    # never sees (nor removes) a half-built store
    fd, name = tempfile.mkstemp(prefix="sample.", suffix=".building", dir=directory)
    os.close(fd)
    staged = Path(name)
    staged.unlink()
    now = datetime.now(UTC)
    try:
        build_sample(staged, reference_now=now, separate_processes=False)
        os.replace(staged, path)
    finally:
        for leftover in (staged, Path(f"{staged}-wal"), Path(f"{staged}-shm"), Path(f"{staged}-journal")):
            leftover.unlink(missing_ok=True)

    result = run_scan(str(path), now=now)
    out = console()
    statuses = Counter(t.status for t in result.threads)
    out.print(f"Built a sample store from the example graphs: {path}")
    out.print(
        f"{len(result.threads)} threads, {result.stats.checkpoints} checkpoints: "
        + ", ".join(f"{statuses[s]} {s}" for s in ThreadStatus if statuses[s])
    )
    out.print()
    out.print(threads_table(sorted(result.threads, key=lambda t: t.thread_id), now))
    out.print()
    out.print("What lgscope scan finds:")
    out.print(findings_table(result))
    out.print(summary_line(result))
    out.print()
    out.print("Try next:")
    for line in (
        f"lgscope threads {path} --status interrupted",
        f"lgscope show {path} --thread support-loop-recursion",
        f"lgscope report {path} --format html -o incident.html",
        f"lgscope tui {path} --thread support-loop-gave-up",
        f"lgscope scan {path} --fail-on loop",
    ):
        out.print(f"  {line}")


COMMANDS: list[click.Command] = [demo_cmd]
