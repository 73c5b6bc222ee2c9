"""`LgscopeApp`: the terminal UI over a read-only store."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App

from lgscope.forensics import detect, scan
from lgscope.store import Store
from lgscope.tui.thread_screen import ThreadScreen
from lgscope.tui.threads_screen import ThreadsScreen

__all__ = ["LgscopeApp"]


class LgscopeApp(App[None]):
    """Threads → thread → checkpoint, with the forensics findings marked."""

    CSS_PATH = "app.tcss"
    TITLE = "lgscope"

    def __init__(self, store: Store, *, thread_id: str | None = None, now: datetime | None = None) -> None:
        super().__init__()
        self.store = store
        self.thread_id = thread_id
        self.now = now or datetime.now(UTC)
        self.sub_title = store.url

    def on_mount(self) -> None:
        result = scan(self.store, now=self.now)
        self.push_screen(
            ThreadsScreen(sorted(result.threads, key=lambda t: t.thread_id), result.findings, self.now)
        )
        if self.thread_id:
            self.open_thread(self.thread_id)

    def open_thread(self, thread_id: str) -> None:
        history = self.store.load(thread_id)
        self.push_screen(ThreadScreen(history, detect(history, now=self.now), self.store))
