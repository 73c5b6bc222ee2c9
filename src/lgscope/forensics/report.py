"""The incident report: what a store holds, what went wrong, where, and the likely cause.

`build_report` gathers it as plain data (the JSON form); `render_markdown` and `render_html`
present it. The HTML is one self-contained file: styles and charts (SVG) inline, no network.
"""

from __future__ import annotations

import html
import re
from collections import Counter, deque
from typing import Any

from lgscope.forensics._detect import SEVERITY_ORDER
from lgscope.forensics._hypotheses import hypothesis
from lgscope.forensics._scan import ScanResult
from lgscope.forensics.diff import diff_steps, format_change
from lgscope.model import ThreadStatus
from lgscope.sanitize import safe_json, safe_markdown, safe_text
from lgscope.store import Store
from lgscope.store.build import ts_from_checkpoint_id

__all__ = ["build_report", "render_html", "render_json", "render_markdown"]


def _worst(result: ScanResult, limit: int) -> list[str]:
    score: dict[str, tuple[int, int]] = {}
    for f in result.findings:
        sev = 3 - SEVERITY_ORDER.get(f.severity, 3)
        best, count = score.get(f.thread_id, (0, 0))
        score[f.thread_id] = (max(best, sev), count + 1)
    return [tid for tid, _ in sorted(score.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:limit]]


def _thread_detail(store: Store, thread_id: str, result: ScanResult, transitions: int) -> dict[str, Any]:
    history = store.load(thread_id, control_only=True)
    root = history.steps.get("", ())
    findings = [f for f in result.findings if f.thread_id == thread_id]
    first_ids = {f.first_checkpoint_id for f in findings if not f.checkpoint_ns}
    # One pass: the node sequence's tail, and the transitions from the first finding's checkpoint
    # (or the last few); only a step and its parent are held.
    nodes: deque[str] = deque(maxlen=_NODES_SHOWN + 1)
    lines: list[str] = []
    start: int | None = None if first_ids else max(len(root) - transitions, 0)
    parent = None
    for i, s in enumerate(root):
        if s.source != "input":
            nodes.extend(s.nodes)
        if start is None and s.checkpoint_id in first_ids:
            start = i
        if start is not None and start <= i < start + transitions:
            if (
                parent is not None
                and parent.checkpoint_id == s.parent_id
                and not s.corrupt
                and not parent.corrupt
            ):
                changes = [format_change(c) for c in diff_steps(parent, s)][:3]
                lines.append(f"step {s.step} {'+'.join(s.nodes)}: " + ("; ".join(changes) or "no change"))
        parent = s
    return {
        "thread_id": thread_id,
        "status": history.thread.status.value,
        "checkpoints": history.thread.checkpoints,
        "findings": [f.to_dict() for f in findings],
        "node_sequence": list(nodes)[-_NODES_SHOWN:],
        "node_sequence_truncated": len(nodes) > _NODES_SHOWN,
        "transitions": lines,
    }


_NODES_SHOWN = 40


def build_report(store: Store, result: ScanResult, *, worst: int = 5, transitions: int = 8) -> dict[str, Any]:
    """The report as JSON-safe data (``lgscope report --format json``)."""
    by_kind: dict[str, list[Any]] = {}
    for f in result.findings:
        by_kind.setdefault(f.kind, []).append(f)
    days: Counter[str] = Counter()
    for f in result.findings:
        ts = ts_from_checkpoint_id(f.last_checkpoint_id)
        days[ts.date().isoformat() if ts else "unknown"] += 1
    statuses = Counter(t.status for t in result.threads)
    return {
        "store": {"url": store.url, "kind": store.kind},
        "generated_at": result.now.isoformat(),
        "overview": {
            "threads": result.stats.threads,
            "checkpoints": result.stats.checkpoints,
            "size_bytes": sum(t.size for t in result.threads),
            "corrupt_checkpoints": result.stats.corrupt_checkpoints,
            "unreadable_threads": result.stats.errors,
            "scan_seconds": round(result.stats.seconds, 3),
            "threads_with_findings": len({f.thread_id for f in result.findings}),
        },
        "threads_by_status": {s.value: statuses.get(s, 0) for s in ThreadStatus},
        "findings_by_kind": {k: len(v) for k, v in sorted(by_kind.items())},
        "hypotheses": {k: hypothesis(k, v) for k, v in sorted(by_kind.items())},
        "findings_by_day": dict(sorted(days.items())),
        "checkpoints_per_thread": {
            t.thread_id: t.checkpoints for t in sorted(result.threads, key=lambda t: -t.checkpoints)[:20]
        },
        "worst_threads": [_thread_detail(store, tid, result, transitions) for tid in _worst(result, worst)],
        "findings": [f.to_dict() for f in result.findings],
    }


def render_json(report: dict[str, Any]) -> str:
    return safe_json(report) + "\n"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown (for an incident doc or a PR comment); what comes from the store is
    escaped (`safe_markdown`): no raw HTML or links from data."""
    m = safe_markdown
    o = report["overview"]
    out = [
        f"# Incident report: {m(report['store']['url'])}",
        "",
        f"Generated {report['generated_at']}. {o['threads']} threads, {o['checkpoints']} checkpoints, "
        f"{o['size_bytes']:,} bytes; {o['threads_with_findings']} threads with findings; "
        f"{o['corrupt_checkpoints']} corrupt checkpoints.",
        "",
        "## Threads by status",
        "",
        "| status | threads |",
        "| --- | --- |",
        *[f"| {m(s)} | {n} |" for s, n in report["threads_by_status"].items()],
        "",
        "## Findings by kind",
        "",
    ]
    if not report["findings_by_kind"]:
        out += ["No findings.", ""]
    else:
        out += ["| kind | findings |", "| --- | --- |"]
        out += [f"| {m(k)} | {n} |" for k, n in report["findings_by_kind"].items()]
        out += ["", "## Likely causes", ""]
        out += [f"- **{k}**: {text}" for k, text in report["hypotheses"].items()]
        out += ["", "## Worst threads", ""]
        for t in report["worst_threads"]:
            out += [f"### {m(t['thread_id'])} ({m(t['status'])}, {t['checkpoints']} checkpoints)", ""]
            out += [f"- [{f['kind']}] {m(f['summary'])}" for f in t["findings"]]
            seq = m(" → ".join(t["node_sequence"]))
            out += ["", f"Node sequence{' (last 40)' if t['node_sequence_truncated'] else ''}: {seq}", ""]
            if t["transitions"]:
                out += ["State transitions:", "", *[f"- {m(line)}" for line in t["transitions"]], ""]
    return "\n".join(out).rstrip() + "\n"


def _bar_chart(title: str, data: dict[str, int], *, horizontal: bool = False) -> str:
    """A small inline SVG bar chart: no script, no network."""
    if not data:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>No data.</p></figure>"
    peak = max(data.values()) or 1
    if horizontal:
        row, label_w, width = 18, 190, 560
        height = row * len(data) + 10
        bars = []
        for i, (label, value) in enumerate(data.items()):
            w = (width - label_w - 50) * value / peak
            y = 5 + i * row
            bars.append(
                f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{html.escape(safe_text(label)[:28])}</text>'
                f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" class="bar"/>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + 12}">{value}</text>'
            )
    else:
        width, height, base = 560, 180, 150
        slot = (width - 40) / len(data)
        bars = []
        for i, (label, value) in enumerate(data.items()):
            h = 120 * value / peak
            x = 30 + i * slot
            bars.append(
                f'<rect x="{x + 4:.1f}" y="{base - h:.1f}" width="{max(slot - 8, 2):.1f}" height="{h:.1f}" class="bar"/>'
                f'<text x="{x + slot / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle">{value}</text>'
                f'<text x="{x + slot / 2:.1f}" y="{base + 16}" text-anchor="middle" class="axis">{html.escape(safe_text(label)[5:])}</text>'
            )
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}">{"".join(bars)}</svg></figure>'
    )


_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1d2330}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #dde;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #dde;padding:.25em .6em;text-align:left}
.error{color:#b3261e}.warning{color:#8a5a00}.cards{display:flex;gap:1em;flex-wrap:wrap}
.card{border:1px solid #dde;border-radius:8px;padding:.6em 1em;min-width:9em}.card b{display:block;font-size:1.5em}
svg text{font-size:11px;fill:#333}.bar{fill:#4c6ef5}.axis{fill:#666}code,.seq{font-family:ui-monospace,monospace;font-size:13px}
figure{margin:1em 0}figcaption{font-weight:600}
@media (prefers-color-scheme: dark){body{background:#14161b;color:#e4e6eb}td,th,.card{border-color:#333}svg text{fill:#ccc}}
"""


def _code(text: str) -> str:
    """Escaped, with Markdown's `code` spans as <code> (the likely causes name commands)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page with inline SVG charts."""

    def e(value: object) -> str:
        return html.escape(safe_text(value))

    o = report["overview"]
    cards = [
        ("threads", o["threads"]),
        ("checkpoints", o["checkpoints"]),
        ("with findings", o["threads_with_findings"]),
        ("corrupt checkpoints", o["corrupt_checkpoints"]),
    ]
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>lgscope report: {e(report['store']['url'])}</title><style>{_CSS}</style>",
        f"<h1>Incident report: <code>{e(report['store']['url'])}</code></h1>",
        f"<p>Generated {e(report['generated_at'])}.</p>",
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{v}</b>{e(k)}</div>' for k, v in cards)
        + "</div>",
        "<h2>Threads by status</h2><table><tr><th>status</th><th>threads</th></tr>",
        *[f"<tr><td>{e(s)}</td><td>{n}</td></tr>" for s, n in report["threads_by_status"].items()],
        "</table><h2>Findings</h2>",
        _bar_chart("Findings over time (by day of the last checkpoint)", report["findings_by_day"]),
        _bar_chart("Checkpoints per thread (largest 20)", report["checkpoints_per_thread"], horizontal=True),
    ]
    if report["findings_by_kind"]:
        parts.append("<table><tr><th>kind</th><th>findings</th><th>likely cause</th></tr>")
        parts += [
            f"<tr><td>{e(k)}</td><td>{n}</td><td>{_code(report['hypotheses'][k])}</td></tr>"
            for k, n in report["findings_by_kind"].items()
        ]
        parts.append("</table><h2>Worst threads</h2>")
        for t in report["worst_threads"]:
            parts.append(
                f"<h3><code>{e(t['thread_id'])}</code> — {e(t['status'])}, {t['checkpoints']} checkpoints</h3><ul>"
            )
            parts += [
                f'<li class="{e(f["severity"])}">[{e(f["kind"])}] {e(f["summary"])}</li>'
                for f in t["findings"]
            ]
            parts.append(f'</ul><p class="seq">{e(" → ".join(t["node_sequence"]))}</p>')
            if t["transitions"]:
                parts.append(
                    "<ul>"
                    + "".join(f"<li><code>{e(line)}</code></li>" for line in t["transitions"])
                    + "</ul>"
                )
    else:
        parts.append("<p>No findings.</p>")
    parts.append("</html>\n")
    return "\n".join(parts)
