"""Helpers for driving the TUI: wait for its workers, as a person waits for the screen."""

from __future__ import annotations

from typing import Any

import pytest
from textual.worker import WorkerCancelled


async def settle(pilot: Any) -> None:
    """Wait until no worker runs and the screen has caught up with what they sent."""
    for _ in range(50):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # an exclusive worker replaced by a newer one (the cursor moved on)
            pass
        await pilot.pause()
        if not any(w.is_running for w in pilot.app.workers):
            return
    raise AssertionError("the TUI's workers kept running")


@pytest.fixture
def settled() -> Any:
    """`settle`, for tests and snapshot ``run_before`` hooks."""
    return settle
