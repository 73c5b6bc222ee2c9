"""`configure`: OTLP export from the standard ``OTEL_*`` variables, safe for the graph's path.

The SDK's own shutdown can block for 30 s or more when the collector is down; here spans are
exported from a background batch processor with short timeouts, and process exit waits for
them at most ``shutdown_timeout`` seconds.
"""

from __future__ import annotations

import atexit
import os
import threading

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from lgscope._exceptions import MissingExtra, UsageError

__all__ = ["configure", "shutdown"]


def _exporter(protocol: str, endpoint: str | None, timeout: float) -> SpanExporter:
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


def shutdown(provider: TracerProvider, timeout: float = 2.0) -> None:
    """Flush and stop ``provider``, giving up after ``timeout`` seconds."""
    worker = threading.Thread(target=provider.shutdown, name="lgscope-otel-shutdown", daemon=True)
    worker.start()
    worker.join(timeout)


def configure(
    *,
    service_name: str | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    export_timeout: float = 5.0,
    shutdown_timeout: float = 2.0,
    set_global: bool = True,
) -> TracerProvider:
    """A tracer provider exporting over OTLP (``http/protobuf`` or ``grpc``).

    ``OTEL_SDK_DISABLED=true`` gives a provider that exports nothing. Unset arguments come
    from ``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` and
    ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`` (default: http/protobuf to localhost:4318).
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TracerProvider(shutdown_on_exit=False)  # tracing switched off: spans go nowhere
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
    name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "langgraph-app"
    provider = TracerProvider(resource=Resource.create({"service.name": name}), shutdown_on_exit=False)
    provider.add_span_processor(
        BatchSpanProcessor(
            _exporter(protocol, endpoint, export_timeout), export_timeout_millis=export_timeout * 1000
        )
    )
    atexit.register(shutdown, provider, shutdown_timeout)
    if set_global:
        trace.set_tracer_provider(provider)
    return provider
