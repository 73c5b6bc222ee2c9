"""`LgscopeApp`: the terminal UI over a read-only store."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App

from lgscope.forensics import detect, scan
from lgscope.store import Store
from lgscope.tui.thread_screen import ThreadScreen
from lgscope.tui.threads_screen import ThreadsScreen

__all__ = ["INTERACTIVE_CHECKPOINTS", "LgscopeApp"]

INTERACTIVE_CHECKPOINTS = 2000
INTERACTIVE_BYTES = 64 * 1024 * 1024
"""A thread past either bound opens lazily: a page of its timeline at a time, findings on demand."""
"""Up to this many checkpoints, findings are computed before the first paint; above, after."""


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
        if self.thread_id:  # straight to the thread: the threads list is made when you go back
            self.open_thread(self.thread_id)
        else:
            self.show_threads()

    def show_threads(self) -> None:
        """The threads screen (replacing a thread screen opened straight from the command line)."""
        index = self.store.index()
        small = sum(e.checkpoints for e in index) <= INTERACTIVE_CHECKPOINTS
        if small:
            result = scan(self.store, now=self.now)
            threads, findings = result.threads, result.findings
        else:  # paint first; the findings follow from a background scan
            threads, findings = list(self.store.threads()), []
        screen = ThreadsScreen(sorted(threads, key=lambda t: t.thread_id), findings, self.now)
        if isinstance(self.screen, ThreadScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        if not small:
            self.run_worker(lambda: self._scan_later(screen), thread=True, exclusive=True, group="scan")

    def leave_thread(self) -> None:
        """Back from a thread screen to the threads list."""
        if any(isinstance(s, ThreadsScreen) for s in self.screen_stack):
            self.pop_screen()
        else:
            self.show_threads()

    def _scan_later(self, screen: ThreadsScreen) -> None:
        result = scan(self.store, now=self.now)
        self.call_from_thread(screen.set_findings, result.findings)

    def open_thread(self, thread_id: str) -> None:
        thread = self.store.thread(thread_id)
        if thread.checkpoints <= INTERACTIVE_CHECKPOINTS and thread.size <= INTERACTIVE_BYTES:
            self.push_screen(
                ThreadScreen(thread, detect(self.store.load(thread_id), now=self.now), self.store)
            )
            return
        # A large thread: paint at once; its findings (which read every state) only on demand (F).
        self.push_screen(ThreadScreen(thread, None, self.store, lazy=True))

    def find_in_thread(self, screen: ThreadScreen) -> None:
        """Run the detectors over the screen's whole thread (the F key on large threads)."""
        screen.set_findings(detect(self.store.load(screen.thread.thread_id), now=self.now))
