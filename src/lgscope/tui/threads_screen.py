"""The threads screen: every thread, its status, pending interrupt and findings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from lgscope.model import Finding, Thread, ThreadStatus
from lgscope.sanitize import safe_text
from lgscope.units import format_age

__all__ = ["ThreadsScreen"]

_STATUSES = ("all", *(s.value for s in ThreadStatus))
_SORTS = ("thread", "status", "checkpoints", "updated")


class ThreadsScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "open", "Open", priority=True),
        Binding("j", "move(1)", "Next", show=False),
        Binding("k", "move(-1)", "Prev", show=False),
        # the table's own Home/End scroll without moving the cursor: these move it
        Binding("home", "jump(0)", "First", show=False, priority=True),
        Binding("end", "jump(-1)", "Last", show=False, priority=True),
        Binding("s", "sort", "Sort"),
        Binding("f", "filter_status", "Status"),
        Binding("c", "filter_kind", "Finding kind"),
        Binding("slash", "search", "Search id"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(
        self, threads: list[Thread], findings: list[Finding], now: datetime, *, loading: bool = False
    ) -> None:
        super().__init__()
        self.threads = threads
        self.findings: dict[str, list[Finding]] = {}
        for f in findings:
            self.findings.setdefault(f.thread_id, []).append(f)
        self.now = now
        self.status = "all"
        self.kind = "all"
        self.sort_by = "thread"
        self.query_text = ""
        self.loading_threads = loading
        """True until the worker has read the threads."""
        self.progress = "reading the store…" if loading else ""
        """What the worker is doing, shown on the status line (empty when done)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="filters")
        yield DataTable(id="threads", cursor_type="row", zebra_stripes=True)
        yield Input(placeholder="thread id…", id="search", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#threads", DataTable)
        table.add_columns("thread", "status", "checkpoints", "updated", "pending for", "findings")
        table.loading = self.loading_threads
        self.refresh_rows()

    def set_progress(self, text: str) -> None:
        """The worker's progress, on the status line."""
        self.progress = text
        self._status_line(self.query_one("#threads", DataTable).row_count)

    def set_threads(self, threads: list[Thread], findings: list[Finding] | None) -> None:
        """The worker's threads (and findings, or None when a scan for them follows)."""
        self.threads = sorted(threads, key=lambda t: t.thread_id)
        self.loading_threads = False
        self.progress = "finding problems…" if findings is None else ""
        table = self.query_one("#threads", DataTable)
        table.loading = False
        if findings is not None:
            self.set_findings(findings)
        else:
            self.refresh_rows()
        table.focus()

    def shown_threads(self) -> list[Thread]:
        rows = [
            t
            for t in self.threads
            if (self.status == "all" or t.status == self.status)
            and (self.kind == "all" or any(f.kind == self.kind for f in self.findings.get(t.thread_id, [])))
            and self.query_text.lower() in t.thread_id.lower()
        ]
        key: dict[str, Any] = {
            "thread": lambda t: t.thread_id,
            "status": lambda t: (t.status, t.thread_id),
            "checkpoints": lambda t: -t.checkpoints,
            "updated": lambda t: -(t.updated_at.timestamp() if t.updated_at else 0),
        }
        return sorted(rows, key=key[self.sort_by])

    def set_findings(self, findings: list[Finding]) -> None:
        """Findings from a background scan (large stores)."""
        self.progress = ""
        self.findings = {}
        for f in findings:
            self.findings.setdefault(f.thread_id, []).append(f)
        self.refresh_rows()

    def refresh_rows(self) -> None:
        table = self.query_one("#threads", DataTable)
        table.clear()
        for t in self.shown_threads():
            pending = ""
            if t.pending_interrupts:
                pending = format_age(max(i.age(self.now).total_seconds() for i in t.pending_interrupts))
            kinds = sorted({f.kind for f in self.findings.get(t.thread_id, [])})
            table.add_row(
                Text(safe_text(t.thread_id)),
                t.status,
                str(t.checkpoints),
                t.updated_at.strftime("%Y-%m-%d %H:%M") if t.updated_at else "",
                pending,
                Text(safe_text(", ".join(kinds))),
                key=t.thread_id,
            )
        self._status_line(table.row_count)

    def _status_line(self, shown: int) -> None:
        self.query_one("#filters", Static).update(
            Text(
                safe_text(
                    f"status: {self.status}   finding: {self.kind}   sort: {self.sort_by}"
                    + (f"   search: {self.query_text}" if self.query_text else "")
                    + (
                        f"   {self.progress}"
                        if self.loading_threads
                        else f"   ({shown} of {len(self.threads)} threads)"
                        + (f"   {self.progress}" if self.progress else "")
                    )
                )
            )
        )

    def action_move(self, delta: int) -> None:
        table = self.query_one("#threads", DataTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.cursor_row + delta, table.row_count - 1)))

    def action_jump(self, row: int) -> None:
        box = self.query_one("#search", Input)
        if box.has_focus:  # Home/End in the search box move its cursor
            box.action_home() if row == 0 else box.action_end()
            return
        table = self.query_one("#threads", DataTable)
        if table.row_count:
            table.move_cursor(row=row if row >= 0 else table.row_count - 1)

    def action_sort(self) -> None:
        self.sort_by = _SORTS[(_SORTS.index(self.sort_by) + 1) % len(_SORTS)]
        self.refresh_rows()

    def action_filter_status(self) -> None:
        self.status = _STATUSES[(_STATUSES.index(self.status) + 1) % len(_STATUSES)]
        self.refresh_rows()

    def action_filter_kind(self) -> None:
        kinds = ["all", *sorted({f.kind for fs in self.findings.values() for f in fs})]
        self.kind = kinds[(kinds.index(self.kind) + 1) % len(kinds)] if self.kind in kinds else "all"
        self.refresh_rows()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.remove_class("hidden")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search":
            self.query_text = event.value
            self.refresh_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.add_class("hidden")
        self.query_one("#threads", DataTable).focus()

    def action_open(self) -> None:
        box = self.query_one("#search", Input)
        if not box.has_class("hidden"):  # Enter in the search box ends the search
            box.add_class("hidden")
            self.query_one("#threads", DataTable).focus()
            return
        table = self.query_one("#threads", DataTable)
        if table.row_count:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
            self.app.open_thread(str(row_key.value))  # type: ignore[attr-defined]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_thread(str(event.row_key.value))  # type: ignore[attr-defined]
