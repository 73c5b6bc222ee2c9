"""The CLI's shared error handling."""

from __future__ import annotations

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
