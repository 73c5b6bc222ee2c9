"""Writes the Grafana dashboards in dashboards/grafana/dashboards/ (run after editing PANELS).

python dashboards/build.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}

DASHBOARDS: dict[str, tuple[str, list[tuple[str, str, str, str]]]] = {
    "lgscope-runtime": (
        "LangGraph runtime (lgscope)",
        [
            (
                "Node latency p95",
                "timeseries",
                "s",
                "histogram_quantile(0.95, sum by (le, graph, node) (rate(lgscope_node_duration_seconds_bucket[5m])))",
            ),
            (
                "Node errors / s",
                "timeseries",
                "short",
                "sum by (graph, node) (rate(lgscope_node_errors_total[5m]))",
            ),
            ("Tool calls / s", "timeseries", "short", "sum by (tool) (rate(lgscope_tool_calls_total[5m]))"),
            ("Tool errors / s", "timeseries", "short", "sum by (tool) (rate(lgscope_tool_errors_total[5m]))"),
            (
                "Checkpoint write latency p95",
                "timeseries",
                "s",
                "histogram_quantile(0.95, sum by (le) (rate(lgscope_checkpoint_put_duration_seconds_bucket[5m])))",
            ),
            (
                "Checkpoint size p95",
                "timeseries",
                "bytes",
                "histogram_quantile(0.95, sum by (le) (rate(lgscope_checkpoint_size_bytes_bucket[5m])))",
            ),
            (
                "Interrupts / s",
                "timeseries",
                "short",
                "sum by (graph, node) (rate(lgscope_interrupts_total[5m]))",
            ),
            ("Resumes / s", "timeseries", "short", "sum by (graph) (rate(lgscope_resumes_total[5m]))"),
            (
                "Loop guard hits (1h)",
                "stat",
                "short",
                "sum by (graph) (increase(lgscope_loop_guard_hits_total[1h]))",
            ),
        ],
    ),
    "lgscope-approvals": (
        "Human approvals (lgscope)",
        [
            (
                "Pending approvals by age",
                "timeseries",
                "short",
                "sum by (age_bucket) (lgscope_pending_interrupts)",
            ),
            ("Oldest pending approval", "stat", "s", "max(lgscope_oldest_pending_interrupt_seconds)"),
            (
                "Stuck runs (static pauses, crashes)",
                "timeseries",
                "short",
                "sum by (likely) (lgscope_stuck_runs)",
            ),
            ("Oldest stuck run", "stat", "s", "max(lgscope_oldest_stuck_run_seconds)"),
            (
                "Sweeper decisions (1h)",
                "timeseries",
                "short",
                "sum by (policy, outcome) (increase(lgscope_sweeper_decisions_total[1h]))",
            ),
            (
                "Sweeper failures (1h)",
                "timeseries",
                "short",
                "sum by (reason) (increase(lgscope_sweeper_failures_total[1h]))",
            ),
            (
                "Pending at last sweep by age",
                "timeseries",
                "short",
                "sum by (age_bucket) (lgscope_sweeper_pending_interrupts)",
            ),
            (
                "Wait before a sweeper decision p95",
                "stat",
                "s",
                "histogram_quantile(0.95, sum by (le) (lgscope_sweeper_wait_seconds_bucket))",
            ),
            ("Since the last sweep", "stat", "s", "time() - max(lgscope_sweeper_last_run_timestamp_seconds)"),
        ],
    ),
    "lgscope-forensics": (
        "Forensics (lgscope)",
        [
            ("Findings by kind", "timeseries", "short", "sum by (kind) (lgscope_findings)"),
            ("Looping threads", "stat", "short", 'sum(lgscope_findings{kind="loop"})'),
            ("Threads by status", "timeseries", "short", "sum by (status) (lgscope_threads)"),
            (
                "Checkpoints per thread p95",
                "stat",
                "short",
                "histogram_quantile(0.95, sum by (le) (lgscope_thread_checkpoints_bucket))",
            ),
            (
                "Bytes per thread p95",
                "stat",
                "bytes",
                "histogram_quantile(0.95, sum by (le) (lgscope_thread_size_bytes_bucket))",
            ),
            ("Scan duration", "timeseries", "s", "max(lgscope_scan_duration_seconds)"),
            ("Scan errors", "stat", "short", "sum(lgscope_scan_errors_total)"),
        ],
    ),
}


def dashboard(uid: str, title: str, panels: list[tuple[str, str, str, str]]) -> dict[str, object]:
    out = []
    for i, (panel_title, kind, unit, expr) in enumerate(panels):
        out.append(
            {
                "id": i + 1,
                "title": panel_title,
                "type": kind,
                "datasource": DS,
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": "A", "datasource": DS, "expr": expr}],
            }
        )
    return {
        "uid": uid,
        "title": title,
        "tags": ["lgscope", "langgraph"],
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "editable": True,
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "panels": out,
    }


def main() -> None:
    target = HERE / "grafana" / "dashboards"
    target.mkdir(parents=True, exist_ok=True)
    for uid, (title, panels) in DASHBOARDS.items():
        (target / f"{uid}.json").write_text(json.dumps(dashboard(uid, title, panels), indent=2) + "\n")


if __name__ == "__main__":
    main()
