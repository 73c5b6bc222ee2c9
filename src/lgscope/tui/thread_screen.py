"""The thread screen: a timeline of checkpoints, the selected state, a diff, pending writes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from lgscope._exceptions import LgscopeError
from lgscope.forensics.diff import diff_steps, format_change, summarize
from lgscope.model import Finding, Step, Thread
from lgscope.sanitize import safe_filename, safe_text, unused_path
from lgscope.store import Store
from lgscope.tui.state_tree import StateTree
from lgscope.tui.timeline import Timeline, TimelinePages

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
        self._timelines: dict[str, Sequence[Step]] = {}
        self._full: OrderedDict[str, Step] = OrderedDict()
        self._rows: dict[str, dict[str, int]] = {}

    @property
    def steps(self) -> Sequence[Step]:
        """The namespace's timeline: cheap steps, loaded once; full steps come from `full`."""
        if self.ns not in self._timelines:
            tid = self.thread.thread_id
            if self.lazy and self.store.pages_cheaply:  # read a page at a time, as rows are shown
                self._timelines[self.ns] = TimelinePages(self.store, tid, self.ns)
            elif self.lazy:
                self._timelines[self.ns] = self.store.timeline(tid, self.ns)
            else:
                self._timelines[self.ns] = self.store.history(tid, self.ns)
        return self._timelines[self.ns]

    def _marker(self) -> Callable[[Step], str]:
        starts = {f.first_checkpoint_id for f in self.findings if f.checkpoint_ns == self.ns}
        return lambda step: _marker(step, starts)

    def row_of(self, checkpoint_id: str | None) -> int | None:
        """The timeline row of a checkpoint of the current namespace."""
        if checkpoint_id is None:
            return None
        steps = self.steps
        if isinstance(steps, TimelinePages):
            return steps.index_of(checkpoint_id)
        if self.ns not in self._rows:
            self._rows[self.ns] = {s.checkpoint_id: i for i, s in enumerate(steps)}
        return self._rows[self.ns].get(checkpoint_id)

    def full(self, checkpoint_id: str | None) -> Step | None:
        """A step with its state, read on demand and kept for the last 64 looked at."""
        if checkpoint_id is None:
            return None
        if not self.lazy:
            row = self.row_of(checkpoint_id)
            return None if row is None else self.steps[row]
        if checkpoint_id not in self._full:
            step = self._full[checkpoint_id] = self.store.step_at(
                self.thread.thread_id, checkpoint_id, self.ns
            )
            if step.corrupt:  # only now known: mark it in the timeline
                timeline = self.query_one("#timeline", Timeline)
                row = self.row_of(checkpoint_id)
                if row is not None:
                    timeline.set_marker(row, "⚠ corrupt")
            while len(self._full) > 64:
                self._full.popitem(last=False)
        self._full.move_to_end(checkpoint_id)
        return self._full[checkpoint_id]

    def set_findings(self, findings: list[Finding]) -> None:
        """Findings computed after the first paint (large threads)."""
        self.findings = findings
        row = self.query_one("#timeline", Timeline).cursor_row
        self.load_namespace(keep_row=row)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="title")
        with Horizontal():
            yield Timeline(id="timeline")
            with Vertical(id="right"):
                yield StateTree("state", id="state")
                yield Static(id="diff")
                yield Static(id="details")
        yield Input(placeholder="search state…", id="search", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        self.load_namespace()
        self.query_one("#timeline", Timeline).focus()

    def load_namespace(self, keep_row: int = 0) -> None:
        self.query_one("#timeline", Timeline).set_steps(self.steps, self._marker())
        self._update_title()
        if self.steps:
            self.show_step(min(keep_row, len(self.steps) - 1))

    def _update_title(self) -> None:
        t = self.thread
        names = ", ".join(repr(n) for n in t.namespaces)
        title = (
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
        self.query_one("#title", Static).update(Text(safe_text(title)))

    def current(self) -> Step | None:
        timeline = self.query_one("#timeline", Timeline)
        if not self.steps:
            return None
        return self.steps[min(timeline.cursor_row, len(self.steps) - 1)]

    def show_step(self, index: int | None = None) -> None:
        timeline = self.query_one("#timeline", Timeline)
        if index is not None and index != timeline.cursor_row:
            timeline.move_cursor(index)  # announces the move: RowHighlighted shows the step
            return
        light = self.current()
        step = self.full(light.checkpoint_id) if light is not None else None
        if step is None:
            return
        self.query_one("#state", StateTree).show(dict(step.values), search=self.search)
        diff = self.query_one("#diff", Static)
        if self.show_diff:
            base_id = self.marked or step.parent_id
            base = self.full(base_id) if self.row_of(base_id) is not None else None
            label = "marked" if self.marked else "parent"
            if base is None:
                diff.update(Text(f"diff vs {label}: (none)"), layout=False)
            else:
                lines = [format_change(c) for c in diff_steps(base, step)] or ["no differences"]
                room = max(diff.content_region.height - 1, 1)
                if len(lines) > room:
                    lines = [*lines[: room - 1], f"… {len(lines) - room + 1} more changes"]
                body = safe_text("\n".join(lines), keep_newlines=True)
                diff.update(Text(f"diff vs {label} (step {base.step}):\n{body}"), layout=False)
        else:
            diff.update("", layout=False)
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
        # fixed-size panes: updating them needs no new layout (that would cost more than the step)
        self.query_one("#details", Static).update(
            Text(safe_text("\n".join(details) or f"checkpoint {step.checkpoint_id}", keep_newlines=True)),
            layout=False,
        )

    def on_timeline_row_highlighted(self, event: Timeline.RowHighlighted) -> None:
        self.show_step()

    def action_step(self, delta: int) -> None:
        timeline = self.query_one("#timeline", Timeline)
        self.show_step(max(0, min(timeline.cursor_row + delta, len(self.steps) - 1)))

    def action_finding(self, direction: int) -> None:
        starts = sorted(
            {
                row
                for f in self.findings
                if f.checkpoint_ns == self.ns and (row := self.row_of(f.first_checkpoint_id)) is not None
            }
        )
        if not starts:
            self.notify("No findings in this namespace.")
            return
        row = self.query_one("#timeline", Timeline).cursor_row
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
        self.query_one("#timeline", Timeline).marked_row = self.row_of(self.marked)
        self.notify(f"Marked step {step.step} for diff." if self.marked and step else "Mark cleared.")
        self.show_step()

    def action_toggle_diff(self) -> None:
        self.show_diff = not self.show_diff
        self.show_step()

    def action_namespace(self) -> None:
        names = list(self.thread.namespaces)
        self.ns = names[(names.index(self.ns) + 1) % len(names)]
        self.marked = None
        self.query_one("#timeline", Timeline).marked_row = None
        self.load_namespace()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.remove_class("hidden")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.search = event.value
        event.input.add_class("hidden")
        self.query_one("#timeline", Timeline).focus()
        self.show_step()

    def action_export(self) -> None:
        from lgscope.store.export import export_thread

        # named after the thread id only through safe_filename: it stays here and replaces nothing
        target = unused_path(Path.cwd(), safe_filename(self.thread.thread_id), ".lgscope.jsonl")
        try:
            count = export_thread(self.store, self.thread.thread_id, target)
        except (LgscopeError, OSError) as exc:
            self.notify(safe_text(f"Export failed: {exc}"), severity="error", markup=False)
            return
        self.notify(safe_text(f"Exported {count} checkpoints to {target}"), markup=False, timeout=10)

    def action_copy_id(self) -> None:
        step = self.current()
        if step is not None:
            self.app.copy_to_clipboard(step.checkpoint_id)
            self.notify(f"Copied {safe_text(step.checkpoint_id)}", markup=False)

    def action_find(self) -> None:
        self.notify("Running the detectors over the whole thread…")
        self.app.find_in_thread(self)  # type: ignore[attr-defined]

    def action_whole(self) -> None:
        self.notify(self.query_one("#state", StateTree).full_text()[:4000], timeout=10, markup=False)

    def action_back(self) -> None:
        self.app.leave_thread()  # type: ignore[attr-defined]
