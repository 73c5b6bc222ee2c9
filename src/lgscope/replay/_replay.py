"""`replay`: fork into a sandbox, run the user's graph there, compare with what was recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lgscope._exceptions import UsageError
from lgscope.model import Finding, ThreadStatus
from lgscope.replay._compare import AlignedStep, align, first_divergence, trajectory
from lgscope.replay._fork import ForkResult, fork
from lgscope.replay._graph import bind, load_graph
from lgscope.replay._target import new_sandbox, open_async_saver, open_saver, release
from lgscope.store import Store, open_store

if TYPE_CHECKING:
    from lgscope.forensics.diff import Change

__all__ = ["NO_RESUME", "ReplayResult", "areplay", "replay"]


class _NoResume:
    def __repr__(self) -> str:
        return "NO_RESUME"


NO_RESUME: Any = _NoResume()
"""``resume`` not given (None is a resume value of its own)."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """A replay: where it ran, and how its trajectory compares with the recorded one."""

    fork: ForkResult
    """The sandbox copy (``fork.target``, ``fork.thread_id``) the graph ran on."""
    recorded: tuple[str, ...]
    """The recorded thread's node sequence after the fork point."""
    replayed: tuple[str, ...]
    """The replay's node sequence after the fork point (a patch's own checkpoint left out)."""
    aligned: tuple[AlignedStep, ...]
    first_divergence: int | None
    """The first row of ``aligned`` where the two differ; None when they agree."""
    state_diff: tuple[Change, ...]
    """How the replay's final state differs from the recorded final state."""
    recorded_findings: tuple[Finding, ...]
    replayed_findings: tuple[Finding, ...]
    """The replay's findings; where the recorded thread was left waiting, ages (stuck interrupts,
    stuck runs) judged as if the replay had waited as long."""
    recorded_status: ThreadStatus
    status: ThreadStatus
    """The sandbox thread's status after the run."""
    error: str | None = None
    """What the graph raised, if it did (``GraphRecursionError: …``): an outcome, not a failure."""

    @property
    def sandbox(self) -> str:
        return self.fork.target

    @property
    def fixed(self) -> tuple[str, ...]:
        """Finding kinds the recorded thread has and the replay does not."""
        return _kinds(self.recorded_findings, self.replayed_findings)

    @property
    def introduced(self) -> tuple[str, ...]:
        """Finding kinds the replay has and the recorded thread does not."""
        return _kinds(self.replayed_findings, self.recorded_findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_thread_id": self.fork.source_thread_id,
            "checkpoint_id": self.fork.checkpoint_id,
            "sandbox": self.fork.target,
            "thread_id": self.fork.thread_id,
            "patched": list(self.fork.patched),
            "recorded": list(self.recorded),
            "replayed": list(self.replayed),
            "aligned": [row.to_dict() for row in self.aligned],
            "first_divergence": self.first_divergence,
            "state_diff": [c.to_dict() for c in self.state_diff],
            "recorded_findings": [f.to_dict() for f in self.recorded_findings],
            "replayed_findings": [f.to_dict() for f in self.replayed_findings],
            "fixed": list(self.fixed),
            "introduced": list(self.introduced),
            "recorded_status": self.recorded_status,
            "status": self.status,
            "error": self.error,
        }


def _kinds(a: Sequence[Finding], b: Sequence[Finding]) -> tuple[str, ...]:
    theirs = {f.kind for f in b}
    return tuple(sorted({f.kind for f in a} - theirs))


def _graph_object(graph: Any) -> Any:
    return load_graph(graph) if isinstance(graph, str) else graph


def _inputs(pending: Sequence[str], resume: Any) -> list[Any]:
    """What to invoke the sandbox thread with: None, then a resume if interrupted; or the resume
    at once when the fork point itself is waiting on interrupts."""
    from langgraph.types import Command

    if resume is NO_RESUME:
        return [None]
    if pending:
        return [Command(resume=_resume_value(pending, resume))]
    return [None, _Later(resume)]


class _Later:
    """A resume to send only if the first run stops at an interrupt."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _resume_value(pending: Sequence[str], resume: Any) -> Any:
    if len(pending) > 1:
        if isinstance(resume, Mapping) and set(resume) == set(pending):
            return dict(resume)
        raise UsageError(
            f"The thread waits on {len(pending)} interrupts ({', '.join(pending)}); resume with a JSON map "
            "from each interrupt id to its answer."
        )
    return resume


def _pending_ids(sandbox: str, thread_id: str) -> list[str]:
    with open_store(sandbox) as st:
        return [i.id for i in st.thread(thread_id).pending_interrupts]


def _prepare(
    source: str | Store | Any,
    thread_id: str,
    graph: Any,
    checkpoint: str | None,
    patch: Mapping[str, Any] | None,
    as_node: str | None,
    into: str | None,
    to_thread: str | None,
    force: bool,
    allow_types: Iterable[str],
) -> tuple[Any, ForkResult, str]:
    obj = _graph_object(graph)
    target = into or new_sandbox()
    result = fork(
        source,
        thread_id,
        target,
        checkpoint=checkpoint,
        to_thread=to_thread,
        patch=patch,
        graph=obj,
        as_node=as_node,
        force=force,
        allow_types=allow_types,
    )
    return obj, result, target


def _outcome(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def replay(
    source: str | Store | Any,
    thread_id: str,
    graph: Any,
    *,
    checkpoint: str | None = None,
    patch: Mapping[str, Any] | None = None,
    as_node: str | None = None,
    resume: Any = NO_RESUME,
    into: str | None = None,
    to_thread: str | None = None,
    force: bool = False,
    recursion_limit: int | None = None,
    allow_types: Iterable[str] = (),
) -> ReplayResult:
    """Fork ``thread_id`` at ``checkpoint`` into a sandbox (``into``, default a new temporary SQLite
    file), run ``graph`` there and compare the two trajectories.

    ``graph`` is ``MODULE:ATTR`` or the object itself: a compiled graph, a ``StateGraph`` or a
    factory; it runs bound to the sandbox's checkpointer, never its own. The run is
    ``invoke(None)``, or ``Command(resume=resume)`` when the fork point waits on an interrupt (or
    the run stops at one). What the graph raises is part of the result (``error``). Stored values
    your graph's serializer would rebuild by running code are refused unless ``allow_types`` names
    them (as `fork`).
    """
    obj, forked, target = _prepare(
        source, thread_id, graph, checkpoint, patch, as_node, into, to_thread, force, allow_types
    )
    config = _config(forked.thread_id, recursion_limit)
    error: str | None = None
    with open_saver(target) as saver:
        bound = bind(obj, saver)
        for value in _inputs(_pending_ids(target, forked.thread_id), resume):
            if isinstance(value, _Later):
                pending = _pending_ids(target, forked.thread_id)
                if not pending or error is not None:
                    break
                value = _command(pending, value.value)
            try:
                bound.invoke(value, config)
            except Exception as exc:  # the graph's own failure is what the replay shows
                error = _outcome(exc)
    return _compare(source, thread_id, target, forked, error)


async def areplay(
    source: str | Store | Any,
    thread_id: str,
    graph: Any,
    *,
    checkpoint: str | None = None,
    patch: Mapping[str, Any] | None = None,
    as_node: str | None = None,
    resume: Any = NO_RESUME,
    into: str | None = None,
    to_thread: str | None = None,
    force: bool = False,
    recursion_limit: int | None = None,
    allow_types: Iterable[str] = (),
) -> ReplayResult:
    """`replay` for async graphs: the run is ``ainvoke`` on the sandbox's async saver
    (``AsyncSqliteSaver``/``AsyncPostgresSaver``); reading and comparing run in a worker thread."""
    import asyncio

    obj, forked, target = await asyncio.to_thread(
        _prepare, source, thread_id, graph, checkpoint, patch, as_node, into, to_thread, force, allow_types
    )
    config = _config(forked.thread_id, recursion_limit)
    error: str | None = None
    async with open_async_saver(target) as saver:
        bound = bind(obj, saver)
        pending = await asyncio.to_thread(_pending_ids, target, forked.thread_id)
        for value in _inputs(pending, resume):
            if isinstance(value, _Later):
                pending = await asyncio.to_thread(_pending_ids, target, forked.thread_id)
                if not pending or error is not None:
                    break
                value = _command(pending, value.value)
            try:
                await bound.ainvoke(value, config)
            except Exception as exc:
                error = _outcome(exc)
    return await asyncio.to_thread(_compare, source, thread_id, target, forked, error)


def _command(pending: Sequence[str], resume: Any) -> Any:
    from langgraph.types import Command

    return Command(resume=_resume_value(pending, resume))


def _config(thread_id: str, recursion_limit: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
    if recursion_limit is not None:
        config["recursion_limit"] = recursion_limit
    return config


def _compare(
    source: str | Store | Any, thread_id: str, target: str, forked: ForkResult, error: str | None
) -> ReplayResult:
    from lgscope.forensics import detect
    from lgscope.forensics.diff import diff

    src = source if isinstance(source, Store) else open_store(source)
    try:
        with open_store(target) as sandbox:
            recorded = trajectory(src, thread_id, forked.checkpoint_id)
            replayed = trajectory(sandbox, forked.thread_id, forked.checkpoint_id, skip_updates=True)
            rec_hist, new_hist = (
                src.load(thread_id, control_only=True),
                sandbox.load(forked.thread_id, control_only=True),
            )
            now = datetime.now(UTC)
            recorded_findings = tuple(detect(rec_hist, now=now))
            # A recorded thread left waiting (an interrupt, a paused or crashed run) has an age: the
            # replay's is judged as if it had waited as long, so a rerun minutes old is not "fixed"
            # by being young. A thread that finished waits on nothing: the replay is judged now.
            judged = now
            if rec_hist.thread.status in (ThreadStatus.INTERRUPTED, ThreadStatus.RUNNING):
                waited = now - (rec_hist.thread.updated_at or now)
                judged = (new_hist.thread.updated_at or now) + waited
            replayed_findings = tuple(detect(new_hist, now=judged))
            rows = align(recorded.nodes, replayed.nodes)
            return ReplayResult(
                fork=forked,
                recorded=recorded.nodes,
                replayed=replayed.nodes,
                aligned=rows,
                first_divergence=first_divergence(rows),
                state_diff=tuple(diff(recorded.final, replayed.final)),
                recorded_findings=recorded_findings,
                replayed_findings=replayed_findings,
                recorded_status=rec_hist.thread.status,
                status=new_hist.thread.status,
                error=error,
            )
    finally:
        if src is not source:
            src.close()
        release(target)
