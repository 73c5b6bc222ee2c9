"""The incident report (md/html/json) and the pandas frames, on the labelled sample store."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from langgraph.checkpoint.sqlite import SqliteSaver

from lgscope import open_store
from lgscope.cli import main
from lgscope.forensics import DetectorConfig, detect, frames, scan
from lgscope.forensics.report import build_report, render_html, render_markdown

NOW = "2026-01-15T12:00:00+00:00"


def _report(store: Path, now: datetime) -> dict[str, Any]:
    with open_store(store) as st:
        return build_report(st, scan(st, now=now))


def test_report_counts_match_the_labels(
    sample_store: Path, labels: dict[str, Any], reference_now: datetime
) -> None:
    report = _report(sample_store, reference_now)
    expected: dict[str, int] = {}
    for label in labels["threads"].values():
        for kind in label["findings"]:
            expected[kind] = expected.get(kind, 0) + 1
    assert report["findings_by_kind"] == dict(sorted(expected.items()))
    assert set(report["hypotheses"]) == set(expected)
    assert report["threads_by_status"] == {"done": 18, "interrupted": 3, "running": 2, "error": 1}
    worst = [t["thread_id"] for t in report["worst_threads"]]
    assert worst[:2] == ["review-bounce", "support-loop-recursion"]
    bounce = report["worst_threads"][0]
    assert bounce["node_sequence"][:3] == ["__start__", "writer", "reviewer"]
    assert (
        bounce["transitions"][1]
        == 'step 2 reviewer: status: "in_review" → "draft"; feedback added: "Needs more numbers."'
    )


def test_markdown_has_every_section(sample_store: Path, reference_now: datetime) -> None:
    text = render_markdown(_report(sample_store, reference_now))
    for heading in (
        "# Incident report:",
        "## Threads by status",
        "## Findings by kind",
        "## Likely causes",
        "## Worst threads",
    ):
        assert heading in text
    assert "- **stuck_interrupt**: 2 interrupt(s) at approval wait for a human who never answered" in text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href")]


def test_html_is_self_contained_with_charts(sample_store: Path, reference_now: datetime) -> None:
    page = render_html(_report(sample_store, reference_now))
    parser = _Tags()
    parser.feed(page)
    assert parser.tags.count("svg") == 2 and parser.tags.count("rect") >= 6
    assert parser.urls == [] and "<script" not in page and "@import" not in page


def test_empty_store_report_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    conn = sqlite3.connect(path)
    SqliteSaver(conn).setup()
    conn.close()
    result = CliRunner().invoke(main, ["report", str(path), "--format", "json"])
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["findings"] == [] and report["overview"]["threads"] == 0
    md = CliRunner().invoke(main, ["report", str(path)])
    assert "No findings." in md.output


def test_report_to_a_file_and_bad_since(sample_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        main, ["report", str(sample_store), "--format", "html", "-o", str(out), "--now", NOW]
    )
    assert result.exit_code == 0 and out.read_text().startswith("<!doctype html>")
    bad = CliRunner().invoke(main, ["report", str(sample_store), "--since", "soon"])
    assert bad.exit_code == 2 and "'soon' is not a duration" in bad.output


def test_frames_columns_and_rows(sample_store: Path, labels: dict[str, Any], reference_now: datetime) -> None:
    with open_store(sample_store) as st:
        fr = frames(st, now=reference_now)
    assert list(fr.threads.columns) == [
        "thread_id",
        "status",
        "checkpoints",
        "namespaces",
        "created_at",
        "updated_at",
        "size_bytes",
        "pending_interrupts",
        "oldest_pending_age_s",
        "next",
        "findings",
    ]
    assert len(fr.threads) == 24 and len(fr.steps) == fr.threads["checkpoints"].sum() == 268
    assert len(fr.findings) == sum(len(label["findings"]) for label in labels["threads"].values())
    assert fr.threads.set_index("thread_id").loc["medicine-stuck", "oldest_pending_age_s"] > 4 * 86400
    assert str(fr.steps["ts"].dt.tz) == "UTC"
    loops = fr.findings[fr.findings["kind"] == "loop"]["thread_id"].tolist()
    assert sorted(loops) == ["review-bounce", "support-loop-gave-up", "support-loop-recursion"]


def test_the_alternating_turn_field_is_not_an_oscillation(sample_store: Path) -> None:
    with open_store(sample_store) as st:
        history = st.load("chat-turns")
        turns = [s.values["turn"] for s in history.steps[""] if "turn" in s.values]
        flips = sum(1 for a, b in zip(turns, turns[1:], strict=False) if a != b)
        assert flips >= 8  # the field does alternate, plenty…
        assert (
            detect(history, DetectorConfig(detectors=frozenset({"oscillation"}))) == []
        )  # …but every turn is new
