"""LangGraph's own released tests, run with lgscope on: instrumentation changes nothing they see.

The tests of the installed LangGraph's source distribution run in a child pytest with
``lgscope_on`` (`LangGraphInstrumentor` on, every fixture saver in a `TracedSaver`), on the
memory and SQLite savers (``NO_DOCKER=true``: LangGraph's Postgres fixtures expect its own
docker compose). `SUBSET` is what CI runs, the files closest to what lgscope touches; the whole
suite runs with ``LGSCOPE_LANGGRAPH_SUITE=all``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parent / "langgraph_suite"
SUBSET = [
    "tests/test_interruption.py",
    "tests/test_interrupt_state.py",
    "tests/test_strict_resume.py",
    "tests/test_graph_callbacks.py",
    "tests/test_retry.py",
    "tests/test_parent_command.py",
    "tests/test_parent_command_async.py",
    "tests/test_subgraph_persistence.py",
    "tests/test_subgraph_persistence_async.py",
    "tests/test_time_travel.py",
    "tests/test_time_travel_async.py",
    "tests/test_pregel_debug.py",
    "tests/test_pregel.py",
    "tests/test_pregel_async.py",
]


def _langgraph_tests() -> Path:
    """The installed LangGraph's released tests, from its source distribution (downloaded
    once into the user's cache)."""
    version = metadata.version("langgraph")
    cache = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lgscope" / f"langgraph-{version}"
    )
    if (cache / "tests" / "conftest.py").is_file():
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", f"langgraph=={version}"]
        + ["--no-binary", ":all:", "--no-deps", "-q", "-d", str(cache)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    sdists = list(cache.glob("langgraph-*.tar.gz"))
    assert sdists, f"Could not download LangGraph {version}'s source distribution:\n{fetched.stderr}"
    with tarfile.open(sdists[0]) as archive:
        top = f"langgraph-{version}/"
        members = [
            m
            for m in archive.getmembers()
            if m.name.startswith(top + "tests/") or m.name == top + "pyproject.toml"
        ]
        for member in members:
            member.name = member.name[len(top) :]
        archive.extractall(
            cache, members=members, filter="data"
        )  # its tests only: the installed LangGraph runs
    return cache


@pytest.mark.slow
def test_langgraph_s_own_tests_pass_with_lgscope_on() -> None:
    source = _langgraph_tests()
    chosen = SUBSET if os.environ.get("LGSCOPE_LANGGRAPH_SUITE") != "all" else ["tests"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *chosen, "-q", "-p", "no:cacheprovider", "-p", "no:lgscope"]
        + [
            "-p",
            "lgscope_on",
            "-o",
            "addopts=--strict-markers --snapshot-warn-unused",
            "--rootdir",
            str(source),
        ],
        cwd=source,
        env={**os.environ, "NO_DOCKER": "true", "PYTHONPATH": str(PLUGIN)},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, tail
    made = re.search(r"lgscope: (\d+) spans \((\d+) runs, (\d+) node spans, (\d+) checkpoint spans\)", tail)
    assert made is not None, tail
    assert all(int(n) > 1000 for n in made.groups()), made.group(0)  # it did trace
    assert re.search(r"\d+ passed", tail) and " failed" not in tail, tail
