"""A scan on a real Dask cluster (separate worker processes) finds what one process finds."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from lgscope import open_store
from lgscope.cli import main
from lgscope.examples import REFERENCE_NOW
from lgscope.forensics import dask_executor, scan

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two worker processes of one thread each: small, so the suite stays quick."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as local:
        yield str(local.scheduler_address)


def _compare(target: str | Path, address: str) -> None:
    executor, slots = dask_executor(address)
    try:
        with open_store(target) as st:
            one = scan(st, now=REFERENCE_NOW, jobs=1)
            spread = scan(st, now=REFERENCE_NOW, executor=executor, jobs=slots)
    finally:
        executor.shutdown()
    assert slots == 2 and spread.stats.jobs == 2 and spread.stats.reread == 0
    assert spread.findings == one.findings and len(one.findings) >= 8
    assert spread.threads == one.threads
    assert (spread.stats.threads, spread.stats.checkpoints, spread.stats.errors) == (
        one.stats.threads,
        one.stats.checkpoints,
        one.stats.errors,
    )


def test_a_dask_cluster_finds_what_one_process_finds(sample_store: Path, cluster: str) -> None:
    _compare(sample_store, cluster)


@pytest.mark.postgres
def test_a_dask_cluster_reads_postgres_like_one_process(postgres_sample: str, cluster: str) -> None:
    _compare(postgres_sample, cluster)


def test_an_incremental_scan_on_dask_equals_a_whole_one(
    sample_copy: Path, cluster: str, tmp_path: Path
) -> None:
    import sqlite3

    state = tmp_path / "scan.state"
    executor, slots = dask_executor(cluster)
    try:
        with open_store(sample_copy) as st:
            scan(st, now=REFERENCE_NOW, executor=executor, jobs=slots, state=state)
        with sqlite3.connect(sample_copy) as conn:
            conn.execute("DELETE FROM checkpoints WHERE thread_id IN ('support-1', 'chat-turns')")
        conn.close()
        with open_store(sample_copy) as st:
            inc = scan(st, now=REFERENCE_NOW, executor=executor, jobs=slots, state=state)
            whole = scan(st, now=REFERENCE_NOW)
    finally:
        executor.shutdown()
    assert inc.stats.reused == 22 and inc.findings == whole.findings and inc.threads == whole.threads


def test_the_cli_scans_on_dask(sample_store: Path, cluster: str) -> None:
    args = ["scan", str(sample_store), "--format", "json", "--now", REFERENCE_NOW.isoformat()]
    local = CliRunner().invoke(main, [*args, "-j", "1"])
    spread = CliRunner().invoke(main, [*args, "--executor", cluster])
    assert local.exit_code == spread.exit_code == 0, spread.output
    a, b = json.loads(local.output), json.loads(spread.output)
    assert (a["stats"].pop("jobs"), b["stats"].pop("jobs")) == (1, 2)
    del a["stats"]["seconds"], b["stats"]["seconds"]
    assert a == b
    bad = CliRunner().invoke(main, [*args, "--executor", "scheduler:8786"])
    assert bad.exit_code == 2 and bad.output.startswith("Error: --executor 'scheduler:8786' is not a Dask")
    gone = CliRunner().invoke(main, [*args, "--executor", "tcp://127.0.0.1:9"])
    assert gone.exit_code == 2 and "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in gone.output


def test_without_dask_the_message_names_the_extra(sample_store: Path) -> None:
    script = (
        "import sys; sys.modules['distributed'] = None\n"
        "from lgscope.cli import main\n"
        f"main(['scan', {str(sample_store)!r}, '--executor', 'tcp://127.0.0.1:8786'])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "Error: Scanning on a Dask cluster (--executor) needs an optional dependency that is not "
        "installed; install it with: pip install 'lgscope[dask]'."
    )
