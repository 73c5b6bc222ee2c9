"""``size`` and ``prune``: what fills a store, and a retention policy that keeps what matters."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from lgscope._exceptions import UsageError
from lgscope.cli._common import DURATION, STORE, console, echo_json, handle_errors
from lgscope.housekeeping import Policy, PruneResult, SizeEntry, SizeReport, Space, prune, size
from lgscope.sanitize import safe_text

__all__ = ["COMMANDS", "human_bytes"]

_BY = {
    "channel": ("by_channel", "channel"),
    "thread": ("by_thread", "thread"),
    "node": ("by_node", "node"),
    "namespace": ("by_namespace", "namespace"),
    "day": ("by_day", "day"),
}


def human_bytes(n: int) -> str:
    """``1536`` → ``1.5 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def _entries_table(title: str, entries: Sequence[SizeEntry], total: int, top: int, counts: bool) -> Table:
    table = Table(title=None)
    table.add_column(title, no_wrap=True)
    table.add_column("bytes", justify="right")
    table.add_column("share", justify="right")
    if counts:
        table.add_column("checkpoints", justify="right")
    for e in entries[:top]:
        row = [safe_text(e.name), human_bytes(e.bytes), _share(e.bytes, total)]
        if counts:
            row.append(str(e.checkpoints))
        table.add_row(*row)
    return table


def _print_size(report: SizeReport, by: Sequence[str], top: int) -> None:
    out = console()
    total = report.total_bytes
    click.echo(
        f"{safe_text(report.store)} ({report.kind}): {human_bytes(total)} ({total} bytes) in {report.checkpoints} "
        f"checkpoints and {report.writes} writes of {report.threads} threads"
    )
    click.echo(
        f"latest state {human_bytes(report.latest_bytes)} ({_share(report.latest_bytes, total)}), "
        f"history {human_bytes(report.history_bytes)} ({_share(report.history_bytes, total)})"
    )
    for name in by:
        field, title = _BY[name]
        out.print(_entries_table(title, getattr(report, field), total, top, counts=name != "channel"))
    table = Table(title=None)
    table.add_column("prune policy", no_wrap=True)
    table.add_column("would free (at most)", justify="right")
    table.add_column("share", justify="right")
    table.add_column("checkpoints", justify="right")
    for w in report.would_free:
        table.add_row(w.policy, human_bytes(w.bytes), _share(w.bytes, total), str(w.checkpoints))
    out.print(table)


@click.command("size")
@STORE
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(list(_BY)),
    help="Which breakdown to show (repeatable) [default: channel, thread, node].",
)
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1), help="Rows per breakdown.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def size_cmd(store: str, by: tuple[str, ...], top: int, fmt: str) -> None:
    """What fills STORE: stored bytes by channel, thread, producing node, namespace and day,
    latest state against history, and what each prune policy would free. Reads only byte lengths
    (nothing is decoded); the store is opened read-only.

    \b
    Example:
      lgscope size checkpoints.sqlite --by channel --by day --top 5
      lgscope size postgresql://app@db/prod --format json
    """
    report = size(store, top=top)
    if fmt == "json":
        echo_json(report.to_json())
        return
    _print_size(report, by or ("channel", "thread", "node"), top)


def _kept_text(kept: Sequence[Any]) -> str:
    reasons: dict[str, int] = {}
    for k in kept:
        reasons[k.reason] = reasons.get(k.reason, 0) + 1
    return ", ".join(f"{why} ({n})" if n > 1 else why for why, n in sorted(reasons.items()))


def _space_lines(space: Space) -> list[str]:
    lines = []
    if space.kind == "sqlite":
        if space.vacuumed:
            lines.append(
                f"VACUUM: the file went from {human_bytes(space.file_bytes or 0)} to "
                f"{human_bytes(space.file_bytes_after_vacuum or 0)}."
            )
        else:
            lines.append(
                f"The file is {human_bytes(space.file_bytes or 0)}, of which {human_bytes(space.free_bytes or 0)} "
                "is free pages."
            )
    elif space.dead_tuples:
        dead = ", ".join(f"{t} {n}" for t, n in sorted(space.dead_tuples.items()))
        lines.append(f"Dead tuples (pg_stat_user_tables, updated with a lag): {dead}.")
    if space.advice:
        lines.append(space.advice)
    return lines


def _print_prune(result: PruneResult) -> None:
    out = console()
    if result.applied:
        click.echo(f"Pruned {safe_text(result.store)} ({result.policy}):")
    else:
        click.echo(f"Dry run, nothing deleted (add --apply): {result.policy} on {safe_text(result.store)}")
    table = Table(title=None)
    for col in ("thread", "checkpoints", "delete", "writes", "blobs", "frees", "kept because"):
        table.add_column(
            col,
            no_wrap=col == "thread",
            justify="left" if col in ("thread", "kept because") else "right",
        )
    for t in result.threads:
        p = t.plan
        if t.outcome == "nothing_to_delete":
            continue  # a store of many threads: only those the prune touches are listed
        table.add_row(
            safe_text(p.thread_id),
            str(p.checkpoints_before),
            str(p.checkpoints),
            str(p.writes),
            str(p.blobs),
            human_bytes(p.bytes),
            _kept_text(p.kept),
        )
    out.print(table)
    touched = sum(1 for t in result.threads if t.plan.checkpoints)
    verb = "Deleted" if result.applied else "Would delete"
    click.echo(
        f"{verb} {result.checkpoints} checkpoints, {result.writes} writes and {result.blobs} blobs of {touched} "
        f"threads: {human_bytes(result.bytes)} ({result.bytes} bytes)."
    )
    archives = [t.archive for t in result.threads if t.archive is not None]
    if len(archives) == 1:
        click.echo(
            f"Archived to {safe_text(archives[0])}; undo with: lgscope import {safe_text(archives[0])} STORE --merge"
        )
    elif archives:
        where = safe_text(archives[0].parent)
        click.echo(
            f"Archived {len(archives)} threads to {where}/ (one export each); undo with: "
            f'for f in {where}/*.jsonl; do lgscope import "$f" STORE --merge; done'
        )
    for line in _space_lines(result.space):
        click.echo(line)
    locked = [t.plan.thread_id for t in result.threads if t.outcome == "locked"]
    if locked:
        click.echo(
            f"Left as they are, their lock held by a sweep, an app or another prune: {safe_text(', '.join(locked))}; "
            "run the prune again later."
        )


def _result_json(result: PruneResult) -> dict[str, Any]:
    space = result.space
    return {
        "store": result.store,
        "policy": result.policy,
        "applied": result.applied,
        "checkpoints": result.checkpoints,
        "writes": result.writes,
        "blobs": result.blobs,
        "bytes": result.bytes,
        "threads": [
            {
                "thread_id": t.plan.thread_id,
                "outcome": t.outcome,
                "checkpoints_before": t.plan.checkpoints_before,
                "checkpoints": t.plan.checkpoints,
                "writes": t.plan.writes,
                "blobs": t.plan.blobs,
                "bytes": t.plan.bytes,
                "delta": t.plan.delta,
                "namespaces": [
                    {
                        "checkpoint_ns": n.checkpoint_ns,
                        "deletes_up_to": n.upto,
                        "keeps_below": list(n.keep),
                        "checkpoints": n.checkpoints,
                        "writes": n.writes,
                        "blobs": n.blobs,
                        "bytes": n.bytes,
                    }
                    for n in t.plan.namespaces
                ],
                "kept": [
                    {"checkpoint_ns": k.checkpoint_ns, "checkpoint_id": k.checkpoint_id, "reason": k.reason}
                    for k in t.plan.kept
                ],
                "archive": str(t.archive) if t.archive is not None else None,
            }
            for t in result.threads
        ],
        "space": {
            "kind": space.kind,
            "file_bytes": space.file_bytes,
            "free_bytes": space.free_bytes,
            "vacuumed": space.vacuumed,
            "file_bytes_after_vacuum": space.file_bytes_after_vacuum,
            "dead_tuples": space.dead_tuples,
            "advice": space.advice,
        },
    }


@click.command("prune")
@STORE
@click.option(
    "--keep-last", type=int, metavar="N", help="Keep each thread's last N root checkpoints (N ≥ 1)."
)
@click.option(
    "--older-than", type=DURATION, metavar="DURATION", help="Delete checkpoints older than this (30d)."
)
@click.option("--thread", "thread_ids", multiple=True, metavar="ID", help="Only this thread (repeatable).")
@click.option(
    "--archive",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Export what is deleted first: a .jsonl file (one thread) or a directory (one file per thread).",
)
@click.option("--apply", is_flag=True, help="Delete (without it: a dry run that only reads).")
@click.option(
    "--vacuum",
    is_flag=True,
    help="SQLite: VACUUM afterwards to give the space back (needs the store to itself).",
)
@click.option(
    "--audit", type=click.Path(dir_okay=False, path_type=Path), help="Append each thread's outcome here."
)
@click.option("--actor", default="lgscope-prune", show_default=True, help="Who the audit log names.")
@click.option(
    "--lock-timeout", default=30.0, show_default=True, type=float, help="Seconds to wait for a thread's lock."
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def prune_cmd(
    store: str,
    keep_last: int | None,
    older_than: timedelta | None,
    thread_ids: tuple[str, ...],
    archive: Path | None,
    apply: bool,
    vacuum: bool,
    audit: Path | None,
    actor: str,
    lock_timeout: float,
    fmt: str,
) -> None:
    """Delete old checkpoints of STORE by a retention policy, keeping what the kept ones need:
    a pending interrupt's checkpoint and writes, the parent pending Sends need, a DeltaChannel's
    chain back to its snapshot, Postgres blobs still referenced; a subgraph's checkpoints go with
    the root checkpoint they ran under. A dry run unless --apply; with --apply, each thread is
    pruned in one transaction under the sweeper's per-thread lock.

    \b
    Example:
      lgscope prune checkpoints.sqlite --keep-last 20
      lgscope prune checkpoints.sqlite --older-than 30d --archive pruned/ --apply --audit prune.jsonl
    """
    policy = Policy(keep_last=keep_last, older_than=older_than)
    if vacuum and not apply:
        raise UsageError("--vacuum compacts the store after deleting; add --apply (nothing was deleted).")
    result = prune(
        store,
        policy,
        threads=list(thread_ids) or None,
        apply=apply,
        archive=archive,
        vacuum=vacuum,
        audit=audit,
        actor=actor,
        lock_timeout=lock_timeout,
    )
    if fmt == "json":
        echo_json(_result_json(result))
    else:
        _print_prune(result)
    if any(t.outcome == "locked" for t in result.threads):
        sys.exit(1)


COMMANDS: list[click.Command] = [size_cmd, prune_cmd]
