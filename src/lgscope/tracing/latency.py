"""Node latency from exported spans: percentiles per node and the bottleneck.

Reads OTLP JSON (a file of ``ExportTraceServiceRequest`` objects, one per line or a single
document, as the OpenTelemetry Collector's file exporter writes) or Jaeger's query API.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgscope._exceptions import UsageError

__all__ = ["NodeLatency", "SpanTiming", "latency_report", "load_jaeger", "load_otlp_json"]

_NODE_PREFIX = "invoke_node "


@dataclass(frozen=True, slots=True)
class SpanTiming:
    node: str
    seconds: float


@dataclass(frozen=True, slots=True)
class NodeLatency:
    node: str
    count: int
    p50: float
    p95: float
    p99: float
    max: float
    total: float
    share: float
    """Fraction of all node time spent in this node."""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def _attr_value(value: Mapping[str, Any]) -> Any:
    for key in ("stringValue", "intValue", "doubleValue", "boolValue"):
        if key in value:
            return value[key]
    return None


def _node(name: str, attributes: Mapping[str, Any]) -> str | None:
    if "langgraph.node" in attributes:
        return str(attributes["langgraph.node"])
    return name[len(_NODE_PREFIX) :] if name.startswith(_NODE_PREFIX) else None


def _otlp_spans(document: Mapping[str, Any]) -> Iterator[SpanTiming]:
    for rs in document.get("resourceSpans", document.get("resource_spans", [])):
        for ss in rs.get("scopeSpans", rs.get("scope_spans", [])):
            for span in ss.get("spans", []):
                attrs = {a["key"]: _attr_value(a.get("value", {})) for a in span.get("attributes", [])}
                node = _node(str(span.get("name", "")), attrs)
                if node is None:
                    continue
                start = int(span.get("startTimeUnixNano", span.get("start_time_unix_nano", 0)))
                end = int(span.get("endTimeUnixNano", span.get("end_time_unix_nano", 0)))
                yield SpanTiming(node, max(end - start, 0) / 1e9)


def load_otlp_json(path: str | Path) -> list[SpanTiming]:
    """Node spans from an OTLP JSON file (one export request per line, or one document)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read spans from {p} ({exc.strerror}).") from None
    try:
        documents = [json.loads(text)]
    except ValueError:
        try:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise UsageError(
                f"{p} is not OTLP JSON ({exc}); export spans with the collector's file exporter."
            ) from None
    return [t for d in documents if isinstance(d, Mapping) for t in _otlp_spans(d)]


def load_jaeger(url: str, *, service: str, limit: int = 200, lookback: str = "24h") -> list[SpanTiming]:
    """Node spans of ``service`` from Jaeger's query API at ``url`` (e.g. http://localhost:16686)."""
    query = urllib.parse.urlencode({"service": service, "limit": limit, "lookback": lookback})
    endpoint = f"{url.rstrip('/')}/api/traces?{query}"
    try:
        with urllib.request.urlopen(endpoint, timeout=10) as response:  # noqa: S310 - the user's own URL
            payload = json.load(response)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"Cannot read traces from Jaeger at {url} ({exc}); check the URL and --service."
        ) from None
    out = []
    for trace_data in payload.get("data") or []:
        for span in trace_data.get("spans", []):
            tags = {t["key"]: t.get("value") for t in span.get("tags", [])}
            node = _node(str(span.get("operationName", "")), tags)
            if node is not None:
                out.append(SpanTiming(node, float(span.get("duration", 0)) / 1e6))
    return out


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    rank = max(math.ceil(q * len(sorted_values)) - 1, 0)
    return sorted_values[rank]


def latency_report(timings: Iterable[SpanTiming]) -> list[NodeLatency]:
    """Per-node p50/p95/p99/max (nearest-rank), slowest total first; the first is the bottleneck."""
    by_node: dict[str, list[float]] = {}
    for t in timings:
        if not t.node.startswith("__"):
            by_node.setdefault(t.node, []).append(t.seconds)
    grand = sum(sum(v) for v in by_node.values()) or 1.0
    rows = []
    for node, values in by_node.items():
        values.sort()
        rows.append(
            NodeLatency(
                node,
                len(values),
                _percentile(values, 0.5),
                _percentile(values, 0.95),
                _percentile(values, 0.99),
                values[-1],
                sum(values),
                sum(values) / grand,
            )
        )
    return sorted(rows, key=lambda r: -r.total)
