"""The one exception tree of lgscope.

Every error lgscope raises on purpose is a subclass of `LgscopeError`; the CLI turns
each into a single ``Error: …`` line and a non-zero exit. Messages are full sentences
that say what is wrong and end with what to do.

    LgscopeError
    ├── UsageError              a bad argument: duration, URL, option value
    ├── MissingExtra            an optional dependency is not installed
    ├── StoreError              anything about reading a checkpoint store
    │   ├── StoreNotFound       the file or database does not exist
    │   ├── NotACheckpointStore not a LangGraph checkpoint database, or an unknown schema
    │   ├── StoreUnavailable    the server cannot be reached or refuses us
    │   ├── ThreadNotFound      no such thread (or namespace) in the store
    │   └── CheckpointNotFound  no such checkpoint in the thread
    ├── DecodeError             a stored blob is corrupt, truncated or of an unknown type
    ├── ExportFileError         a malformed export file, or one of a newer format version
    ├── ImportConflict          the target store already holds the thread
    ├── TracingError            the tracing set-up cannot be done as asked
    └── ApprovalError           the sweeper or `approvals.resume` cannot act
        ├── AlreadyResolved     the interrupt is no longer pending
        └── LockUnavailable     the per-thread lock cannot be taken
"""

from __future__ import annotations

__all__ = [
    "AlreadyResolved",
    "ApprovalError",
    "CheckpointNotFound",
    "DecodeError",
    "ExportFileError",
    "ImportConflict",
    "LgscopeError",
    "LockUnavailable",
    "MissingExtra",
    "NotACheckpointStore",
    "StoreError",
    "StoreNotFound",
    "StoreUnavailable",
    "ThreadNotFound",
    "TracingError",
    "UsageError",
]


class LgscopeError(Exception):
    """Base class of every error lgscope raises on purpose."""


class UsageError(LgscopeError):
    """An argument is malformed (a duration, a URL, an option value)."""


class MissingExtra(LgscopeError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs an optional dependency that is not installed; "
            f"install it with: pip install 'lgscope[{extra}]'."
        )
        self.extra = extra


class StoreError(LgscopeError):
    """A checkpoint store cannot be read as asked."""


class StoreNotFound(StoreError):
    """The store's file or database does not exist."""


class NotACheckpointStore(StoreError):
    """The target is not a LangGraph checkpoint store, or its schema is unknown."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached or refuses the connection."""


class ThreadNotFound(StoreError):
    """The store holds no such thread or namespace."""


class CheckpointNotFound(StoreError):
    """The thread holds no such checkpoint."""


class DecodeError(LgscopeError):
    """A stored blob is corrupt, truncated or of a serialization type we do not read."""


class ExportFileError(LgscopeError):
    """An export file is malformed, truncated or of a newer format version."""


class ImportConflict(LgscopeError):
    """The target store already holds the thread being imported."""


class TracingError(LgscopeError):
    """Tracing cannot be set up as asked."""


class ApprovalError(LgscopeError):
    """The sweeper or `lgscope.approvals.resume` cannot act on an interrupt."""


class AlreadyResolved(ApprovalError):
    """The interrupt was answered already (by a human or another sweeper)."""


class LockUnavailable(ApprovalError):
    """The per-thread lock cannot be taken."""
