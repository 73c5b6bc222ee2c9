"""Read-only access to LangGraph checkpoint stores.

``open_store`` takes a SQLite path (or ``sqlite:///path``), a ``postgresql://`` URL, an
lgscope export file, or any ``BaseCheckpointSaver`` instance, and returns a `Store`.
Nothing in this package writes to the store it reads.
"""

from __future__ import annotations

from lgscope.store._base import Store, ThreadIndexEntry
from lgscope.store._open import open_store
from lgscope.store._raw import RawCheckpoint, RawWrite
from lgscope.store.decode import decode_typed

__all__ = ["RawCheckpoint", "RawWrite", "Store", "ThreadIndexEntry", "decode_typed", "open_store"]
