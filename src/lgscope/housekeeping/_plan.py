"""What a retention policy deletes from a thread, and what it must keep so the thread still works.

A plan keeps, per thread: the checkpoints the policy keeps (the last N of the root graph, or
those newer than a cutoff; always the latest), and everything a kept checkpoint needs:

- the latest checkpoint of every namespace, with its pending writes (a pending interrupt is
  there, and resumes from there);
- the parent of a kept pre-v4 checkpoint whose pending ``Send`` tasks are that parent's writes;
- a ``DeltaChannel``'s chain: every ancestor back to the one that stores the channel's value
  (its ``_DeltaSnapshot``), with their writes — LangGraph rebuilds the value from them and would
  silently start from empty without them;
- a subgraph call's namespace goes with the root checkpoint it ran under (``metadata.parents``);
  a ``checkpointer=True`` subgraph's namespace (no task id) keeps its latest checkpoint.

Postgres blobs are freed only when no kept checkpoint of the namespace references them.
What is deleted is described as a range per namespace (ids up to ``upto``) minus the ids kept
there, so a plan is small however long the thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lgscope._exceptions import UsageError
from lgscope.housekeeping._db import INTERRUPT, TASKS, Rows
from lgscope.store._raw import ts_from_checkpoint_id

__all__ = ["Kept", "NamespacePlan", "Policy", "ThreadPlan", "plan_thread"]

_COUNTERS = "counters_since_delta_snapshot"


@dataclass(frozen=True, slots=True)
class Policy:
    """Which checkpoints a prune keeps: exactly one of ``keep_last`` and ``older_than``."""

    keep_last: int | None = None
    """Keep the last N checkpoints of each thread's root graph (N ≥ 1)."""
    older_than: timedelta | None = None
    """Delete checkpoints older than this (the latest of a thread is always kept)."""
    now: datetime | None = None
    """The time ``older_than`` counts back from (default: now)."""

    def __post_init__(self) -> None:
        if (self.keep_last is None) == (self.older_than is None):
            raise UsageError(
                "Give a retention policy: --keep-last N or --older-than DURATION (one of them); nothing was deleted."
            )
        if self.keep_last is not None and self.keep_last < 1:
            raise UsageError(
                f"--keep-last {self.keep_last} would delete every checkpoint; keep at least 1 (the thread's "
                "state). Nothing was deleted."
            )
        if self.older_than is not None and self.older_than <= timedelta(0):
            raise UsageError("--older-than must be a positive duration (e.g. 30d); nothing was deleted.")

    def describe(self) -> str:
        """The policy as its options read (``keep-last 3``, ``older-than 30d``)."""
        if self.keep_last is not None:
            return f"keep-last {self.keep_last}"
        assert self.older_than is not None
        from lgscope.units import format_duration

        return f"older-than {format_duration(self.older_than)}"

    def cutoff(self) -> datetime:
        assert self.older_than is not None
        return (self.now or datetime.now(UTC)) - self.older_than


@dataclass(frozen=True, slots=True)
class Kept:
    """A checkpoint kept beyond the policy's own, and why."""

    checkpoint_ns: str
    checkpoint_id: str
    reason: str
    """``pending interrupt``, ``latest``, ``sends parent``, ``delta chain``, ``subgraph of a kept
    checkpoint``, ``subgraph latest``."""


@dataclass(frozen=True, slots=True)
class NamespacePlan:
    """What goes from one namespace: ids up to ``upto`` (inclusive) but those in ``keep``."""

    checkpoint_ns: str
    upto: str | None
    """None: nothing goes."""
    keep: tuple[str, ...]
    checkpoints: int
    writes: int
    blobs: int
    bytes: int

    def deletes(self, checkpoint_id: str) -> bool:
        """Whether this plan deletes the checkpoint (as it stood when planned)."""
        return self.upto is not None and checkpoint_id <= self.upto and checkpoint_id not in self.keep


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    """One thread's prune: what goes, what is kept beyond the policy, and the bytes freed."""

    thread_id: str
    checkpoints_before: int
    namespaces: tuple[NamespacePlan, ...]
    kept: tuple[Kept, ...]
    delta: bool
    """Whether the thread uses a DeltaChannel (its chains were kept)."""
    checkpoints: int = field(init=False)
    writes: int = field(init=False)
    blobs: int = field(init=False)
    bytes: int = field(init=False)

    def __post_init__(self) -> None:
        for name in ("checkpoints", "writes", "blobs", "bytes"):
            object.__setattr__(self, name, sum(getattr(n, name) for n in self.namespaces))

    def deletes(self, checkpoint_ns: str, checkpoint_id: str) -> bool:
        """Whether this plan deletes the checkpoint."""
        return any(n.checkpoint_ns == checkpoint_ns and n.deletes(checkpoint_id) for n in self.namespaces)


def _bound(rows: Rows, thread_id: str, last: str, policy: Policy) -> str:
    """The oldest root checkpoint the policy keeps (it keeps every one after it)."""
    if policy.keep_last is not None:
        ids = rows.last_ids(thread_id, "", policy.keep_last)
        return ids[-1] if ids else last
    cutoff = policy.cutoff()
    for cid in rows.ids(thread_id, ""):
        ts = ts_from_checkpoint_id(cid)
        if ts is None or ts >= cutoff:  # an id that is not a uuid6 tells no time: kept, with all after it
            return cid
    return last


def _delta_chain(rows: Rows, thread_id: str, ns: str, start: str, keep: dict[str, str]) -> None:
    """Keep the ancestors of ``start`` back to where each of its delta channels is stored."""
    info = rows.info(thread_id, ns, start)
    if info is None:
        return
    counters = info.metadata.get(_COUNTERS)
    remaining = {ch for ch in counters if ch not in info.stored} if isinstance(counters, dict) else set()
    cid, seen = info.parent_id, 0
    while remaining and cid and seen < 100_000:
        parent = rows.info(thread_id, ns, cid)
        if parent is None:
            break  # already gone: nothing older can help
        keep.setdefault(cid, "delta chain")
        remaining -= parent.stored
        cid, seen = parent.parent_id, seen + 1


def _sends_parent(rows: Rows, thread_id: str, ns: str, checkpoint_id: str, keep: dict[str, str]) -> None:
    info = rows.info(thread_id, ns, checkpoint_id)
    if info is None or info.version >= 4 or not info.parent_id:
        return
    if TASKS in rows.write_channels(thread_id, ns, info.parent_id):
        keep.setdefault(info.parent_id, "sends parent")


def _root_plan(
    rows: Rows, thread_id: str, last: str, policy: Policy, delta: bool
) -> tuple[str | None, dict[str, str]]:
    bound = _bound(rows, thread_id, last, policy)
    upto = rows.max_below(thread_id, "", bound)
    keep: dict[str, str] = {}
    if upto is None:
        return None, keep
    # Only a kept checkpoint whose parent goes can lose what it needs (a fork's parent can be old).
    crossing = [cid for cid, pid in rows.links_from(thread_id, "", bound) if pid is not None and pid <= upto]
    for cid in crossing:
        _sends_parent(rows, thread_id, "", cid, keep)
        if delta:
            _delta_chain(rows, thread_id, "", cid, keep)
    if delta:  # a parent kept for its Sends needs its own chain (a chain's members need no more)
        for cid in [c for c, why in keep.items() if why == "sends parent"]:
            _delta_chain(rows, thread_id, "", cid, keep)
    return upto, keep


def _is_call(ns: str) -> bool:
    """A subgraph call's namespace ends in ``node:task_id``; a ``checkpointer=True`` subgraph's
    namespace (``node``) lives across calls."""
    return ":" in ns.rsplit("|", 1)[-1]


def _sub_plans(
    rows: Rows,
    thread_id: str,
    namespaces: dict[str, tuple[str, int]],
    root_upto: str | None,
    root_keep: dict[str, str],
    delta: bool,
) -> dict[str, tuple[str | None, dict[str, str]]]:
    exists: dict[str, bool] = {}

    def root_goes(root: str | None) -> bool:
        if root is None or root_upto is None or root > root_upto or root in root_keep:
            return False
        if root not in exists:
            exists[root] = rows.info(thread_id, "", root) is not None
        return exists[root]

    doomed: dict[str, list[str]] = {}
    kept: dict[str, dict[str, str]] = {}
    for ns, cid, root in rows.sub_roots(thread_id):
        if root_goes(root) and not (not _is_call(ns) and cid == namespaces[ns][0]):
            doomed.setdefault(ns, []).append(cid)
        else:
            reason = (
                "subgraph of a kept checkpoint"
                if _is_call(ns) or cid != namespaces[ns][0]
                else "subgraph latest"
            )
            kept.setdefault(ns, {})[cid] = reason
    out: dict[str, tuple[str | None, dict[str, str]]] = {}
    for ns in namespaces:
        if ns == "":
            continue
        gone = doomed.get(ns)
        if not gone:
            out[ns] = (None, {})
            continue
        upto = max(gone)
        keep = {cid: why for cid, why in kept.get(ns, {}).items() if cid <= upto}
        if delta and not _is_call(ns):
            _delta_chain(rows, thread_id, ns, namespaces[ns][0], keep)
        out[ns] = (upto, keep)
    return out


def plan_thread(rows: Rows, thread_id: str, policy: Policy) -> ThreadPlan:
    """Plan one thread's prune on ``rows`` (inside the prune's transaction when applying)."""
    namespaces = rows.namespaces(thread_id)
    before = sum(n for _last, n in namespaces.values())
    if "" not in namespaces:  # only subgraph rows: their root graph is not here to judge by
        return ThreadPlan(thread_id, before, (), (), False)
    delta = rows.is_delta(thread_id)
    root_upto, root_keep = _root_plan(rows, thread_id, namespaces[""][0], policy, delta)
    per_ns = {"": (root_upto, root_keep)}
    per_ns.update(_sub_plans(rows, thread_id, namespaces, root_upto, root_keep, delta))
    plans: list[NamespacePlan] = []
    kept: list[Kept] = []
    for ns in sorted(per_ns, key=lambda n: (n != "", n)):
        upto, keep = per_ns[ns]
        latest = namespaces[ns][0]
        if INTERRUPT in rows.write_channels(thread_id, ns, latest):
            kept.append(Kept(ns, latest, "pending interrupt"))
        ids = tuple(sorted(keep))
        kept.extend(
            Kept(ns, cid, keep[cid])
            for cid in ids
            if ns == "" or keep[cid] != "subgraph of a kept checkpoint"
        )
        if upto is None:
            plans.append(NamespacePlan(ns, None, (), 0, 0, 0, 0))
            continue
        n, w, b, size = rows.doomed(thread_id, ns, ids, upto)
        plans.append(NamespacePlan(ns, upto, ids, n, w, b, size))
    return ThreadPlan(thread_id, before, tuple(plans), tuple(kept), delta)


def plan_threads(rows: Rows, thread_ids: Sequence[str] | None, policy: Policy) -> Iterator[ThreadPlan]:
    """Each thread's plan, one at a time."""
    for tid in rows.thread_ids(thread_ids):
        yield plan_thread(rows, tid, policy)
