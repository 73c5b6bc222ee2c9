"""`LgscopeApp`: the terminal UI over a read-only store.

The event loop never waits on the store: every read (the threads list, a thread, a page of its
timeline, a step's state) and every detector run happens in a thread worker, and the result
comes back with ``call_from_thread``. A screen paints at once in a loading state and fills in;
keys stay live meanwhile. Workers take `LgscopeApp.store_lock` around each read, so two never
use the store's one connection at once; a whole-store scan reads through its own connection
when the store can be reopened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from textual import work
from textual.app import App
from textual.worker import WorkerCancelled, get_current_worker

from lgscope._exceptions import LgscopeError
from lgscope.forensics import detect, scan
from lgscope.model import Finding, Step, Thread, ThreadHistory
from lgscope.sanitize import safe_text
from lgscope.store import Store
from lgscope.tui.thread_screen import ThreadScreen
from lgscope.tui.threads_screen import ThreadsScreen

__all__ = ["INTERACTIVE_CHECKPOINTS", "LgscopeApp"]

INTERACTIVE_CHECKPOINTS = 2000
"""Up to this many checkpoints, findings are computed with the first load; above, after it
(a store) or on demand (a thread, key F)."""
INTERACTIVE_BYTES = 64 * 1024 * 1024
"""A thread past this many stored bytes opens lazily too: a page of its timeline at a time."""

_T = TypeVar("_T")


class LgscopeApp(App[None]):
    """Threads → thread → checkpoint, with the forensics findings marked."""

    CSS_PATH = "app.tcss"
    TITLE = "lgscope"

    def __init__(
        self,
        store: Store,
        *,
        thread_id: str | None = None,
        start: tuple[str, str] | None = None,
        now: datetime | None = None,
        live: bool = False,
        live_interval: float = 1.0,
    ) -> None:
        super().__init__()
        self.start = start
        """``(checkpoint_id, namespace)`` to open ``thread_id`` at (see `lgscope.store.resolve`)."""
        self.store = store
        self.store_lock = threading.Lock()
        """Held around every read of `store` from a worker."""
        self._stores: list[Store] = []
        """The stores behind the sandboxes opened with the fork key, latest last."""
        self.thread_id = thread_id
        self.now = now or datetime.now(UTC)
        self.sub_title = store.url
        self.live = live
        """Open threads in live mode (key L toggles it): they follow new checkpoints."""
        self.live_interval = live_interval
        """Seconds between two looks at the store's index in live mode."""

    def read(self, fn: Callable[[Store], _T]) -> _T:
        """Run ``fn(store)`` under the store lock (call it from a worker, never the event loop).

        Waiting for the lock gives up when the worker is cancelled (the screen closed, the app
        quit), so a read queued behind a slow one never keeps the app from exiting."""
        worker = get_current_worker()
        while not self.store_lock.acquire(timeout=0.05):
            if worker.is_cancelled:
                raise WorkerCancelled("the read was no longer wanted")
        try:
            return fn(self.store)
        finally:
            self.store_lock.release()

    def _until_mounted(self, screen: ThreadsScreen | ThreadScreen) -> None:
        """In a worker: wait for ``screen`` to be mounted, so what the worker sends has somewhere to go."""
        worker = get_current_worker()
        while not screen.is_mounted:
            if worker.is_cancelled:
                raise WorkerCancelled("the screen was closed")
            time.sleep(0.005)

    def on_mount(self) -> None:
        if self.thread_id:  # straight to the thread: the threads list is made when you go back
            self.open_thread(self.thread_id, self.start)
        else:
            self.show_threads()

    def show_threads(self) -> None:
        """The threads screen (replacing a thread screen opened straight from the command line)."""
        screen = ThreadsScreen([], [], self.now, loading=True)
        if isinstance(self.screen, ThreadScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        self._load_threads(screen)

    @work(thread=True, exclusive=True, group="threads")
    def _load_threads(self, screen: ThreadsScreen) -> None:
        index = self.read(lambda s: s.index())
        total = len(index)
        self._until_mounted(screen)
        self.call_from_thread(screen.set_progress, f"reading {total:,} threads…")
        if sum(e.checkpoints for e in index) <= INTERACTIVE_CHECKPOINTS:
            result = self.read(lambda s: scan(s, now=self.now))
            self.call_from_thread(screen.set_threads, result.threads, result.findings)
            return
        threads: list[Thread] = []
        shown = time.monotonic()

        def summaries(store: Store) -> None:
            nonlocal shown
            for thread in store.threads():
                threads.append(thread)
                if time.monotonic() - shown > 0.1:
                    shown = time.monotonic()
                    self.call_from_thread(screen.set_progress, f"read {len(threads):,} of {total:,} threads…")

        self.read(summaries)
        self.call_from_thread(screen.set_threads, threads, None)
        # the findings follow from a scan through a connection of its own, when there can be one
        reopen = self.store.reopener()

        def progress(done: int, all_: int) -> None:
            self.call_from_thread(screen.set_progress, f"finding problems: {done:,} of {all_:,} threads…")

        if reopen is not None:
            with reopen() as own:
                result = scan(own, now=self.now, progress=progress)
        else:
            result = self.read(lambda s: scan(s, now=self.now, progress=progress))
        self.call_from_thread(screen.set_findings, result.findings)

    def fork_to_sandbox(self, screen: ThreadScreen, checkpoint_id: str) -> None:
        """Fork the screen's thread at ``checkpoint_id`` into a new SQLite sandbox (in a worker),
        then open the copy there; leaving it (q) comes back to this store."""
        self._fork(screen, checkpoint_id)

    @work(thread=True, exclusive=True, group="fork")
    def _fork(self, screen: ThreadScreen, checkpoint_id: str) -> None:
        from lgscope.replay import fork
        from lgscope.replay._target import new_sandbox
        from lgscope.store import open_store

        target = new_sandbox()
        try:
            result = self.read(lambda s: fork(s, screen.thread_id, target, checkpoint=checkpoint_id))
            sandbox = open_store(target)
        except LgscopeError as exc:
            self.call_from_thread(
                self.notify, safe_text(f"Fork failed: {exc}"), severity="error", markup=False
            )
            return
        self.call_from_thread(self._open_sandbox, sandbox, result.thread_id, result.checkpoints)

    def _open_sandbox(self, sandbox: Store, thread_id: str, checkpoints: int) -> None:
        # the old store stays open (workers still reading it finish): only the attribute changes
        self._stores.append(self.store)
        self.store = sandbox
        self.sub_title = f"sandbox {sandbox.url} (q: back to {self._stores[-1].url})"
        self.notify(
            safe_text(f"Forked {checkpoints} checkpoints into {sandbox.url}"), markup=False, timeout=10
        )
        self.open_thread(thread_id, sandbox=True)

    def leave_thread(self) -> None:
        """Back from a thread screen to the threads list (from a sandbox's thread: to the thread it
        was forked from, in the store before)."""
        if isinstance(self.screen, ThreadScreen) and self.screen.sandbox and self._stores:
            sandbox = self.store
            self.store = self._stores.pop()
            self.sub_title = self.store.url
            self.pop_screen()
            self._close(sandbox)
            return
        if any(isinstance(s, ThreadsScreen) for s in self.screen_stack):
            self.pop_screen()
        else:
            self.show_threads()

    @work(thread=True, group="close")
    def _close(self, store: Store) -> None:
        with self.store_lock:  # after any read of it still under way
            store.close()

    def open_thread(
        self, thread_id: str, start: tuple[str, str] | None = None, *, sandbox: bool = False
    ) -> None:
        """Paint the thread screen at once; its thread, findings and timeline load in a worker
        (``start``: the checkpoint and namespace to open it at; ``sandbox``: a fork's copy, which
        q leaves for the store before)."""
        screen = ThreadScreen(thread_id, self.store, sandbox=sandbox)
        self.push_screen(screen)
        self._load_thread(screen, start)

    @work(thread=True, group="thread")
    def _load_thread(self, screen: ThreadScreen, start: tuple[str, str] | None) -> None:
        checkpoint_id, ns = start or ("", "")
        try:
            thread, findings, timelines, lazy = self.read_thread(screen, ns)
            self._until_mounted(screen)
            if not lazy:
                ids = [s.checkpoint_id for s in timelines.get(ns, ())]
                row = ids.index(checkpoint_id) if checkpoint_id in ids else 0
            else:
                found = (
                    self.read(lambda s: s.timeline_index(thread.thread_id, checkpoint_id, ns))
                    if start
                    else None
                )
                row = found or 0
            self.call_from_thread(screen.loaded, thread, findings, timelines, lazy=lazy, ns=ns, row=row)
        except Exception as exc:  # an unreadable thread: say so on the screen, keep the app
            self._until_mounted(screen)
            self.call_from_thread(screen.failed, f"{type(exc).__name__}: {exc}")

    def read_thread(
        self, screen: ThreadScreen, ns: str
    ) -> tuple[Thread, list[Finding] | None, Mapping[str, Sequence[Step]], bool]:
        """In a worker: the screen's thread, its findings (None for a large thread: on demand),
        its timelines (every namespace, or a large thread's ``ns`` a page at a time) and
        whether it is large."""
        thread = self.read(lambda s: s.thread(screen.thread_id))
        if thread.checkpoints <= INTERACTIVE_CHECKPOINTS and thread.size <= INTERACTIVE_BYTES:
            # read whole here, in the worker: a store's history streams its steps from the store
            history = self.read(lambda s: _whole(s.load(screen.thread_id)))
            return thread, detect(history, now=self.now), history.steps, False
        # a large thread: its findings (which read every state) only on demand (F)
        steps = self.read(lambda s: screen.read_timeline(s, thread.thread_id, ns))
        return thread, None, {ns: steps}, True

    def find_in_thread(self, screen: ThreadScreen) -> None:
        """Run the detectors over the screen's whole thread (the F key on large threads)."""
        self._find(screen)

    @work(thread=True, exclusive=True, group="find")
    def _find(self, screen: ThreadScreen) -> None:
        history = self.read(lambda s: s.load(screen.thread_id))
        self.call_from_thread(screen.set_findings, detect(history, now=self.now))


def _whole(history: ThreadHistory) -> ThreadHistory:
    return ThreadHistory(history.thread, {ns: tuple(steps) for ns, steps in history.steps.items()})
