"""`resume`: the locked way for an application to answer an interrupt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lgscope._exceptions import AlreadyResolved, ApprovalError
from lgscope.approvals._lock import ThreadLocks, locks_for

__all__ = ["pending_interrupt_ids", "resume"]


def pending_interrupt_ids(graph: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """The thread's pending interrupts by id, read through the graph's own checkpointer."""
    snapshot = graph.get_state(config)
    return {str(i.id): i for i in snapshot.interrupts}


def resume(
    graph: Any,
    config: Mapping[str, Any],
    value: Any,
    *,
    interrupt_id: str | None = None,
    locks: ThreadLocks | None = None,
    timeout: float = 30.0,
) -> Any:
    """Answer a pending interrupt exactly once; use this from your app's Approve/Reject button.

    LangGraph itself lets two resumes of the same interrupt both run (the history forks). This
    takes the same per-thread lock as ``lgscope sweep``, re-reads the pending interrupts under
    it, and resumes with ``Command(resume={interrupt_id: value})``. Raises `AlreadyResolved` if
    the interrupt was answered meanwhile (by a person or a sweeper), `LockUnavailable` if the
    thread stays locked past ``timeout`` seconds. Returns what ``graph.invoke`` returns.
    """
    from langgraph.types import Command

    thread_id = str((config.get("configurable") or {}).get("thread_id", ""))
    if not thread_id:
        raise ApprovalError('resume needs config={"configurable": {"thread_id": ...}} naming the thread.')
    locks = locks or locks_for(graph.checkpointer)
    with locks.hold(thread_id, timeout):
        pending = pending_interrupt_ids(graph, config)
        if interrupt_id is None:
            if not pending:
                raise AlreadyResolved(
                    f"Thread {thread_id!r} has no pending interrupt; it was answered already."
                )
            if len(pending) > 1:
                raise ApprovalError(
                    f"Thread {thread_id!r} has {len(pending)} pending interrupts ({', '.join(sorted(pending))}); "
                    "name the one to answer with interrupt_id=."
                )
            interrupt_id = next(iter(pending))
        elif interrupt_id not in pending:
            raise AlreadyResolved(
                f"Interrupt {interrupt_id} of thread {thread_id!r} is no longer pending; it was answered already."
            )
        return graph.invoke(Command(resume={interrupt_id: value}), dict(config))
