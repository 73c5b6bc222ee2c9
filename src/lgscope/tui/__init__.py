"""The terminal UI (Textual): step through a thread's checkpoints, diff states, jump to findings.

Needs the ``tui`` extra: ``pip install 'lgscope[tui]'``.
"""

from __future__ import annotations

__all__ = ["LgscopeApp"]


def __getattr__(name: str) -> object:
    if name == "LgscopeApp":
        from lgscope.tui.app import LgscopeApp

        return LgscopeApp
    raise AttributeError(name)
