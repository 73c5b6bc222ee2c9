"""The ``lgscope`` command: a thin layer over the library API.

Each command group lives in its own module and is registered below.
"""

from __future__ import annotations

import click

from lgscope import __version__
from lgscope.cli import demo, forensics, inspect, metrics, spans, sweep, transfer, tui

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="lgscope")
def main() -> None:
    """Observability and forensics for LangGraph checkpoint stores.

    STORE is a SQLite file (or sqlite:///path), a postgresql:// URL, or an lgscope export
    file. lgscope only ever reads a store.

    \b
    Example:
      lgscope threads checkpoints.sqlite
    """


for _module in (inspect, transfer, forensics, sweep, spans, metrics, tui, demo):
    for _command in _module.COMMANDS:
        main.add_command(_command)
