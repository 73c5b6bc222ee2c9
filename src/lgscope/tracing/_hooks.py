"""The one private LangGraph hook lgscope uses: the task runner, for node spans.

LangGraph has no public hook around one node's execution in which a span can be current for
the node's own code (its callbacks would make every runnable inside a node pay for LangChain's
callback machinery, and they do not run in the node's context). ``langgraph.pregel._runner``
calls ``run_with_retry`` / ``arun_with_retry`` through its module globals, once per task:
wrapping them there gives a span per node execution, current while the node runs.

This is checked against the LangGraph versions lgscope supports (`SUPPORTED`, the range the
test suite runs on). Outside it, or if the names are gone, lgscope warns once and makes no
node spans; runs, tools, checkpoints, interrupts and resumes are still traced.
"""

from __future__ import annotations

import importlib
import inspect
import threading
import warnings
from importlib import metadata
from typing import Any

from lgscope._patch import Patch, Wrapper

__all__ = ["SUPPORTED", "node_patches", "unsupported"]

SUPPORTED = ((1, 2), (2, 0))
"""LangGraph versions whose task runner lgscope wraps: at least the first, below the second."""
_RUNNER = "langgraph.pregel._runner"
_warned = threading.Event()


def _version(text: str) -> tuple[int, int]:
    parts = (text.split(".") + ["0"])[:2]
    return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)


def unsupported(version: str | None = None) -> str | None:
    """Why node spans cannot be made with this LangGraph (None when they can)."""
    version = version or metadata.version("langgraph")
    low, high = SUPPORTED
    try:
        parsed = _version(version)
    except ValueError:
        return f"LangGraph {version} is not a version lgscope can read"
    if not low <= parsed < high:
        return f"LangGraph {version} is outside the versions lgscope supports (>={low[0]}.{low[1]},<{high[0]}.{high[1]})"
    try:
        runner = importlib.import_module(_RUNNER)
    except ImportError:
        return f"LangGraph {version} has no {_RUNNER}"
    for name in ("run_with_retry", "arun_with_retry"):
        function = vars(runner).get(name)
        if function is None or "task" not in _parameters(function):
            return f"LangGraph {version}'s {_RUNNER}.{name} is not the task runner lgscope knows"
    return None


def _parameters(function: Any) -> list[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []


def node_patches(run: Wrapper, arun: Wrapper, version: str | None = None) -> list[Patch]:
    """The patches of LangGraph's task runner (none, after one warning, where it is unsupported)."""
    problem = unsupported(version)
    if problem is not None:
        if not _warned.is_set():
            _warned.set()
            warnings.warn(
                f"{problem}: lgscope traces runs, tools and checkpoints but makes no node spans. "
                "Install a supported LangGraph, or upgrade lgscope.",
                RuntimeWarning,
                stacklevel=3,
            )
        return []
    runner = importlib.import_module(_RUNNER)
    return [Patch(runner, "run_with_retry", run), Patch(runner, "arun_with_retry", arun)]
