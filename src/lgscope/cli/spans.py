"""``spans``: node latency percentiles from exported spans, naming the bottleneck."""

from __future__ import annotations

import click
from rich.table import Table

from lgscope._exceptions import UsageError
from lgscope.cli._common import console, echo_json, handle_errors
from lgscope.sanitize import safe_text

__all__ = ["COMMANDS"]


@click.command("spans")
@click.argument("source", metavar="FILE_OR_URL")
@click.option("--service", help="The service to read from Jaeger (with a URL).")
@click.option("--limit", default=200, show_default=True, help="Traces to read from Jaeger.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def spans_cmd(source: str, service: str | None, limit: int, fmt: str) -> None:
    """Node latency (p50/p95/p99/max) from exported spans, slowest first, naming the bottleneck.

    FILE_OR_URL is an OTLP JSON file (the collector's file exporter) or Jaeger's UI/query URL.

    \b
    Examples:
      lgscope spans traces.json
      lgscope spans http://localhost:16686 --service support-bot
    """
    from lgscope.tracing.latency import latency_report, load_jaeger, load_otlp_json

    if source.startswith(("http://", "https://")):
        if not service:
            raise UsageError(
                "Reading from Jaeger needs --service NAME (the service.name your app exports as)."
            )
        timings = load_jaeger(source, service=service, limit=limit)
    else:
        try:
            timings = load_otlp_json(source)
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise UsageError(
                f"{safe_text(source)} is not a file of OTLP JSON spans ({type(exc).__name__}: {safe_text(exc)}); "
                "export spans with the collector's file exporter."
            ) from None
    rows = latency_report(timings)
    if fmt == "json":
        echo_json({"bottleneck": rows[0].node if rows else None, "nodes": [r.to_dict() for r in rows]})
        return
    if not rows:
        click.echo("No node spans found (span names start with 'invoke_node ').")
        return
    table = Table()
    for col in ("node", "count", "p50", "p95", "p99", "max", "share"):
        table.add_column(col, justify="left" if col == "node" else "right")
    for r in rows:
        table.add_row(
            safe_text(r.node),
            str(r.count),
            *(f"{v * 1000:.1f} ms" for v in (r.p50, r.p95, r.p99, r.max)),
            f"{r.share:.0%}",
        )
    out = console()
    out.print(table)
    top = rows[0]
    out.print(
        f"Bottleneck: {safe_text(top.node)} ({top.share:.0%} of node time, p95 {top.p95 * 1000:.1f} ms over {top.count} runs)"
    )


COMMANDS: list[click.Command] = [spans_cmd]
