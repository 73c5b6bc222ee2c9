"""Housekeeping: what fills a checkpoint store, and a retention policy that cannot lose what matters.

`size` reads stored byte lengths (nothing decoded) and breaks them down by channel, thread,
producing node, namespace and day. `plan_prune` says what a policy would delete from each
thread and what it keeps for the thread to still work; `prune` carries it out with
``apply=True``: per thread, under the sweeper's lock, in one transaction, archived first if
asked. This is the one part of lgscope besides ``import`` and the sweeper that writes to a store,
and only when applying.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from lgscope.housekeeping._db import rows_for
from lgscope.housekeeping._plan import Kept, NamespacePlan, Policy, ThreadPlan, plan_threads
from lgscope.housekeeping._prune import PruneResult, ThreadResult, prune
from lgscope.housekeeping._size import SizeEntry, SizeReport, WouldFree, size
from lgscope.housekeeping._space import Space

__all__ = [
    "Kept",
    "NamespacePlan",
    "Policy",
    "PruneResult",
    "SizeEntry",
    "SizeReport",
    "Space",
    "ThreadPlan",
    "ThreadResult",
    "WouldFree",
    "plan_prune",
    "prune",
    "size",
]


def plan_prune(
    store: str | os.PathLike[str], policy: Policy, *, threads: Sequence[str] | None = None
) -> tuple[ThreadPlan, ...]:
    """What ``policy`` would delete from each thread of a SQLite or Postgres store (read-only)."""
    rows = rows_for(store)
    try:
        return tuple(plan_threads(rows, threads, policy))
    finally:
        rows.close()
