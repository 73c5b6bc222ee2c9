"""Forensics: find loops, oscillation, stalls, stuck approvals and runs, broken
approvals, errors and runaway growth.

`detect` runs the detectors over one thread; `scan` runs them over a whole store, thread by
thread (``state=``: only the threads that changed since the last scan; ``executor=``: on a
Dask cluster). Each detector is a pure function of a thread's steps, in its own module. `frames`
(pandas) and `lgscope.forensics.report` build on `scan`; `lgscope.forensics.diff` compares states.
"""

from __future__ import annotations

from lgscope.forensics._config import (
    ALL_KINDS,
    ERROR,
    GROWTH,
    INTERRUPT_INTEGRITY,
    LOOP,
    NO_PROGRESS,
    OSCILLATION,
    STUCK_INTERRUPT,
    STUCK_RUN,
    DetectorConfig,
    StoreNorms,
)
from lgscope.forensics._detect import DETECTORS, detect
from lgscope.forensics._executor import LocalProcesses, dask_executor
from lgscope.forensics._follow import TailEvent, follow
from lgscope.forensics._frames import Frames, frames
from lgscope.forensics._scan import TIME_DEPENDENT, ScanResult, ScanStats, scan

__all__ = [
    "ALL_KINDS",
    "DETECTORS",
    "ERROR",
    "GROWTH",
    "INTERRUPT_INTEGRITY",
    "LocalProcesses",
    "LOOP",
    "NO_PROGRESS",
    "OSCILLATION",
    "STUCK_INTERRUPT",
    "STUCK_RUN",
    "TIME_DEPENDENT",
    "TailEvent",
    "DetectorConfig",
    "Frames",
    "ScanResult",
    "ScanStats",
    "StoreNorms",
    "dask_executor",
    "detect",
    "follow",
    "frames",
    "scan",
]
