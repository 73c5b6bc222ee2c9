"""The ``lgscope`` command: a thin layer over the library API.

Each command group lives in its own module (its ``COMMANDS``), named in `MODULES` below and
imported when one of its commands runs: a command starts without importing the others.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from lgscope import __version__

__all__ = ["MODULES", "main"]

MODULES: dict[str, str] = {
    "threads": "inspect",
    "show": "inspect",
    "diff": "inspect",
    "export": "transfer",
    "import": "transfer",
    "fork": "replay",
    "replay": "replay",
    "size": "housekeeping",
    "prune": "housekeeping",
    "scan": "forensics",
    "report": "forensics",
    "tail": "tail",
    "sweep": "sweep",
    "spans": "spans",
    "metrics": "metrics",
    "tui": "tui",
    "demo": "demo",
}
"""Each command → the module of ``lgscope.cli`` that defines it."""


class _Lgscope(click.Group):
    """The command group, with Click's usage errors as one ``Error: …`` line like every other error
    (Click prints the usage, a hint and the error on three lines), and each command's module
    imported when the command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = MODULES.get(cmd_name)
        if module is None:
            return None
        commands: list[click.Command] = importlib.import_module(f"lgscope.cli.{module}").COMMANDS
        return next(c for c in commands if c.name == cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:  # Click's "Did you mean …?" reads self.commands
            raise click.exceptions.NoSuchCommand(exc.command_name, possibilities=MODULES, ctx=ctx) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            click.echo(f"Error: {' '.join(exc.format_message().split())}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(
    "lgscope",
    cls=_Lgscope,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="lgscope")
def main() -> None:
    """Observability and forensics for LangGraph checkpoint stores.

    STORE is a SQLite file (or sqlite:///path), a postgresql:// URL, or an lgscope export
    file. lgscope only reads a store, except where a command says it writes: `import` and
    `fork` write the target store, `replay` its sandbox, `sweep --apply` resumes threads through
    your graph (and keeps its locks beside the store), `prune --apply` deletes old checkpoints,
    `demo` builds a sample store.

    \b
    Example:
      lgscope threads checkpoints.sqlite
    """
