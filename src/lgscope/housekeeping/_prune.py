"""Applying a prune: per thread, under the sweeper's lock, in one transaction, archived first.

For each thread with something to delete:

1. take the per-thread lock the sweeper and approval-answering apps take
   (`lgscope.approvals._lock`), so a sweep, an answer or a second prune never interleaves;
2. with ``archive``, plan on the committed state and export what that plan deletes (an lgscope
   export, fsync'd and renamed into place) — before any transaction, so an app writing to the
   store is not kept waiting while the file is written;
3. open the transaction (SQLite ``BEGIN IMMEDIATE``, waiting up to the busy timeout for an app's
   write; Postgres ``REPEATABLE READ``, retried on a serialization failure), plan again inside it,
   and delete what both plans delete: a checkpoint an app added or started to need since step 2
   is kept, and nothing is deleted that the archive lacks;
4. append the outcome to the audit log (an intent line is written before step 3).

An app appending checkpoints meanwhile only ever adds newer rows; the plan's ranges end at the
ids it saw, so those rows are never touched.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lgscope._exceptions import LockUnavailable, StoreError, UsageError
from lgscope.housekeeping._audit import PruneAudit
from lgscope.housekeeping._db import Rows, rows_for
from lgscope.housekeeping._plan import NamespacePlan, Policy, ThreadPlan, plan_thread, plan_threads
from lgscope.housekeeping._postgres import PostgresRows
from lgscope.housekeeping._space import Space, space_after, space_before
from lgscope.housekeeping._sqlite import SqliteRows

__all__ = ["PruneResult", "ThreadResult", "prune"]


@dataclass(frozen=True, slots=True)
class ThreadResult:
    """What happened to one thread."""

    plan: ThreadPlan
    """What was (or, in a dry run, would be) deleted."""
    outcome: str
    """``would_prune``, ``pruned``, ``nothing_to_delete``; ``locked``: its lock stayed taken (by a
    sweep, an app answering an approval, another prune) for the lock timeout, and it was left as it
    is (its plan then deletes nothing)."""
    archive: Path | None = None
    """The export holding what was deleted."""


@dataclass(frozen=True, slots=True)
class PruneResult:
    """A prune's plan or outcome, thread by thread, and the space it frees."""

    store: str
    policy: str
    applied: bool
    threads: tuple[ThreadResult, ...]
    space: Space

    @property
    def checkpoints(self) -> int:
        return sum(t.plan.checkpoints for t in self.threads)

    @property
    def writes(self) -> int:
        return sum(t.plan.writes for t in self.threads)

    @property
    def blobs(self) -> int:
        return sum(t.plan.blobs for t in self.threads)

    @property
    def bytes(self) -> int:
        return sum(t.plan.bytes for t in self.threads)


def _archive_target(archive: Path, thread_id: str, single: bool) -> Path:
    if single:
        return archive
    from lgscope.sanitize import safe_filename, unused_path

    archive.mkdir(parents=True, exist_ok=True)
    return unused_path(archive, safe_filename(thread_id), ".lgscope.jsonl")


def _check_writable(rows: Rows) -> None:
    if isinstance(rows, SqliteRows):
        path = rows.path
        # no write bit for anyone is a deliberate "read-only", even to root (whom access() lets write)
        marked = not (path.stat().st_mode & 0o222)
        if marked or not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            raise StoreError(
                f"The store {path} is read-only for this user (file or directory permissions); prune --apply "
                "must write it, so nothing was deleted: run it as the store's owner."
            )
        return
    assert isinstance(rows, PostgresRows)
    ((ok,),) = rows._all(
        "SELECT bool_and(has_table_privilege(t, 'DELETE')) FROM unnest(ARRAY['checkpoints', "
        "'checkpoint_blobs', 'checkpoint_writes']) t"
    )
    if not ok:
        raise StoreError(
            f"The Postgres role of {rows.where} may not DELETE from the checkpoint tables; prune --apply "
            "needs that privilege, so nothing was deleted: connect as the tables' owner."
        )


def _narrowed(tx: ThreadPlan, archived: ThreadPlan) -> ThreadPlan:
    """What both plans delete (each namespace's range ends at the smaller ``upto``)."""
    before = {n.checkpoint_ns: n for n in archived.namespaces}
    out: list[NamespacePlan] = []
    for n in tx.namespaces:
        old = before.get(n.checkpoint_ns)
        if n.upto is None or old is None or old.upto is None:
            out.append(replace(n, upto=None, keep=()))
            continue
        upto = min(n.upto, old.upto)
        keep = tuple(sorted({k for k in (*n.keep, *old.keep) if k <= upto}))
        out.append(replace(n, upto=upto, keep=keep))
    return replace(tx, namespaces=tuple(out), kept=tuple({*tx.kept, *archived.kept}))


def _recount(rows: Rows, plan: ThreadPlan) -> ThreadPlan:
    out = []
    for n in plan.namespaces:
        if n.upto is None:
            out.append(replace(n, checkpoints=0, writes=0, blobs=0, bytes=0))
            continue
        c, w, b, size = rows.doomed(plan.thread_id, n.checkpoint_ns, n.keep, n.upto)
        out.append(replace(n, checkpoints=c, writes=w, blobs=b, bytes=size))
    return replace(plan, namespaces=tuple(out))


def _in_transaction(rows: Rows, work: Callable[[], ThreadPlan]) -> ThreadPlan:
    if isinstance(rows, SqliteRows):
        rows.conn.execute("BEGIN IMMEDIATE")
        try:
            done = work()
            rows.conn.execute("COMMIT")
        except BaseException:
            if rows.conn.in_transaction:
                rows.conn.execute("ROLLBACK")
            raise
        return done
    import psycopg

    assert isinstance(rows, PostgresRows)
    for attempt in range(5):
        try:
            with rows.conn.transaction():
                rows.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return work()
        except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected):
            if attempt == 4:
                raise StoreError(
                    f"The Postgres store {rows.where} kept changing the thread's rows under the prune; "
                    "nothing of that thread was deleted. Run the prune again."
                ) from None
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _prune_thread(
    rows: Rows,
    reader: Any,
    thread_id: str,
    policy: Policy,
    archive: Path | None,
    single: bool,
) -> tuple[ThreadPlan, Path | None]:
    archived: ThreadPlan | None = None
    target: Path | None = None
    if archive is not None:
        from lgscope.store.export import export_thread

        archived = plan_thread(reader.rows, thread_id, policy)
        if archived.checkpoints == 0:
            return archived, None
        target = _archive_target(archive, thread_id, single)
        export_thread(reader.store, thread_id, target, only=archived.deletes)

    def work() -> ThreadPlan:
        plan = plan_thread(rows, thread_id, policy)
        if archived is not None:
            plan = _recount(rows, _narrowed(plan, archived))
        for n in plan.namespaces:
            if n.upto is not None and n.checkpoints:
                rows.delete(thread_id, n.checkpoint_ns, n.keep, n.upto)
        return plan

    return _in_transaction(rows, work), target


def _apply_thread(
    plan: ThreadPlan,
    policy: Policy,
    rows: Rows,
    reader: _Reader,
    locks: Any,
    lock_timeout: float,
    log: PruneAudit | None,
    archive: Path | None,
    single: bool,
) -> ThreadResult:
    if not plan.checkpoints:
        return ThreadResult(plan, "nothing_to_delete")
    hold = locks.hold(plan.thread_id, lock_timeout)
    try:
        hold.__enter__()
    except LockUnavailable:
        # a sweep, an app answering an approval or another prune has it: left for the next run
        return ThreadResult(replace(plan, namespaces=()), "locked")
    try:
        if log is not None:
            log.intent(plan)
        try:
            done, written = _prune_thread(rows, reader, plan.thread_id, policy, archive, single)
        except BaseException as exc:
            if log is not None:
                log.outcome(plan, "failed", detail=str(exc) or type(exc).__name__)
            raise
        if log is not None:
            log.outcome(done, "pruned", archive=written)
        return ThreadResult(done, "pruned", written)
    finally:
        hold.__exit__(None, None, None)


@dataclass(slots=True)
class _Reader:
    """The read-only side: planning before the transaction, and the store an archive exports from."""

    rows: Rows
    store: Any


def prune(
    store: str | os.PathLike[str],
    policy: Policy,
    *,
    threads: Sequence[str] | None = None,
    apply: bool = False,
    archive: str | os.PathLike[str] | None = None,
    vacuum: bool = False,
    audit: str | os.PathLike[str] | None = None,
    actor: str = "lgscope-prune",
    lock_timeout: float = 30.0,
    busy_timeout: float = 30.0,
) -> PruneResult:
    """Plan (and with ``apply=True``, carry out) a prune of a SQLite or Postgres store.

    A dry run opens the store read-only and returns what would be deleted. ``archive`` is a
    file (a name ending in ``.jsonl``; one thread) or a directory (one export a thread) that
    receives what is deleted before it is, so ``lgscope import FILE STORE --merge`` undoes the
    prune. ``vacuum`` (SQLite) compacts the file afterwards and needs the store to itself.
    """
    target = os.fspath(store)
    archive_path = Path(archive) if archive is not None else None
    single = archive_path is not None and archive_path.suffix == ".jsonl"
    if archive_path is not None and single and not archive_path.parent.is_dir():
        raise UsageError(f"--archive {archive_path}: the directory {archive_path.parent} does not exist.")
    if archive_path is not None and not single and archive_path.exists() and not archive_path.is_dir():
        raise UsageError(
            f"--archive {archive_path} is a file but does not end in .jsonl; give a .jsonl file (one thread) "
            "or a directory (one export per thread)."
        )
    ro = rows_for(target)
    try:
        if vacuum and isinstance(ro, PostgresRows):
            raise UsageError(
                "--vacuum is for SQLite stores; on Postgres run VACUUM yourself after the prune (it says how). "
                "Nothing was deleted."
            )
        plans = [p for p in plan_threads(ro, threads, policy)]
        if threads is not None and not plans:
            raise UsageError(
                f"The store {ro.where} has none of the threads given with --thread; nothing was deleted."
            )
        todo = [p for p in plans if p.checkpoints]
        if single and len(todo) > 1:
            raise UsageError(
                f"--archive {archive_path} is one file, but {len(todo)} threads would be pruned; give a directory "
                "(one export per thread) or one --thread. Nothing was deleted."
            )
        before = space_before(ro)
        if not apply:
            results = tuple(
                ThreadResult(p, "would_prune" if p.checkpoints else "nothing_to_delete") for p in plans
            )
            return PruneResult(ro.where, policy.describe(), False, results, before)
        if isinstance(ro, SqliteRows):
            _check_writable(ro)
        rw: Rows = (
            SqliteRows(ro.path, write=True, busy_timeout=busy_timeout)
            if isinstance(ro, SqliteRows)
            else rows_for(target, write=True)
        )
        try:
            _check_writable(rw)
            results_list: list[ThreadResult] = []
            log = PruneAudit(audit, store=ro.where, policy=policy.describe(), actor=actor) if audit else None
            from lgscope.approvals import locks_for
            from lgscope.store import open_store

            locks = locks_for(target)
            reader = _Reader(ro, open_store(target) if archive_path is not None else None)
            try:
                for p in plans:
                    results_list.append(
                        _apply_thread(p, policy, rw, reader, locks, lock_timeout, log, archive_path, single)
                    )
            finally:
                if reader.store is not None:
                    reader.store.close()
                close = getattr(locks, "close", None)
                if close is not None:
                    close()
            space = space_after(rw, before, vacuum=vacuum)
        finally:
            rw.close()
        return PruneResult(ro.where, policy.describe(), True, tuple(results_list), space)
    finally:
        ro.close()
