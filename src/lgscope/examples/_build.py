"""Building the sample store: every example workload, on a fake clock, into one store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lgscope.examples import bank, blog, medicine, ops, project, research, review, support
from lgscope.examples._clock import FakeClock, installed
from lgscope.examples._common import Expectation, Run

__all__ = ["REFERENCE_NOW", "build_accuracy", "build_sample"]

REFERENCE_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
"""The time the committed sample store is judged at (stuck approvals are days old then)."""

_WORKLOADS: list[tuple[str, timedelta, Callable[[Run], None]]] = [
    ("blog", timedelta(days=6), blog.run),
    ("medicine", timedelta(days=5), medicine.run),
    ("bank", timedelta(days=4), bank.run),
    ("support", timedelta(days=3), support.run),
    ("review", timedelta(days=2, hours=6), review.run),
    ("research", timedelta(days=2), research.run),
    ("ops", timedelta(days=1, hours=12), ops.run),
    ("bank-fresh", timedelta(hours=1), bank.run_fresh),
]


def _project(run: Run, store_path: Path | None, start: datetime, seed: int) -> None:
    """Three days of a project; in separate processes when the store is a file we can share."""
    thread_id = run.prefix + "project-relaunch"
    for day in range(1, 4):
        at = start + timedelta(days=day - 1, hours=9)
        if store_path is not None:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "lgscope.examples.project",
                    "--store",
                    str(store_path),
                    "--thread",
                    thread_id,
                    "--day",
                    str(day),
                    "--at",
                    at.isoformat(),
                    "--seed",
                    str(seed),
                ],
                check=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        else:
            run.clock.now = at
            project.run_day(run.checkpointer, thread_id, day)
    run.expect("project-relaunch", "project", "done", [], "resumed on three days, each day a new process")


def build_sample(
    target: str | os.PathLike[str] | Any,
    *,
    reference_now: datetime = REFERENCE_NOW,
    seed: int = 0,
    prefix: str = "",
    separate_processes: bool = True,
) -> list[Expectation]:
    """Write every example thread into ``target`` and return what each must look like.

    ``target`` is a SQLite path (created; must not exist) or any checkpointer, e.g. a
    ``PostgresSaver`` after ``setup()``. Checkpoint ids and timestamps come from a fake clock
    anchored ``reference_now``, so the same anchor and seed give the same ids. ``prefix`` is
    put before every thread id (to share a store between tests). The multi-day project runs
    each day in its own process when ``target`` is a SQLite path and ``separate_processes``.
    """

    def project_days(run: Run, store_path: Path | None, commit: Callable[[], None]) -> None:
        commit()
        with installed(run.clock, seed=seed * 100 + 99):
            _project(
                run,
                store_path if separate_processes else None,
                reference_now - timedelta(days=6, hours=12),
                seed,
            )

    return _write(target, _WORKLOADS, reference_now, seed, prefix, project_days)


def build_accuracy(
    target: str | os.PathLike[str] | Any,
    *,
    reference_now: datetime = REFERENCE_NOW,
    seed: int = 0,
    prefix: str = "",
) -> list[Expectation]:
    """Write the accuracy threads (`lgscope.examples.accuracy`: each pattern and its healthy twin,
    on tutorial-shaped graphs) into ``target``, like `build_sample`, and return their labels."""
    from lgscope.examples.accuracy import WORKLOADS

    return _write(target, WORKLOADS, reference_now, seed, prefix, None)


def _write(
    target: str | os.PathLike[str] | Any,
    workloads: list[tuple[str, timedelta, Callable[[Run], None]]],
    reference_now: datetime,
    seed: int,
    prefix: str,
    then: Callable[[Run, Path | None, Callable[[], None]], None] | None,
) -> list[Expectation]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = None
    store_path: Path | None = None
    if isinstance(target, str | os.PathLike):
        store_path = Path(target)
        if store_path.exists():
            raise FileExistsError(f"{store_path} exists; the builder writes a new store.")
        conn = sqlite3.connect(store_path, check_same_thread=False)
        saver: Any = SqliteSaver(conn)
        saver.setup()
    else:
        saver = target
    clock = FakeClock(reference_now - timedelta(days=7))
    run = Run(saver, clock, prefix)

    def commit() -> None:
        if conn is not None:
            conn.commit()

    try:
        for i, (_name, before, workload) in enumerate(workloads):
            clock.now = reference_now - before
            with installed(clock, seed=seed * 100 + i):
                workload(run)
        if then is not None:
            then(run, store_path, commit)
        if conn is not None:
            # SqliteSaver.setup() turns WAL on; a WAL file cannot always be opened read-only (a
            # read-only directory needs its -shm), so the shipped store uses a rollback journal.
            conn.commit()
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
            assert mode == ("delete",), mode
    finally:
        if conn is not None:
            conn.close()
    return sorted(run.expectations, key=lambda e: e.thread_id)
