"""Issue 25, items 1-2: hostile nesting is refused as a corrupt value; no command crashes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.hostile import (
    THREAD,
    assert_all_read,
    deep_array,
    nested_ext_bomb,
    plant_channel_value,
    plant_write,
    run_readers,
)

from lgscope import open_store
from lgscope.store.decode import MAX_DEPTH, DecodeError, Decoder, decode_msgpack, loads_json

TOO_DEEP = f"nests deeper than {MAX_DEPTH} levels"


def test_the_nested_extension_bomb_is_refused_without_recursing() -> None:
    bomb = nested_ext_bomb()
    assert 16_000 < len(bomb) < 17_000
    for decode in (decode_msgpack, lambda b: Decoder().decode_typed("msgpack", b)):
        with pytest.raises(DecodeError, match=TOO_DEEP):
            decode(bomb)


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 500, 1_021, 8_000])
def test_deep_arrays_are_refused_and_shallow_ones_read(levels: int) -> None:
    with pytest.raises(DecodeError, match=TOO_DEEP):
        decode_msgpack(deep_array(levels))
    value = decode_msgpack(deep_array(100))
    for _ in range(100):
        value = value[0]
    assert value == 1


def test_a_value_met_again_deeper_down_still_counts_its_depth() -> None:
    # an extension 100 levels deep reads at the top, and is refused again under 110 arrays, even
    # when the decoder's memo already holds it (the memo keeps each value's depth)
    ext = b"\xc9" + (104).to_bytes(4, "big") + b"\x00" + b"\x93\xa1m\xa1n" + deep_array(98)
    decoder = Decoder()
    assert decoder.decode_typed("msgpack", ext)["__type__"] == "m.n"
    with pytest.raises(DecodeError, match=TOO_DEEP):
        decoder.decode_typed("msgpack", b"\x91" * 110 + ext)


def test_json_nested_past_the_limit_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(DecodeError, match=TOO_DEEP):
        loads_json("[" * 100_000 + "]" * 100_000)
    assert loads_json('{"a": "[[[[[[", "b": [[1]]}') == {"a": "[[[[[[", "b": [[1]]}


def test_every_command_survives_the_bomb_in_a_state_value_and_a_write(
    sample_copy: Path, tmp_path: Path
) -> None:
    plant_channel_value(sample_copy, nested_ext_bomb())
    plant_write(sample_copy, nested_ext_bomb())
    results = run_readers(sample_copy, tmp_path)
    assert_all_read(results)
    show = next(r for r in results if r["args"][-2:] == ["--format", "json"] and r["args"][0] == "show")
    step = json.loads(show["output"])
    assert TOO_DEEP in step["corrupt"]
    # the rest of the thread still shows
    with open_store(sample_copy) as store:
        steps = store.history(THREAD)
    assert [s.corrupt is None for s in steps] == [True, True, True, True, False]
    assert steps[-1].nodes == ("agent",) and len(steps[-2].values["messages"]) == 3


def test_every_command_survives_deep_arrays(sample_copy: Path, tmp_path: Path) -> None:
    plant_channel_value(sample_copy, deep_array(500), channel="deep500")
    plant_write(sample_copy, deep_array(8_000), channel="deep8000")
    assert_all_read(run_readers(sample_copy, tmp_path))


def test_metadata_nested_1100_deep_marks_the_step_corrupt(sample_copy: Path, tmp_path: Path) -> None:
    with sqlite3.connect(sample_copy) as conn:
        conn.execute(
            "UPDATE checkpoints SET metadata = ? WHERE thread_id = ? AND checkpoint_id = (SELECT "
            "max(checkpoint_id) FROM checkpoints WHERE thread_id = ?)",
            ('{"source": "loop", "x": ' + "[" * 1100 + "]" * 1100 + "}", THREAD, THREAD),
        )
    with open_store(sample_copy) as store:
        steps = store.history(THREAD)
    assert steps[-1].corrupt is not None and TOO_DEEP in steps[-1].corrupt
    assert_all_read(run_readers(sample_copy, tmp_path))


@pytest.mark.postgres
def test_postgres_jsonb_nested_5000_deep_reads_as_a_placeholder(postgres_sample: str) -> None:
    import psycopg

    from lgscope.cli import main

    deep = "[" * 5000 + "]" * 5000
    with psycopg.connect(postgres_sample, autocommit=True) as conn:
        updated = conn.execute(
            "UPDATE checkpoints SET metadata = jsonb_build_object('source', 'loop', 'x', %s::jsonb) "
            "WHERE thread_id = %s",
            (deep, THREAD),
        ).rowcount
        assert updated == 5
    with open_store(postgres_sample) as store:
        steps = store.history(THREAD)
        assert len(steps) == 5
        assert all(TOO_DEEP in s.metadata["undecoded"] for s in steps)
        assert len(steps[-1].values["messages"]) == 4
    from click.testing import CliRunner

    for args in (
        ["threads", postgres_sample],
        ["show", postgres_sample, "--thread", THREAD],
        ["scan", postgres_sample],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and result.exception is None, (args, result.output)


def test_the_deepest_value_allowed_reads_in_every_command(sample_copy: Path, tmp_path: Path) -> None:
    """The limit is low enough for every reader (detectors, diff, JSON, reports) to walk what it lets through."""
    inner = b"\x91" * 190 + b"\xa4leaf"
    ext = b"\xc9" + (len(inner) + 5).to_bytes(4, "big") + b"\x00" + b"\x93\xa1m\xa1n" + inner
    plant_channel_value(sample_copy, ext, channel="deep")
    plant_write(sample_copy, b"\x91" * 110 + b"\xa4leaf", channel="deep")
    with open_store(sample_copy) as store:
        last = store.history(THREAD)[-1]
    assert last.corrupt is None
    value, depth = last.values["deep"]["value"], 0
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert (depth, value) == (190, "leaf")
    results = run_readers(sample_copy, tmp_path)
    assert_all_read(results)
    assert all(r["code"] in (0, 1) for r in results), [r["output"] for r in results if r["code"] == 2]


_METRICS = r"""
import sys
from prometheus_client import CollectorRegistry, generate_latest
from lgscope.metrics import StoreCollector
registry = CollectorRegistry()
collector = StoreCollector(sys.argv[1])
registry.register(collector)
collector.refresh()
sys.stdout.write(generate_latest(registry).decode())
"""


def test_metrics_serve_scans_a_store_with_the_bomb(sample_copy: Path) -> None:
    import subprocess
    import sys

    plant_channel_value(sample_copy, nested_ext_bomb())
    done = subprocess.run(
        [sys.executable, "-c", _METRICS, str(sample_copy)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "lgscope_scan_errors_total 0.0" in done.stdout
    assert 'lgscope_threads{status="done"}' in done.stdout


@pytest.mark.postgres
def test_every_command_survives_the_bomb_in_postgres(postgres_sample: str, tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(postgres_sample, autocommit=True) as conn:
        updated = conn.execute(
            "UPDATE checkpoint_blobs SET blob = %s, type = 'msgpack' WHERE thread_id = %s AND channel = 'messages' "
            "AND version = (SELECT max(version) FROM checkpoint_blobs WHERE thread_id = %s AND channel = 'messages')",
            (nested_ext_bomb(), THREAD, THREAD),
        ).rowcount
        (cid,) = conn.execute(  # type: ignore[misc]
            "SELECT checkpoint_id FROM checkpoint_writes WHERE thread_id = %s ORDER BY checkpoint_id DESC LIMIT 1",
            (THREAD,),
        ).fetchone()
        conn.execute(
            "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, "
            "channel, type, blob) VALUES (%s, '', %s, 'evil-task', '', 0, 'evil', 'msgpack', %s)",
            (THREAD, cid, deep_array(8_000)),
        )
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' ORDER BY checkpoint_id",
                (THREAD,),
            )
        ]
    assert updated == 1
    assert_all_read(run_readers(postgres_sample, tmp_path, ids=ids))
    with open_store(postgres_sample) as store:
        steps = store.history(THREAD)
    assert sum(s.corrupt is not None for s in steps) >= 1 and any(s.values.get("messages") for s in steps)
