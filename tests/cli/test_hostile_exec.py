"""Issue 25 item 6: stored code never reaches LangGraph's permissive serializer through lgscope.

``sweep --apply`` reads and resumes threads through the user's graph, whose serializer imports
and calls what stored bytes name; ``import`` writes values an app will later load that way. Both
check with lgscope's inert decoder first. The canary is a real module whose function, if called,
writes a marker file.
"""

from __future__ import annotations

import pickle
import sqlite3
import uuid
from pathlib import Path

import ormsgpack
import pytest
from click.testing import CliRunner
from tests.cli.test_sweep import _module
from tests.hostile import plant_channel_value, plant_write

from lgscope.cli import main


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """``module.boom``: writes ``marker`` when called (by anything that rebuilds stored objects)."""
    name = f"canary_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "RAN"
    (tmp_path / f"{name}.py").write_text(
        f"def boom(*args, **kwargs):\n    with open({str(marker)!r}, 'w') as f:\n        f.write('ran')\n"
        "    return 'pwned'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}.boom", marker


def _payload(type_name: str) -> bytes:
    module, _, attr = type_name.rpartition(".")
    return ormsgpack.packb(ormsgpack.Ext(0, ormsgpack.packb([module, attr, "touch /tmp/x"])))


class _Reduce:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, ...]:
        import importlib

        module, _, attr = self.target.rpartition(".")
        return (getattr(importlib.import_module(module), attr), ("pickle",))


def test_the_canary_is_live(canary: tuple[str, Path]) -> None:
    """LangGraph's default serializer calls it (so the refusals below can fail)."""
    import warnings

    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    type_name, marker = canary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert JsonPlusSerializer().loads_typed(("msgpack", _payload(type_name))) == "pwned"
    assert marker.read_text() == "ran"


def _graph_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A real graph (in a module --graph can import) with one thread waiting at an interrupt."""
    store = tmp_path / "app.sqlite"
    name = _module(
        tmp_path,
        monkeypatch,
        f"graph = g.compile(checkpointer=SqliteSaver(sqlite3.connect({str(store)!r}, check_same_thread=False)))\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    graph = importlib.import_module(name).graph
    graph.invoke({"ok": False}, {"configurable": {"thread_id": "t"}})
    return store, f"{name}:graph"


def _sweep(store: Path, graph: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["sweep", str(store), "--older-than", "0s", "--graph", graph, "--apply", *extra]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_sweep_refuses_a_thread_whose_state_names_a_callable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: tuple[str, Path]
) -> None:
    type_name, marker = canary
    store, graph = _graph_store(tmp_path, monkeypatch)
    plant_channel_value(store, _payload(type_name), thread="t")
    for policy in ("reject", "escalate"):
        code, out = _sweep(store, graph, "--policy", policy)
        assert code == 1, out
        assert f"its stored state holds {type_name}, which LangGraph's serializer would rebuild" in " ".join(
            out.split()
        )
        assert "1 failed" in out
    assert not marker.exists()
    with sqlite3.connect(store) as conn:  # not resumed: no new checkpoint
        (n,) = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = 't'").fetchone()
    conn.close()
    assert n == 2
    # the refusal is what kept it from running: allowed by name, the graph's serializer calls it
    _sweep(store, graph, "--allow-type", type_name)
    assert marker.read_text() == "ran"


def test_sweep_refuses_a_pickled_write_and_resumes_what_the_user_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: tuple[str, Path]
) -> None:
    type_name, marker = canary
    store, graph = _graph_store(tmp_path, monkeypatch)
    plant_write(store, pickle.dumps(_Reduce(type_name)), type_="pickle", thread="t", idx=5)
    code, out = _sweep(store, graph)
    assert code == 1 and "holds pickle" in out, out
    assert not marker.exists()
    # a harmless type the user vouches for, by name
    again = tmp_path / "again"
    again.mkdir()
    store2, graph2 = _graph_store(again, monkeypatch)
    benign = ormsgpack.packb(ormsgpack.Ext(1, ormsgpack.packb(["collections", "OrderedDict", [[["a", 1]]]])))
    plant_channel_value(store2, benign, thread="t")
    code, out = _sweep(store2, graph2)
    assert code == 1 and "holds collections.OrderedDict" in out, out
    code, out = _sweep(store2, graph2, "--allow-type", "collections.OrderedDict")
    assert code == 0 and "1 rejected" in out, out


def test_import_refuses_pickle_and_unknown_types_unless_named(
    sample_copy: Path, tmp_path: Path, canary: tuple[str, Path]
) -> None:
    type_name, marker = canary
    plant_write(sample_copy, pickle.dumps(_Reduce(type_name)), type_="pickle")
    plant_channel_value(sample_copy, _payload(type_name))
    export = tmp_path / "t.jsonl"
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["export", str(sample_copy), "--thread", "support-1", "-o", str(export)]
        ).exit_code
        == 0
    )
    target = tmp_path / "target.sqlite"
    result = runner.invoke(main, ["import", str(export), str(target)])
    assert result.exit_code == 2
    assert result.output == (
        "Error: The export holds values that LangGraph's serializer would rebuild by importing and calling "
        f"code: {type_name} (1), pickle (1); nothing was imported. Inspect the file (lgscope show FILE "
        "--thread ID), and if you trust them, allow each by name: --allow-type NAME.\n"
    )
    assert not target.exists()
    result = runner.invoke(main, ["import", str(export), str(target), "--allow-type", "pickle"])
    assert result.exit_code == 2 and f"code: {type_name} (1); nothing" in result.output
    result = runner.invoke(
        main, ["import", str(export), str(target), "--allow-type", "pickle", "--allow-type", type_name]
    )
    assert result.exit_code == 0, result.output
    assert not marker.exists()


@pytest.mark.postgres
def test_sweep_refuses_a_postgres_thread_whose_state_names_a_callable(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: tuple[str, Path]
) -> None:
    import importlib

    import psycopg

    type_name, marker = canary
    name = _module(
        tmp_path,
        monkeypatch,
        "import psycopg\nfrom psycopg.rows import dict_row\nfrom langgraph.checkpoint.postgres import PostgresSaver\n"
        f"saver = PostgresSaver(psycopg.connect({postgres_url!r}, autocommit=True, prepare_threshold=0, "
        "row_factory=dict_row))\nsaver.setup()\ngraph = g.compile(checkpointer=saver)\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module(name).graph.invoke({"ok": False}, {"configurable": {"thread_id": "t"}})
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # a new version of one of the graph's own channels (a foreign channel would make the sweep
        # skip the thread as another graph's before it looked at the state), its value in a blob
        planted = conn.execute(
            "UPDATE checkpoints SET checkpoint = jsonb_set(checkpoint #- '{channel_values,ok}', "
            "'{channel_versions,ok}', '\"99\"') WHERE thread_id = 't' AND checkpoint_id = "
            "(SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = 't')"
        ).rowcount
        conn.execute(
            "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob) "
            "VALUES ('t', '', 'ok', '99', 'msgpack', %s)",
            (_payload(type_name),),
        )
    assert planted == 1
    result = CliRunner().invoke(
        main, ["sweep", postgres_url, "--older-than", "0s", "--graph", f"{name}:graph", "--apply"]
    )
    assert result.exit_code == 1, result.output
    assert f"its stored state holds {type_name}" in " ".join(result.output.split())
    assert not marker.exists()
    # the refusal is what kept it from running
    CliRunner().invoke(
        main,
        [
            "sweep",
            postgres_url,
            "--older-than",
            "0s",
            "--graph",
            f"{name}:graph",
            "--apply",
            "--allow-type",
            type_name,
        ],
    )
    assert marker.read_text() == "ran"
