"""`follow`: new checkpoints and new findings of a store (or one thread) as they land.

Each poll asks the store for its tips (`Store.tips`: the primary-key indexes alone, as an
incremental scan does). A namespace whose latest checkpoint moved has its new steps read
(the page after the last one seen); a thread that moved is analysed again, and findings it
did not have before are reported.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from lgscope._exceptions import StoreError, UsageError
from lgscope.forensics._config import DetectorConfig
from lgscope.forensics._detect import analyze
from lgscope.model import Finding, Step
from lgscope.store import NamespaceTip, Store

__all__ = ["TailEvent", "follow"]

_MAX_STEPS_A_POLL = 500
"""New steps read in full per namespace and poll; past it, the rest of the page is shown as the
cheaper timeline has it (a runaway loop must not stall the tail)."""


@dataclass(frozen=True, slots=True)
class TailEvent:
    """A new step, or a new finding, that `follow` saw land."""

    step: Step | None = None
    finding: Finding | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON form ``lgscope tail --format jsonl`` prints."""
        if self.step is not None:
            return {"event": "step", "thread_id": self.step.thread_id, **self.step.to_dict()}
        assert self.finding is not None
        return {"event": "finding", **self.finding.to_dict()}


Key = tuple[str, str, str]


def _key(f: Finding) -> Key:
    return (f.kind, f.checkpoint_ns, f.first_checkpoint_id)


def follow(
    store: Store,
    *,
    thread_id: str | None = None,
    interval: float = 1.0,
    config: DetectorConfig | None = None,
    stop: threading.Event | None = None,
) -> Iterator[TailEvent]:
    """Poll ``store`` every ``interval`` seconds until ``stop`` is set; yield each new step (oldest
    first, per namespace) and each new finding of a thread that moved. What is there when it
    starts is the baseline: only what lands afterwards is reported."""
    config = config or DetectorConfig()
    stop = stop or threading.Event()
    version = store.data_version()
    seen = _tips(store, thread_id)
    known: dict[str, set[Key]] = {}
    while not stop.wait(interval):
        latest = store.data_version()
        if version is not None and latest == version:
            continue  # nothing committed since the last look: the index query would say the same
        version = latest
        current = _tips(store, thread_id)
        new_ids: dict[str, set[str]] = {}
        landed: list[Step] = []
        for (tid, ns), tip in current.items():
            old = seen.get((tid, ns))
            if old == tip:
                continue
            ids = new_ids.setdefault(tid, set())
            # it moved: new steps, or writes (an error, an interrupt) on its latest checkpoint
            ids.add(tip.last_checkpoint_id)
            if old is None or old.last_checkpoint_id != tip.last_checkpoint_id:
                for step in _new_steps(store, tid, ns, old.last_checkpoint_id if old else None):
                    ids.add(step.checkpoint_id)
                    landed.append(step)
        # in the order they were written, across threads (each namespace's are already in order)
        for step in sorted(landed, key=lambda s: s.ts):
            yield TailEvent(step=step)
        existed = {tid for tid, _ in seen}
        seen = current
        for tid in sorted(new_ids):
            for finding in _new_findings(store, tid, config, known, new_ids[tid], tid in existed):
                yield TailEvent(finding=finding)


def _tips(store: Store, thread_id: str | None) -> dict[tuple[str, str], NamespaceTip]:
    tips = store.tips(thread_id)
    if tips is None:
        raise UsageError(
            f"Following a store needs a SQLite or Postgres store; {store.url} is a {store.kind} store."
        )
    return {(t.thread_id, t.checkpoint_ns): t for t in tips}


def _new_steps(store: Store, thread_id: str, ns: str, after: str | None) -> Iterator[Step]:
    """The steps of a namespace past ``after`` (all of them for a new namespace), oldest first."""
    try:
        index = store.timeline_index(thread_id, after, ns) if after is not None else -1
        if index is None:  # pruned away: the ids tell what is newer
            page = tuple(s for s in store.timeline(thread_id, ns) if after is None or s.checkpoint_id > after)
        else:
            page = store.timeline(thread_id, ns, offset=index + 1)
        for n, brief in enumerate(page):
            yield store.step_at(thread_id, brief.checkpoint_id, ns) if n < _MAX_STEPS_A_POLL else brief
    except StoreError:
        return  # deleted since the tips were read


def _new_findings(
    store: Store,
    thread_id: str,
    config: DetectorConfig,
    known: dict[str, set[Key]],
    new_ids: set[str],
    existed: bool,
) -> list[Finding]:
    """Findings of a thread that moved which were not there before: against the last analysis,
    or, the first time, those whose evidence reaches into the new steps (all, for a new thread)."""
    try:
        found = analyze(store.load(thread_id, control_only=True), config, now=datetime.now(UTC)).findings
    except StoreError:
        return []
    before = known.get(thread_id)
    known[thread_id] = {_key(f) for f in found}
    if before is not None:
        return [f for f in found if _key(f) not in before]
    if not existed:
        return found
    return [f for f in found if f.last_checkpoint_id in new_ids or f.first_checkpoint_id in new_ids]
