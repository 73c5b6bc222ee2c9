"""The audit log: every sweeper decision, appended as a JSON line and fsync'd.

Before a resume the sweeper appends a ``resuming`` intent (under the thread lock), after it the
outcome. A sweeper killed in between leaves the intent as the interrupt's last line; the next
run settles it (`Sweeper` records ``rejected`` if the stored answer is its own, else
``already_resolved``, or ``interrupted`` if the interrupt is still pending and is then retried),
so no decision is lost and none is recorded twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lgscope._exceptions import ApprovalError

__all__ = ["AuditLog", "Decision"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What was done about one interrupt."""

    time: str
    thread_id: str
    checkpoint_ns: str
    interrupt_id: str
    node: str | None
    age_seconds: float
    policy: str
    outcome: str
    """``rejected``, ``escalated``, ``already_resolved``, ``failed``; ``resuming`` (the intent
    written before a resume) and ``interrupted`` (that intent never finished); ``would_reject`` /
    ``would_escalate`` in a dry run."""
    actor: str
    detail: str = ""
    answer: Any = None
    """What the interrupt was (or is being) answered with, for ``resuming`` and ``rejected``."""


def append_line(path: Path, line: bytes) -> None:
    """Append one whole line and fsync it (``O_APPEND``: one write a line, never interleaved)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


class AuditLog:
    """An append-only JSONL file; each line is written whole and fsync'd before we go on."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, decision: Decision) -> None:
        record = asdict(decision)
        line = (json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n").encode()
        try:
            append_line(self.path, line)
        except OSError as exc:
            # Stop rather than act unrecorded; an intent already written is settled by the next run.
            raise ApprovalError(
                f"Cannot append to the audit log {self.path} ({exc.strerror}); the sweep stopped so that "
                "no decision goes unrecorded. Fix the path or its permissions and run it again."
            ) from None

    def entries(self) -> Iterator[Mapping[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    try:
                        entry = json.loads(line)
                    except (ValueError, RecursionError):
                        continue  # a line cut by a crash: the decision is redone on the next run
                    if isinstance(entry, dict):  # anything else is not ours: never a decision
                        yield entry

    def open_intents(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        """``resuming`` intents that are still their interrupt's last line, by (thread, interrupt id):
        the resumes of a sweeper that was killed before it could record how they ended."""
        last: dict[tuple[str, str], Mapping[str, Any]] = {}
        for e in self.entries():
            last[(str(e.get("thread_id")), str(e.get("interrupt_id")))] = e
        return {k: e for k, e in last.items() if e.get("outcome") == "resuming"}

    def escalated(self) -> set[str]:
        """Interrupt ids already escalated (escalation happens once)."""
        return {str(e["interrupt_id"]) for e in self.entries() if e.get("outcome") == "escalated"}
