"""Scanning with worker processes finds exactly what one process finds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from lgscope import open_store
from lgscope.examples import REFERENCE_NOW
from lgscope.forensics import DetectorConfig, LocalProcesses, scan
from lgscope.forensics._executor import WorkerLost
from lgscope.forensics._scan import scan_task


def _compare(target: str | Path, jobs: int) -> None:
    with open_store(target) as st:
        one = scan(st, now=REFERENCE_NOW, jobs=1)
        many = scan(st, now=REFERENCE_NOW, jobs=jobs)
    assert one.stats.jobs == 1 and many.stats.jobs == jobs
    assert many.findings == one.findings and len(one.findings) >= 8
    assert many.threads == one.threads
    assert (
        many.stats.threads,
        many.stats.checkpoints,
        many.stats.corrupt_checkpoints,
        many.stats.errors,
    ) == (
        one.stats.threads,
        one.stats.checkpoints,
        one.stats.corrupt_checkpoints,
        one.stats.errors,
    )


def test_workers_find_what_one_process_finds(sample_store: Path) -> None:
    _compare(sample_store, jobs=3)


def test_workers_count_corrupt_rows_like_one_process(damaged_sample: Path) -> None:
    _compare(damaged_sample, jobs=2)


@pytest.mark.postgres
def test_postgres_workers_find_what_one_process_finds(postgres_sample: str) -> None:
    _compare(postgres_sample, jobs=2)


def test_progress_reaches_the_total(sample_store: Path) -> None:
    seen: list[tuple[int, int]] = []
    with open_store(sample_store) as st:
        scan(st, now=REFERENCE_NOW, jobs=2, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (24, 24) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_automatic_jobs_keep_a_small_store_in_process(sample_store: Path) -> None:
    with open_store(sample_store) as st:
        assert scan(st, now=REFERENCE_NOW, jobs=0).stats.jobs == 1
        assert scan(st, now=REFERENCE_NOW, jobs=2, visit=lambda h: None).stats.jobs == 1
        with pytest.raises(ValueError, match="jobs must be 0"):
            scan(st, jobs=-1)


def test_a_script_without_a_main_guard_can_scan_with_workers(sample_store: Path, tmp_path: Path) -> None:
    # multiprocessing's spawn would re-run this script in every worker; our workers do not
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from lgscope import open_store
            from lgscope.forensics import scan
            with open_store({str(sample_store)!r}) as st:
                result = scan(st, jobs=2)
            print(result.stats.jobs, result.stats.threads)
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "24"]


def test_a_worker_that_died_fails_its_task_and_the_others_go_on(sample_store: Path) -> None:
    now = datetime.now(REFERENCE_NOW.tzinfo)
    with open_store(sample_store) as st, LocalProcesses(2) as pool:
        reopen = st.reopener()
        part = pool.submit(scan_task, reopen, [["support-1"]], DetectorConfig(), now).result()
        assert [r.analysis.thread.thread_id for r in part.results] == ["support-1"]
        pool._procs[0].proc.kill()
        pool._procs[0].proc.wait()
        outcomes = [pool.submit(scan_task, reopen, [["support-2"]], DetectorConfig(), now) for _ in range(4)]
        lost = [f for f in outcomes if isinstance(f.exception(timeout=60), WorkerLost)]
        done = [f.result() for f in outcomes if f.exception() is None]
    assert len(lost) <= 1 and len(done) >= 3
    assert all([r.analysis.thread.thread_id for r in p.results] == ["support-2"] for p in done)


def test_a_scan_reads_again_what_a_lost_worker_did_not_return(sample_store: Path) -> None:
    with open_store(sample_store) as st:
        one = scan(st, now=REFERENCE_NOW, jobs=1)
        with LocalProcesses(1) as pool:
            pool._procs[0].proc.kill()
            pool._procs[0].proc.wait()
            again = scan(st, now=REFERENCE_NOW, executor=pool, jobs=2)
    assert again.stats.reread >= 1 and again.findings == one.findings and again.threads == one.threads


def test_the_cli_scans_with_jobs(sample_store: Path) -> None:
    from click.testing import CliRunner

    from lgscope.cli import main

    args = ["scan", str(sample_store), "--format", "json", "--now", REFERENCE_NOW.isoformat()]
    one = CliRunner().invoke(main, [*args, "--jobs", "1"])
    two = CliRunner().invoke(main, [*args, "-j", "2"])
    assert one.exit_code == two.exit_code == 0
    first, second = json.loads(one.output), json.loads(two.output)
    assert (first["stats"].pop("jobs"), second["stats"].pop("jobs")) == (1, 2)
    del first["stats"]["seconds"], second["stats"]["seconds"]
    assert first == second and len(first["findings"]) >= 8
    bad = CliRunner().invoke(main, [*args, "--jobs", "-3"])
    assert bad.exit_code == 2 and "-3 is not in the range x>=0" in bad.output


def test_a_worker_whose_libraries_print_still_returns_its_run(sample_store: Path) -> None:
    import functools

    from noisy_store import open_noisy  # type: ignore[import-not-found]

    now = datetime.now(REFERENCE_NOW.tzinfo)
    with LocalProcesses(1) as pool:
        future = pool.submit(
            scan_task,
            functools.partial(open_noisy, sample_store),
            [["support-1", "support-2"]],
            DetectorConfig(),
            now,
        )
        part = future.result(timeout=60)
    assert [r.analysis.thread.thread_id for r in part.results] == ["support-1", "support-2"]
    assert part.stats.reread == 0


def test_leaving_local_processes_on_an_error_stops_them() -> None:
    import time

    started = time.monotonic()
    futures = []
    with pytest.raises(KeyboardInterrupt), LocalProcesses(1) as pool:
        futures = [pool.submit(time.sleep, 5) for _ in range(4)]
        time.sleep(0.5)
        raise KeyboardInterrupt
    assert time.monotonic() - started < 4
    assert sum(f.cancelled() for f in futures) >= 2
    assert all(w.proc.poll() is not None for w in pool._procs)
