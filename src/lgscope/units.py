"""Durations and ages as people write and read them: ``30s``, ``5m``, ``2h``, ``3d04h``.

Every layer may import this module (the CLI, the TUI, the sweeper, the pytest plugin, the
detectors' summaries): it depends on nothing else in lgscope but the exception tree.
"""

from __future__ import annotations

import re
from datetime import timedelta

from lgscope._exceptions import UsageError

__all__ = ["format_age", "format_duration", "parse_duration"]

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_MAX_SECONDS = 36500 * 86400  # past it: dates and timers overflow


def parse_duration(text: str) -> timedelta:
    """``30s``, ``5m``, ``2h``, ``3d``, ``1w`` (and ``500ms``) as a timedelta."""
    m = _DURATION_RE.match(text)
    if not m:
        raise UsageError(f"{text!r} is not a duration; write a number and a unit, like 30s, 5m, 2h or 3d.")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds > _MAX_SECONDS:
        raise UsageError(f"{text!r} is longer than lgscope counts (at most 100 years, 36500d).")
    return timedelta(seconds=seconds)


def format_duration(duration: timedelta) -> str:
    """A duration the way `parse_duration` reads it: ``60s``, ``5m``, ``2h``, ``24h``, ``3d`` (the
    largest unit that divides it at least twice; ``500ms`` for a part of a second)."""
    ms = round(duration.total_seconds() * 1000)
    if ms % 1000:
        return f"{ms}ms"
    seconds = ms // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds // size >= 2:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_age(seconds: float) -> str:
    """How long something has waited, to two units: ``3d04h``, ``5h12m``, ``7m``, ``42s``."""
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{(s % 86400) // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m"
    return f"{s}s"
