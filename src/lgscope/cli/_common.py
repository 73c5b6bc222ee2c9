"""What every command shares: store arguments, durations, output formats, error handling."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console

from lgscope._exceptions import LgscopeError, UsageError
from lgscope.sanitize import safe_json, safe_text
from lgscope.units import parse_duration

__all__ = [
    "DURATION",
    "STORE",
    "console",
    "echo_json",
    "handle_errors",
    "output_file",
    "parse_duration",
    "progress",
    "shown_store",
]

P = ParamSpec("P")
R = TypeVar("R")


class _Duration(click.ParamType):  # type: ignore[type-arg]
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


DURATION = _Duration()
STORE = click.argument("store", metavar="STORE")


def console(stderr: bool = False) -> Console:
    """A Rich console; plain (no colour codes) when not on a terminal.

    Markup and emoji codes are off: what it prints comes from stores (``[/INST]`` in a prompt
    must print as it is, ``[link=…]`` must not become a link). Pass data through `safe_text`.
    """
    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by tools and people alike: don't fold ids at 80 columns.
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width, markup=False, emoji=False)


def echo_json(value: Any) -> None:
    """Print JSON the same way everywhere (two-space indent, UTF-8, stable key order), valid
    (NaN and Infinity as strings) and inert on a terminal (`lgscope.sanitize.safe_json`)."""
    click.echo(safe_json(value))


def output_file(path: Path, option: str = "-o") -> Path:
    """Check that ``path`` can be written before any work is done: one sentence if it cannot."""
    if path.is_dir():
        raise UsageError(f"{option} {safe_text(path)} is a directory; give a file name.")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(
            f"{option} {safe_text(path)}: the directory {safe_text(parent)} does not exist; create it or "
            "write elsewhere."
        )
    return path


def shown_store(store: str) -> str:
    """STORE as a message may show it: a Postgres URL without its password, no control characters."""
    if store.startswith(("postgresql:", "postgres:")):
        from lgscope.store._postgres import safe_url

        store = safe_url(store)
    return safe_text(store)


def echo_json_stream(head: Mapping[str, Any], key: str, items: Iterable[Any]) -> None:
    """Print ``{**head, key: [*items]}`` exactly as `echo_json` would, one item at a time (a long
    thread's steps are never held together)."""

    def dump(value: Any, indent: int) -> str:
        return safe_json(value).replace("\n", "\n" + " " * indent)

    click.echo("{")
    for k, v in head.items():
        click.echo(f"  {dump(k, 0)}: {dump(v, 2)},")
    click.echo(f"  {dump(key, 0)}: [", nl=False)
    first = True
    for item in items:
        click.echo(("\n    " if first else ",\n    ") + dump(item, 4), nl=False)
        first = False
    click.echo("]\n}" if first else "\n  ]\n}")


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn an lgscope error into one ``Error: …`` line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LgscopeError as exc:
            click.echo(f"Error: {safe_text(exc)}", err=True)
            sys.exit(2)
        except sqlite3.DatabaseError as exc:  # rows no LangGraph saver writes (text that is not UTF-8 …)
            click.echo(
                f"Error: The SQLite store could not be read ({safe_text(exc)}); it holds rows LangGraph does not "
                "write, or is damaged.",
                err=True,
            )
            sys.exit(2)
        except OSError as exc:  # a file lgscope was asked to read or write (disk full, permissions …)
            where = f" ({safe_text(exc.filename)})" if exc.filename else ""
            click.echo(
                f"Error: {safe_text(exc.strerror or exc)}{where}; check the path and try again.", err=True
            )
            sys.exit(2)
        except Exception as exc:
            # a Postgres failure no store layer turned into a sentence (a lock timeout, a dropped
            # connection): psycopg is only looked at when the command loaded it
            psycopg = sys.modules.get("psycopg")
            if psycopg is None or not isinstance(exc, psycopg.Error):
                raise
            lines = str(exc).strip().splitlines()
            click.echo(
                f"Error: The Postgres store failed ({safe_text(lines[0] if lines else type(exc).__name__)}); "
                "nothing more was done: check the server and your rights, then try again.",
                err=True,
            )
            sys.exit(2)

    return wrapper


@contextlib.contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr while a command works through a store, as ``tick(done, total)``;
    on a terminal only (piped or redirected stderr gets nothing), and gone when the work is."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.progress import Progress

    with Progress(console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield tick
