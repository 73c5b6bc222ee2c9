"""``sweep``: auto-reject or escalate interrupts nobody answered."""

from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.table import Table

from lgscope._exceptions import UsageError
from lgscope.cli._common import DURATION, STORE, console, handle_errors, progress
from lgscope.cli.forensics import parse_now
from lgscope.sanitize import safe_text
from lgscope.units import format_age

__all__ = ["COMMANDS", "load_graph"]


def load_graph(spec: str) -> Any:
    """Import ``module:attr`` and check it is a compiled graph with a checkpointer."""
    from langgraph.pregel import Pregel

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--graph {spec!r} is not module:attr (for example myapp.graphs:approval_graph).")
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except SystemExit as exc:  # the module ran a script's exit: no sweep happened, say so
        raise UsageError(
            f"Importing {module_name!r} for --graph called sys.exit({exc.code!r}); point --graph at a module "
            "that defines the graph without running a program."
        ) from None
    except Exception as exc:
        raise UsageError(
            f"Cannot import {module_name!r} for --graph ({type(exc).__name__}: {exc}); check the module path."
        ) from None
    finally:
        sys.path.pop(0)
    graph = getattr(module, attr, None)
    if graph is None:
        raise UsageError(f"Module {module_name!r} has no attribute {attr!r} for --graph.")
    if not isinstance(graph, Pregel):
        raise UsageError(
            f"--graph {spec} is a {type(graph).__name__}, not a compiled graph; point it at graph.compile(...)'s result."
        )
    if graph.checkpointer in (None, True, False):
        raise UsageError(
            f"--graph {spec} has no checkpointer; compile it with the checkpointer of STORE so it can resume threads."
        )
    return graph


def _table(decisions: list[Any]) -> Table:
    table = Table()
    for col in ("thread", "node", "waited", "outcome", "detail"):
        table.add_column(col, no_wrap=col == "thread", overflow="fold")
    for d in decisions:
        table.add_row(
            safe_text(d.thread_id),
            safe_text(d.node or "?"),
            format_age(d.age_seconds),
            d.outcome.replace("_", " "),
            safe_text(d.detail),
        )
    return table


@click.command("sweep")
@STORE
@click.option(
    "--older-than",
    type=DURATION,
    default="24h",
    show_default=True,
    help="Stale after this long (an interrupt's own expires_at wins).",
)
@click.option("--policy", type=click.Choice(["reject", "escalate"]), default="reject", show_default=True)
@click.option(
    "--graph",
    "graph_specs",
    multiple=True,
    metavar="MODULE:ATTR",
    help="Your compiled graph (with its checkpointer), to resume threads; repeat it for a store several "
    "graphs share. Threads none of them owns are skipped and listed.",
)
@click.option(
    "--payload",
    metavar="JSON",
    help="What reject resumes with [default: approved=false, reason, auto_rejected].",
)
@click.option(
    "--node", "nodes", multiple=True, metavar="NAME", help="Only interrupts raised at this node (repeatable)."
)
@click.option("--apply", is_flag=True, help="Act; without it the sweep only says what it would do.")
@click.option(
    "--allow-type",
    "allow_types",
    multiple=True,
    metavar="NAME",
    help="Let your graph load stored objects of this type (module.Name, or pickle); lgscope refuses "
    "threads holding types LangGraph would rebuild by calling code (repeatable).",
)
@click.option(
    "--audit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append every decision to this JSONL file.",
)
@click.option("--actor", default="lgscope-sweeper", show_default=True, help="Who the audit log names.")
@click.option("--watch", is_flag=True, help="Keep sweeping every --interval until SIGTERM/SIGINT.")
@click.option("--interval", type=DURATION, default="5m", show_default=True)
@click.option(
    "--metrics-port", type=int, help="Serve the sweeper's Prometheus metrics on this port (with --watch)."
)
@click.option(
    "--pauses/--no-pauses",
    default=True,
    show_default=True,
    help="Escalate static pauses (interrupt_before/after, nothing stored) past --older-than too; "
    "they are never rejected.",
)
@click.option("--now", "now_text", metavar="TIME", hidden=True)
@handle_errors
def sweep_cmd(
    store: str,
    older_than: timedelta,
    policy: str,
    graph_specs: tuple[str, ...],
    payload: str | None,
    nodes: tuple[str, ...],
    apply: bool,
    allow_types: tuple[str, ...],
    audit: Path | None,
    actor: str,
    watch: bool,
    interval: timedelta,
    metrics_port: int | None,
    pauses: bool,
    now_text: str | None,
) -> None:
    """Find interrupts pending longer than --older-than (all namespaces) and reject them
    (resume through your graph) or escalate them (record and report; no resume).

    A dry run unless --apply. Each thread is locked and re-read before acting, so several
    sweepers and people answering at the same time resolve each interrupt exactly once.
    With --graph, a thread whose interrupt node or channels are not the graph's is skipped and
    listed, never resumed. Escalations are remembered beside the locks: once per interrupt.
    A thread paused by a static interrupt_before/after (tasks pending, nothing stored, no error)
    past --older-than is escalated under either policy: moving it runs the paused node, which
    would approve it, so it is never rejected.
    Exit code: 0 done, 1 some interrupts could not be handled, 2 bad input.

    \b
    Examples:
      lgscope sweep checkpoints.sqlite --older-than 24h
      lgscope sweep postgresql://app@db/prod --policy reject --graph myapp.graphs:approvals --apply --audit sweep.jsonl
      lgscope sweep prod.sqlite --graph myapp.graphs:refunds --graph myapp.graphs:onboarding --apply
      lgscope sweep prod.sqlite --policy escalate --node manager_approval --apply --watch --interval 5m
    """
    from lgscope.approvals import AuditLog, Sweeper

    try:
        body = json.loads(payload) if payload is not None else None
    except ValueError as exc:
        raise UsageError(
            f"--payload is not JSON ({exc}); quote it, e.g. --payload '{{\"approved\": false}}'."
        ) from None
    graphs = [load_graph(spec) for spec in graph_specs]
    metrics = None
    if metrics_port is not None:
        from prometheus_client import CollectorRegistry

        from lgscope.approvals import SweeperMetrics
        from lgscope.metrics import start_http_server

        registry = CollectorRegistry()
        metrics = SweeperMetrics(registry)
        try:
            start_http_server(metrics_port, registry=registry)
        except OSError as exc:
            raise UsageError(
                f"Cannot serve metrics on port {metrics_port} ({exc.strerror}); pick another."
            ) from None
    sweeper = Sweeper(
        graphs=graphs,
        store=store,
        older_than=older_than,
        policy="reject" if policy == "reject" else "escalate",
        payload=body,
        nodes=nodes,
        apply=apply,
        audit=AuditLog(audit) if audit else None,
        actor=actor,
        metrics=metrics,
        allow_types=allow_types,
        pauses=pauses,
    )
    stop = threading.Event()
    if watch:

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    out = console()
    failed = 0
    while True:
        with progress("reading threads") as tick:
            report = sweeper.run(now=parse_now(now_text), stop=stop, progress=tick)
        failed += report.failed
        if report.decisions:
            out.print(_table(report.decisions))
        counts = report.counts()
        summary = (
            ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items())) or "nothing to do"
        )
        static = (
            f", and {report.paused} static pause{'s' if report.paused != 1 else ''}" if report.paused else ""
        )
        out.print(
            f"{report.stale} of {report.pending} pending interrupts are stale{static}: {summary}"
            + (f"; {report.recovered} left open by an earlier sweep settled" if report.recovered else "")
            + ("" if apply else " (dry run: add --apply to act)")
        )
        if not watch or stop.wait(interval.total_seconds()):
            break
    if failed:
        sys.exit(1)


COMMANDS: list[click.Command] = [sweep_cmd]
