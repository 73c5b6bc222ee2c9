"""What an assert can be pointed at, turned into thread histories."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from lgscope._exceptions import UsageError
from lgscope.model import Step, ThreadHistory
from lgscope.store import Store, open_store
from lgscope.store.build import build_thread

__all__ = ["resolve"]


def _config_thread_id(config: Mapping[str, Any] | None) -> str:
    configurable = (config or {}).get("configurable") or {}
    thread_id = configurable.get("thread_id")
    if thread_id is None:
        raise UsageError(
            "A compiled graph needs the config it was invoked with to name the thread; pass "
            'config={"configurable": {"thread_id": ...}}.'
        )
    return str(thread_id)


def _from_steps(steps: Sequence[Step]) -> list[ThreadHistory]:
    by_thread: dict[str, dict[str, list[Step]]] = {}
    for s in steps:
        by_thread.setdefault(s.thread_id, {}).setdefault(s.checkpoint_ns, []).append(s)
    out = []
    for thread_id, by_ns in by_thread.items():
        seqs = {ns: tuple(sorted(seq, key=lambda s: s.checkpoint_id)) for ns, seq in by_ns.items()}
        all_steps = [s for seq in seqs.values() for s in seq]
        thread = build_thread(
            thread_id,
            {ns: seq[-1] for ns, seq in seqs.items()},
            checkpoints=len(all_steps),
            size=sum(s.size for s in all_steps),
            created_at=min(s.ts for s in all_steps),
            corrupt=sum(1 for s in all_steps if s.corrupt),
        )
        out.append(ThreadHistory(thread=thread, steps=seqs))
    return out


def _load(store_target: Any, thread_id: str | None) -> list[ThreadHistory]:
    store = store_target if isinstance(store_target, Store) else open_store(store_target)
    try:
        if thread_id is None:
            return list(store.scan())
        return [store.load(thread_id)]
    finally:
        if store is not store_target:
            store.close()


def resolve(target: Any, config: Mapping[str, Any] | None = None) -> list[ThreadHistory]:
    """Histories for a compiled graph (+config), ``(store, thread_id)``, steps, or an export path."""
    from langgraph.pregel import Pregel

    if isinstance(target, ThreadHistory):
        return [target]
    if isinstance(target, Pregel):
        saver = target.checkpointer
        if saver is None or isinstance(saver, bool):
            raise UsageError(
                f"The graph {target.get_name()!r} has no checkpointer, so it keeps no history to check; "
                "compile it with a checkpointer (InMemorySaver will do) or use the lgscope_recorder fixture."
            )
        return _load(saver, _config_thread_id(config))
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[1], str):
        return _load(target[0], target[1])
    if isinstance(target, list | tuple) and all(isinstance(s, Step) for s in target):
        return _from_steps(target)
    if isinstance(target, str | os.PathLike):
        return _load(target, _config_thread_id(config) if config else None)
    raise UsageError(
        f"Cannot check a {type(target).__name__}; pass a compiled graph with its config, a "
        "(store, thread_id) pair, a list of steps, or an export file path."
    )
