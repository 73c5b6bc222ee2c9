"""CI asserts: fail a build when a graph loops, oscillates, stalls or never terminates.

The same detectors as `lgscope.forensics` decide. Point an assert at a compiled graph (with
the config naming its thread), a ``(store, thread_id)`` pair, a list of steps, or an export
file; or mark a test ``@pytest.mark.lgscope(no_loops=True, max_steps=50)`` to check every run.
"""

from __future__ import annotations

from lgscope.testing._asserts import (
    assert_no_loops,
    assert_no_oscillation,
    assert_no_stuck_interrupts,
    assert_state_evolves,
    assert_terminates_within,
)
from lgscope.testing._recorder import RecordedRun, RunRecorder
from lgscope.testing._replay import RecordedChatModel, assert_replay_fixes, recorded_replies

__all__ = [
    "RecordedChatModel",
    "RecordedRun",
    "RunRecorder",
    "assert_no_loops",
    "assert_no_oscillation",
    "assert_no_stuck_interrupts",
    "assert_replay_fixes",
    "assert_state_evolves",
    "assert_terminates_within",
    "recorded_replies",
]
