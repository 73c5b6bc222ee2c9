"""Read-only access to LangGraph checkpoint stores.

``open_store`` takes a SQLite path (or ``sqlite:///path``), a ``postgresql://`` URL, an
lgscope export file, or any ``BaseCheckpointSaver`` instance, and returns a `Store`.
Nothing in this package writes to the store it reads.
"""

from __future__ import annotations

from lgscope.model import Step
from lgscope.store._base import NamespaceTip, Store, StoredSteps, ThreadIndexEntry
from lgscope.store._open import open_store
from lgscope.store._raw import RawCheckpoint, RawWrite
from lgscope.store._values import LazyValues
from lgscope.store.decode import decode_typed


def rebuilt_channels(step: Step) -> dict[str, str]:
    """Channels of a step whose value is not stored but rebuilt from earlier writes
    (LangGraph's ``DeltaChannel``), and how each was rebuilt."""
    values = step.values
    return dict(values.rebuilt_how) if isinstance(values, LazyValues) else {}


__all__ = [
    "NamespaceTip",
    "RawCheckpoint",
    "RawWrite",
    "Store",
    "StoredSteps",
    "ThreadIndexEntry",
    "decode_typed",
    "open_store",
    "rebuilt_channels",
]
