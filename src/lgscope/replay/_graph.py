"""The user's graph: loaded from ``MODULE:ATTR``, bound to a sandbox's checkpointer, checked
against a thread's nodes."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lgscope._exceptions import UsageError

__all__ = ["GRAPH_HELP", "bind", "check_nodes", "graph_channels", "load_graph"]

GRAPH_HELP = (
    "MODULE:ATTR names a compiled graph, a StateGraph, or a function that builds one (given "
    "checkpointer=… when it takes that argument); MODULE is a dotted module or a path/to/file.py."
)

_BOOKKEEPING_NODES = frozenset({"__start__", "__input__", "__update__", "__fork__", "__end__"})


def load_graph(spec: str) -> Any:
    """The object ``MODULE:ATTR`` names (imported, not yet bound to a checkpointer)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--graph {spec!r} is not MODULE:ATTR; {GRAPH_HELP}")
    try:
        if module_name.endswith(".py") or "/" in module_name:
            path = Path(module_name)
            if not path.is_file():
                raise UsageError(f"--graph {spec!r}: there is no file {path}; check the path.")
            mod_spec = importlib.util.spec_from_file_location(f"_lgscope_graph_{path.stem}", path)
            if mod_spec is None or mod_spec.loader is None:
                raise UsageError(f"--graph {spec!r}: {path} cannot be imported as a module.")
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
        else:
            sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: modules in the current directory
            try:
                module = importlib.import_module(module_name)
            finally:
                sys.path.pop(0)
    except UsageError:
        raise
    except SystemExit as exc:  # the module ran a script's exit: nothing was forked or run, say so
        raise UsageError(
            f"--graph {spec!r}: importing {module_name} called sys.exit({exc.code!r}); point --graph at a module "
            "that defines the graph without running a program."
        ) from None
    except Exception as exc:  # the user's module failed to import: say so in one sentence
        raise UsageError(
            f"--graph {spec!r}: importing {module_name} failed ({type(exc).__name__}: {exc}); fix the module."
        ) from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"--graph {spec!r}: {module_name} has no attribute {attr!r}.")
        obj = getattr(obj, part)
    return obj


def bind(graph: Any, checkpointer: Any) -> Any:
    """``graph`` compiled with ``checkpointer`` (a compiled graph is copied; the original keeps its
    own checkpointer, which is never used)."""
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    if isinstance(graph, Pregel):
        return graph.copy(update={"checkpointer": checkpointer})
    if isinstance(graph, StateGraph):
        return graph.compile(checkpointer=checkpointer)
    if callable(graph):
        try:
            takes = "checkpointer" in inspect.signature(graph).parameters
        except (TypeError, ValueError):
            takes = False
        built = graph(checkpointer=checkpointer) if takes else graph()
        if isinstance(built, Pregel | StateGraph):
            return bind(built, checkpointer)
        raise UsageError(
            f"The graph factory returned an object of type {type(built).__name__}, not a graph; {GRAPH_HELP}"
        )
    raise UsageError(f"The graph is an object of type {type(graph).__name__}, not a graph; {GRAPH_HELP}")


def graph_channels(graph: Any) -> set[str]:
    """The state fields a compiled graph has (its channels, without LangGraph's own)."""
    return {
        ch for ch in graph.channels if not ch.startswith(("branch:", "__")) and not ch.startswith("start:")
    }


def check_nodes(graph: Any, recorded: Iterable[str], thread_id: str) -> None:
    """Refuse a graph that lacks a node the thread ran (not the graph that wrote it)."""
    nodes = set(graph.nodes) - _BOOKKEEPING_NODES
    missing = sorted(set(recorded) - _BOOKKEEPING_NODES - nodes)
    if missing:
        raise UsageError(
            f"The graph has no node {', '.join(repr(n) for n in missing)} that thread {thread_id!r} ran (its "
            f"nodes: {', '.join(sorted(nodes)) or 'none'}); give the graph that wrote the thread."
        )
