"""Model objects from steps, for code outside the store backends that assembles its own threads
(the test asserts, from a list of steps) or reads a checkpoint id's time (the report).

The public names of what the backends use (`lgscope.store._raw` is the backends' own)."""

from __future__ import annotations

from lgscope.store._raw import build_thread, ts_from_checkpoint_id

__all__ = ["build_thread", "ts_from_checkpoint_id"]
