"""Incremental scans find exactly what a whole scan finds, reading only the threads that changed."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from incremental_graph import build, resume, run  # type: ignore[import-not-found]

from lgscope import open_store
from lgscope._exceptions import UsageError
from lgscope.examples import REFERENCE_NOW, build_sample
from lgscope.forensics import DetectorConfig, ScanResult, _state, scan
from lgscope.store._postgres import TIPS_SQL as PG_TIPS_SQL
from lgscope.store._sqlite import TIPS_SQL as SQLITE_TIPS_SQL

Saver = Callable[[], AbstractContextManager[Any]]


def _json(result: ScanResult) -> dict[str, Any]:
    """What a scan says, as JSON: what must be identical between a whole and an incremental scan."""
    s = result.stats
    return json.loads(
        json.dumps(
            {
                "findings": [f.to_dict() for f in result.findings],
                "threads": [t.to_dict(result.now) for t in result.threads],
                "stats": [s.threads, s.checkpoints, s.corrupt_checkpoints, s.errors],
            },
            default=str,
        )
    )


def _both(
    target: str | Path,
    state: Path,
    now: datetime,
    config: DetectorConfig | None = None,
    *,
    cold: bool = False,
) -> ScanResult:
    """Scan incrementally and wholly at the same ``now``; assert they agree; the incremental one.
    ``cold``: as a new process would, from the file (not what this process remembers of it)."""
    if cold:
        _state._MEMO.clear()
    with open_store(target) as st:
        whole = scan(st, now=now, config=config)
        inc = scan(st, now=now, config=config, state=state)
    assert _json(inc) == _json(whole)
    assert inc.threads == whole.threads
    return inc


def _sqlite_saver(path: Path) -> Saver:
    from langgraph.checkpoint.sqlite import SqliteSaver

    @contextmanager
    def open_saver() -> Iterator[Any]:
        with SqliteSaver.from_conn_string(str(path)) as saver:
            yield saver

    return open_saver


def _postgres_saver(url: str) -> Saver:
    from langgraph.checkpoint.postgres import PostgresSaver

    @contextmanager
    def open_saver() -> Iterator[Any]:
        with PostgresSaver.from_conn_string(url) as saver:
            yield saver

    return open_saver


def _prune_sqlite(path: Path) -> Callable[[str], None]:
    def prune(thread_id: str) -> None:
        # what a pruning tool does to a SQLite store: drop all but the latest checkpoint
        with sqlite3.connect(path) as conn:
            conn.execute(
                "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id < "
                "(SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '')",
                (thread_id, thread_id),
            )
        conn.close()

    return prune


def _prune_postgres(url: str) -> Callable[[str], None]:
    def prune(thread_id: str) -> None:
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(url) as saver:
            saver.prune([thread_id], strategy="keep_latest")

    return prune


def _story(
    target: str | Path, open_saver: Saver, prune: Callable[[str], None], state: Path, *, cold: bool = False
) -> None:
    """The sample store plus graph threads; then threads added, extended, deleted, pruned,
    written to and resumed between scans, and time passing over a pending interrupt."""
    now = datetime.now(UTC)
    with open_saver() as saver:
        if hasattr(saver, "setup"):
            saver.setup()
        build_sample(saver, reference_now=REFERENCE_NOW)
        graph = build(saver)
        run(graph, "inc-a", turns=2)
        run(graph, "inc-b", turns=3)
        run(graph, "inc-ask", ask=True)
        run(graph, "inc-ask2", ask=True)
    first = _both(target, state, now)
    assert first.stats.reused == 0 and first.stats.rebuilt is None and state.exists()

    unchanged = _both(target, state, now)
    assert unchanged.stats.reused == unchanged.stats.threads >= 28
    written = state.stat().st_mtime_ns
    assert _both(target, state, now, cold=True).stats.reused == unchanged.stats.threads
    assert state.stat().st_mtime_ns == written  # nothing changed: nothing to write

    with open_saver() as saver:
        graph = build(saver)
        run(graph, "inc-new")  # added
        run(graph, "inc-a")  # extended
        resume(graph, "inc-ask2")  # answered
        saver.delete_thread("support-1")  # deleted
        latest = saver.get_tuple({"configurable": {"thread_id": "inc-b"}})
        saver.put_writes(latest.config, [("log", ["late write"])], task_id="late-task")  # written to
    prune("chat-turns")  # pruned: its latest checkpoint is the same, its count is not
    later = now + timedelta(days=3)  # the pending interrupt of inc-ask is now stuck
    second = _both(target, state, later, cold=cold)
    assert second.stats.reused == second.stats.threads - 5
    third = _both(target, state, later, cold=True)  # what the file now says, read by a new process
    assert third.stats.reused == third.stats.threads
    assert {"stuck_interrupt"} <= {f.kind for f in second.findings if f.thread_id == "inc-ask"}
    assert not any(f.thread_id == "support-1" for f in second.findings)
    assert not any(t.thread_id == "support-1" for t in second.threads)


@pytest.mark.parametrize("cold", [False, True], ids=["same-process", "new-process"])
def test_sqlite_incremental_scans_find_what_whole_scans_find(tmp_path: Path, cold: bool) -> None:
    store = tmp_path / "store.sqlite"
    _story(store, _sqlite_saver(store), _prune_sqlite(store), tmp_path / "scan.state", cold=cold)


@pytest.mark.postgres
@pytest.mark.parametrize("cold", [False, True], ids=["same-process", "new-process"])
def test_postgres_incremental_scans_find_what_whole_scans_find(
    postgres_url: str, tmp_path: Path, cold: bool
) -> None:
    _story(
        postgres_url,
        _postgres_saver(postgres_url),
        _prune_postgres(postgres_url),
        tmp_path / "scan.state",
        cold=cold,
    )


def test_ages_are_recomputed_for_threads_not_read_again(sample_store: Path, tmp_path: Path) -> None:
    state = tmp_path / "scan.state"
    _both(sample_store, state, REFERENCE_NOW - timedelta(days=30))
    # nothing changed in the store; a month later every pending interrupt is stuck, and older
    for days in (0, 1, 30):
        result = _both(sample_store, state, REFERENCE_NOW + timedelta(days=days))
        assert result.stats.reused == result.stats.threads == 24
    assert sum(f.kind == "stuck_interrupt" for f in result.findings) >= 3
    # a static pause ages too; a run stopped by the recursion limit waits as long but is no stuck run
    stuck_runs = {f.thread_id for f in result.findings if f.kind == "stuck_run"}
    assert "blog-awaiting-review" in stuck_runs and "support-loop-recursion" not in stuck_runs


def test_other_settings_rebuild_the_state_and_say_why(sample_store: Path, tmp_path: Path) -> None:
    state = tmp_path / "scan.state"
    _both(sample_store, state, REFERENCE_NOW)
    other = DetectorConfig(loop_min_repeats=5)
    result = _both(sample_store, state, REFERENCE_NOW, other)
    assert result.stats.reused == 0 and "other detector settings" in (result.stats.rebuilt or "")
    assert _both(sample_store, state, REFERENCE_NOW, other).stats.reused == 24


def test_a_replaced_store_rebuilds_the_state(sample_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    shutil.copyfile(sample_store, store)
    state = tmp_path / "scan.state"
    _both(store, state, REFERENCE_NOW)
    replacement = tmp_path / "new.sqlite"
    shutil.copyfile(sample_store, replacement)
    os.replace(replacement, store)
    result = _both(store, state, REFERENCE_NOW)
    assert result.stats.reused == 0 and "another store" in (result.stats.rebuilt or "")


def test_a_damaged_state_is_rebuilt(sample_store: Path, tmp_path: Path) -> None:
    state = tmp_path / "scan.state"
    _both(sample_store, state, REFERENCE_NOW)
    lines = state.read_bytes().splitlines(keepends=True)
    # a line cut short: that thread is read again, the others are still used
    state.write_bytes(b"".join(lines[:5]) + lines[5][:120] + b"\n" + b"".join(lines[6:]))
    assert _both(sample_store, state, REFERENCE_NOW).stats.reused == 23
    assert _both(sample_store, state, REFERENCE_NOW, cold=True).stats.reused == 24  # its line was rewritten
    # a line that is not one of ours at all: the whole state is rebuilt, and the scan says why
    state.write_bytes(b"".join(lines[:5]) + b"garbage\n" + b"".join(lines[6:]))
    result = _both(sample_store, state, REFERENCE_NOW)
    assert result.stats.reused == 0 and "line 6 is damaged" in (result.stats.rebuilt or "")
    assert _both(sample_store, state, REFERENCE_NOW).stats.reused == 24


def test_a_file_lgscope_did_not_write_is_refused_and_kept(sample_copy: Path, tmp_path: Path) -> None:
    before = sample_copy.read_bytes()
    with open_store(sample_copy) as st, pytest.raises(UsageError, match="is not an lgscope scan state file"):
        scan(st, state=sample_copy)
    assert sample_copy.read_bytes() == before
    with open_store(sample_copy) as st, pytest.raises(ValueError, match="covers the whole store"):
        scan(st, state=tmp_path / "s", thread_ids=["support-1"])


def test_a_state_file_is_never_unpickled(sample_store: Path, tmp_path: Path) -> None:
    import pickle

    state = tmp_path / "scan.state"
    _both(sample_store, state, REFERENCE_NOW)
    header = state.read_bytes().splitlines()[0]
    canary = tmp_path / "ran"
    payload = pickle.dumps(eval, protocol=0) + repr(f"open({str(canary)!r}, 'w')").encode()
    state.write_bytes(header + b"\n" + payload + b"\n")
    result = _both(sample_store, state, REFERENCE_NOW)
    assert "damaged" in (result.stats.rebuilt or "") and not canary.exists()


def test_the_sqlite_tips_read_only_the_indexes(sample_store: Path) -> None:
    with sqlite3.connect(f"file:{sample_store}?mode=ro", uri=True) as conn:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + SQLITE_TIPS_SQL)]
    conn.close()
    reads = [
        p for p in plan if p.startswith(("SCAN", "SEARCH")) and p != "SCAN c"
    ]  # c: the grouped rows themselves
    assert len(reads) == 2 and all("USING COVERING INDEX" in p for p in reads), plan


@pytest.mark.postgres
def test_the_postgres_tips_read_only_the_indexes(postgres_sample: str) -> None:
    import psycopg

    with psycopg.connect(postgres_sample, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE checkpoints")
        conn.execute("VACUUM ANALYZE checkpoint_writes")
        plan = conn.execute("EXPLAIN (FORMAT JSON) " + PG_TIPS_SQL).fetchone()[0]  # type: ignore[index]

    def scans(node: dict[str, Any]) -> Iterator[tuple[str, str]]:
        if "Relation Name" in node:
            yield node["Node Type"], node["Relation Name"]
        for child in node.get("Plans", ()):
            yield from scans(child)

    found = set(scans(plan[0]["Plan"]))
    assert found == {("Index Only Scan", "checkpoints"), ("Index Only Scan", "checkpoint_writes")}, found


def test_the_cli_scans_incrementally(sample_store: Path, tmp_path: Path) -> None:
    from lgscope.cli import main

    state = tmp_path / "scan.state"
    args = [
        "scan",
        str(sample_store),
        "--format",
        "json",
        "--now",
        REFERENCE_NOW.isoformat(),
        "--state",
        str(state),
    ]
    first = CliRunner().invoke(main, args)
    second = CliRunner().invoke(main, args)
    assert first.exit_code == second.exit_code == 0, first.output
    a, b = json.loads(first.output), json.loads(second.output)
    assert (a["stats"].pop("reused_threads"), b["stats"].pop("reused_threads")) == (0, 24)
    del a["stats"]["seconds"], b["stats"]["seconds"]
    assert a == b and len(a["findings"]) >= 8
    table = CliRunner().invoke(main, args[:2] + args[4:] + ["--detectors", "loop"])
    assert table.exit_code == 0
    assert "Note: the state file" in table.stderr and "other detector settings" in table.stderr
    assert "24 threads unchanged since the last scan" not in table.stdout
    again = CliRunner().invoke(main, args[:2] + args[4:] + ["--detectors", "loop"])
    assert "24 threads unchanged since the last scan were not read again" in again.stdout
    bad = CliRunner().invoke(main, [*args, "--thread", "support-1"])
    assert bad.exit_code == 2 and bad.output.startswith("Error: --state remembers the whole store")
    refused = CliRunner().invoke(main, ["scan", str(sample_store), "--state", str(sample_store)])
    assert refused.exit_code == 2 and "is not an lgscope scan state file" in refused.output
