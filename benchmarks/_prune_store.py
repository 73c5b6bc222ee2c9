"""A large SQLite checkpoint store for the size and prune benchmarks, cached under benchmarks/.data/.

One thread is written by a real LangGraph graph through SqliteSaver (a node looping ``steps``
times over a small, fixed-size state); its rows are then copied under new thread ids with SQL,
doubling until the store holds ``threads`` threads. Building a million checkpoints through
LangGraph would take hours on this machine; the copies are byte-for-byte LangGraph's rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, TypedDict

DATA = Path(__file__).resolve().parent / ".data"


class State(TypedDict, total=False):
    n: int
    limit: int
    note: str


def _graph(saver: Any) -> Any:
    from langgraph.graph import END, START, StateGraph

    def work(state: State) -> State:
        n = state.get("n", 0) + 1
        return {"n": n, "note": f"step {n}: " + "x" * 100}

    g = StateGraph(State)
    g.add_node("work", work)
    g.add_edge(START, "work")
    g.add_conditional_edges("work", lambda s: END if s["n"] >= s["limit"] else "work", ["work", END])
    return g.compile(checkpointer=saver)


def build(threads: int = 1024, steps: int = 1000) -> Path:
    """The cached store: ``threads`` threads (a power of two) of ``steps + 2`` checkpoints each."""
    path = DATA / f"prune-{threads}x{steps}.sqlite"
    if path.exists():
        return path
    from langgraph.checkpoint.sqlite import SqliteSaver

    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    with SqliteSaver.from_conn_string(str(tmp)) as saver:
        _graph(saver).invoke(
            {"limit": steps}, {"configurable": {"thread_id": "t"}, "recursion_limit": steps + 10}
        )
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA journal_mode = DELETE")
    have = 1
    while have < threads:
        with conn:
            conn.execute(
                "INSERT INTO checkpoints SELECT thread_id || '.' || ?, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints",
                (have,),
            )
            conn.execute(
                "INSERT INTO writes SELECT thread_id || '.' || ?, checkpoint_ns, checkpoint_id, task_id, "
                "task_path, idx, channel, type, value FROM writes",
                (have,),
            )
        have *= 2
    conn.close()
    tmp.rename(path)
    return path


def build_postgres(server: str, threads: int, steps: int) -> tuple[str, str]:
    """A fresh schema on ``server`` holding the store (copied from the cached SQLite one's graph,
    written again through PostgresSaver, then doubled with SQL); (its URL, the schema). Drop it
    with `drop_schema`."""
    import uuid

    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    schema = f"lgscope_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{server}?options=-csearch_path%3D{schema}"
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        _graph(saver).invoke(
            {"limit": steps}, {"configurable": {"thread_id": "t"}, "recursion_limit": steps + 10}
        )
    with psycopg.connect(url, autocommit=True) as conn:
        have = 1
        while have < threads:
            with conn.transaction():
                for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
                    columns = [
                        r[0]
                        for r in conn.execute(
                            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                            "AND table_name = %s ORDER BY ordinal_position",
                            (schema, table),
                        )
                    ]
                    select = ", ".join("thread_id || '.' || %s" if c == "thread_id" else c for c in columns)
                    conn.execute(
                        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table}", (have,)
                    )
            have *= 2
        conn.execute("VACUUM ANALYZE")
    return url, schema


def drop_schema(server: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
