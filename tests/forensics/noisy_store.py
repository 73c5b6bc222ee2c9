"""A store opener that prints, as a chatty library imported by a worker would."""

from __future__ import annotations

import sys
from pathlib import Path

from lgscope.store import Store, open_store


def open_noisy(path: Path) -> Store:
    print("a library says hello " * 2000)  # ~40 KB on the worker's stdout
    sys.stdout.flush()
    return open_store(path)
