"""The public names of lgscope.housekeeping, pinned: adding or removing one is a decision."""

from __future__ import annotations

import lgscope.housekeeping


def test_public_names() -> None:
    assert lgscope.housekeeping.__all__ == [
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
    assert all(hasattr(lgscope.housekeeping, name) for name in lgscope.housekeeping.__all__)
