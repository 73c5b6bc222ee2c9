"""Raw checkpoint rows, as every backend reads them, and their assembly into the model.

Backends differ in where bytes live (SQLite inline, Postgres blobs, a saver's API, an
export file); once a backend has produced `RawCheckpoint`s, one set of rules decides what
they mean. That is what makes the fast SQL paths and the generic saver path agree.
"""

from __future__ import annotations

import ast
import functools
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lgscope._exceptions import DecodeError
from lgscope.model import (
    ERROR,
    INTERRUPT,
    RESUME,
    TASKS,
    ChannelChange,
    Interrupt,
    Step,
    TaskError,
    Thread,
    ThreadHistory,
    ThreadStatus,
    Write,
    node_from_task_path,
)
from lgscope.store._delta import DeltaChannels
from lgscope.store._msgpack import array_header, array_info
from lgscope.store._values import BOOKKEEPING as _BOOKKEEPING
from lgscope.store._values import LazyValues, ValueCache, digest_of, digest_of_value
from lgscope.store.decode import TYPE_KEY, decode_typed

__all__ = [
    "RawCheckpoint",
    "CONTROL_SQL",
    "RawWrite",
    "build_history",
    "build_steps",
    "iter_steps",
    "build_thread",
    "tips_sql",
    "ts_from_checkpoint_id",
]

_EPOCH_UUID = datetime(1582, 10, 15, tzinfo=UTC)

# Task paths and channel names repeat in every checkpoint of a store: scans look them up once.
_node_of_path = functools.lru_cache(maxsize=4096)(node_from_task_path)


@dataclass(slots=True)
class RawWrite:
    """A row of the writes table: still bytes."""

    task_id: str
    task_path: str
    idx: int
    channel: str
    type: str | None
    value: bytes | None
    decoded: Any = None
    """Set instead of ``type``/``value`` by backends that only see decoded values."""
    is_decoded: bool = False


@dataclass(slots=True)
class RawCheckpoint:
    """One checkpoint as read from a backend: its frame decoded, its channel values not."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: dict[str, Any] | None
    """``v, ts, id, channel_versions, versions_seen, updated_channels`` (no ``channel_values``);
    None when corrupt."""
    metadata: dict[str, Any]
    writes: list[RawWrite] = field(default_factory=list)
    size: int = 0
    corrupt: str | None = None
    blobs: dict[str, tuple[str, bytes | None]] | None = None
    """Each channel value's stored ``(type, bytes)``."""
    values: dict[str, Any] | None = None
    """Each channel's decoded value, from backends that only see decoded values (a saver's API)."""

    def channels(self) -> Iterable[str]:
        """The channels that hold a value."""
        return self.blobs if self.blobs is not None else (self.values or {})


def ts_from_checkpoint_id(checkpoint_id: str) -> datetime | None:
    """The creation time LangGraph's uuid6 checkpoint ids carry, or None for other ids."""
    # read the hex digits directly (uuid.UUID() costs ~20 µs, and a timeline parses thousands)
    if len(checkpoint_id) != 36 or checkpoint_id[14] != "6" or checkpoint_id.count("-") != 4:
        return None
    try:  # time_high, time_mid and time_low without the version digit: 100 ns ticks since 1582
        ticks = int(checkpoint_id[:8] + checkpoint_id[9:13] + checkpoint_id[15:18], 16)
    except ValueError:
        return None
    return datetime.fromtimestamp(ticks / 1e7 + _EPOCH_UUID.timestamp(), UTC)


def _parse_ts(raw: RawCheckpoint) -> datetime:
    ts = raw.checkpoint.get("ts") if raw.checkpoint else None
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return ts_from_checkpoint_id(raw.checkpoint_id) or _EPOCH_UUID


def tips_sql(writes_table: str, placeholder: str | None = None) -> str:
    """Where each namespace of each thread stands (`Store.tips`), from the primary keys' indexes
    alone: its latest checkpoint, how many it has, and the writes stored against the latest.
    With ``placeholder`` (``?``, ``%s``), of one thread."""
    where = f"WHERE thread_id = {placeholder} " if placeholder else ""
    return (
        f"SELECT c.thread_id, c.checkpoint_ns, c.last, c.n, (SELECT count(*) FROM {writes_table} w "
        "  WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns "
        "  AND w.checkpoint_id = c.last) "
        "FROM (SELECT thread_id, checkpoint_ns, max(checkpoint_id) AS last, count(*) AS n "
        f"      FROM checkpoints {where}GROUP BY thread_id, checkpoint_ns) c"
    )


_CONTROL = frozenset({INTERRUPT, RESUME, ERROR})
CONTROL_SQL = "(" + ", ".join(f"'{c}'" for c in sorted(_CONTROL)) + ")"
"""The control channels as an SQL list: scans read only these writes' values."""


def _decoded_writes(raw: RawCheckpoint, control_only: bool = False) -> list[tuple[RawWrite, Any, str | None]]:
    out: list[tuple[RawWrite, Any, str | None]] = []
    for w in raw.writes:
        if w.is_decoded:
            out.append((w, w.decoded, None))
            continue
        if control_only and w.channel not in _CONTROL:
            out.append((w, None, None))
            continue
        try:
            out.append((w, decode_typed(w.type, w.value), None))
        except DecodeError as exc:
            out.append((w, {TYPE_KEY: "corrupt", "error": str(exc)}, str(exc)))
    return out


def _newer(a: Any, b: Any) -> bool:
    if b is None:
        return a is not None
    try:
        return bool(a > b)
    except TypeError:
        return str(a) > str(b)


class _Triggers(dict[str, str]):
    """The node a trigger channel wakes (``""`` for any other channel), by channel name: names
    repeat in every checkpoint of a store."""

    def __missing__(self, channel: str) -> str:
        if channel.startswith("branch:to:"):
            node = channel[len("branch:to:") :]
        else:
            node = "__start__" if channel == "__start__" else ""
        if len(self) < 65536:
            self[channel] = node
        return node


_TRIGGER = _Triggers()


def _next_nodes(
    ck: Mapping[str, Any] | None, available: Iterable[str], sends: Sequence[str]
) -> tuple[str, ...]:
    """Nodes a checkpoint triggers: ``branch:to:X`` channels newer than what X has seen."""
    if not ck:
        return ()
    versions: Mapping[str, Any] = ck.get("channel_versions") or {}
    seen: Mapping[str, Mapping[str, Any]] = ck.get("versions_seen") or {}
    out: list[str] = []
    # Consuming a trigger bumps its version too; only a channel holding a value triggers.
    for chan in available:
        node = _TRIGGER[chan]
        if not node or chan not in versions:
            continue
        if _newer(versions[chan], (seen.get(node) or {}).get(chan)):
            out.append(node)
    out.extend(sends)
    return tuple(sorted(out))


def _sends(raw: RawCheckpoint, cache: ValueCache) -> list[str]:
    if raw.blobs is not None:
        stored = raw.blobs.get(TASKS)
        tasks = cache.decode_or_mark(*stored) if stored is not None else None
    else:
        tasks = (raw.values or {}).get(TASKS)
    if not isinstance(tasks, list):
        return []
    return [_send_node(t) or "?" for t in tasks]


def _send_node(send: Any) -> str | None:
    if isinstance(send, dict):
        if isinstance(send.get("node"), str):
            return str(send["node"])
        args = send.get("args")
        if isinstance(args, list) and args and isinstance(args[0], str):
            return args[0]
    return None


def _push_node(task_path: str, sends: Sequence[str]) -> str | None:
    """A push task's node: the Send its path indexes, in the checkpoint's pending Sends."""
    if not task_path.startswith("~__pregel_push, "):
        return None
    try:
        idx = int(task_path.split(",")[1])
    except (IndexError, ValueError):
        return None
    if 0 <= idx < len(sends):
        return sends[idx]
    return None


@dataclass(slots=True)
class _Frame:
    """What a checkpoint's children need from it, kept after its values are let go."""

    versions: Mapping[str, Any]
    next: tuple[str, ...]
    sends: list[str]
    writes: list[tuple[RawWrite, Any, str | None]]


def _frame(raw: RawCheckpoint, cache: ValueCache, control_only: bool) -> _Frame:
    ck = raw.checkpoint or {}
    sends = _sends(raw, cache) if TASKS in raw.channels() else []
    return _Frame(
        ck.get("channel_versions") or {},
        _next_nodes(ck, raw.channels(), sends),
        sends,
        _decoded_writes(raw, control_only) if raw.writes else [],
    )


def _producer_nodes(raw: RawCheckpoint, parent: _Frame | None) -> tuple[str, ...]:
    source = raw.metadata.get("source")
    if source == "input" or parent is None:
        return ("__input__",)
    if source == "update":
        return ("__update__",)
    if source == "fork":
        return ("__fork__",)
    names: set[str] = set()
    have_paths = False
    for w, _value, _err in parent.writes:
        if w.channel in _CONTROL or not w.task_path:
            continue
        have_paths = True
        node = _node_of_path(w.task_path) or _push_node(w.task_path, parent.sends)
        if node:
            names.add(node)
    if not have_paths:
        # Stores that keep no task paths (a saver's public API): the parent's triggers are
        # exactly the tasks whose writes made this checkpoint.
        names.update(parent.next)
    return tuple(sorted(names))


def _blob_change(
    channel: str,
    new: tuple[str, bytes | None] | None,
    old: tuple[str, bytes | None] | None,
    cache: ValueCache,
) -> ChannelChange:
    if new is None:
        return ChannelChange(channel, "set", 0, 0, _NONE_DIGEST, _none)
    ntype, ndata = new
    data = ndata or b""

    def load() -> Any:
        return cache.decode_or_mark(ntype, ndata)

    if old is not None and old[0] == ntype and old[1] == ndata:
        return ChannelChange(channel, "same", 0, 0, lambda: digest_of(data), load)
    if ntype == "msgpack" and old is not None and old[0] == "msgpack" and ndata and old[1]:
        now, before = array_info(ndata), array_info(old[1])
        if now is not None and before is not None and now[0] > before[0]:
            body = memoryview(old[1])[before[1] :]
            # The parent's items are a prefix of ours: what changed is the items after them,
            # found by one memcmp of the stored bytes (nothing decoded).
            if ndata.startswith(body, now[1]):
                suffix = ndata[now[1] + len(body) :]
                items = now[0] - before[0]
                encoded = array_header(items) + suffix
                return ChannelChange(
                    channel,
                    "append",
                    items,
                    len(suffix),
                    lambda: digest_of(suffix),
                    lambda: cache.decode_or_mark("msgpack", encoded),
                )
    return ChannelChange(channel, "set", 0, len(data), lambda: digest_of(data), load)


def _value_change(channel: str, new: Any, old: Any, had_old: bool) -> ChannelChange:
    if had_old and new == old:
        return ChannelChange(channel, "same", 0, 0, lambda: digest_of_value(new), lambda: new)
    if isinstance(new, list) and isinstance(old, list) and len(new) > len(old) and new[: len(old)] == old:
        added = new[len(old) :]
        return ChannelChange(channel, "append", len(added), 0, lambda: digest_of_value(added), lambda: added)
    return ChannelChange(channel, "set", 0, 0, lambda: digest_of_value(new), lambda: new)


_NONE_DIGEST = b"\x00" * 16


def _none() -> None:
    return None


def _changes(
    raw: RawCheckpoint, parent: RawCheckpoint | None, changed: Sequence[str], cache: ValueCache
) -> tuple[ChannelChange, ...]:
    out = []
    if raw.blobs is not None:
        old_blobs = parent.blobs if parent is not None and parent.blobs is not None else {}
        for ch in changed:
            out.append(_blob_change(ch, raw.blobs.get(ch), old_blobs.get(ch), cache))
    else:
        values = raw.values or {}
        old_values = (parent.values or {}) if parent is not None else {}
        for ch in changed:
            out.append(_value_change(ch, values.get(ch), old_values.get(ch), ch in old_values))
    return tuple(out)


def _interrupts(
    raw: RawCheckpoint,
    ts: datetime,
    writes: list[tuple[RawWrite, Any, str | None]],
    parent_nodes: Mapping[str, str],
) -> tuple[Interrupt, ...]:
    out: list[Interrupt] = []
    for w, value, _err in writes:
        if w.channel != INTERRUPT:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and item.get(TYPE_KEY, "").endswith("Interrupt"):
                iid = item.get("id") or item.get("interrupt_id") or w.task_id
                ivalue = item.get("value")
            else:
                iid, ivalue = w.task_id, item
            out.append(
                Interrupt(
                    id=str(iid),
                    value=ivalue,
                    thread_id=raw.thread_id,
                    checkpoint_ns=raw.checkpoint_ns,
                    checkpoint_id=raw.checkpoint_id,
                    task_id=w.task_id,
                    node=_node_of_path(w.task_path) or parent_nodes.get(w.task_id),
                    created_at=ts,
                )
            )
    return tuple(out)


def _task_error(raw: RawCheckpoint, w: RawWrite, value: Any, node: str | None) -> TaskError:
    if isinstance(value, dict):
        type_name = str(value.get(TYPE_KEY, "Exception")).rsplit(".", 1)[-1]
        args = value.get("args", value.get("value"))
        if isinstance(args, list):
            message = str(args[0]) if args else ""
        elif isinstance(args, str):
            message = args
        else:
            message = str(value.get("message", "")) if "message" in value else ""
    else:
        type_name, message = _parse_error_repr(str(value))
    return TaskError(
        task_id=w.task_id,
        node=node,
        checkpoint_id=raw.checkpoint_id,
        error_type=type_name,
        message=message,
    )


_ERROR_REPR = re.compile(r"^([A-Za-z_][\w.]*)\((.*)\)$", re.DOTALL)


def _parse_error_repr(text: str) -> tuple[str, str]:
    """LangGraph stores a failed task's exception as its repr, e.g. ``ValueError('boom')``."""
    m = _ERROR_REPR.match(text.strip())
    if not m:
        return "Exception", text
    type_name, args = m.group(1).rsplit(".", 1)[-1], m.group(2)
    try:
        # literal_eval parses literals only; nothing in the text can run.
        parsed: tuple[Any, ...] = tuple(ast.literal_eval(f"({args},)")) if args else ()
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return type_name, args
    return type_name, str(parsed[0]) if len(parsed) == 1 else ", ".join(map(str, parsed))


_WINDOW = 64
"""Checkpoints whose frames a stream keeps for children that do not follow their parent."""


def iter_steps(
    raws: Iterable[RawCheckpoint],
    *,
    control_writes_only: bool = False,
    cache: ValueCache | None = None,
    lookup: Callable[[str], RawCheckpoint | None] | None = None,
    reread: Callable[[str], RawCheckpoint | None] | None = None,
) -> Iterator[Step]:
    """Turn one namespace's checkpoints (oldest first) into `Step`s, one at a time.

    Memory does not grow with the stream: values stay stored bytes until read (decoded once
    per distinct bytes by ``cache``), and only the last few checkpoints' frames are kept to
    tell what produced the next. A checkpoint whose parent is further back (a fork) gets it
    from ``lookup`` when given. With ``control_writes_only`` (scans, timelines), a step's
    ``writes`` are only its interrupt, resume and error writes; a ``DeltaChannel``'s value is
    rebuilt from its writes, read again in full through ``reread`` (default ``lookup``).
    """
    cache = cache or ValueCache()
    frames: OrderedDict[str, _Frame] = OrderedDict()
    prev: RawCheckpoint | None = None
    delta = DeltaChannels(cache, reread or lookup)
    for raw in raws:
        frame = _frame(raw, cache, control_writes_only)
        parent: _Frame | None = None
        parent_raw: RawCheckpoint | None = None
        if raw.parent_id:
            parent = frames.get(raw.parent_id)
            if prev is not None and prev.checkpoint_id == raw.parent_id:
                parent_raw = prev
            elif lookup is not None:
                parent_raw = lookup(raw.parent_id)
                if parent_raw is not None and parent is None:
                    parent = _frame(parent_raw, cache, control_writes_only)
        yield _step(raw, frame, parent, parent_raw, cache, control_writes_only, delta)
        frames[raw.checkpoint_id] = frame
        if len(frames) > _WINDOW:
            frames.popitem(last=False)
        prev = raw


def build_steps(
    raws: Iterable[RawCheckpoint],
    *,
    control_writes_only: bool = False,
    reread: Callable[[str], RawCheckpoint | None] | None = None,
) -> list[Step]:
    """Every step of one namespace at once (`iter_steps` for long ones); parents are looked up
    among ``raws``."""
    raws = list(raws)
    by_id = {r.checkpoint_id: r for r in raws}
    return list(iter_steps(raws, control_writes_only=control_writes_only, lookup=by_id.get, reread=reread))


def _step(
    raw: RawCheckpoint,
    frame: _Frame,
    parent: _Frame | None,
    parent_raw: RawCheckpoint | None,
    cache: ValueCache,
    control_writes_only: bool,
    delta: DeltaChannels | None = None,
) -> Step:
    ts = _parse_ts(raw)
    ck = raw.checkpoint or _EMPTY
    # shared with the decoded checkpoint, not copied: steps are read-only
    versions: Mapping[str, Any] = ck.get("channel_versions") or _EMPTY
    parent_versions: Mapping[str, Any] = parent.versions if parent is not None else _EMPTY
    changed = tuple(
        sorted(ch for ch, v in versions.items() if parent_versions.get(ch) != v and not _BOOKKEEPING[ch])
    )
    rebuilt, how, delta_changes = (
        delta.visit(
            raw,
            parent_versions,
            changed,
            parent.writes if parent is not None and parent_raw is not None else None,
        )
        if delta is not None and raw.checkpoint
        else ({}, {}, {})
    )
    values: Mapping[str, Any]
    if raw.blobs is not None:
        values = LazyValues(raw.blobs, cache, rebuilt, how)
    else:
        values = {k: v for k, v in (raw.values or _EMPTY).items() if not _BOOKKEEPING[k]}
        values.update(rebuilt)
    changes = _changes(raw, parent_raw, changed, cache) if raw.checkpoint is not None else ()
    if delta_changes:
        changes = tuple(delta_changes.get(c.channel, c) for c in changes)
    own = frame.writes
    next_nodes = frame.next
    node_of_task: dict[str, str] = {}
    step_writes: tuple[Write, ...] = ()
    corrupt = raw.corrupt
    # in a scan, a step's writes matter only for its interrupts, resumes and errors: most have none
    if own and (not control_writes_only or any(w.channel in _CONTROL for w, _v, _e in own)):
        node_of_task = {w.task_id: n for w, _v, _e in own if (n := _node_of_path(w.task_path)) is not None}
        for w, _v, _e in own:
            if w.task_id not in node_of_task and (n := _push_node(w.task_path, frame.sends)):
                node_of_task[w.task_id] = n
        if len(set(next_nodes)) == 1:
            # Writes against a checkpoint come from the tasks it triggers; with one
            # candidate that is the writer, even where the store keeps no task paths.
            only = next_nodes[0]
            for w, _v, _e in own:
                if w.task_id not in node_of_task:
                    node_of_task[w.task_id] = only
        step_writes = tuple(
            Write(
                task_id=w.task_id,
                task_path=w.task_path,
                idx=w.idx,
                channel=w.channel,
                value=value,
                type=w.type or "",
                size=len(w.value or b""),
                node=node_of_task.get(w.task_id),
            )
            for w, value, _err in own
            if not control_writes_only or w.channel in _CONTROL
        )
        if corrupt is None:
            corrupt = next((err for _w, _v, err in own if err), None)
    step = raw.metadata.get("step", -1)
    return Step(
        thread_id=raw.thread_id,
        checkpoint_ns=raw.checkpoint_ns,
        checkpoint_id=raw.checkpoint_id,
        parent_id=raw.parent_id,
        step=step if _is_int(step) else -1,
        source=str(raw.metadata.get("source", "")),
        ts=ts,
        nodes=_producer_nodes(raw, parent),
        values=values,
        changed=changed,
        versions=versions,
        next=next_nodes,
        writes=step_writes,
        interrupts=_interrupts(raw, ts, own, node_of_task) if own else (),
        resumes=tuple(w for w in step_writes if w.channel == RESUME),
        errors=tuple(
            _task_error(raw, w, value, node_of_task.get(w.task_id))
            for w, value, _err in own
            if w.channel == ERROR
        ),
        metadata=raw.metadata,
        size=raw.size,
        corrupt=corrupt,
        changes=changes,
        task_writes=len(own),
    )


_EMPTY: Mapping[str, Any] = {}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _status(last: Step | None, pending: Sequence[Interrupt]) -> ThreadStatus:
    if last is None:
        return ThreadStatus.DONE
    if last.errors and not pending:
        return ThreadStatus.ERROR
    if pending:
        return ThreadStatus.INTERRUPTED
    if last.next:
        return ThreadStatus.RUNNING
    return ThreadStatus.DONE


def build_thread(
    thread_id: str,
    last_by_ns: Mapping[str, Step],
    *,
    checkpoints: int,
    size: int,
    created_at: datetime | None,
    corrupt: int = 0,
) -> Thread:
    """Summarize a thread from the latest step of each namespace and its totals."""
    namespaces = tuple(sorted(last_by_ns, key=lambda ns: (ns != "", ns)))
    root = last_by_ns.get("")
    pending: dict[str, Interrupt] = {}
    for ns in namespaces:
        for i in last_by_ns[ns].pending_interrupts:
            pending.setdefault(i.id, i)
    updated = max((s.ts for s in last_by_ns.values()), default=None)
    return Thread(
        thread_id=thread_id,
        namespaces=namespaces,
        status=_status(root, list(pending.values())),
        checkpoints=checkpoints,
        created_at=created_at,
        updated_at=updated,
        pending_interrupts=tuple(pending.values()),
        next=root.next if root else (),
        size=size,
        corrupt=corrupt,
        last_checkpoint_id=root.checkpoint_id if root else None,
    )


def build_history(
    thread_id: str,
    raws_by_ns: Mapping[str, Sequence[RawCheckpoint]],
    *,
    control_writes_only: bool = False,
    reread: Callable[[str, str], RawCheckpoint | None] | None = None,
) -> ThreadHistory:
    """Assemble a whole thread, every namespace a separate sequence (``reread(ns, id)`` reads a
    checkpoint again in full, for a ``DeltaChannel``'s writes)."""
    steps = {
        ns: tuple(
            build_steps(
                raws,
                control_writes_only=control_writes_only,
                reread=functools.partial(reread, ns) if reread is not None else None,
            )
        )
        for ns, raws in raws_by_ns.items()
        if raws
    }
    last_by_ns = {ns: s[-1] for ns, s in steps.items()}
    all_steps = [s for seq in steps.values() for s in seq]
    thread = build_thread(
        thread_id,
        last_by_ns,
        checkpoints=len(all_steps),
        size=sum(s.size for s in all_steps),
        created_at=_created_at(all_steps),
        # as a summary counts them (the latest of each namespace): a scan counts every one it reads
        corrupt=sum(1 for s in last_by_ns.values() if s.corrupt),
    )
    return ThreadHistory(thread=thread, steps=steps)


def _created_at(steps: Sequence[Step]) -> datetime | None:
    if not steps:
        return None
    first = min(s.checkpoint_id for s in steps)
    return ts_from_checkpoint_id(first) or min(s.ts for s in steps)
