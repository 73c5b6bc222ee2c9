"""Runaway growth: a thread whose turns grow far past the turns of threads of the same graph.

A long conversation is not runaway growth: it has many turns, each the size of anyone else's.
Growth compares the largest turn of a thread (messages and content bytes added between two
user inputs) with the typical largest turn of threads of the same graph (the same node set),
never with the store as a whole: a support bot's 14-turn chat is not judged against a
classifier's one-shot threads. The comparison is one pure function of per-thread summaries
(`ThreadSize`, which `analyze` produces), so a scan that remembers them can recompute it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from lgscope.forensics._config import GROWTH, DetectorConfig, StoreNorms
from lgscope.forensics._pass import NamespaceFacts
from lgscope.model import Finding, Thread

__all__ = ["ThreadSize", "growth_findings", "judge", "norms_of", "size_of"]


@dataclass(frozen=True, slots=True)
class ThreadSize:
    """The few numbers growth needs of a thread, kept per thread during a scan."""

    thread_id: str
    graph: tuple[str, ...]
    """The nodes that ran in its root namespace, sorted: threads whose sets are equal, or one
    contains the other, ran the same graph."""
    turns: int
    """Runs started by an input (user turns); at least 1."""
    messages: int
    """Messages in its last state."""
    turn_messages: int
    """The most messages one turn added."""
    turn_bytes: int
    """The most content bytes one turn added (stored bytes of what changed, whatever the saver)."""
    size: int
    """Stored bytes of the whole history (SQLite's grow with the square of a chat's length)."""
    first_checkpoint_id: str
    last_checkpoint_id: str


def size_of(root: NamespaceFacts, thread: Thread) -> ThreadSize | None:
    """What growth needs of a thread, from the pass over its root namespace."""
    if root.last_good is None or root.first_good is None:
        return None
    turns = root.turns()
    return ThreadSize(
        thread.thread_id,
        tuple(sorted(root.nodes)),
        max(1, len(turns)),
        len(root.final_messages()),
        max((m for m, _b in turns), default=0),
        max((b for _m, b in turns), default=0),
        thread.size,
        root.first_good,
        root.last_good.checkpoint_id,
    )


def norms_of(sizes: Sequence[ThreadSize]) -> StoreNorms:
    """The typical largest turn of ``sizes`` (medians), to judge threads of the same graph by."""
    if not sizes:
        return StoreNorms(0.0, 0.0, 0)
    return StoreNorms(
        statistics.median(s.turn_messages for s in sizes),
        statistics.median(s.turn_bytes for s in sizes),
        len(sizes),
    )


def growth_findings(sizes: Sequence[ThreadSize], config: DetectorConfig) -> list[Finding]:
    """Threads whose largest turn is past ``growth_factor`` times that of threads of the same graph
    (and past the minimums); graphs with fewer than 3 threads have no norm and are not judged."""
    by_graph: dict[tuple[str, ...], list[ThreadSize]] = {}
    for s in sizes:
        by_graph.setdefault(s.graph, []).append(s)
    # A thread that never reached a node (no tool call this time) ran the same graph: node sets
    # of which one contains the other are alike. Compared per distinct set, not per thread pair.
    sets = {graph: frozenset(graph) for graph in by_graph}
    norms: dict[tuple[str, ...], StoreNorms] = {}
    for graph, nodes in sets.items():
        norms[graph] = norms_of(
            [t for other, ts in by_graph.items() if nodes <= sets[other] or sets[other] <= nodes for t in ts]
        )
    out: list[Finding] = []
    for s in sizes:
        finding = judge(s, norms[s.graph], config)
        if finding is not None:
            out.append(finding)
    return out


def judge(s: ThreadSize, norms: StoreNorms, config: DetectorConfig) -> Finding | None:
    """A growth finding when ``s``'s largest turn is far past ``norms`` (those of its like threads)."""
    if norms.threads < 3:
        return None  # no norm to speak of
    reasons = []
    per = " in one turn" if s.turns > 1 else ""
    if s.turn_messages >= config.growth_min_messages and s.turn_messages > config.growth_factor * max(
        norms.median_messages, 1
    ):
        reasons.append(
            f"{s.turn_messages} messages{per}, {s.turn_messages / max(norms.median_messages, 1):.0f}× "
            "the median of its graph's threads"
        )
    if s.turn_bytes >= config.growth_min_bytes and s.turn_bytes > config.growth_factor * max(
        norms.median_size, 1
    ):
        reasons.append(
            f"{s.turn_bytes:,} bytes added{per}, {s.turn_bytes / max(norms.median_size, 1):.0f}× "
            "the median of its graph's threads"
        )
    if not reasons:
        return None
    return Finding(
        kind=GROWTH,
        thread_id=s.thread_id,
        checkpoint_ns="",
        first_checkpoint_id=s.first_checkpoint_id,
        last_checkpoint_id=s.last_checkpoint_id,
        severity="warning",
        summary="runaway growth: " + "; ".join(reasons),
        evidence={
            "messages": s.messages,
            "turns": s.turns,
            "turn_messages": s.turn_messages,
            "turn_bytes": s.turn_bytes,
            "size_bytes": s.size,
            "median_turn_messages": norms.median_messages,
            "median_turn_bytes": norms.median_size,
            "like_threads": norms.threads,
        },
    )
