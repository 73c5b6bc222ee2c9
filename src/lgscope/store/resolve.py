"""Checkpoint ids as people type them: the fragment a view printed, resolved to the whole id.

``scan`` prints the last 8 characters of an id (``…5c1d2e3f``), tables cut ids short, people copy
the start. `resolve_checkpoint` accepts any unique prefix or suffix, ``head…tail`` (either
side may be empty; ``...`` works too), or the whole id, and says so when a fragment fits
several checkpoints, or when it is the ``first…last`` pair scan prints for a finding. It reads
only the thread's cheap timeline through the public `Store` API.
"""

from __future__ import annotations

from lgscope._exceptions import CheckpointNotFound, UsageError
from lgscope.store._base import Store

__all__ = ["resolve_checkpoint"]

_SHOWN = 4


def _fits(checkpoint_id: str, fragment: str) -> bool:
    for dots in ("…", "..."):
        if dots in fragment:
            head, _, tail = fragment.partition(dots)
            tail = tail.replace(dots, "")
            return (
                len(head) + len(tail) <= len(checkpoint_id)
                and checkpoint_id.startswith(head)
                and checkpoint_id.endswith(tail)
            )
    return checkpoint_id.startswith(fragment) or checkpoint_id.endswith(fragment)


def resolve_checkpoint(store: Store, thread_id: str, fragment: str, ns: str | None = None) -> tuple[str, str]:
    """The whole id and the namespace of the one checkpoint of ``thread_id`` that ``fragment``
    names (searched in ``ns`` only, when given). `CheckpointNotFound` if none fits; `UsageError`
    if several do, naming a few."""
    text = fragment.strip()
    if not text.strip(".…"):
        raise UsageError(f"{fragment!r} is not a checkpoint id; give its first or last characters.")
    namespaces = store.thread(thread_id).namespaces if ns is None else (ns,)
    found: list[tuple[str, str]] = []
    for namespace in namespaces:
        for step in store.timeline(thread_id, namespace):
            if step.checkpoint_id == text:
                return step.checkpoint_id, namespace
            if _fits(step.checkpoint_id, text):
                found.append((step.checkpoint_id, namespace))
    if len(found) == 1:
        return found[0]
    listing = f"lgscope show {store.url} --thread {thread_id}"
    ends = [part for part in text.replace("...", "…").split("…") if part]
    if not found and len(ends) == 2:  # scan prints a finding's checkpoints as first…last (8 each)
        pair = [resolve_checkpoint(store, thread_id, part, ns)[0] for part in ends]
        raise UsageError(
            f"{fragment!r} names two checkpoints, as scan prints a finding's first and last: {pair[0]} and "
            f"{pair[1]}; give one of them (e.g. {ends[0]})."
        )
    if not found:
        raise CheckpointNotFound(
            f"Thread {thread_id!r} has no checkpoint matching {fragment!r} (an id, or its first or last "
            f"characters); list them with: {listing}."
        )
    shown = ", ".join(cid for cid, _ in found[:_SHOWN]) + (", …" if len(found) > _SHOWN else "")
    raise UsageError(
        f"{fragment!r} matches {len(found)} checkpoints of thread {thread_id!r} ({shown}); give more of "
        f"the id (list them with: {listing})."
    )
