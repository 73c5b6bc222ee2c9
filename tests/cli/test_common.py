"""The CLI's shared error handling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from lgscope.cli._common import handle_errors


def test_a_postgres_failure_is_one_error_line(postgres_url: str) -> None:
    import psycopg

    @click.command()
    @handle_errors
    def cmd() -> None:
        with psycopg.connect(postgres_url) as conn:
            conn.execute("SELECT * FROM no_such_table")

    result = CliRunner().invoke(cmd, [])
    assert result.exit_code == 2
    assert result.output.startswith(
        'Error: The Postgres store failed (relation "no_such_table" does not exist)'
    )
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_other_errors_are_not_swallowed() -> None:
    @click.command()
    @handle_errors
    def cmd() -> None:
        raise RuntimeError("a bug")

    result = CliRunner().invoke(cmd, [])
    assert isinstance(result.exception, RuntimeError) and str(result.exception) == "a bug"


def test_reading_a_sqlite_store_imports_neither_langgraph_nor_langchain(sample_store: Path) -> None:
    # Importing them costs every command ~0.25 s of start-up; a SQLite store needs neither.
    code = (
        "import sys\n"
        "from lgscope.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        "    print(sorted({m.split('.')[0] for m in sys.modules} & {'langgraph', 'langchain_core'}))\n"
    )
    for args in (["show", str(sample_store), "--thread", "support-1"], ["scan", str(sample_store)]):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "[]", args[0]


def test_every_command_module_is_named_for_its_commands_and_only_those() -> None:
    import importlib
    import pkgutil

    import lgscope.cli
    from lgscope.cli import MODULES

    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(lgscope.cli.__path__):
        module = importlib.import_module(f"lgscope.cli.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            found[command.name] = info.name
    assert found == MODULES
    listed = CliRunner().invoke(lgscope.cli.main, ["--help"]).output
    assert all(f"  {name} " in listed for name in MODULES)
    typo = subprocess.run([sys.executable, "-m", "lgscope", "shwo", "x"], capture_output=True, text=True)
    assert typo.returncode == 2
    assert "Error: No such command 'shwo'. Did you mean 'show'? (see: " in typo.stderr
