"""What every command shares: store arguments, durations, output formats, error handling."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console

from lgscope._exceptions import LgscopeError, UsageError

__all__ = [
    "DURATION",
    "STORE",
    "console",
    "echo_json",
    "handle_errors",
    "parse_duration",
]

P = ParamSpec("P")
R = TypeVar("R")

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``30s``, ``5m``, ``2h``, ``3d``, ``1w`` (and ``500ms``) as a timedelta."""
    m = _DURATION_RE.match(text)
    if not m:
        raise UsageError(f"{text!r} is not a duration; write a number and a unit, like 30s, 5m, 2h or 3d.")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


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


def echo_json_stream(head: Mapping[str, Any], key: str, items: Iterable[Any]) -> None:
    """Print ``{**head, key: [*items]}`` exactly as `echo_json` would, one item at a time (a long
    thread's steps are never held together)."""

    def dump(value: Any, indent: int) -> str:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        return text.replace("\n", "\n" + " " * indent)

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
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)

    return wrapper
