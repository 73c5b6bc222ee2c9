"""Crafted payloads in real stores: nothing named in stored bytes ever runs."""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path
from typing import Any

import ormsgpack
import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from lgscope import open_store

CANARY: list[str] = []


def canary(*args: Any, **kwargs: Any) -> str:
    """Called only if a decoder reconstructs objects from data."""
    CANARY.append(repr((args, kwargs)))
    return "pwned"


class _Boom:
    def __reduce__(self) -> Any:
        return (canary, ("pickle",))


def _ext(code: int, module: str, name: str, payload: Any) -> ormsgpack.Ext:
    return ormsgpack.Ext(code, ormsgpack.packb([module, name, payload]))


MSGPACK_CALLABLE = ormsgpack.packb({"evil": _ext(2, __name__, "canary", {"cmd": "touch /tmp/x"})})
LC_CONSTRUCTOR = json.dumps(
    {"lc": 2, "type": "constructor", "id": [__name__, "canary"], "kwargs": {"x": 1}}
).encode()
PICKLED = pickle.dumps(_Boom())


class State(TypedDict, total=False):
    n: int
    data: dict[str, Any]


def _store_with_thread(path: Path) -> None:
    conn = sqlite3.connect(path, check_same_thread=False)
    g = StateGraph(State)
    g.add_node("a", lambda s: {"n": 1})
    g.add_edge(START, "a")
    g.add_edge("a", END)
    g.compile(checkpointer=SqliteSaver(conn)).invoke({"n": 0}, {"configurable": {"thread_id": "t"}})
    conn.close()


@pytest.fixture(autouse=True)
def _reset() -> None:
    CANARY.clear()


def _inject_sqlite(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        (cid,) = conn.execute("SELECT max(checkpoint_id) FROM checkpoints").fetchone()
        for idx, (channel, type_, blob) in enumerate(
            [("m", "msgpack", MSGPACK_CALLABLE), ("j", "json", LC_CONSTRUCTOR), ("p", "pickle", PICKLED)]
        ):
            conn.execute(
                "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, "
                "type, value) VALUES ('t', '', ?, 'evil-task', '', ?, ?, ?, ?)",
                (cid, idx, channel, type_, blob),
            )
    return str(cid)


EXPECTED = {
    "m": {"evil": {"__type__": f"{__name__}.canary", "cmd": "touch /tmp/x"}},
    "j": {"lc": 2, "type": "constructor", "id": [__name__, "canary"], "kwargs": {"x": 1}},
    "p": {"__type__": "pickle", "size": len(PICKLED), "undecoded": "pickle is never unpickled by lgscope"},
}


def _values(store: Any) -> dict[str, Any]:
    last = store.history("t")[-1]
    return {w.channel: w.value for w in last.writes if w.task_id == "evil-task"}


def test_sqlite_fast_path_and_saver_path_show_payloads_as_inert_data(tmp_path: Path) -> None:
    path = tmp_path / "evil.sqlite"
    _store_with_thread(path)
    _inject_sqlite(path)
    with open_store(path) as store:
        assert _values(store) == EXPECTED
    conn = sqlite3.connect(path, check_same_thread=False)
    with open_store(SqliteSaver(conn)) as generic:
        assert _values(generic) == EXPECTED
    conn.close()
    assert CANARY == []


def test_the_stock_serializer_would_have_run_it(tmp_path: Path) -> None:
    """The canary is live: LangGraph's own pickle fallback calls it (so the test above can fail)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    JsonPlusSerializer(pickle_fallback=True).loads_typed(("pickle", PICKLED))
    assert CANARY == ["(('pickle',), {})"]


@pytest.mark.postgres
def test_postgres_paths_show_payloads_as_inert_data(postgres_url: str) -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        g = StateGraph(State)
        g.add_node("a", lambda s: {"n": 1, "data": {"k": "v"}})
        g.add_edge(START, "a")
        g.add_edge("a", END)
        g.compile(checkpointer=saver).invoke({"n": 0}, {"configurable": {"thread_id": "t"}})
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        (cid,) = conn.execute("SELECT max(checkpoint_id) FROM checkpoints").fetchone()  # type: ignore[misc]
        for idx, (channel, type_, blob) in enumerate(
            [("m", "msgpack", MSGPACK_CALLABLE), ("j", "json", LC_CONSTRUCTOR), ("p", "pickle", PICKLED)]
        ):
            conn.execute(
                "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, "
                "channel, type, blob) VALUES ('t', '', %s, 'evil-task', '', %s, %s, %s, %s)",
                (cid, idx, channel, type_, blob),
            )
        # a channel blob too: the decoded state value must be inert
        updated = conn.execute(
            "UPDATE checkpoint_blobs SET type = 'msgpack', blob = %s WHERE channel = 'data'",
            (MSGPACK_CALLABLE,),
        ).rowcount
        assert updated == 1
    with open_store(postgres_url) as store:
        assert _values(store) == EXPECTED
        assert store.history("t")[-1].values["data"] == EXPECTED["m"]
    with PostgresSaver.from_conn_string(postgres_url) as saver, open_store(saver) as generic:
        assert _values(generic) == EXPECTED
    assert CANARY == []
