"""Dashboards and alert rules against a real Prometheus scraping real lgscope exporters.

A dashboard panel whose query returns nothing is a bug: every panel expression and every alert
expression (its threshold comparison removed, so a healthy system still shows the series) must
return data through Prometheus's HTTP API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from langgraph.checkpoint.sqlite import SqliteSaver

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "dashboards" / "grafana" / "dashboards").glob("*.json"))
ALERTS = ROOT / "dashboards" / "prometheus" / "alerts.yml"
HERE = Path(__file__).resolve().parent
APPROVALS = ROOT / "tests" / "approvals"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run installs Debian's prometheus package.")
        pytest.skip(f"{name} is not installed (apt-get install prometheus)")
    return path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def panel_expressions() -> list[tuple[str, str]]:
    out = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            out += [(f"{path.stem}: {panel['title']}", t["expr"]) for t in panel["targets"]]
    return out


def alert_expressions() -> list[tuple[str, str]]:
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    strip = re.compile(r"\s*(>|<|>=|<=|==|!=)\s*[0-9.eE+-]+\s*$")
    return [(f"alert {r['alert']}", strip.sub("", r["expr"])) for r in rules]


def test_promtool_accepts_the_rules_and_the_config() -> None:
    promtool = _binary("promtool")
    for args in (
        ["check", "rules", str(ALERTS)],
        ["check", "config", str(ROOT / "dashboards/prometheus/prometheus.yml")],
    ):
        result = subprocess.run([promtool, *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_json_is_valid() -> None:
    assert [p.stem for p in DASHBOARDS] == ["lgscope-approvals", "lgscope-forensics", "lgscope-runtime"]
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert isinstance(board["schemaVersion"], int) and board["uid"] == path.stem
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert (
            variables["datasource"]["type"] == "datasource"
            and variables["datasource"]["query"] == "prometheus"
        )
        for panel in board["panels"]:
            for ds in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
                assert ds["uid"] == "${datasource}", f"{path.stem}: {panel['title']} hard-codes a datasource"


@pytest.fixture
def stack(tmp_path: Path, sample_store: Path) -> Iterator[str]:
    prometheus = _binary("prometheus")
    store_port, app_port, sweep_port, prom_port = _port(), _port(), _port(), _port()
    store = tmp_path / "sample.sqlite"
    shutil.copyfile(sample_store, store)
    approvals = tmp_path / "approvals.sqlite"
    side = tmp_path / "side.sqlite"
    with sqlite3.connect(side) as conn:
        conn.execute("CREATE TABLE side_effects (thread_id TEXT, approved INTEGER)")
    sys.path.insert(0, str(APPROVALS))
    import approval_graph

    conn = sqlite3.connect(approvals, check_same_thread=False)
    graph = approval_graph.build(SqliteSaver(conn))
    for i in range(3):
        graph.invoke({"amount": 6000}, {"configurable": {"thread_id": f"p{i}"}})
    conn.close()
    env = {
        **os.environ,
        "PYTHONPATH": str(APPROVALS),
        "LGSCOPE_TEST_STORE": str(approvals),
        "LGSCOPE_TEST_SIDE": str(side),
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lgscope",
                "metrics",
                "serve",
                str(store),
                "--port",
                str(store_port),
                "--interval",
                "1s",
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, str(HERE / "runtime_app.py"), str(app_port)], env=env, stderr=subprocess.DEVNULL
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lgscope",
                "sweep",
                str(approvals),
                "--older-than",
                "0s",
                "--apply",
                "--graph",
                "approval_graph:graph",
                "--watch",
                "--interval",
                "1s",
                "--metrics-port",
                str(sweep_port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    shutil.copyfile(ALERTS, tmp_path / "alerts.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for name, port in (("store", store_port), ("app", app_port), ("sweeper", sweep_port))
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    procs.append(
        subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    try:
        yield f"http://127.0.0.1:{prom_port}"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _query(base: str, expr: str) -> list[Any]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        body = json.load(response)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def test_every_panel_and_alert_expression_returns_data(stack: str) -> None:
    expressions = panel_expressions() + alert_expressions()
    assert len(expressions) == 25 + 7
    deadline = time.monotonic() + 60
    missing: list[str] = []
    while time.monotonic() < deadline:
        try:
            missing = [f"{name}: {expr}" for name, expr in expressions if not _query(stack, expr)]
        except OSError:
            missing = ["prometheus not up yet"]
        if not missing:
            break
        time.sleep(2)
    assert missing == []
    up = _query(stack, "up")
    assert sorted((r["metric"]["job"], r["value"][1]) for r in up) == [
        ("app", "1"),
        ("store", "1"),
        ("sweeper", "1"),
    ]
    loops = _query(stack, 'lgscope_findings{kind="loop"}')
    assert loops[0]["value"][1] == "3"  # the sample store's three looping threads
    paused = _query(stack, 'lgscope_stuck_runs{likely="paused"}')
    assert paused[0]["value"][1] == "1"  # blog-awaiting-review, paused before review for days
