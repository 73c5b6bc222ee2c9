"""lgscope: observability and forensics for LangGraph checkpoint histories."""

from __future__ import annotations

from lgscope._exceptions import (
    AlreadyResolved,
    ApprovalError,
    CheckpointNotFound,
    DecodeError,
    ExportFileError,
    ImportConflict,
    LgscopeError,
    LockUnavailable,
    MissingExtra,
    NotACheckpointStore,
    StoreError,
    StoreNotFound,
    StoreUnavailable,
    ThreadNotFound,
    TracingError,
    UsageError,
)
from lgscope.model import Finding, Interrupt, Step, TaskError, Thread, ThreadHistory, Write
from lgscope.replay import fork, replay
from lgscope.store import Store, open_store

__version__ = "0.1.0"

__all__ = [
    "AlreadyResolved",
    "ApprovalError",
    "CheckpointNotFound",
    "DecodeError",
    "ExportFileError",
    "Finding",
    "ImportConflict",
    "Interrupt",
    "LgscopeError",
    "LockUnavailable",
    "MissingExtra",
    "NotACheckpointStore",
    "Step",
    "Store",
    "StoreError",
    "StoreNotFound",
    "StoreUnavailable",
    "TaskError",
    "Thread",
    "ThreadHistory",
    "ThreadNotFound",
    "TracingError",
    "UsageError",
    "Write",
    "__version__",
    "fork",
    "open_store",
    "replay",
]
