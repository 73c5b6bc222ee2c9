"""Incremental scans: a state file remembers each thread's result and where it stood.

The file is JSON Lines: a header (format, lgscope version and code digest, the store's
identity, the detector config), then one line per thread: its id, its namespaces' tips
(`lgscope.store.NamespaceTip`: latest checkpoint id, checkpoint count, writes of the latest
checkpoint) and its `ThreadResult`, written field by field (`_codec`). The next scan asks the
store for every tip (the primary-key indexes alone), reads again only the threads whose tips
moved (new, extended, deleted, pruned, or written to), and reuses the rest, recomputing
their time-dependent findings as of now. Growth is recomputed across all threads by the same
function a whole scan uses. A header that does not match (another store, version or config)
makes a whole scan that rewrites the file: results are never mixed.

A state file is user-writable, so it is only ever parsed as JSON: nothing in it is unpickled or run.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import itertools
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

import lgscope
from lgscope._atomic import atomic_write
from lgscope._exceptions import UsageError
from lgscope.forensics._codec import CodecError, decode, encode
from lgscope.forensics._config import DetectorConfig
from lgscope.forensics._detect import Analysis
from lgscope.forensics._scan import Progress, ScanStats, ThreadResult, read_threads, refresh
from lgscope.model import Step
from lgscope.store import NamespaceTip, Store

__all__ = ["FORMAT", "check", "incremental"]

FORMAT = "lgscope-scan-state"
VERSION = 1

Tips = tuple[tuple[str, str, int, int], ...]
"""A thread's namespaces: (namespace, latest checkpoint id, checkpoints, writes of the latest)."""


def incremental(
    store: Store,
    path: str | os.PathLike[str],
    config: DetectorConfig,
    now: datetime,
    progress: Progress | None,
    jobs: int,
    executor: Executor | None,
) -> tuple[list[ThreadResult], ScanStats]:
    """Every thread's result as of ``now``, reading only what changed since the state at ``path``;
    the state is then rewritten."""
    tips = store.tips()
    identity = store.identity()
    if tips is None or identity is None:
        raise UsageError(
            f"Incremental scans (--state) need a SQLite or Postgres store; {store.url} is a {store.kind} "
            "store: scan it without --state."
        )
    current = {tid: _tips(group) for tid, group in itertools.groupby(tips, key=lambda t: t.thread_id)}
    header = _header(identity, config)
    state = Path(path)
    prefixes: dict[str, bytes] = {}
    with _no_gc():  # tens of thousands of small objects are built here, none of them cyclic garbage
        remembered, why, on_file = _remembered(state, header, current, prefixes)
        reused = {tid: refresh(result, config, now) for tid, result in remembered.items()}
    order = list(current)
    if not reused:
        part = read_threads(store, [order], config, now, progress, jobs, executor, whole=True)
    else:
        part = read_threads(
            store, _runs(order, reused), config, now, progress, jobs, executor, consecutive=True
        )
    fresh = {r.analysis.thread.thread_id: r for r in part.results}
    stats = part.stats
    stats.rebuilt = why
    stats.reused = len(reused)
    for r in reused.values():
        stats.threads += 1
        stats.checkpoints += r.analysis.checkpoints
        stats.corrupt_checkpoints += r.analysis.corrupt
    # thread order, as a whole scan gives it (a thread written since the tips were read is
    # reported now and remembered next time)
    results = [reused.get(tid) or fresh[tid] for tid in sorted({*reused, *fresh})]
    kept = {tid: r for tid, r in ((r.analysis.thread.thread_id, r) for r in results) if tid in current}
    if not (why is None and on_file == kept.keys() == reused.keys()):  # else the file says it all already
        _save(state, header, kept, current, set(reused) if why is None else set())
    _MEMO.clear()  # one state remembered per process: the last one used
    _MEMO[state] = _Memo(
        _stamp(state),
        header,
        {tid: (prefixes.get(tid) or _prefix(tid, current[tid]), r) for tid, r in kept.items()},
    )
    return results, stats


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class _Memo:
    """The state this process last wrote or read, decoded: read again only if the file changed."""

    stamp: tuple[int, int, int, int] | None
    header: dict[str, Any]
    threads: dict[str, tuple[bytes, ThreadResult]]
    """Each thread's line prefix (its tips) and result."""


_MEMO: dict[Path, _Memo] = {}


def _stamp(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _remembered(
    path: Path, header: dict[str, Any], current: dict[str, Tips], prefixes: dict[str, bytes]
) -> tuple[dict[str, ThreadResult], str | None, set[str]]:
    """The remembered results of threads whose tips are unchanged (their line prefixes put in
    ``prefixes``); why none were usable (None: they were, or there was no state yet); and every
    thread the file has a good line for."""
    memo = _MEMO.get(path)
    if memo is not None and memo.header == header and memo.stamp is not None and memo.stamp == _stamp(path):
        still = {}
        for thread_id, (prefix, result) in memo.threads.items():
            if thread_id in current and prefix == _prefix(thread_id, current[thread_id]):
                still[thread_id] = result
                prefixes[thread_id] = prefix
        return still, None, set(memo.threads)
    if not path.exists() and not path.is_dir():
        return {}, None, set()
    handle, found = _open(path)
    reused: dict[str, ThreadResult] = {}
    on_file: set[str] = set()
    with handle:
        for key, why in _WHY.items():
            if found.get(key) != header[key]:
                return {}, f"the state file {path} was not used: {why}", set()
        for number, (tid, line) in enumerate(_lines(handle), start=2):
            if tid is None:
                return {}, f"the state file {path} was not used: line {number} is damaged", set()
            on_file.add(tid)
            tips = current.get(tid)
            if tips is None:
                continue  # deleted since
            prefix = _prefix(tid, tips)
            if not line.startswith(prefix):
                continue  # it moved (its tips differ): read again
            try:
                reused[tid] = _result(line[len(prefix) : line.rindex(b"}")])
                prefixes[tid] = prefix
            except (orjson.JSONDecodeError, CodecError, KeyError, TypeError, ValueError):
                on_file.discard(tid)  # a damaged line: that thread is read again, its line rewritten
    return reused, None, on_file


def _lines(handle: BinaryIO) -> Iterator[tuple[str | None, bytes]]:
    """Each thread line past the header with its thread id (None: not a line a scan wrote).

    A line is {"thread": ID, "tips": [...], "result": {...}}: only its id is parsed here; a
    thread whose tips are unchanged has the same bytes up to its result (`_prefix`)."""
    for line in handle:
        end = line.find(_TIPS)
        tid: object = None
        if line.startswith(_THREAD) and end > 0:
            try:
                tid = orjson.loads(line[len(_THREAD) : end])
            except orjson.JSONDecodeError:
                tid = None
        yield (tid if isinstance(tid, str) else None), line


def _tips(group: Iterable[NamespaceTip]) -> Tips:
    return tuple((t.checkpoint_ns, t.last_checkpoint_id, t.checkpoints, t.writes) for t in group)


def _runs(order: list[str], reused: dict[str, ThreadResult]) -> list[list[str]]:
    """The threads to read, as runs of ids consecutive in the store (each read in one bulk query)."""
    runs: list[list[str]] = []
    current: list[str] = []
    for tid in order:
        if tid in reused:
            if current:
                runs.append(current)
                current = []
        else:
            current.append(tid)
    if current:
        runs.append(current)
    return runs


def _header(identity: str, config: DetectorConfig) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "lgscope": lgscope.__version__,
        "code": _code_digest(),
        "store": identity,
        "config": encode(config),
    }


@functools.cache
def _code_digest() -> str:
    """A digest of lgscope's own source: results of other detector code are never mixed, even
    between two builds of one version."""
    root = Path(lgscope.__file__).parent
    digest = hashlib.blake2b(digest_size=12)
    for file in sorted(root.rglob("*.py")):
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


_WHY = {
    "version": "it was written by another lgscope",
    "lgscope": "it was written by another lgscope",
    "code": "it was written by another build of lgscope",
    "store": "it was written for another store (or the store was replaced)",
    "config": "it was written with other detector settings",
}


def check(path: str | os.PathLike[str]) -> None:
    """`UsageError` unless ``path`` can hold a scan state: a file a scan wrote, or a new file in
    an existing directory."""
    path = Path(path)
    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(
                f"--state {path}: there is no directory {parent}; create it or give another path."
            )
        return
    _open(path)[0].close()


def _open(path: Path) -> tuple[BinaryIO, dict[str, Any]]:
    """The state file past its header line, and the header; `UsageError` for a file a scan did
    not write."""
    if path.is_dir():
        raise UsageError(f"--state {path} is a directory; give a file path for the scan state.")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UsageError(
            f"Cannot read the scan state {path} ({exc.strerror}); check its permissions."
        ) from None
    try:
        found = orjson.loads(handle.readline(64 * 1024))
    except orjson.JSONDecodeError:
        found = None
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        handle.close()
        # never overwrite a file lgscope did not write (a mistyped path could be the store)
        raise UsageError(
            f"{path} is not an lgscope scan state file; give --state a new path (or one a scan wrote)."
        )
    return handle, found


_THREAD, _TIPS, _RESULT = b'{"thread":', b',"tips":', b',"result":'


def _prefix(thread_id: str, tips: Tips) -> bytes:
    """A thread's line up to its result: equal bytes, equal tips."""
    return _THREAD + orjson.dumps(thread_id) + _TIPS + orjson.dumps(tips) + _RESULT


def _result(data: bytes) -> ThreadResult:
    """A remembered thread's result."""
    record = orjson.loads(data)
    return ThreadResult(decode(Analysis, record["analysis"]), decode(_STEPS, record["tails"]))


_STEPS = tuple[Step, ...]


def _line(thread_id: str, tips: Tips, result: ThreadResult) -> bytes | None:
    """A thread's line of the state file (None: it cannot be written, and is read again next time)."""
    try:
        return _prefix(thread_id, tips) + orjson.dumps(encode(result)) + b"}\n"
    except (CodecError, TypeError):
        return None


def _save(
    path: Path,
    header: dict[str, Any],
    results: dict[str, ThreadResult],
    current: dict[str, Tips],
    unchanged: set[str],
) -> None:
    """Write the state atomically (a temporary file beside it, synced, renamed over it). The lines
    of ``unchanged`` threads are copied from the old file as they are (both are in thread order)."""
    old: BinaryIO | None = None
    try:
        if unchanged:
            old = _open(path)[0]
        previous = _lines(old) if old is not None else iter(())
        held: tuple[str | None, bytes] | None = None
        with atomic_write(path) as out:
            out.write(orjson.dumps(header) + b"\n")
            for tid in sorted(results):
                line: bytes | None = None
                if tid in unchanged:
                    while held is None or (held[0] is not None and held[0] < tid):
                        held = next(previous, (None, b""))
                        if not held[1]:
                            break
                    if held is not None and held[0] == tid:
                        line = held[1]
                out.write(line or _line(tid, current[tid], results[tid]) or b"")
    finally:
        if old is not None:
            old.close()
