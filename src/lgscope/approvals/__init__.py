"""Human approvals: answer interrupts exactly once, and sweep the ones nobody answered.

Apps answer an interrupt with `resume` (never two resumes of one interrupt); `Sweeper` (and
``lgscope sweep``) rejects or escalates interrupts pending past a deadline. Both take the same
per-thread lock and re-read the pending interrupts under it.
"""

from __future__ import annotations

from lgscope.approvals._audit import AuditLog, Decision
from lgscope.approvals._lock import FileLocks, LocalLocks, PostgresLocks, ThreadLocks, locks_for
from lgscope.approvals._resume import resume
from lgscope.approvals._sweeper import DEFAULT_REJECTION, Candidate, Sweeper, SweepReport
from lgscope.metrics import SweeperMetrics

__all__ = [
    "DEFAULT_REJECTION",
    "AuditLog",
    "Candidate",
    "Decision",
    "FileLocks",
    "LocalLocks",
    "PostgresLocks",
    "SweepReport",
    "Sweeper",
    "SweeperMetrics",
    "ThreadLocks",
    "locks_for",
    "resume",
]
