"""Issue 25 item 5 and issue 26 item 4: files are written only where asked, never replaced by a
name taken from data, and a bad output target is one ``Error:`` line."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.hostile import clone_thread
from tests.tui.conftest import settle

from lgscope.cli import main
from lgscope.sanitize import safe_filename, unused_path


@pytest.fixture
def in_dir(tmp_path: Path) -> Iterator[Path]:
    work = tmp_path / "work" / "here"
    work.mkdir(parents=True)
    old = Path.cwd()
    os.chdir(work)
    try:
        yield work
    finally:
        os.chdir(old)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def _one_error(out: str) -> str:
    assert out.startswith("Error: ") and out.count("\n") == 1 and "Traceback" not in out, out
    return out


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("thread_id", "name"),
    [
        ("../../x", "x.lgscope.jsonl"),
        ("/tmp/evil/abs", "tmp_evil_abs.lgscope.jsonl"),
        ("..", "thread.lgscope.jsonl"),
        (".hidden", "hidden.lgscope.jsonl"),
        ("a/../../../b\x00c", "a_b_c.lgscope.jsonl"),
    ],
)
def test_export_without_o_stays_in_the_working_directory(
    sample_copy: Path, in_dir: Path, tmp_path: Path, thread_id: str, name: str
) -> None:
    clone_thread(sample_copy, thread_id)
    before = _files(tmp_path)
    code, out = _run("export", str(sample_copy), "--thread", thread_id)
    assert code == 0, out
    assert _files(tmp_path) - before == {f"work/here/{name}"}
    assert (in_dir / name).read_text().startswith("{")


def test_export_without_o_never_replaces_a_file(sample_copy: Path, in_dir: Path) -> None:
    mine = in_dir / "support-1.lgscope.jsonl"
    mine.write_text("my notes\n")
    code, out = _run("export", str(sample_copy), "--thread", "support-1")
    assert code == 0 and out.endswith("to support-1-2.lgscope.jsonl\n"), out
    assert mine.read_text() == "my notes\n"
    assert (in_dir / "support-1-2.lgscope.jsonl").exists()


def test_safe_filename_and_unused_path(tmp_path: Path) -> None:
    assert safe_filename("support-7") == "support-7"
    assert safe_filename("../../etc/passwd") == "etc_passwd"
    assert safe_filename("x" * 500) == "x" * 100
    assert safe_filename("\x1b]0;t\x07") == "0_t"
    (tmp_path / "a.j").write_text("")
    (tmp_path / "a-2.j").symlink_to(tmp_path / "missing")
    assert unused_path(tmp_path, "a", ".j") == tmp_path / "a-3.j"


def test_output_targets_are_one_error_line(sample_copy: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "x"
    code, out = _run("export", str(sample_copy), "--thread", "support-1", "-o", f"{missing}.jsonl")
    assert code == 2 and "does not exist; create it or write elsewhere." in _one_error(out)
    code, out = _run("report", str(sample_copy), "-o", f"{missing}.html", "--format", "html")
    assert code == 2 and "does not exist" in _one_error(out)
    assert not (tmp_path / "missing").exists()


def _export(store: Path, tmp_path: Path) -> Path:
    export = tmp_path / "t.jsonl"
    assert _run("export", str(store), "--thread", "support-1", "-o", str(export))[0] == 0
    return export


def test_import_targets_are_one_error_line(sample_copy: Path, tmp_path: Path) -> None:
    export = _export(sample_copy, tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n" * 50)
    code, out = _run("import", str(export), str(notes))
    assert code == 2 and "it is not a SQLite checkpoint store" in _one_error(out)
    assert notes.read_text() == "my notes, not a database\n" * 50
    code, out = _run("import", str(export), str(tmp_path / "missing" / "x.sqlite"))
    assert code == 2 and "does not exist" in _one_error(out)
    assert not (tmp_path / "missing").exists()


def test_import_keeps_a_rollback_journal_target_in_its_mode(sample_copy: Path, tmp_path: Path) -> None:
    export = _export(sample_copy, tmp_path)
    target = tmp_path / "target.sqlite"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE app (x)")
    conn.close()
    code, out = _run("import", str(export), str(target))
    assert code == 0, out
    with sqlite3.connect(target) as conn:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
        (n,) = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
    conn.close()
    assert (mode, n) == ("delete", 5)


async def test_the_tui_export_names_a_fresh_safe_file_and_says_where(sample_copy: Path, in_dir: Path) -> None:
    from lgscope import open_store
    from lgscope.tui.app import LgscopeApp

    clone_thread(sample_copy, "../../escape")
    (in_dir / "escape.lgscope.jsonl").write_text("keep me\n")
    shown: list[str] = []
    with open_store(sample_copy) as store:
        app = LgscopeApp(store, thread_id="../../escape")
        async with app.run_test() as pilot:
            app.notify = lambda message, **kw: shown.append(message)  # type: ignore[method-assign]
            app.screen.notify = app.notify  # type: ignore[method-assign]
            await pilot.press("e")
            await settle(pilot)
    assert (in_dir / "escape.lgscope.jsonl").read_text() == "keep me\n"
    assert (in_dir / "escape-2.lgscope.jsonl").exists()
    assert not (in_dir.parent.parent / "escape.lgscope.jsonl").exists()
    assert shown == [
        "Exporting ../../escape…",
        f"Exported 5 checkpoints to {in_dir / 'escape-2.lgscope.jsonl'}",
    ]
