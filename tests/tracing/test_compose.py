"""The compose file users run: valid YAML, Jaeger's OTLP and UI ports, and mounts that exist."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_wires_jaeger_prometheus_and_grafana() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.jaeger.yml").read_text())
    services = compose["services"]
    assert set(services) == {"jaeger", "prometheus", "grafana"}
    assert {"4317:4317", "4318:4318", "16686:16686"} <= set(services["jaeger"]["ports"])
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    for service in ("prometheus", "grafana"):
        for volume in services[service]["volumes"]:
            source = volume.split(":")[0]
            assert (ROOT / source).is_dir(), f"{service} mounts {source}, which does not exist"
    prometheus = yaml.safe_load((ROOT / "dashboards/prometheus/prometheus.yml").read_text())
    assert {job["job_name"] for job in prometheus["scrape_configs"]} == {
        "lgscope-store",
        "langgraph-app",
        "lgscope-sweeper",
    }
