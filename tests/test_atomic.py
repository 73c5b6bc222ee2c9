"""`lgscope._atomic`: a file is replaced whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgscope._atomic import atomic_write


def test_the_file_is_replaced_only_when_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "state.jsonl"
    target.write_bytes(b"old\n")
    with atomic_write(target) as out:
        out.write(b"new\n")
        assert target.read_bytes() == b"old\n"  # not yet
    assert target.read_bytes() == b"new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["state.jsonl"]


def test_a_block_that_raises_leaves_the_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.jsonl"
    target.write_bytes(b"old\n")
    with pytest.raises(RuntimeError, match="half-way"), atomic_write(target) as out:
        out.write(b"partial")
        raise RuntimeError("half-way")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["state.jsonl"]
