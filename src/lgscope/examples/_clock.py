"""A fake clock for building sample stores: deterministic checkpoint ids and timestamps.

LangGraph takes checkpoint ids from ``uuid6`` (the time plus random bits) and ``ts`` from
``datetime.now``. While a `FakeClock` is installed both come from it, so a build with the same
anchor and seed writes the same ids. Used by the example builders only, never by lgscope itself.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

__all__ = ["FakeClock", "installed"]

_SEEDED_SAVERS = (
    "langgraph.checkpoint.sqlite",
    "langgraph.checkpoint.sqlite.aio",
    "langgraph.checkpoint.memory",
    "langgraph.checkpoint.postgres.base",
    "langgraph.checkpoint.base",
)
_PATCHED_DATETIME = ("langgraph.pregel._checkpoint", "langgraph.checkpoint.base", "langgraph.pregel._loop")


class FakeClock:
    """Time that moves only when LangGraph asks for it (``tick``) or a builder says so (``advance``)."""

    def __init__(self, start: datetime, tick: timedelta = timedelta(milliseconds=350)) -> None:
        self.now = start
        self.tick = tick

    def read(self) -> datetime:
        current = self.now
        self.now += self.tick
        return current

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def time_ns(self) -> int:
        return int(self.read().timestamp() * 1_000_000) * 1000


@contextmanager
def installed(clock: FakeClock, seed: int = 0) -> Iterator[FakeClock]:
    """Patch LangGraph's id and timestamp sources with ``clock`` for the ``with`` block."""
    id_module: Any = importlib.import_module("langgraph.checkpoint.base.id")

    class _Time:
        @staticmethod
        def time_ns() -> int:
            return clock.time_ns()

    class _Datetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Any:
            value = clock.read()
            return value.astimezone(tz) if tz else value.replace(tzinfo=None)

    saved: list[tuple[Any, str, Any]] = [
        (id_module, "time", id_module.time),
        (id_module, "random", id_module.random),
        (id_module, "_last_v6_timestamp", id_module._last_v6_timestamp),
    ]
    id_module.time = _Time
    id_module.random = random.Random(seed)
    id_module._last_v6_timestamp = None
    for name in _PATCHED_DATETIME:
        module = importlib.import_module(name)
        if not hasattr(module, "datetime"):
            continue  # imports it inside functions; pregel's own copy is the one used
        saved.append((module, "datetime", module.datetime))
        module.datetime = _Datetime  # type: ignore[attr-defined]
    rng = random.Random(seed + 7919)
    for name in _SEEDED_SAVERS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "random", None) is random:
            # savers draw channel versions from random.random(); seed them for the build
            saved.append((module, "random", module.random))
            module.random = rng  # type: ignore[attr-defined]
    try:
        yield clock
    finally:
        for module, attr, value in reversed(saved):
            setattr(module, attr, value)


def utc(text: str) -> datetime:
    """Parse an ISO time as UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
