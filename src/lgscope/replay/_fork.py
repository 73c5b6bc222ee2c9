"""`fork`: copy a stored thread up to one of its checkpoints into another store, resumable.

What is copied: the root namespace's checkpoints on the fork point's line of ancestry (a
``DeltaChannel``'s value is rebuilt from ancestor writes, so the chain back to its snapshot is
all there), every write of those ancestors, and the subgraph namespaces' checkpoints made before
the fork point. At the thread's latest checkpoint its pending writes come too (interrupts,
finished tasks of an interrupted step), so the copy resumes exactly where the thread stopped;
at an earlier checkpoint they are left behind, so the tasks it started run again.

Everything goes through LangGraph's saver (``put``/``put_writes``) with the stored bytes as they
are, in one transaction; the source is only read (`lgscope.store`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ormsgpack

from lgscope._exceptions import DecodeError, UsageError
from lgscope.model import Step, is_bookkeeping
from lgscope.replay._graph import bind, check_nodes, graph_channels
from lgscope.replay._target import is_postgres, same_store
from lgscope.store import RawCheckpoint, Store, open_store, rebuilt_channels
from lgscope.store.resolve import resolve_checkpoint

__all__ = ["ForkResult", "fork", "parse_sets"]


@dataclass(frozen=True, slots=True)
class ForkResult:
    """What `fork` wrote."""

    target: str
    """The store written (a Postgres URL without its password)."""
    thread_id: str
    """The new thread."""
    source_thread_id: str
    checkpoint_id: str
    """The fork point: the source checkpoint the copy ends at."""
    head_checkpoint_id: str
    """The new thread's latest checkpoint (the patch's, when there is one)."""
    checkpoints: int
    """Checkpoints copied, every namespace."""
    namespaces: tuple[str, ...]
    pending_writes: int
    """Writes copied at the fork point (pending: interrupts, finished tasks)."""
    patched: tuple[str, ...] = ()
    """Fields the patch set."""
    recorded_nodes: tuple[str, ...] = field(default=(), repr=False)
    """Nodes the source thread ran (root namespace)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "thread_id": self.thread_id,
            "source_thread_id": self.source_thread_id,
            "checkpoint_id": self.checkpoint_id,
            "head_checkpoint_id": self.head_checkpoint_id,
            "checkpoints": self.checkpoints,
            "namespaces": list(self.namespaces),
            "pending_writes": self.pending_writes,
            "patched": list(self.patched),
        }


def parse_sets(items: Iterable[str]) -> dict[str, Any]:
    """``FIELD=JSON`` arguments as a patch."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                f"--set {item!r} is not FIELD=JSON; e.g. --set status='\"approved\"' or --set rounds=0."
            )
        try:
            out[name.strip()] = json.loads(text)
        except ValueError:
            raise UsageError(
                f"--set {item!r}: {text!r} is not JSON; quote text as a JSON string, e.g. {name.strip()}='\"{text}\"'."
            ) from None
    return out


@dataclass(slots=True)
class _Plan:
    """What the first (cheap) pass over the source decided."""

    checkpoint_id: str
    latest: bool
    chain: set[str]
    fork_step: Step
    namespaces: tuple[str, ...]
    nodes: tuple[str, ...]


def _plan(store: Store, thread_id: str, checkpoint: str | None) -> _Plan:
    thread = store.thread(thread_id)
    if checkpoint is None:
        if thread.last_checkpoint_id is None:
            raise UsageError(f"Thread {thread_id!r} has no checkpoint in its root graph to fork from.")
        cid = thread.last_checkpoint_id
    else:
        cid, _ns = resolve_checkpoint(store, thread_id, checkpoint, ns="")
    parents: dict[str, str | None] = {}
    nodes: dict[str, None] = {}
    last = None
    for step in store.steps(thread_id, "", control_only=True):  # ids only are kept
        parents[step.checkpoint_id] = step.parent_id
        nodes.update(dict.fromkeys(step.nodes))
        last = step.checkpoint_id
    chain: set[str] = set()
    at: str | None = cid
    while at is not None and at in parents and at not in chain:
        chain.add(at)
        at = parents[at]
    return _Plan(
        checkpoint_id=cid,
        latest=cid == last,
        chain=chain,
        fork_step=store.step(thread_id, cid, ""),
        namespaces=thread.namespaces,
        nodes=tuple(nodes),
    )


def _is_message_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, Mapping) and isinstance(m.get("type"), str) and "content" in m for m in value)
    )


def _check_plain(store: Store, thread_id: str, plan: _Plan, fields: Iterable[str]) -> None:
    """Refuse a field that is unknown, or whose stored history shows a reducer (a value that is not
    the last write to it): without the graph, only a plain last-value channel can be set."""
    wanted = set(fields)
    held = {ch for ch in plan.fork_step.versions if not is_bookkeeping(ch)} | {
        ch for ch in plan.fork_step.values if not is_bookkeeping(ch)
    }
    unknown = sorted(wanted - held)
    if unknown:
        raise UsageError(
            f"Thread {thread_id!r} has no field {', '.join(repr(f) for f in unknown)} at checkpoint "
            f"{plan.checkpoint_id} (its fields: {', '.join(sorted(held)) or 'none'}); check the name, or pass "
            "--graph to set a field the graph has but the thread has not written yet."
        )
    reducers: set[str] = set(rebuilt_channels(plan.fork_step)) & wanted
    reducers |= {f for f in wanted if _is_message_list(plan.fork_step.values.get(f))}
    prev: Step | None = None
    for step in store.steps(thread_id, ""):
        if prev is not None and step.parent_id == prev.checkpoint_id:
            for ch in wanted & set(step.changed) - reducers:
                written = [w.value for w in prev.writes if w.channel == ch]
                if written and step.values.get(ch) != written[-1]:
                    reducers.add(ch)
        if step.checkpoint_id == plan.checkpoint_id or reducers == wanted:
            break
        prev = step
    if reducers:
        names = ", ".join(repr(f) for f in sorted(reducers))
        raise UsageError(
            f"{names} {'is a reducer channel' if len(reducers) == 1 else 'are reducer channels'} (its stored value "
            "is not simply the last write), so setting it needs the graph's reducer; pass --graph MODULE:ATTR "
            "(and --as-node NODE) to patch it through update_state."
        )


def _unsafe(store: Store, thread_id: str, plan: _Plan, allowed: frozenset[str]) -> None:
    """Refuse a fork point whose stored values your graph's LangGraph serializer would rebuild by
    importing and calling code (it reads them to patch or run): lgscope's inert decoder looks first."""
    from lgscope.store.decode import foreign_types, unsafe_types

    names: set[str] = set()
    raw = store.raw_checkpoint(thread_id, plan.checkpoint_id)
    if raw is not None:
        names |= foreign_types(raw.checkpoint)
        for type_, data in (raw.blobs or {}).values():
            names |= unsafe_types(type_, data)
        names |= foreign_types(raw.values)
        for w in raw.writes:
            names |= foreign_types(w.decoded) if w.is_decoded else unsafe_types(w.type, w.value)
    names -= allowed
    if names:
        raise UsageError(
            f"Checkpoint {plan.checkpoint_id} of thread {thread_id!r} holds {', '.join(sorted(names))}, which "
            "LangGraph's serializer would rebuild by importing and calling code when your graph loads it; nothing "
            "was written. Inspect it with lgscope show; if you trust it, allow it by name with --allow-type NAME."
        )


def _patch_raw(
    saver: Any, fork_raw: RawCheckpoint, values: Mapping[str, Any], thread_id: str
) -> RawCheckpoint:
    """A checkpoint after the fork point with ``values`` set, as ``update_state`` would write it
    for last-value channels (source ``update``, versions bumped)."""
    from langgraph.checkpoint.base.id import uuid6

    frame = dict(fork_raw.checkpoint or {})
    step = fork_raw.metadata.get("step", -1)
    step = step + 1 if isinstance(step, int) else 0
    new_id = str(uuid6(clock_seq=step))
    versions = dict(frame.get("channel_versions") or {})
    for ch in values:
        versions[ch] = saver.get_next_version(versions.get(ch), None)
    frame.update(
        id=new_id,
        ts=datetime.now(UTC).isoformat(),
        channel_versions=versions,
    )
    # LangGraph schedules the next tasks from the channels a checkpoint updated: the fork point's
    # pending tasks stay triggered only if its own updated channels are kept
    updated = frame.get("updated_channels")
    if updated is not None:
        frame["updated_channels"] = sorted({*updated, *values})
    blobs = dict(fork_raw.blobs or {})
    for ch, value in values.items():
        blobs[ch] = ("msgpack", ormsgpack.packb(value))
    metadata: dict[str, Any] = {"source": "update", "step": step, "parents": {}}
    counters = fork_raw.metadata.get("counters_since_delta_snapshot")
    if counters is not None:
        metadata["counters_since_delta_snapshot"] = counters
    metadata["lgscope_patch"] = sorted(values)
    return RawCheckpoint(thread_id, "", new_id, fork_raw.checkpoint_id, frame, metadata, [], blobs=blobs)


def fork(
    source: str | Store | Any,
    thread_id: str,
    into: str,
    *,
    checkpoint: str | None = None,
    to_thread: str | None = None,
    patch: Mapping[str, Any] | None = None,
    graph: Any = None,
    as_node: str | None = None,
    force: bool = False,
    allow_types: Iterable[str] = (),
) -> ForkResult:
    """Copy ``thread_id`` of ``source`` up to ``checkpoint`` (default: its latest) into ``into`` (a
    SQLite path or ``postgresql://`` URL) as thread ``to_thread`` (default: the same id).

    ``patch`` (field → value) sets the state at the fork point: through the graph's ``update_state(as_node=…)``
    when ``graph`` is given (a compiled graph, a ``StateGraph`` or a factory, so reducers apply),
    otherwise only on plain last-value channels. Everything is checked before anything is written,
    and written in one transaction. The source is only read; an existing target thread is refused
    unless ``force``. With a ``graph`` (which will read the fork point through LangGraph's
    serializer), stored values of types that serializer would rebuild by running code are refused
    unless ``allow_types`` names them. Raises `UsageError`, `CheckpointNotFound`, `ThreadNotFound`,
    `ImportConflict`.
    """
    patch = dict(patch or {})
    if as_node is not None and graph is None:
        raise UsageError("--as-node needs --graph: the node's writers come from the graph.")
    new_id = to_thread or thread_id
    into_source = same_store(_where(source), into)
    if into_source and new_id == thread_id:
        raise UsageError(
            f"{into} is the source store: give --to-thread NEW_ID, so the source thread is never changed."
        )
    if into_source and not is_postgres(into) and isinstance(source, Store):
        raise UsageError(
            f"Forking into the SQLite file the store is open on needs the store's path, not the open store "
            f"(its connection would keep the file from being written cleanly); pass {_where(source)!r}."
        )
    if into_source and not is_postgres(into):
        from lgscope.store.export import export_thread

        # SQLite lets the writer restore the file's journal mode only when no reader holds it
        # open: read the thread from a streamed copy instead (the same bytes)
        with tempfile.TemporaryDirectory(prefix="lgscope-fork-") as tmp:
            with open_store(source) as opened:
                export_thread(opened, thread_id, Path(tmp) / "thread.jsonl")
            with open_store(Path(tmp) / "thread.jsonl") as copy:
                return fork(
                    copy,
                    thread_id,
                    into,
                    checkpoint=checkpoint,
                    to_thread=new_id,
                    patch=patch,
                    graph=graph,
                    as_node=as_node,
                    force=force,
                    allow_types=allow_types,
                )
    store = source if isinstance(source, Store) else open_store(source)
    try:
        plan = _plan(store, thread_id, checkpoint)
        bound = None
        if graph is not None:
            bound = bind(graph, None)
            check_nodes(bound, plan.nodes, thread_id)
            known = graph_channels(bound)
            unknown = sorted(set(patch) - known)
            if unknown:
                raise UsageError(
                    f"The graph has no field {', '.join(repr(f) for f in unknown)} (its fields: "
                    f"{', '.join(sorted(known)) or 'none'}); check the name."
                )
            _unsafe(store, thread_id, plan, frozenset(allow_types))
            if as_node is not None and as_node not in bound.nodes:
                raise UsageError(
                    f"--as-node {as_node!r} is not a node of the graph (its nodes: "
                    f"{', '.join(n for n in bound.nodes if n != '__start__')})."
                )
        elif patch:
            _check_plain(store, thread_id, plan, patch)
        return _write(store, thread_id, into, new_id, plan, patch, graph, as_node, force)
    finally:
        if store is not source:
            store.close()


def _write(
    store: Store,
    thread_id: str,
    into: str,
    new_id: str,
    plan: _Plan,
    patch: Mapping[str, Any],
    graph: Any,
    as_node: str | None,
    force: bool,
) -> ForkResult:
    from lgscope.store.export import RawWriter, clear_target, write_into

    counts = {"checkpoints": 0, "pending": 0}
    head = {"id": plan.checkpoint_id}
    copied: dict[str, None] = {"": None}

    def write(saver: Any) -> int:
        clear_target(
            saver,
            new_id,
            force,
            f"The target store already has a thread {new_id!r}; pass --force to replace it, or --to-thread "
            "NEW_ID to fork under another id.",
        )
        writer = RawWriter(saver, new_id)
        fork_raw: RawCheckpoint | None = None
        for raw in store.iter_raw(thread_id, ""):
            if raw.checkpoint_id not in plan.chain:
                continue
            at_fork = raw.checkpoint_id == plan.checkpoint_id
            writes = raw.writes if (plan.latest or not at_fork) else []
            writer.put(raw, writes)
            counts["checkpoints"] += 1
            if at_fork:
                fork_raw = raw
                counts["pending"] = len(writes)
        for ns in plan.namespaces:
            if ns == "":
                continue
            for raw in store.iter_raw(thread_id, ns):
                if plan.latest or raw.checkpoint_id < plan.checkpoint_id:
                    writer.put(raw)
                    counts["checkpoints"] += 1
                    copied[ns] = None
        if patch and fork_raw is not None:
            if graph is None:
                patched = _patch_raw(saver, fork_raw, patch, new_id)
                writer.put(patched)
                head["id"] = patched.checkpoint_id
            else:
                head["id"] = _update_state(saver, graph, new_id, patch, as_node)
        return counts["checkpoints"]

    try:
        write_into(into, write, action="fork")
    except ValueError as exc:  # stored rows the saver cannot take as they are (write_into rolled back)
        raise DecodeError(
            f"Thread {thread_id!r} holds a row that cannot be copied ({exc}); nothing was written."
        ) from None
    return ForkResult(
        target=_shown(into),
        thread_id=new_id,
        source_thread_id=thread_id,
        checkpoint_id=plan.checkpoint_id,
        head_checkpoint_id=head["id"],
        checkpoints=counts["checkpoints"],
        namespaces=tuple(copied),
        pending_writes=counts["pending"],
        patched=tuple(sorted(patch)),
        recorded_nodes=plan.nodes,
    )


def _update_state(
    saver: Any, graph: Any, thread_id: str, patch: Mapping[str, Any], as_node: str | None
) -> str:
    """``update_state`` through the user's graph, in the fork's transaction: a saver of the same kind
    on the same connection, with LangGraph's own serializer (the graph writes new values)."""
    own = type(saver)(saver.conn)
    if hasattr(own, "is_setup"):
        own.is_setup = True
    bound = bind(graph, own)
    try:
        config = bound.update_state({"configurable": {"thread_id": thread_id}}, dict(patch), as_node=as_node)
    except Exception as exc:  # the graph refused the update (an unknown node, a value its reducer rejects)
        raise UsageError(
            f"The graph refused the patch ({type(exc).__name__}: {exc}); nothing was written."
        ) from None
    return str(config["configurable"]["checkpoint_id"])


def _where(source: str | Store | Any) -> str:
    """Where a source store is, to tell whether a fork writes into it."""
    if isinstance(source, Store):
        return str(getattr(source, "path", None) or source.url)
    return str(source) if isinstance(source, str | Path) else ""


def _shown(target: str) -> str:
    if is_postgres(target):
        from lgscope.store._postgres import safe_url

        return safe_url(target)
    return target
