"""Issue 25 item 7: memory stays bounded by the stored size (the bound is stated per command), huge
values are shown cut, and an export's write ``idx`` cannot size a list."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import ormsgpack
import pytest
from click.testing import CliRunner
from tests.hostile import THREAD, latest_checkpoint, plant_channel_value

from lgscope.cli import main
from lgscope.store.decode import BIG_BLOB, SHOWN_CHARS

BLOB_MB = 64

_MEASURE = r"""
import resource, sys
from click.testing import CliRunner
from lgscope.cli import main
import lgscope.forensics, lgscope.store.export, lgscope.forensics.report  # the baseline imports everything
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
r = CliRunner().invoke(main, sys.argv[1:])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(r.exit_code, (after - before) // 1024, len(r.output))
"""


def _peak(*args: str) -> tuple[int, int, int]:
    """Exit code, peak RSS growth (MB) over the imports, and output size of one command."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, timeout=300, check=True
    )
    code, grown, size = map(int, done.stdout.split())
    return code, grown, size


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("big") / "big.sqlite"
    store.write_bytes(
        (Path(__file__).resolve().parents[2] / "fixtures" / "stores" / "sample.sqlite").read_bytes()
    )
    plant_channel_value(store, ormsgpack.packb("x" * (BLOB_MB << 20)), channel="big")
    return store


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "bound"),
    [
        # reading the blob through sqlite3 holds it twice (SQLite's copy and Python's): ~2x
        (["threads"], 2.5),
        (["show", "--thread", THREAD], 2.5),
        (["show", "--thread", THREAD, "--checkpoint", "{cid}", "--format", "json"], 2.5),
        (["scan"], 3.5),
        (["report", "--format", "md"], 3.5),
    ],
)
def test_a_huge_value_costs_a_bounded_multiple_of_its_size(
    big_store: Path, command: list[str], bound: float
) -> None:
    assert BLOB_MB << 20 > BIG_BLOB
    cid = latest_checkpoint(big_store)
    args = [command[0], str(big_store), *(a.format(cid=cid) for a in command[1:])]
    code, grown, size = _peak(*args)
    assert code == 0
    assert grown < bound * BLOB_MB, f"{command[0]} grew {grown} MB for a {BLOB_MB} MB value"
    assert size < 64_000  # the value is shown cut, not printed whole


def test_a_huge_value_is_shown_cut_with_its_size(big_store: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "show",
            str(big_store),
            "--thread",
            THREAD,
            "--checkpoint",
            latest_checkpoint(big_store),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0
    big = json.loads(result.output)["values"]["big"]
    assert big == {"__type__": "str", "size": BLOB_MB << 20, "text": "x" * SHOWN_CHARS, "truncated": True}


def test_a_write_idx_of_10_to_the_12_is_refused_in_one_line(sample_store: Path, tmp_path: Path) -> None:
    export = tmp_path / "e.jsonl"
    runner = CliRunner()
    assert (
        runner.invoke(main, ["export", str(sample_store), "--thread", THREAD, "-o", str(export)]).exit_code
        == 0
    )
    lines = export.read_text().splitlines()
    records = [json.loads(line) for line in lines[1:-1]]
    number = next(i for i, r in enumerate(records, start=1) if any(w["idx"] >= 0 for w in r["writes"]))
    next(w for w in records[number - 1]["writes"] if w["idx"] >= 0)["idx"] = 10**12
    body = [json.dumps(r, ensure_ascii=False) for r in records]
    trailer = json.loads(lines[-1])
    trailer["sha256"] = hashlib.sha256("".join(body).encode()).hexdigest()
    export.write_text("\n".join([lines[0], *body, json.dumps(trailer)]) + "\n")
    result = runner.invoke(main, ["import", str(export), str(tmp_path / "t.sqlite")])
    assert result.exit_code == 2
    assert result.output.startswith(
        f"Error: Record {number} of the export is malformed (ValueError: write idx 1000000000000 is past"
    )
    assert result.output.count("\n") == 1 and not (tmp_path / "t.sqlite").exists()
