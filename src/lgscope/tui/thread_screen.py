"""The thread screen: a timeline of checkpoints, the selected state, a diff, pending writes."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from lgscope.forensics.diff import diff_steps, format_change, summarize
from lgscope.model import Finding, Step, Thread
from lgscope.store import Store
from lgscope.tui.state_tree import StateTree

__all__ = ["ThreadScreen"]


def _marker(step: Step, starts: set[str]) -> str:
    if step.corrupt:
        return "⚠ corrupt"
    marks = []
    if step.checkpoint_id in starts:
        marks.append("● finding")
    if step.errors:
        marks.append("✖ error")
    if step.pending_interrupts:
        marks.append("⏸ waiting")
    elif step.interrupts:
        marks.append("⏸")
    return " ".join(marks)


class ThreadScreen(Screen[None]):
    BINDINGS = [
        Binding("j", "step(1)", "Next", show=False),
        Binding("k", "step(-1)", "Prev", show=False),
        Binding("n", "finding(1)", "Next finding"),
        Binding("N", "finding(-1)", "Prev finding"),
        Binding("m", "mark", "Mark"),
        Binding("d", "toggle_diff", "Diff"),
        Binding("slash", "search", "Search state"),
        Binding("t", "namespace", "Namespace"),
        Binding("e", "export", "Export"),
        Binding("y", "copy_id", "Copy id"),
        Binding("F", "find", "Find (large threads)", show=False),
        Binding("enter", "whole", "Whole value", show=False),
        Binding("q", "back", "Back"),
    ]

    def __init__(
        self, thread: Thread, findings: list[Finding] | None, store: Store, *, lazy: bool = False
    ) -> None:
        super().__init__()
        self.thread = thread
        self.findings = findings or []
        self.store = store
        self.ns = ""
        self.marked: str | None = None
        self.show_diff = True
        self.search = ""
        self.lazy = lazy
        """Large threads: the timeline decodes no state; each step is read when it is shown."""
        self._timelines: dict[str, tuple[Step, ...]] = {}
        self._full: OrderedDict[str, Step] = OrderedDict()

    @property
    def steps(self) -> tuple[Step, ...]:
        """The namespace's timeline: cheap steps, loaded once; full steps come from `full`."""
        if self.ns not in self._timelines:
            if self.lazy:
                self._timelines[self.ns] = self.store.timeline(self.thread.thread_id, self.ns)
            else:
                self._timelines[self.ns] = self.store.history(self.thread.thread_id, self.ns)
        return self._timelines[self.ns]

    def full(self, checkpoint_id: str | None) -> Step | None:
        """A step with its state, read on demand and kept for the last 64 looked at."""
        if checkpoint_id is None:
            return None
        if not self.lazy:
            return next((s for s in self.steps if s.checkpoint_id == checkpoint_id), None)
        if checkpoint_id not in self._full:
            step = self._full[checkpoint_id] = self.store.step_at(
                self.thread.thread_id, checkpoint_id, self.ns
            )
            if step.corrupt:  # only now known: mark it in the timeline
                table = self.query_one("#timeline", DataTable)
                table.update_cell(checkpoint_id, table.ordered_columns[5].key, "⚠ corrupt")
            while len(self._full) > 64:
                self._full.popitem(last=False)
        self._full.move_to_end(checkpoint_id)
        return self._full[checkpoint_id]

    def set_findings(self, findings: list[Finding]) -> None:
        """Findings computed after the first paint (large threads)."""
        self.findings = findings
        row = self.query_one("#timeline", DataTable).cursor_row
        self.load_namespace(keep_row=row)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="title")
        with Horizontal():
            yield DataTable(id="timeline", cursor_type="row")
            with Vertical(id="right"):
                yield StateTree("state", id="state")
                yield Static(id="diff")
                yield Static(id="details")
        yield Input(placeholder="search state…", id="search", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#timeline", DataTable)
        table.add_columns("step", "node(s)", "time", "source", "size", "")
        self.load_namespace()
        table.focus()

    def load_namespace(self, keep_row: int = 0) -> None:
        t = self.thread
        starts = {f.first_checkpoint_id for f in self.findings if f.checkpoint_ns == self.ns}
        table = self.query_one("#timeline", DataTable)
        table.clear()
        for s in self.steps:
            table.add_row(
                str(s.step),
                "+".join(s.nodes),
                s.ts.strftime("%m-%d %H:%M:%S"),
                s.source,
                f"{s.size:,}",
                _marker(s, starts),
                key=s.checkpoint_id,
            )
        names = ", ".join(repr(n) for n in t.namespaces)
        self.query_one("#title", Static).update(
            f"{t.thread_id} — {t.status}, {t.checkpoints} checkpoints — namespace {self.ns!r} of {names}"
            + (
                f" — {len(self.findings)} findings: " + "; ".join(f.summary for f in self.findings[:2])
                if self.findings
                else ""
            )
            + (
                " — findings not computed for a thread this large: press F"
                if self.lazy and not self.findings
                else ""
            )
        )
        if self.steps:
            self.show_step(min(keep_row, len(self.steps) - 1))

    def current(self) -> Step | None:
        table = self.query_one("#timeline", DataTable)
        if not self.steps:
            return None
        return self.steps[min(table.cursor_row, len(self.steps) - 1)]

    def show_step(self, index: int | None = None) -> None:
        table = self.query_one("#timeline", DataTable)
        if index is not None:
            table.move_cursor(row=index)
        light = self.current()
        step = self.full(light.checkpoint_id) if light is not None else None
        if step is None:
            return
        self.query_one("#state", StateTree).show(dict(step.values), search=self.search)
        diff = self.query_one("#diff", Static)
        if self.show_diff:
            base_id = self.marked or step.parent_id
            base = self.full(base_id) if any(s.checkpoint_id == base_id for s in self.steps) else None
            label = "marked" if self.marked else "parent"
            if base is None:
                diff.update(f"diff vs {label}: (none)")
            else:
                lines = [format_change(c) for c in diff_steps(base, step)] or ["no differences"]
                diff.update(Text(f"diff vs {label} (step {base.step}):\n" + "\n".join(lines[:30])))
        else:
            diff.update("")
        details = []
        if step.corrupt:
            details.append(f"corrupt: {step.corrupt}")
        details += [
            f"write {w.node or w.task_id[:8]} → {w.channel}: {summarize(w.value, 60)}"
            for w in step.writes[:12]
        ]
        details += [f"interrupt {i.id[:12]} at {i.node}: {summarize(i.value, 60)}" for i in step.interrupts]
        details += [f"resume: {summarize(w.value, 60)}" for w in step.resumes]
        details += [f"error at {e.node}: {e.error_type}: {e.message}" for e in step.errors]
        self.query_one("#details", Static).update("\n".join(details) or f"checkpoint {step.checkpoint_id}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_step()

    def action_step(self, delta: int) -> None:
        table = self.query_one("#timeline", DataTable)
        self.show_step(max(0, min(table.cursor_row + delta, len(self.steps) - 1)))

    def action_finding(self, direction: int) -> None:
        starts = [
            i
            for i, s in enumerate(self.steps)
            if any(
                f.first_checkpoint_id == s.checkpoint_id and f.checkpoint_ns == self.ns for f in self.findings
            )
        ]
        if not starts:
            self.notify("No findings in this namespace.")
            return
        row = self.query_one("#timeline", DataTable).cursor_row
        later = [i for i in starts if (i > row if direction > 0 else i < row)]
        target = (
            (later[0] if direction > 0 else later[-1])
            if later
            else (starts[0] if direction > 0 else starts[-1])
        )
        self.show_step(target)

    def action_mark(self) -> None:
        step = self.current()
        self.marked = None if step is None or self.marked == step.checkpoint_id else step.checkpoint_id
        self.notify(f"Marked step {step.step} for diff." if self.marked and step else "Mark cleared.")
        self.show_step()

    def action_toggle_diff(self) -> None:
        self.show_diff = not self.show_diff
        self.show_step()

    def action_namespace(self) -> None:
        names = list(self.thread.namespaces)
        self.ns = names[(names.index(self.ns) + 1) % len(names)]
        self.marked = None
        self.load_namespace()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.remove_class("hidden")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.search = event.value
        event.input.add_class("hidden")
        self.query_one("#timeline", DataTable).focus()
        self.show_step()

    def action_export(self) -> None:
        from lgscope.store.export import export_thread

        target = Path.cwd() / f"{self.thread.thread_id}.lgscope.jsonl"
        count = export_thread(self.store, self.thread.thread_id, target)
        self.notify(f"Exported {count} checkpoints to {target}")

    def action_copy_id(self) -> None:
        step = self.current()
        if step is not None:
            self.app.copy_to_clipboard(step.checkpoint_id)
            self.notify(f"Copied {step.checkpoint_id}")

    def action_find(self) -> None:
        self.notify("Running the detectors over the whole thread…")
        self.app.find_in_thread(self)  # type: ignore[attr-defined]

    def action_whole(self) -> None:
        self.notify(self.query_one("#state", StateTree).full_text()[:4000], timeout=10)

    def action_back(self) -> None:
        self.app.pop_screen()
