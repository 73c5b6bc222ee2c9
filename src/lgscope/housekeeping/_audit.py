"""The prune audit log: a JSON line per thread, fsync'd, as the sweeper keeps its own.

Before a thread's transaction a ``pruning`` intent is appended; after it, ``pruned`` (with what
went and the archive that holds it) or ``failed``. A prune killed in between leaves the intent
as the thread's last line: its transaction either committed or left nothing, and the store says
which.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lgscope._exceptions import StoreError
from lgscope.approvals._audit import append_line
from lgscope.housekeeping._plan import ThreadPlan

__all__ = ["PruneAudit"]


class PruneAudit:
    """Appends a prune's decisions to a JSONL file."""

    def __init__(self, path: str | os.PathLike[str], *, store: str, policy: str, actor: str) -> None:
        self.path = Path(path)
        self._base = {"action": "prune", "store": store, "policy": policy, "actor": actor}

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps({"time": datetime.now(UTC).isoformat(), **self._base, **record}, sort_keys=True)
        try:
            append_line(self.path, (line + "\n").encode())
        except OSError as exc:
            raise StoreError(
                f"Cannot append to the audit log {self.path} ({exc.strerror}); the prune stopped so that "
                "nothing is deleted unrecorded. Fix the path or its permissions and run it again."
            ) from None

    def intent(self, plan: ThreadPlan) -> None:
        self._append({"thread_id": plan.thread_id, "outcome": "pruning", "checkpoints": plan.checkpoints})

    def outcome(
        self, plan: ThreadPlan, outcome: str, *, archive: Path | None = None, detail: str = ""
    ) -> None:
        self._append(
            {
                "thread_id": plan.thread_id,
                "outcome": outcome,
                "checkpoints": plan.checkpoints,
                "writes": plan.writes,
                "blobs": plan.blobs,
                "bytes": plan.bytes,
                "kept": [[k.checkpoint_ns, k.checkpoint_id, k.reason] for k in plan.kept],
                "archive": str(archive) if archive is not None else None,
                "detail": detail,
            }
        )
