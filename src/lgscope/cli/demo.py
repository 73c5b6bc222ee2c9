"""``demo``: build the sample store from the example graphs and show what lgscope sees in it."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import click

from lgscope.cli._common import console, handle_errors
from lgscope.cli.forensics import findings_table, run_scan, summary_line
from lgscope.cli.inspect import threads_table

__all__ = ["COMMANDS"]


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build the store [default: <tmp>/lgscope-demo].",
)
@handle_errors
def demo_cmd(directory: Path | None) -> None:
    """Build a sample SQLite store from the example graphs, then show its threads and findings.

    The graphs model real deployments (blog review, approvals, a looping support agent …) with a
    fake chat model; the store is rebuilt on every run.

    \b
    Example:
      lgscope demo --dir ./demo
    """
    from lgscope.examples import build_sample

    directory = directory or Path(tempfile.gettempdir()) / "lgscope-demo"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "sample.sqlite"
    staged = directory / "sample.sqlite.building"
    staged.unlink(missing_ok=True)
    now = datetime.now(UTC)
    build_sample(staged, reference_now=now, separate_processes=False)
    shutil.move(staged, path)

    result = run_scan(str(path), now=now)
    out = console()
    statuses = Counter(t.status for t in result.threads)
    out.print(f"Built a sample store from the example graphs: {path}")
    out.print(
        f"{len(result.threads)} threads, {result.stats.checkpoints} checkpoints: "
        + ", ".join(f"{statuses[s]} {s}" for s in ("done", "interrupted", "running", "error") if statuses[s])
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
