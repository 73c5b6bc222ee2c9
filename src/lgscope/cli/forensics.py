"""``scan``: run the forensics detectors over a store; ``--fail-on`` for CI gates."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from lgscope._exceptions import UsageError
from lgscope.cli._common import DURATION, STORE, console, echo_json, handle_errors, output_file, shown_store
from lgscope.cli._common import progress as progress_bar
from lgscope.forensics import ALL_KINDS, DetectorConfig, ScanResult, dask_executor, scan
from lgscope.sanitize import safe_json, safe_text
from lgscope.store import open_store

__all__ = ["COMMANDS", "findings_table", "parse_kinds", "parse_now", "run_scan"]

_THRESHOLDS = {f.name: f for f in dataclasses.fields(DetectorConfig) if f.name != "detectors"}


def parse_kinds(text: str | None, option: str) -> frozenset[str]:
    """``loop,oscillation`` → the kinds, checked against the detectors lgscope has."""
    if not text:
        return frozenset()
    kinds = frozenset(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(kinds - ALL_KINDS)
    if unknown:
        raise UsageError(
            f"{option} names unknown finding kind {', '.join(map(repr, unknown))}; "
            f"the kinds are {', '.join(sorted(ALL_KINDS))}."
        )
    return kinds


def parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--now {text!r} is not an ISO 8601 time; write it like 2026-01-15T12:00:00Z."
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _config(detectors: str | None, older_than: timedelta | None, settings: tuple[str, ...]) -> DetectorConfig:
    overrides: dict[str, Any] = {}
    if detectors:
        overrides["detectors"] = parse_kinds(detectors, "--detectors")
    if older_than is not None:
        overrides["stuck_after"] = older_than
    for item in settings:
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in _THRESHOLDS:
            raise UsageError(
                f"--set {item!r} is not NAME=VALUE with a known threshold; the thresholds are "
                f"{', '.join(sorted(_THRESHOLDS))}."
            )
        default = getattr(DetectorConfig(), name)
        try:
            if isinstance(default, timedelta):
                from lgscope.cli._common import parse_duration

                overrides[name] = parse_duration(raw)
            elif isinstance(default, tuple):
                overrides[name] = tuple(int(v) for v in raw.split(","))
            else:
                overrides[name] = type(default)(raw)
        except ValueError:
            kind = {int: "a whole number", float: "a number"}.get(type(default), type(default).__name__)
            raise UsageError(f"--set {name}={raw!r}: expected {kind}, e.g. {name}={default!r}.") from None
    return DetectorConfig(**overrides)


def findings_table(result: ScanResult) -> Table:
    table = Table()
    table.add_column("severity", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("thread", no_wrap=True)
    table.add_column("summary", overflow="fold")
    table.add_column("checkpoints", no_wrap=True)
    for f in result.findings:
        ns = f" [{f.checkpoint_ns.split(':')[0]}]" if f.checkpoint_ns else ""
        span = f.first_checkpoint_id[-8:] + (
            f"…{f.last_checkpoint_id[-8:]}" if f.last_checkpoint_id != f.first_checkpoint_id else ""
        )
        table.add_row(f.severity, f.kind, safe_text(f.thread_id + ns), safe_text(f.summary), safe_text(span))
    return table


def summary_line(result: ScanResult) -> str:
    s = result.stats
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(result.by_kind().items())) or "no findings"
    by = f" by {s.jobs} processes" if s.jobs > 1 else ""
    line = f"{s.threads} threads, {s.checkpoints} checkpoints scanned in {s.seconds:.2f}s{by}: {kinds}"
    if s.corrupt_checkpoints:
        line += f"; {s.corrupt_checkpoints} corrupt checkpoints skipped"
    if s.errors:
        line += f"; {len(s.errors)} threads could not be read"
    if s.reread:
        line += f"; {s.reread} runs a worker process did not return were read again here"
    if s.reused:
        line += f"; {s.reused} threads unchanged since the last scan were not read again"
    return line


JOBS = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes that read the store; 0: one per CPU core for stores of 2,000 threads or more.",
)


STATE = click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Remember what the scan found in FILE; the next scan with it reads only the threads that changed.",
)
EXECUTOR = click.option(
    "--executor",
    metavar="ADDRESS",
    help="Run the scan's parallel part on the Dask scheduler at ADDRESS (tcp://host:8786) "
    "instead of local processes.",
)


@contextlib.contextmanager
def executor_for(address: str | None) -> Iterator[tuple[Executor | None, int]]:
    """The executor ``--executor`` names (None: local processes) and how many tasks it runs at once."""
    if not address:
        yield None, 0
        return
    if not address.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise UsageError(
            f"--executor {address!r} is not a Dask scheduler address; write it like tcp://host:8786."
        )
    executor, slots = dask_executor(address)
    try:
        yield executor, slots
    finally:
        executor.shutdown()


def run_scan(
    store: str,
    *,
    since: timedelta | None = None,
    thread_ids: tuple[str, ...] = (),
    config: DetectorConfig | None = None,
    now: datetime | None = None,
    progress: bool = False,
    jobs: int = 0,
    state: Path | None = None,
    executor: str | None = None,
) -> ScanResult:
    now = now or datetime.now(UTC)
    if state is not None and (since is not None or thread_ids):
        raise UsageError("--state remembers the whole store: give it without --since or --thread.")
    with (
        open_store(store) as st,
        executor_for(executor) as (pool, slots),
        progress_bar("scanning threads") as tick,
    ):
        return scan(
            st,
            since=now - since if since is not None else None,
            thread_ids=thread_ids or None,
            config=config,
            now=now,
            progress=tick if progress else None,
            jobs=slots if pool is not None and jobs == 0 else jobs,
            executor=pool,
            state=state,
        )


@click.command("scan")
@STORE
@click.option("--since", type=DURATION, help="Only threads updated within this long (30s, 5m, 2h, 3d).")
@click.option("--thread", "thread_ids", multiple=True, metavar="ID", help="Only this thread (repeatable).")
@click.option("--detectors", metavar="KIND,…", help=f"Only these detectors: {', '.join(sorted(ALL_KINDS))}.")
@click.option(
    "--older-than",
    type=DURATION,
    help="A pending interrupt, or a run left with tasks pending and nothing stored (a static "
    "interrupt_before/after pause, a crash), is stuck after this long [default: 24h].",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="A detector threshold, e.g. loop_min_repeats=5 (repeatable).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "jsonl"]), default="table", show_default=True
)
@click.option("--fail-on", metavar="KIND,…", help="Exit 1 when a finding of one of these kinds is found.")
@click.option("--now", "now_text", metavar="TIME", help="Judge ages as of this ISO time [default: now].")
@JOBS
@STATE
@EXECUTOR
@handle_errors
def scan_cmd(
    store: str,
    since: timedelta | None,
    thread_ids: tuple[str, ...],
    detectors: str | None,
    older_than: timedelta | None,
    settings: tuple[str, ...],
    fmt: str,
    fail_on: str | None,
    now_text: str | None,
    jobs: int,
    state: Path | None,
    executor: str | None,
) -> None:
    """Scan every thread of STORE (all namespaces, read-only) for loops, oscillation, stalls,
    stuck interrupts and runs, broken approvals, errors and runaway growth.

    Exit code: 0 clean, 1 a --fail-on kind was found, 2 an error.

    \b
    Examples:
      lgscope scan checkpoints.sqlite
      lgscope scan postgresql://app@db/prod --since 2h --format json
      lgscope scan evals.sqlite --fail-on loop,oscillation,stuck_interrupt
      lgscope scan postgresql://app@db/prod --state prod.scan-state
      lgscope scan postgresql://app@replica/prod --executor tcp://scheduler:8786
    """
    gate = parse_kinds(fail_on, "--fail-on")
    config = _config(detectors, older_than, settings)
    idle = sorted(gate - config.detectors)
    if idle:
        raise UsageError(
            f"--fail-on {', '.join(idle)} can never fail: --detectors {detectors} does not run "
            f"{'that detector' if len(idle) == 1 else 'those detectors'}; add {', '.join(idle)} to "
            "--detectors or leave it out of --fail-on."
        )
    result = run_scan(
        store,
        since=since,
        thread_ids=thread_ids,
        config=config,
        now=parse_now(now_text),
        progress=fmt == "table" and sys.stderr.isatty(),
        jobs=jobs,
        state=state,
        executor=executor,
    )
    if result.stats.rebuilt:
        click.echo(
            f"Note: {safe_text(result.stats.rebuilt)}; scanned the whole store and rewrote it.", err=True
        )
    _print(result, fmt, store)
    hits = sorted({f.kind for f in result.findings} & gate)
    if hits:
        click.echo(f"Failing: found {', '.join(hits)} (--fail-on {fail_on}).", err=True)
        sys.exit(1)


def _print(result: ScanResult, fmt: str, store: str) -> None:
    if fmt == "jsonl":
        for f in result.findings:
            click.echo(safe_json(f.to_dict(), indent=None))
        return
    if fmt == "json":
        s = result.stats
        echo_json(
            {
                "store": shown_store(store),
                "now": result.now.isoformat(),
                "stats": {
                    "threads": s.threads,
                    "checkpoints": s.checkpoints,
                    "corrupt_checkpoints": s.corrupt_checkpoints,
                    "unreadable_threads": s.errors,
                    "seconds": round(s.seconds, 3),
                    "jobs": s.jobs,
                    "reused_threads": s.reused,
                },
                "findings": [f.to_dict() for f in result.findings],
            }
        )
        return
    out = console()
    if result.findings:
        out.print(findings_table(result))
    out.print(summary_line(result))


COMMANDS: list[click.Command] = [scan_cmd]


@click.command("report")
@STORE
@click.option("--since", type=DURATION, help="Only threads updated within this long (30s, 5m, 2h, 3d).")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file [default: stdout].",
)
@click.option("--worst", default=5, show_default=True, help="How many of the worst threads to detail.")
@click.option("--now", "now_text", metavar="TIME", help="Judge ages as of this ISO time [default: now].")
@JOBS
@handle_errors
def report_cmd(
    store: str,
    since: timedelta | None,
    fmt: str,
    output: Path | None,
    worst: int,
    now_text: str | None,
    jobs: int,
) -> None:
    """Write the incident report for STORE: overview, threads by status, findings by kind with a
    likely cause for each, and the worst threads with their node sequence and state changes.

    HTML is one self-contained file with charts (no network).

    \b
    Examples:
      lgscope report checkpoints.sqlite --since 24h --format html -o incident.html
      lgscope report postgresql://app@db/prod --format json
    """
    from lgscope.forensics.report import build_report, render_html, render_json, render_markdown

    now = parse_now(now_text)
    if output is not None:
        output_file(output)
    with open_store(store) as st:
        with progress_bar("scanning threads") as tick:
            result = scan(
                st, since=now - since if since is not None else None, now=now, jobs=jobs, progress=tick
            )
        report = build_report(st, result, worst=worst)
    text = {"md": render_markdown, "html": render_html, "json": render_json}[fmt](report)
    if output is None:
        click.echo(text, nl=False)
        return
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    click.echo(f"Wrote the {fmt} report to {safe_text(output)}", err=True)


COMMANDS.append(report_cmd)
