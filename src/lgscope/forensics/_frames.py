"""pandas DataFrames of a store, for notebooks: threads, steps and findings.

``threads``: thread_id, status, checkpoints, namespaces, created_at, updated_at, size_bytes,
pending_interrupts, oldest_pending_age_s, next, findings.
``steps`` (root and subgraph namespaces): thread_id, checkpoint_ns, checkpoint_id, parent_id,
step, source, ts, nodes, changed, next, size_bytes, interrupts, resumes, errors, corrupt.
``findings``: kind, thread_id, checkpoint_ns, first_checkpoint_id, last_checkpoint_id,
severity, summary, evidence (a dict).
Timestamps are timezone-aware UTC; list-like cells (nodes, changed, next) are tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lgscope._exceptions import MissingExtra
from lgscope.forensics._config import DetectorConfig
from lgscope.forensics._scan import scan
from lgscope.model import ThreadHistory
from lgscope.store import Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Frames", "frames"]


@dataclass(frozen=True)
class Frames:
    """The three frames; see the module docstring for their columns."""

    threads: pd.DataFrame
    steps: pd.DataFrame
    findings: pd.DataFrame


def frames(
    store: Store,
    *,
    since: datetime | None = None,
    config: DetectorConfig | None = None,
    now: datetime | None = None,
    steps: bool = True,
) -> Frames:
    """Scan ``store`` once and return its threads, steps (unless ``steps=False``) and findings."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise MissingExtra("lgscope.forensics.frames", "report") from exc
    now = now or datetime.now(UTC)
    step_rows: list[dict[str, Any]] = []

    def collect(history: ThreadHistory) -> None:
        step_rows.extend(s.to_row() for s in history.all_steps())

    result = scan(store, since=since, config=config, now=now, visit=collect if steps else None)
    per_thread: dict[str, int] = {}
    for f in result.findings:
        per_thread[f.thread_id] = per_thread.get(f.thread_id, 0) + 1
    thread_rows = [{**t.to_row(now), "findings": per_thread.get(t.thread_id, 0)} for t in result.threads]
    finding_rows = [f.to_dict() for f in result.findings]
    step_columns = [
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "parent_id",
        "step",
        "source",
        "ts",
        "nodes",
        "changed",
        "next",
        "size_bytes",
        "interrupts",
        "resumes",
        "errors",
        "corrupt",
    ]
    finding_columns = [
        "kind",
        "thread_id",
        "checkpoint_ns",
        "first_checkpoint_id",
        "last_checkpoint_id",
        "severity",
        "summary",
        "evidence",
    ]
    thread_columns = [
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
    return Frames(
        threads=pd.DataFrame(thread_rows, columns=thread_columns),
        steps=pd.DataFrame(step_rows, columns=step_columns),
        findings=pd.DataFrame(finding_rows, columns=finding_columns),
    )
