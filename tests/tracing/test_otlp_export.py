"""OTLP end to end: the real exporter to receivers that decode the real protobuf; a resume in
another process links back; a dead collector neither breaks the graph nor delays exit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

ROOT = Path(__file__).resolve().parents[2]

APP = textwrap.dedent(
    """
    import json, os, sqlite3, sys
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.types import Command
    from lgscope.examples import bank
    from lgscope.tracing import configure, instrument

    store, mode = sys.argv[1], sys.argv[2]
    provider = configure(service_name="bank-app", export_timeout=float(os.environ.get("APP_EXPORT_TIMEOUT", "5")))
    graph = instrument(bank.build(SqliteSaver(sqlite3.connect(store, check_same_thread=False))), tracer_provider=provider)
    config = {"configurable": {"thread_id": "transfer-1"}}
    if mode == "start":
        graph.invoke({"message": "Transfer 9000 to Ravi"}, config)
    else:
        print(json.dumps(graph.invoke(Command(resume={"approved": True}), config)["status"]))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Collector:
    """Decoded ExportTraceServiceRequests, as (service, span) pairs."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self.lock:
            for rs in request.resource_spans:
                service = next(
                    (a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), ""
                )
                for ss in rs.scope_spans:
                    self.spans.extend((service, span) for span in ss.spans)


@pytest.fixture
def http_collector() -> Any:
    collector = _Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            collector.add(request)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()
            self.wfile.write(trace_service_pb2.ExportTraceServiceResponse().SerializeToString())

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield collector, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _run(store: Path, mode: str, env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    script = tmp / "app.py"
    script.write_text(APP)
    return subprocess.run(
        [sys.executable, str(script), str(store), mode],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_http_export_and_a_resume_in_another_process_links_back(http_collector: Any, tmp_path: Path) -> None:
    collector, endpoint = http_collector
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    store = tmp_path / "bank.sqlite"
    first = _run(store, "start", env, tmp_path)
    assert first.returncode == 0, first.stderr
    second = _run(store, "resume", env, tmp_path)  # another process, later
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == "executed"
    roots = [s for svc, s in collector.spans if s.name == "invoke_agent bank_transfer"]
    assert {svc for svc, _ in collector.spans} == {"bank-app"}
    assert len(roots) == 2
    started, resumed = sorted(roots, key=lambda s: s.start_time_unix_nano)
    assert len(started.links) == 0
    (link,) = resumed.links
    assert (link.trace_id, link.span_id) == (started.trace_id, started.span_id)
    names = {s.name for _, s in collector.spans}
    assert {"invoke_node approval", "invoke_node execute", "checkpoint put", "checkpoint put_writes"} <= names
    (approval,) = [
        s for _, s in collector.spans if s.name == "invoke_node approval" and s.trace_id == started.trace_id
    ]
    assert [e.name for e in approval.events] == ["langgraph.interrupt"]


def test_grpc_export(tmp_path: Path) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    collector = _Collector()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
            collector.add(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
        }
        result = _run(tmp_path / "bank.sqlite", "start", env, tmp_path)
        assert result.returncode == 0, result.stderr
    finally:
        server.stop(0)
    assert "invoke_agent bank_transfer" in {s.name for _, s in collector.spans}


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_dead_collector_neither_breaks_the_graph_nor_delays_exit(protocol: str, tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        # the exporter may wait 30 s a try: exit must not (it waits at most shutdown_timeout, 2 s)
        "APP_EXPORT_TIMEOUT": "30",
    }
    baseline_env = {"OTEL_SDK_DISABLED": "true"}
    started = time.monotonic()
    result = _run(tmp_path / "bank.sqlite", "start", env, tmp_path)
    traced = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    started = time.monotonic()
    plain = _run(tmp_path / "other.sqlite", "start", baseline_env, tmp_path)
    untraced = time.monotonic() - started
    assert plain.returncode == 0, plain.stderr
    # 2 s of shutdown_timeout, with room for a loaded machine's noise; far below the exporter's 30 s
    assert traced - untraced < 10, (traced, untraced)


def test_otel_traces_exporter_chooses_console_or_none(http_collector: Any, tmp_path: Path) -> None:
    collector, endpoint = http_collector
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "console"}
    shown = _run(tmp_path / "a.sqlite", "start", env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert '"name": "invoke_agent bank_transfer"' in shown.stdout  # spans on stdout, no collector
    silent = _run(tmp_path / "b.sqlite", "start", {**env, "OTEL_TRACES_EXPORTER": "none"}, tmp_path)
    assert (silent.returncode, silent.stdout, silent.stderr) == (0, "", "")
    both = _run(tmp_path / "c.sqlite", "start", {**env, "OTEL_TRACES_EXPORTER": "otlp,console"}, tmp_path)
    assert both.returncode == 0 and "invoke_agent bank_transfer" in both.stdout
    assert {s.name for _, s in collector.spans} >= {"invoke_agent bank_transfer"}  # only from the last


def test_an_unknown_exporter_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from lgscope import UsageError
    from lgscope.tracing import configure

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(UsageError, match="'zipkin' .* use otlp, console or none, or pass spans_file="):
        configure(set_global=False)


def test_a_spans_file_is_what_lgscope_spans_reads_with_no_collector(tmp_path: Path) -> None:
    import sqlite3

    from click.testing import CliRunner
    from langgraph.checkpoint.sqlite import SqliteSaver

    from lgscope.cli import main
    from lgscope.examples import bank
    from lgscope.tracing import configure, instrument, shutdown, uninstrument

    path = tmp_path / "spans.jsonl"
    provider = configure(exporter="none", spans_file=path, set_global=False)
    saver = SqliteSaver(sqlite3.connect(tmp_path / "bank.sqlite", check_same_thread=False))
    graph = instrument(bank.build(saver), tracer_provider=provider)
    graph.invoke({"message": "Transfer 9000 to Ravi"}, {"configurable": {"thread_id": "f"}})
    uninstrument(graph)
    shutdown(provider)
    lines = path.read_text().splitlines()
    assert lines and all(json.loads(line)["resourceSpans"] for line in lines)
    result = CliRunner().invoke(main, ["spans", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    nodes = {row["node"] for row in json.loads(result.output)["nodes"]}
    assert nodes == {"validate_input", "prepare", "approval"}  # it stops at the approval
