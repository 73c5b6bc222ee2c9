"""Export → import → export on real stores; resuming an imported thread; refusals and bad files."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from lgscope import ExportFileError, ImportConflict, open_store
from lgscope.examples import bank
from lgscope.store.export import FORMAT_VERSION, Redaction, export_thread, import_thread, read_export

THREADS = [
    "research-fanout",
    "medicine-regenerated",
    "transfer-9000-pending",
    "support-loop-gave-up",
    "blog-published",
]


def _export(store: Any, thread_id: str, path: Path, **kw: Any) -> list[dict[str, Any]]:
    with open_store(store) as st:
        export_thread(st, thread_id, path, **kw)
    return read_export(path).records


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return [
            *conn.execute("SELECT * FROM checkpoints ORDER BY 1, 2, 3"),
            *conn.execute("SELECT * FROM writes ORDER BY 1, 2, 3, 4, 5"),
        ]


def test_sqlite_round_trip_of_every_sample_thread(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "target.sqlite"
    with open_store(sample_store) as st:
        ids = st.thread_ids()
    for tid in ids:
        first = _export(sample_store, tid, tmp_path / f"{tid}.jsonl")
        import_thread(tmp_path / f"{tid}.jsonl", str(target))
        again = _export(target, tid, tmp_path / f"{tid}.again.jsonl")
        assert again == first, tid
    with open_store(sample_store) as a, open_store(target) as b:
        assert [a.load(t).thread for t in ids] == [b.load(t).thread for t in ids]


@pytest.mark.postgres
def test_sqlite_to_postgres_and_back_keeps_every_value(
    sample_store: Path, postgres_url: str, tmp_path: Path
) -> None:
    for tid in THREADS:
        first = _export(sample_store, tid, tmp_path / "a.jsonl")
        import_thread(tmp_path / "a.jsonl", postgres_url)
        via_pg = _export(postgres_url, tid, tmp_path / "b.jsonl")
        import_thread(tmp_path / "b.jsonl", str(tmp_path / "back.sqlite"))
        back = _export(tmp_path / "back.sqlite", tid, tmp_path / "c.jsonl")
        for recs in (via_pg, back):
            assert [r["checkpoint_id"] for r in recs] == [r["checkpoint_id"] for r in first], tid
            assert [r["changes"] for r in recs] == [r["changes"] for r in first], tid
            assert [r["checkpoint"] for r in recs] == [r["checkpoint"] for r in first], tid
            assert [[(w["channel"], w["value"]) for w in r["writes"]] for r in recs] == [
                [(w["channel"], w["value"]) for w in r["writes"]] for r in first
            ], tid
        with open_store(postgres_url) as pg, open_store(sample_store) as sq:
            assert pg.thread(tid).status == sq.thread(tid).status


def test_an_imported_interrupted_thread_resumes(sample_store: Path, tmp_path: Path) -> None:
    _export(sample_store, "transfer-9000-pending", tmp_path / "t.jsonl")
    target = tmp_path / "replay.sqlite"
    tid, count = import_thread(tmp_path / "t.jsonl", str(target), thread_id="replay-1")
    assert (tid, count) == ("replay-1", 4)
    conn = sqlite3.connect(target, check_same_thread=False)
    graph = bank.build(SqliteSaver(conn))
    out = graph.invoke(Command(resume={"approved": False}), {"configurable": {"thread_id": "replay-1"}})
    conn.close()
    assert (out["status"], out["approved"]) == ("rejected", False)


@pytest.mark.postgres
def test_an_imported_thread_resumes_on_postgres(
    sample_store: Path, postgres_url: str, tmp_path: Path
) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    _export(sample_store, "transfer-9000-pending", tmp_path / "t.jsonl")
    import_thread(tmp_path / "t.jsonl", postgres_url)
    with PostgresSaver.from_conn_string(postgres_url) as saver:
        config = {"configurable": {"thread_id": "transfer-9000-pending"}}
        out = bank.build(saver).invoke(Command(resume={"approved": True}), config)
    assert out["status"] == "executed"


def test_import_refuses_an_existing_thread_and_writes_nothing(sample_store: Path, tmp_path: Path) -> None:
    _export(sample_store, "support-1", tmp_path / "s.jsonl")
    target = tmp_path / "t.sqlite"
    import_thread(tmp_path / "s.jsonl", str(target))
    before = _rows(target)
    with pytest.raises(ImportConflict, match="already has a thread 'support-1'; pass --force"):
        import_thread(tmp_path / "s.jsonl", str(target))
    assert _rows(target) == before
    import_thread(tmp_path / "s.jsonl", str(target), overwrite=True)
    assert _rows(target) == before


def _rewrite(path: Path, change: Any) -> None:
    lines = path.read_text().splitlines()
    header, records = lines[0], [json.loads(line) for line in lines[1:-1]]
    change(records)
    body = [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records]
    digest = hashlib.sha256("".join(body).encode()).hexdigest()
    trailer = json.dumps({"type": "end", "records": len(body), "sha256": digest})
    path.write_text("\n".join([header, *body, trailer]) + "\n")


def test_a_failure_mid_import_leaves_the_target_unchanged(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "t.sqlite"
    _export(sample_store, "support-1", tmp_path / "ok.jsonl")
    import_thread(tmp_path / "ok.jsonl", str(target))
    before = _rows(target)
    bad = tmp_path / "bad.jsonl"
    _export(sample_store, "support-2", bad)
    _rewrite(bad, lambda recs: recs[-1].pop("channels"))
    with pytest.raises(
        ExportFileError, match=r"Record 5 of the export is malformed \(KeyError: 'channels'\)"
    ):
        import_thread(bad, str(target))
    assert _rows(target) == before


def test_a_failed_import_into_a_new_file_leaves_no_file(sample_store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    _export(sample_store, "support-2", bad)
    _rewrite(bad, lambda recs: recs[-1].pop("channels"))
    target = tmp_path / "new.sqlite"
    with pytest.raises(ExportFileError):
        import_thread(bad, str(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda t: t.replace(f'"version": {FORMAT_VERSION}', '"version": 9', 1),
            "is an export of format version 9, newer than",
        ),
        (lambda t: "\n".join(t.splitlines()[:-2]) + "\n", "is truncated: it has no end record"),
        (lambda t: t.replace('"checkpoint_ns"', '"checkpoint_nz"', 1), "is damaged: its end record promises"),
        (lambda t: t + "not json\n", "is not a valid lgscope export: a line is not JSON"),
    ],
)
def test_bad_export_files(sample_store: Path, tmp_path: Path, damage: Any, message: str) -> None:
    path = tmp_path / "e.jsonl"
    _export(sample_store, "support-1", path)
    path.write_text(damage(path.read_text()))
    with pytest.raises(ExportFileError, match=message):
        import_thread(path, str(tmp_path / "t.sqlite"))
    assert not (tmp_path / "t.sqlite").exists()


def test_redaction_hides_values_in_both_views(sample_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    redaction = Redaction(frozenset({"order_id"}), re.compile(r"\b1001\b"))
    records = _export(sample_store, "support-1", path, redaction=redaction)
    text = path.read_text()
    assert "1001" not in text and "[REDACTED]" in text
    for rec in records:
        for entry in rec["channels"].values():
            stored = entry.get("data") or entry.get("append")  # a whole value, or a list's new items
            if stored:
                assert b"1001" not in base64.b64decode(stored)
    assert json.loads(text.splitlines()[0])["redacted"] is True


def test_an_export_is_a_read_only_store(sample_store: Path, tmp_path: Path) -> None:
    _export(sample_store, "medicine-stuck", tmp_path / "m.jsonl")
    with open_store(tmp_path / "m.jsonl") as exported, open_store(sample_store) as source:
        assert exported.kind == "export"
        assert exported.load("medicine-stuck") == source.load("medicine-stuck")


V1 = Path(__file__).resolve().parents[2] / "fixtures" / "exports"


def test_a_format_1_export_still_imports_reads_and_resumes(sample_store: Path, tmp_path: Path) -> None:
    # written by lgscope before format 2 (every channel whole in every record)
    target = tmp_path / "t.sqlite"
    for name in ("transfer-9000-pending", "research-fanout"):
        path = V1 / f"{name}.v1.lgscope.jsonl"
        assert json.loads(path.read_text().splitlines()[0])["version"] == 1
        assert import_thread(path, str(target)) == (name, len(path.read_text().splitlines()) - 2)
        with open_store(path) as old, open_store(target) as imported, open_store(sample_store) as source:
            assert tuple(old.steps(name)) == tuple(source.steps(name)) == tuple(imported.steps(name))
    conn = sqlite3.connect(target, check_same_thread=False)
    out = bank.build(SqliteSaver(conn)).invoke(
        Command(resume={"approved": True}), {"configurable": {"thread_id": "transfer-9000-pending"}}
    )
    conn.close()
    assert out["status"] == "executed"


def test_a_format_2_record_carries_only_what_changed(sample_store: Path, tmp_path: Path) -> None:
    records = _export(sample_store, "support-loop-gave-up", tmp_path / "s.jsonl")
    appended = [r["channels"]["messages"] for r in records if "append" in r["channels"].get("messages", {})]
    assert appended and all(e["items"] >= 1 for e in appended)  # new messages, never the list again
    whole = [r for r in records if "data" in r["channels"].get("messages", {})]
    assert len(whole) <= 1  # the first time the list appears
    assert all("messages" in r["same"] or "messages" in r["channels"] for r in records[2:])
    size = (tmp_path / "s.jsonl").stat().st_size
    with open_store(sample_store) as st:
        assert size < st.thread("support-loop-gave-up").size * 2  # base64 and decoded changes included


def test_an_import_into_a_new_file_leaves_one_file_in_wal_mode(sample_store: Path, tmp_path: Path) -> None:
    # written in rollback-journal mode (a new file's pages once, not twice through the log), then
    # left in WAL as SqliteSaver makes a new file
    _export(sample_store, "support-1", tmp_path / "s.jsonl")
    target = tmp_path / "new.sqlite"
    import_thread(tmp_path / "s.jsonl", str(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.sqlite", "s.jsonl"]
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert _rows(target)
