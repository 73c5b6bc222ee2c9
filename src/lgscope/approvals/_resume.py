"""`resume`: the locked way for an application to answer an interrupt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lgscope._exceptions import AlreadyResolved, ApprovalError
from lgscope.approvals._lock import ThreadLocks, locks_for

__all__ = ["Pending", "read_pending", "resume"]

# LangGraph's reserved channels (langgraph._internal._constants; private there, stable on disk)
_RESUME, _ERROR = "__resume__", "__error__"


@dataclass(frozen=True, slots=True)
class Pending:
    """A pending interrupt as the graph's checkpointer sees it now."""

    id: str
    value: Any
    answered: bool = False
    """An earlier resume answered it but the node then failed: LangGraph still reports it as
    pending, yet replays that stored ``answer`` on every later resume, whatever the new value."""
    answer: Any = None


def read_pending(graph: Any, config: Mapping[str, Any]) -> dict[str, Pending]:
    """The thread's pending interrupts by id (all namespaces), read through the graph's checkpointer."""
    snapshot = graph.get_state(config, subgraphs=True)
    stored: dict[str, Any] = {}

    def answers(snap: Any) -> None:
        tup = graph.checkpointer.get_tuple(snap.config)
        given: dict[str, list[Any]] = {}
        failed: set[str] = set()
        writes = (tup.pending_writes or []) if tup is not None else []
        for task_id, channel, value in writes:
            if channel == _RESUME:
                given.setdefault(task_id, []).extend(value if isinstance(value, list) else [value])
            elif channel == _ERROR:
                failed.add(task_id)
        for task in snap.tasks:
            # A task's answers are replayed by index; after a failure the last one belongs to the
            # interrupt still shown as pending (a kill mid-node stores no answer at all).
            if task.id in failed and given.get(task.id):
                for intr in task.interrupts:
                    stored[str(intr.id)] = given[task.id][-1]
            if task.state is not None and hasattr(task.state, "tasks"):
                answers(task.state)  # a subgraph's own checkpoint holds its tasks' answers

    answers(snapshot)
    return {
        str(i.id): Pending(str(i.id), i.value, str(i.id) in stored, stored.get(str(i.id)))
        for i in snapshot.interrupts
    }


def stored_answer(graph: Any, thread_id: str, interrupt_id: str) -> tuple[bool, Any]:
    """Whether the thread's history holds an answer to ``interrupt_id``, and that answer.

    An answer is the ``__resume__`` write of the task that wrote the interrupt, in whatever
    namespace and checkpoint; with several answers (a node that interrupted more than once) the
    last one answered the interrupt that was pending when the task finished.
    """
    for tup in graph.checkpointer.list({"configurable": {"thread_id": thread_id}}):
        writes = tup.pending_writes or []
        tasks = {
            task_id
            for task_id, channel, value in writes
            if channel == "__interrupt__" and any(str(getattr(i, "id", "")) == interrupt_id for i in value)
        }
        given = [v for task_id, channel, v in writes if channel == _RESUME and task_id in tasks]
        if given:
            last = given[-1]
            return True, last[-1] if isinstance(last, list) and last else last
    return False, None


def resume(
    graph: Any,
    config: Mapping[str, Any],
    value: Any,
    *,
    interrupt_id: str | None = None,
    locks: ThreadLocks | None = None,
    timeout: float = 30.0,
) -> Any:
    """Answer a pending interrupt exactly once: THE way for your app's Approve/Reject button.

    LangGraph itself lets two resumes of the same interrupt both run (the history forks). This
    takes the same per-thread lock as ``lgscope sweep``, re-reads the pending interrupts under
    it, and resumes with ``Command(resume={interrupt_id: value})``. Raises `AlreadyResolved` if
    the interrupt was answered meanwhile (by a person or a sweeper) — also when an earlier answer
    is stored and its node failed, since LangGraph would replay that answer instead of ``value``
    (resuming with the same answer retries the node) — and `LockUnavailable` if the thread stays
    locked past ``timeout`` seconds. Returns what ``graph.invoke`` returns.
    """
    from langgraph.types import Command

    thread_id = str((config.get("configurable") or {}).get("thread_id", ""))
    if not thread_id:
        raise ApprovalError('resume needs config={"configurable": {"thread_id": ...}} naming the thread.')
    locks = locks or locks_for(graph.checkpointer)
    with locks.hold(thread_id, timeout):
        pending = read_pending(graph, config)
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
        found = pending[interrupt_id]
        if found.answered and found.answer != value:
            raise AlreadyResolved(
                f"Interrupt {interrupt_id} of thread {thread_id!r} was answered already with {found.answer!r}, "
                f"but the node failed afterwards; LangGraph replays that answer on every resume, so "
                f"{value!r} would be ignored. Resume with the same answer to retry the node."
            )
        return graph.invoke(Command(resume={interrupt_id: value}), dict(config))
