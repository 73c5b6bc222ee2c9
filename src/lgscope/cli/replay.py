"""``fork`` and ``replay``: copy a thread up to a checkpoint elsewhere, rerun it there, compare."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.table import Table

from lgscope._exceptions import UsageError
from lgscope.cli._common import STORE, console, echo_json, handle_errors, shown_store
from lgscope.forensics.diff import format_change
from lgscope.replay import NO_RESUME, ForkResult, ReplayResult, areplay, fork, parse_sets, replay
from lgscope.replay._graph import GRAPH_HELP
from lgscope.sanitize import safe_text

__all__ = ["COMMANDS"]

FC = TypeVar("FC", bound=Callable[..., Any])

_DIFF_SHOWN = 20

_thread = click.option("--thread", "thread_id", required=True, metavar="ID", help="The thread to fork.")
_checkpoint = click.option(
    "--checkpoint",
    metavar="CID",
    help="Fork at this checkpoint of the root graph (an id, or its first or last characters) "
    "[default: the latest].",
)
_to_thread = click.option("--to-thread", metavar="NEW_ID", help="The new thread's id [default: ID].")
_set = click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=JSON",
    help="Set a state field at the fork point (repeatable). Without --graph only plain last-value fields.",
)
_as_node = click.option("--as-node", metavar="NODE", help="Apply --set as if NODE wrote it (with --graph).")
_force = click.option("--force", is_flag=True, help="Replace the target thread if it exists.")
_allow = click.option(
    "--allow-type",
    "allow_types",
    multiple=True,
    metavar="NAME",
    help="Let the graph load stored values of this type (module.Name, or pickle), which its serializer "
    "rebuilds by calling code; refused by default (repeatable).",
)
_fmt = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


def _graph_option(required: bool) -> Callable[[FC], FC]:
    return click.option("--graph", "graph", required=required, metavar="MODULE:ATTR", help=GRAPH_HELP)


@click.command("fork")
@STORE
@_thread
@_checkpoint
@click.option("--into", "into", required=True, metavar="TARGET", help="A SQLite file or postgresql:// URL.")
@_to_thread
@_set
@_graph_option(required=False)
@_as_node
@_force
@_allow
@_fmt
@handle_errors
def fork_cmd(
    store: str,
    thread_id: str,
    checkpoint: str | None,
    into: str,
    to_thread: str | None,
    sets: tuple[str, ...],
    graph: str | None,
    as_node: str | None,
    force: bool,
    allow_types: tuple[str, ...],
    fmt: str,
) -> None:
    """Copy a thread of STORE up to a checkpoint into TARGET, ready to resume there.

    Carries what resuming needs: pending writes and interrupts, subgraph namespaces, a
    DeltaChannel's chain. The source is only read; TARGET gets it in one transaction.

    \b
    Example:
      lgscope fork checkpoints.sqlite --thread support-7 --checkpoint 5c1d2e3f --into sandbox.sqlite \\
        --set status='"open"'
    """
    patch = parse_sets(sets)
    graph_obj = _load(graph)
    result = fork(
        store,
        thread_id,
        into,
        checkpoint=checkpoint,
        to_thread=to_thread,
        patch=patch,
        graph=graph_obj,
        as_node=as_node,
        force=force,
        allow_types=allow_types,
    )
    if fmt == "json":
        echo_json(result.to_dict())
        return
    click.echo(_fork_line(result))


def _load(graph: str | None) -> Any:
    from lgscope.replay._graph import load_graph

    return load_graph(graph) if graph is not None else None


def _fork_line(result: ForkResult) -> str:
    line = (
        f"Forked thread {safe_text(result.source_thread_id)} at {result.checkpoint_id} into "
        f"{shown_store(result.target)} as thread {safe_text(result.thread_id)}: {result.checkpoints} checkpoints, "
        f"{len(result.namespaces)} namespace{'s' if len(result.namespaces) != 1 else ''}, "
        f"{result.pending_writes} pending write{'s' if result.pending_writes != 1 else ''}"
    )
    if result.patched:
        line += f"; set {', '.join(safe_text(p) for p in result.patched)} (checkpoint {result.head_checkpoint_id})"
    return line


def _parse_resume(text: str | None) -> Any:
    if text is None:
        return NO_RESUME
    try:
        return json.loads(text)
    except ValueError:
        raise UsageError(
            f"--resume {text!r} is not JSON; quote text as a JSON string, e.g. --resume '\"approve\"'."
        ) from None


@click.command("replay")
@STORE
@_thread
@_checkpoint
@_graph_option(required=True)
@_set
@_as_node
@click.option(
    "--resume", metavar="JSON", help="Answer the pending interrupt(s) with this value (or id→value map)."
)
@click.option(
    "--into",
    "into",
    metavar="SANDBOX",
    help="Fork into this SQLite file or postgresql:// URL [default: a new temporary SQLite file].",
)
@_to_thread
@_force
@_allow
@click.option("--async", "use_async", is_flag=True, help="Run the graph with ainvoke on an async saver.")
@click.option("--recursion-limit", type=click.IntRange(min=1), metavar="N", help="The run's recursion limit.")
@_fmt
@handle_errors
def replay_cmd(
    store: str,
    thread_id: str,
    checkpoint: str | None,
    graph: str,
    sets: tuple[str, ...],
    as_node: str | None,
    resume: str | None,
    into: str | None,
    to_thread: str | None,
    force: bool,
    allow_types: tuple[str, ...],
    use_async: bool,
    recursion_limit: int | None,
    fmt: str,
) -> None:
    """Rerun a thread of STORE from a checkpoint with your graph, in a sandbox, and compare.

    Forks the thread into SANDBOX, runs the graph there (bound to the sandbox's checkpointer,
    never the source's) with invoke(None) or Command(resume=…), and prints both trajectories
    aligned, the first divergence, the final states' diff, the findings on each side and the
    new thread's status.

    \b
    Example:
      lgscope replay checkpoints.sqlite --thread support-7 --checkpoint 5c1d2e3f --graph app.graph:build
    """
    patch = parse_sets(sets)
    graph_obj = _load(graph)
    kwargs: dict[str, Any] = {
        "checkpoint": checkpoint,
        "patch": patch,
        "as_node": as_node,
        "resume": _parse_resume(resume),
        "into": into,
        "to_thread": to_thread,
        "force": force,
        "recursion_limit": recursion_limit,
        "allow_types": allow_types,
    }
    if use_async:
        result = asyncio.run(areplay(store, thread_id, graph_obj, **kwargs))
    else:
        result = replay(store, thread_id, graph_obj, **kwargs)
    if fmt == "json":
        echo_json(result.to_dict())
        return
    _print_replay(result)


def _kinds(findings: Any) -> str:
    kinds = sorted({f.kind for f in findings})
    return ", ".join(kinds) if kinds else "none"


def _print_replay(result: ReplayResult) -> None:
    forked = result.fork
    click.echo(_fork_line(forked).replace("Forked", "Sandbox: forked", 1))
    table = Table(show_lines=False)
    for col in ("step", "recorded", "replayed", ""):
        table.add_column(col, no_wrap=True)
    for i, row in enumerate(result.aligned, 1):
        table.add_row(
            str(i),
            safe_text(row.recorded or "-"),
            safe_text(row.replayed or "-"),
            "" if row.same else "≠",
        )
    if result.aligned:
        console().print(table)
    else:
        click.echo("No steps after the fork point on either side.")
    if result.first_divergence is None:
        click.echo("Node sequences: the same.")
    else:
        row = result.aligned[result.first_divergence]
        click.echo(
            f"First divergence: step {result.first_divergence + 1} (recorded {safe_text(row.recorded or 'nothing')}, "
            f"replayed {safe_text(row.replayed or 'nothing')})."
        )
    if result.error:
        click.echo(f"The graph raised: {safe_text(result.error)}")
    click.echo(f"Status: recorded {result.recorded_status}, replayed {result.status}.")
    click.echo(
        f"Findings: recorded {_kinds(result.recorded_findings)}; replayed {_kinds(result.replayed_findings)}."
        + (f" Gone in the replay: {', '.join(result.fixed)}." if result.fixed else "")
        + (f" New in the replay: {', '.join(result.introduced)}." if result.introduced else "")
    )
    if not result.state_diff:
        click.echo("Final state: the same.")
        return
    n = len(result.state_diff)
    click.echo(f"Final state, replayed vs recorded ({n} change{'s' if n != 1 else ''}):")
    for change in result.state_diff[:_DIFF_SHOWN]:
        click.echo(f"  {safe_text(format_change(change))}")
    if len(result.state_diff) > _DIFF_SHOWN:
        click.echo(f"  … {len(result.state_diff) - _DIFF_SHOWN} more (--format json has them all)")


COMMANDS: list[click.Command] = [fork_cmd, replay_cmd]
