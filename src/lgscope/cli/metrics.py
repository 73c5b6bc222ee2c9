"""``metrics serve``: a Prometheus exporter for a checkpoint store."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType

import click

from lgscope._exceptions import UsageError
from lgscope.cli._common import DURATION, STORE, handle_errors, shown_store
from lgscope.store import open_store
from lgscope.units import format_duration

__all__ = ["COMMANDS"]


@click.group("metrics")
def metrics_group() -> None:
    """Prometheus metrics."""


@metrics_group.command("serve")
@STORE
@click.option("--port", default=9464, show_default=True, help="Port for /metrics.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--interval", type=DURATION, default="60s", show_default=True, help="How often to rescan the store."
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Remember scans in FILE (kept across restarts) [default: a temporary file].",
)
@click.option("--whole", is_flag=True, help="Scan the whole store every interval, not only what changed.")
@handle_errors
def serve_cmd(store: str, port: int, host: str, interval: timedelta, state: Path | None, whole: bool) -> None:
    """Serve store metrics (threads by status, pending approvals by age, findings by kind,
    checkpoints and bytes per thread, scan duration and errors) on /metrics, from a read-only
    scan every --interval: scrapes never scan. After the first, each scan of a SQLite or
    Postgres store reads only the threads that changed.

    \b
    Example:
      lgscope metrics serve postgresql://app@db/prod --port 9464 --interval 60s
    """
    from prometheus_client import CollectorRegistry

    from lgscope.metrics import StoreCollector, start_http_server

    if interval.total_seconds() < 1:
        raise UsageError("--interval must be at least 1s: each interval runs a read-only scan.")
    with open_store(store):
        pass  # a bad store is an error now, not a silent exporter
    registry = CollectorRegistry()
    if state is not None and whole:
        raise UsageError("--whole scans without a state: give --state or --whole, not both.")
    if state is not None:
        from lgscope.forensics._state import check

        check(state)
    collector = StoreCollector(store, interval=interval, state=state, incremental=not whole)
    registry.register(collector)
    collector.start()
    try:
        server, _thread = start_http_server(port, host, registry)
    except OSError as exc:
        raise UsageError(f"Cannot listen on {host}:{port} ({exc.strerror}); pick another --port.") from None
    click.echo(
        f"Serving metrics of {shown_store(store)} on http://{host}:{port}/metrics "
        f"(rescanning every {format_duration(interval)})",
        err=True,
    )
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stop.wait()
    collector.stop()
    server.shutdown()


COMMANDS: list[click.Command] = [metrics_group]
