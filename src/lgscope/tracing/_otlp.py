"""`configure`: span export from the standard ``OTEL_*`` variables, safe for the graph's path.

The SDK's own shutdown can block for 30 s or more when the collector is down; here spans are
exported from a background batch processor with short timeouts, and process exit waits for
them at most ``shutdown_timeout`` seconds.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)

from lgscope._exceptions import MissingExtra, UsageError

__all__ = ["configure", "shutdown"]

_EXPORTERS = ("otlp", "console", "none")


def _otlp(protocol: str, endpoint: str | None, timeout: float) -> SpanExporter:
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

            return Grpc(endpoint=endpoint, timeout=timeout)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

        if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return Http(endpoint=endpoint, timeout=timeout)
    except ImportError as exc:
        raise MissingExtra("OTLP export", "otlp") from exc


class OtlpJsonFile(SpanExporter):
    """Appends each batch of spans to a file as one line of OTLP JSON (an
    ``ExportTraceServiceRequest``, as the Collector's file exporter writes): what
    ``lgscope spans FILE`` reads, with no collector."""

    def __init__(self, path: str | Path) -> None:
        try:
            from google.protobuf.json_format import MessageToJson
            from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        except ImportError as exc:
            raise MissingExtra("OTLP JSON files", "otlp") from exc
        self._to_json, self._encode = MessageToJson, encode_spans
        self._path = Path(path)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        line = self._to_json(self._encode(spans), indent=None)
        try:
            with self._lock, self._path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


def shutdown(provider: TracerProvider, timeout: float = 2.0) -> None:
    """Flush and stop ``provider``, giving up after ``timeout`` seconds."""
    worker = threading.Thread(target=provider.shutdown, name="lgscope-otel-shutdown", daemon=True)
    worker.start()
    worker.join(timeout)


def _exporter_names(given: str | None) -> list[str]:
    text = given if given is not None else os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    names = [name.strip().lower() for name in text.split(",") if name.strip()] or ["otlp"]
    unknown = [name for name in names if name not in _EXPORTERS]
    if unknown:
        raise UsageError(
            f"Span exporter {unknown[0]!r} (OTEL_TRACES_EXPORTER) is not supported; "
            "use otlp, console or none, or pass spans_file= to write spans to a file."
        )
    return [] if "none" in names else names


def configure(
    *,
    service_name: str | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    exporter: str | None = None,
    spans_file: str | Path | None = None,
    export_timeout: float = 5.0,
    shutdown_timeout: float = 2.0,
    set_global: bool = True,
) -> TracerProvider:
    """A tracer provider exporting spans in the background.

    ``exporter`` (default: ``OTEL_TRACES_EXPORTER``, else ``otlp``) is a comma-separated list of
    ``otlp`` (``http/protobuf`` or ``grpc``), ``console`` (spans printed on stdout, no collector
    needed) or ``none``; ``spans_file`` also appends them to a file of OTLP JSON lines, which
    ``lgscope spans`` reads. ``OTEL_SDK_DISABLED=true`` gives a provider that exports nothing.
    Unset arguments come from ``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT``
    and ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`` (default: http/protobuf to localhost:4318).
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TracerProvider(shutdown_on_exit=False)  # tracing switched off: spans go nowhere
    exporters: list[SpanExporter] = []
    for name in _exporter_names(exporter):
        if name == "console":
            exporters.append(ConsoleSpanExporter())
            continue
        protocol = (
            protocol
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        )
        if protocol not in ("grpc", "http/protobuf"):
            raise UsageError(f"OTLP protocol {protocol!r} is not supported; use grpc or http/protobuf.")
        endpoint = (
            endpoint
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        )
        exporters.append(_otlp(protocol, endpoint, export_timeout))
    if spans_file is not None:
        exporters.append(OtlpJsonFile(spans_file))
    name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "langgraph-app"
    provider = TracerProvider(resource=Resource.create({"service.name": name}), shutdown_on_exit=False)
    for chosen in exporters:
        provider.add_span_processor(BatchSpanProcessor(chosen, export_timeout_millis=export_timeout * 1000))
    atexit.register(shutdown, provider, shutdown_timeout)
    if set_global:
        trace.set_tracer_provider(provider)
    return provider
