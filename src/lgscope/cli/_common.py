"""What every command shares: store arguments, durations, output formats, error handling."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console

from lgscope._exceptions import LgscopeError, UsageError
from lgscope.units import parse_duration

__all__ = [
    "DURATION",
    "STORE",
    "console",
    "echo_json",
    "handle_errors",
    "parse_duration",
    "progress",
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
    """A Rich console; plain (no colour codes) when not on a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by tools and people alike: don't fold ids at 80 columns.
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def echo_json(value: Any) -> None:
    """Print JSON the same way everywhere (two-space indent, UTF-8, stable key order)."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn an lgscope error into one ``Error: …`` line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LgscopeError as exc:
            click.echo(f"Error: {exc}", err=True)
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
