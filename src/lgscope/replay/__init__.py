"""Replay and fork: rerun a stored thread from any checkpoint, changed, in a sandbox, and compare.

`fork` copies a thread up to a checkpoint into another store (resumable: pending writes,
interrupts, subgraph namespaces, a ``DeltaChannel``'s chain), optionally patched. `replay` forks
into a sandbox, runs your graph there (bound to the sandbox's checkpointer, never the source's)
and compares the new trajectory with the recorded one.
"""

from __future__ import annotations

from lgscope.replay._compare import AlignedStep
from lgscope.replay._fork import ForkResult, fork, parse_sets
from lgscope.replay._replay import NO_RESUME, ReplayResult, areplay, replay

__all__ = [
    "NO_RESUME",
    "AlignedStep",
    "ForkResult",
    "ReplayResult",
    "areplay",
    "fork",
    "parse_sets",
    "replay",
]
