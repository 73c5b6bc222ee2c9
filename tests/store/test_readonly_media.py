"""Issue 25 item 9: a WAL store on read-only media opens (immutable, since nothing can write it), or
says in one sentence why it cannot."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lgscope.store._sqlite import _why_not_immutable


def _wal_store(sample: Path, directory: Path) -> Path:
    directory.mkdir()
    store = directory / "wal.sqlite"
    shutil.copyfile(sample, store)
    conn = sqlite3.connect(store)
    assert conn.execute("PRAGMA journal_mode = WAL").fetchone() == ("wal",)
    conn.close()  # the last connection checkpoints the log and removes -wal and -shm
    assert sorted(p.name for p in directory.iterdir()) == ["wal.sqlite"]
    assert store.read_bytes()[18:20] == b"\x02\x02"  # WAL mode is in the header
    return store


def _can_mount_read_only(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind -o ro {probe} {probe} && ! touch {probe}/x"],
        capture_output=True,
    )
    return done.returncode == 0


def test_a_wal_store_on_a_read_only_mount_opens(sample_store: Path, tmp_path: Path) -> None:
    if shutil.which("unshare") is None or not _can_mount_read_only(tmp_path):
        pytest.skip("needs unshare and mount (a private read-only bind mount)")
    store = _wal_store(sample_store, tmp_path / "media")
    script = (
        "from click.testing import CliRunner; from lgscope.cli import main; "
        f"r = CliRunner().invoke(main, ['threads', {str(store)!r}, '--format', 'json']); "
        "print(r.exit_code); print(r.output)"
    )
    # a private mount namespace: the read-only mount exists for the child alone
    done = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f'mount --bind -o ro {store.parent} {store.parent} && exec {sys.executable} -c "{script}"',
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    code, _, output = done.stdout.partition("\n")
    assert done.returncode == 0 and code == "0", done.stdout[-2000:] + done.stderr[-2000:]
    assert len(json.loads(output)) == 24
    assert sorted(p.name for p in store.parent.iterdir()) == ["wal.sqlite"]


def test_when_reading_as_immutable_would_not_be_safe(sample_store: Path, tmp_path: Path) -> None:
    store = _wal_store(sample_store, tmp_path / "live")
    assert _why_not_immutable(store) == (
        "the directory or the file can still be written, so lgscope will not read it as unchanging"
    )
    store.with_name("wal.sqlite-wal").write_bytes(b"\0" * 32)
    assert (
        _why_not_immutable(store)
        == "its write-ahead log wal.sqlite-wal holds changes that are not in the file yet"
    )
    store.with_name("wal.sqlite-wal").unlink()
    store.chmod(0o444)
    store.parent.chmod(0o555)
    try:
        assert _why_not_immutable(store) is None  # nobody can write either: immutable is exact
    finally:
        store.parent.chmod(0o755)
