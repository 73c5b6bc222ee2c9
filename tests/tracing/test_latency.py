"""``lgscope spans`` on real exported spans: OTLP JSON files and a Jaeger-shaped API."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, TypedDict

from click.testing import CliRunner
from google.protobuf.json_format import MessageToJson
from langgraph.graph import END, START, StateGraph
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgscope.cli import main
from lgscope.tracing import instrument


class S(TypedDict, total=False):
    n: int


def _spans(runs: int = 20) -> tuple[ReadableSpan, ...]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    def fast(state: S) -> S:
        return {"n": 1}

    def slow(state: S) -> S:
        time.sleep(0.01)
        return {"n": 2}

    g = StateGraph(S)
    g.add_node("fetch", fast)
    g.add_node("summarize", slow)
    g.add_edge(START, "fetch")
    g.add_edge("fetch", "summarize")
    g.add_edge("summarize", END)
    graph = instrument(g.compile(name="pipeline"), tracer_provider=provider)
    for _ in range(runs):
        graph.invoke({"n": 0})
    return exporter.get_finished_spans()


def _expected_p95(spans: tuple[ReadableSpan, ...], node: str) -> float:
    values = sorted((s.end_time - s.start_time) / 1e9 for s in spans if s.name == f"invoke_node {node}")  # type: ignore[operator]
    return values[18]  # nearest rank for 20 values


def test_otlp_json_file(tmp_path: Path) -> None:
    spans = _spans()
    path = tmp_path / "traces.json"
    path.write_text(MessageToJson(encode_spans(spans)).replace("\n", "") + "\n")
    result = CliRunner().invoke(main, ["spans", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["bottleneck"] == "summarize"
    by = {r["node"]: r for r in report["nodes"]}
    assert by["summarize"]["count"] == 20 and by["fetch"]["count"] == 20
    assert abs(by["summarize"]["p95"] - _expected_p95(spans, "summarize")) < 1e-6
    assert by["summarize"]["p50"] >= 0.01 > by["fetch"]["p50"]
    table = CliRunner().invoke(main, ["spans", str(path)])
    assert "Bottleneck: summarize (" in table.output


def test_jaeger_query_api() -> None:
    spans = _spans(5)
    body = {
        "data": [
            {
                "spans": [
                    {
                        "operationName": s.name,
                        "duration": (s.end_time - s.start_time) // 1000,  # type: ignore[operator]
                        "tags": [
                            {"key": k, "value": v}
                            for k, v in (s.attributes or {}).items()
                            if isinstance(v, str)
                        ],
                    }
                    for s in spans
                ]
            }
        ]
    }
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = CliRunner().invoke(main, ["spans", url, "--service", "pipeline-app", "--format", "json"])
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["bottleneck"] == "summarize"
    assert seen[0].startswith("/api/traces?service=pipeline-app&limit=200")


def test_bad_sources(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{nope\n")
    for args, message in (
        (["spans", str(bad)], "is not OTLP JSON"),
        (["spans", str(tmp_path / "missing.json")], "Cannot read spans from"),
        (["spans", "http://127.0.0.1:1"], "needs --service NAME"),
        (
            ["spans", "http://127.0.0.1:1", "--service", "x"],
            "Cannot read traces from Jaeger at http://127.0.0.1:1",
        ),
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
