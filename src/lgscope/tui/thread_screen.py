"""The thread screen: a timeline of checkpoints, the selected state, a diff, pending writes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static

from lgscope._exceptions import LgscopeError
from lgscope.forensics.diff import diff_steps, format_change, summarize
from lgscope.model import Finding, Step, Thread
from lgscope.sanitize import safe_filename, safe_json, safe_text, unused_path
from lgscope.store import NamespaceTip, Store
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
        Binding("d", "toggle_diff", "Diff parent/marked"),
        Binding("slash", "search", "Search state"),
        Binding("t", "namespace", "Namespace"),
        Binding("e", "export", "Export"),
        Binding("f", "fork", "Fork"),
        Binding("y", "copy_id", "Copy id"),
        Binding("F", "find", "Find (large threads)", show=False),
        Binding("enter", "whole", "Whole value"),
        Binding("L", "live", "Live", show=False),  # in the help and the title; the footer is full
        Binding("q", "back", "Back"),
    ]

    class Loaded(Message):
        """The thread, its findings and its first timeline have been read."""

    def __init__(self, thread_id: str, store: Store, *, sandbox: bool = False) -> None:
        super().__init__()
        self.thread_id = thread_id
        self.sandbox = sandbox
        """A thread forked into a sandbox (key f): leaving it returns to the thread it came from."""
        self.thread: Thread | None = None
        """None until the worker has read it (`loaded`)."""
        self.findings: list[Finding] = []
        self.store = store
        self.ns = ""
        self.marked: str | None = None
        self.diff_base = "parent"
        """What the diff pane compares the step with: ``parent`` or ``marked`` (key d)."""
        self.search = ""
        self.lazy = False
        """Large threads: the timeline decodes no state; each step is read when it is shown."""
        self.findings_computed = True
        self._timelines: dict[str, Sequence[Step]] = {}
        self._full: OrderedDict[str, Step] = OrderedDict()
        self._rows: dict[str, dict[str, int]] = {}
        self.live = False
        """Following new checkpoints (key L): the store's index is polled and the thread re-read
        when it moved, by a worker."""
        self._tips: tuple[NamespaceTip, ...] | None = None
        self._version: object | None = None
        self._live_timer: Timer | None = None

    @property
    def steps(self) -> Sequence[Step]:
        """The current namespace's timeline, as far as it has been read (never reads the store)."""
        return self._timelines.get(self.ns, ())

    @staticmethod
    def read_timeline(store: Store, thread_id: str, ns: str) -> Sequence[Step]:
        """A large thread's namespace timeline, read from ``store`` (in a worker): the cheap
        timeline, a page at a time when the store can page cheaply."""
        if store.pages_cheaply:  # read a page at a time, as rows are shown
            pages = TimelinePages(store, thread_id, ns)
            if len(pages):
                pages.fetch(0)
            return pages
        return store.timeline(thread_id, ns)

    def loaded(
        self,
        thread: Thread,
        findings: list[Finding] | None,
        timelines: Mapping[str, Sequence[Step]],
        *,
        lazy: bool = False,
        ns: str = "",
        row: int = 0,
    ) -> None:
        """The worker's result: paint the thread (namespace ``ns``, at ``row``)."""
        self.thread = thread
        self.lazy = lazy
        self.findings = findings or []
        self.findings_computed = findings is not None
        self._timelines = dict(timelines)
        self.ns = ns
        self._rows.clear()
        self.load_namespace(keep_row=row)
        self.post_message(self.Loaded())
        if self.app.live and self._live_timer is None and not self.live:  # type: ignore[attr-defined]
            self.action_live()

    def failed(self, reason: str) -> None:
        """The worker could not read the thread."""
        self.query_one("#title", Static).update(
            Text(safe_text(f"{self.thread_id} — could not be read: {reason}"))
        )

    def _marker(self) -> Callable[[Step], str]:
        starts = {f.first_checkpoint_id for f in self.findings if f.checkpoint_ns == self.ns}
        return lambda step: _marker(step, starts)

    def row_of(self, checkpoint_id: str | None) -> int | None:
        """The timeline row of a checkpoint of the current namespace (asks the store for a large
        thread's: call it from a worker then)."""
        if checkpoint_id is None:
            return None
        steps = self.steps
        if isinstance(steps, TimelinePages):
            return steps.index_of(checkpoint_id)
        if self.ns not in self._rows:
            self._rows[self.ns] = {s.checkpoint_id: i for i, s in enumerate(steps)}
        return self._rows[self.ns].get(checkpoint_id)

    def full(self, checkpoint_id: str | None) -> Step | None:
        """A step with its state, read on demand and kept for the last 64 looked at (a large
        thread's step is read from the store: call it from a worker then)."""
        if checkpoint_id is None:
            return None
        if not self.lazy:
            row = self.row_of(checkpoint_id)
            return None if row is None else self.steps[row]
        if checkpoint_id not in self._full:
            self._full[checkpoint_id] = self.store.step_at(self.thread_id, checkpoint_id, self.ns)
            while len(self._full) > 64:
                self._full.popitem(last=False)
        self._full.move_to_end(checkpoint_id)
        return self._full[checkpoint_id]

    def set_findings(self, findings: list[Finding]) -> None:
        """Findings computed after the first paint (large threads)."""
        self.findings = findings
        self.findings_computed = True
        row = self.query_one("#timeline", Timeline).cursor_row
        self.load_namespace(keep_row=row)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(safe_text(f"{self.thread_id} — loading the thread…")), id="title")
        with Horizontal():
            yield Timeline(id="timeline")
            with Vertical(id="right"):
                yield StateTree("state", id="state")
                yield Static(id="diff")
                yield Static(id="details")
        yield Input(placeholder="search state…", id="search", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#timeline", Timeline).focus()

    def load_namespace(self, keep_row: int = 0) -> None:
        self.query_one("#timeline", Timeline).set_steps(self.steps, self._marker())
        self._update_title()
        if self.steps:
            self.show_step(min(keep_row, len(self.steps) - 1), force=True)

    def _update_title(self) -> None:
        t = self.thread
        if t is None:
            return
        names = list(t.namespaces)
        where = "root namespace" if self.ns == "" else f"namespace {self.ns}"
        if len(names) > 1:
            where += f" ({names.index(self.ns) + 1} of {len(names)}: t for the next)"
        count = len(self.findings)
        title = (
            ("● live — " if self.live else "")
            + f"{t.thread_id} — {t.status}, {t.checkpoints} checkpoints — {where}"
            + (
                f" — {count} finding{'s' if count != 1 else ''}: "
                + "; ".join(f.summary for f in self.findings[:2])
                if self.findings
                else ""
            )
            + (
                " — findings not computed for a thread this large: press F"
                if not self.findings_computed
                else ""
            )
        )
        self.query_one("#title", Static).update(Text(safe_text(title)))

    def current(self) -> Step | None:
        """The step under the cursor as the timeline has it (None while its page is read)."""
        steps = self.steps
        if not steps:
            return None
        row = min(self.query_one("#timeline", Timeline).cursor_row, len(steps) - 1)
        return steps.peek(row) if isinstance(steps, TimelinePages) else steps[row]

    def show_step(self, index: int | None = None, *, force: bool = False) -> None:
        """Move to row ``index`` (or repaint the current one): the step, its diff, its writes.
        A large thread's step is read by a worker; the panes say so meanwhile."""
        timeline = self.query_one("#timeline", Timeline)
        if index is not None and index != timeline.cursor_row:
            timeline.move_cursor(index)  # announces the move: RowHighlighted shows the step
            return
        row = timeline.cursor_row
        if not self.lazy:
            light = self.current()
            if light is not None:
                self._paint(row, light, self._base(light))
            return
        light = self.current()
        if light is not None:
            step = self._full.get(light.checkpoint_id)
            base_id = self.marked if self.diff_base == "marked" and self.marked else None
            base_id = base_id or (step.parent_id if step is not None else None)
            if step is not None and (base_id is None or base_id in self._full):
                self._paint(row, step, self._full.get(base_id or ""))
                return
        self.query_one("#details", Static).update(f"reading step {row}…", layout=False)
        self._fetch_step(row)

    def _base(self, step: Step) -> Step | None:
        base_id = self.marked if self.diff_base == "marked" and self.marked else step.parent_id
        return self.full(base_id) if self.row_of(base_id) is not None else None

    @work(thread=True, exclusive=True, group="step")
    def _fetch_step(self, row: int) -> None:
        def read(_: Store) -> tuple[Step, Step | None]:
            step = self.full(self.steps[row].checkpoint_id)
            assert step is not None
            return step, self._base(step)

        step, base = self.app.read(read)  # type: ignore[attr-defined]
        self.app.call_from_thread(self._paint, row, step, base)

    def _paint(self, row: int, step: Step, base: Step | None) -> None:
        timeline = self.query_one("#timeline", Timeline)
        if row != timeline.cursor_row:
            return  # the cursor moved on while this step was read
        if step.corrupt and self.lazy:  # only now known: mark it in the timeline
            timeline.set_marker(row, "⚠ corrupt")
        self.query_one("#state", StateTree).show(dict(step.values), search=self.search)
        diff = self.query_one("#diff", Static)
        label = "marked" if self.diff_base == "marked" and self.marked else "parent"
        other = "" if not self.marked else " — d: vs marked" if label == "parent" else " — d: vs parent"
        if base is None:
            none = "the first checkpoint has no parent" if label == "parent" else "the marked step is gone"
            diff.update(Text(f"diff vs {label}{other}: none, {none}"), layout=False)
        else:
            lines = [format_change(c) for c in diff_steps(base, step)] or ["no differences"]
            room = max(diff.content_region.height - 1, 1)
            if len(lines) > room:
                lines = [*lines[: room - 1], f"… {len(lines) - room + 1} more changes"]
            body = safe_text("\n".join(lines), keep_newlines=True)
            diff.update(Text(f"diff vs {label} (step {base.step}){other}:\n{body}"), layout=False)
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

    def on_timeline_page_wanted(self, event: Timeline.PageWanted) -> None:
        self._fetch_page(event.row)

    @work(thread=True, group="pages")
    def _fetch_page(self, row: int) -> None:
        steps = self.steps
        if isinstance(steps, TimelinePages):
            self.app.read(lambda _: steps.fetch(row))  # type: ignore[attr-defined]
            self.app.call_from_thread(self._page_read, row)

    def _page_read(self, row: int) -> None:
        timeline = self.query_one("#timeline", Timeline)
        timeline.page_read(row)

    def action_step(self, delta: int) -> None:
        timeline = self.query_one("#timeline", Timeline)
        self.show_step(max(0, min(timeline.cursor_row + delta, len(self.steps) - 1)))

    def action_finding(self, direction: int) -> None:
        row = self.query_one("#timeline", Timeline).cursor_row
        if self.lazy:  # a large thread's finding rows are asked of the store: in a worker
            self._find_row(direction, row)
        else:
            self._go_to_finding(self._finding_rows(), direction, row)

    def _finding_rows(self) -> list[int]:
        return sorted(
            {
                r
                for f in self.findings
                if f.checkpoint_ns == self.ns and (r := self.row_of(f.first_checkpoint_id)) is not None
            }
        )

    @work(thread=True, exclusive=True, group="finding")
    def _find_row(self, direction: int, row: int) -> None:
        starts = self.app.read(lambda _: self._finding_rows())  # type: ignore[attr-defined]
        self.app.call_from_thread(self._go_to_finding, starts, direction, row)

    def _go_to_finding(self, starts: list[int], direction: int, row: int) -> None:
        if not starts:
            self.notify("No findings in this namespace.")
            return
        later = [i for i in starts if (i > row if direction > 0 else i < row)]
        target = (
            (later[0] if direction > 0 else later[-1])
            if later
            else (starts[0] if direction > 0 else starts[-1])
        )
        self.show_step(target)

    def action_mark(self) -> None:
        step = self.current()
        timeline = self.query_one("#timeline", Timeline)
        self.marked = None if step is None or self.marked == step.checkpoint_id else step.checkpoint_id
        timeline.marked_row = timeline.cursor_row if self.marked else None
        self.diff_base = "marked" if self.marked else "parent"
        self.notify(
            f"Marked step {step.step} for the diff (d: vs parent)."
            if self.marked and step
            else "Mark cleared."
        )
        self.show_step(force=True)

    def action_toggle_diff(self) -> None:
        if self.marked is None:
            self.notify("The diff is against the parent; mark a step with m to diff against it.")
            return
        self.diff_base = "parent" if self.diff_base == "marked" else "marked"
        self.show_step(force=True)

    def action_namespace(self) -> None:
        if self.thread is None:
            return
        names = list(self.thread.namespaces)
        if len(names) < 2:
            self.notify("This thread has one namespace.")
            return
        self.ns = names[(names.index(self.ns) + 1) % len(names)]
        self.marked = None
        self.diff_base = "parent"
        self.query_one("#timeline", Timeline).marked_row = None
        if self.ns in self._timelines:
            self.load_namespace()
            return
        self.query_one("#title", Static).update(
            Text(safe_text(f"{self.thread_id} — reading namespace {self.ns}…"))
        )
        self._read_namespace(self.ns)

    @work(thread=True, exclusive=True, group="namespace")
    def _read_namespace(self, ns: str) -> None:
        steps = self.app.read(lambda s: self.read_timeline(s, self.thread_id, ns))  # type: ignore[attr-defined]
        self.app.call_from_thread(self._namespace_read, ns, steps)

    def _namespace_read(self, ns: str, steps: Sequence[Step]) -> None:
        self._timelines[ns] = steps
        if ns == self.ns:
            self.load_namespace()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.remove_class("hidden")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.search = event.value
        event.input.add_class("hidden")
        self.query_one("#timeline", Timeline).focus()
        self.show_step(force=True)

    def action_export(self) -> None:
        self.notify(safe_text(f"Exporting {self.thread_id}…"), markup=False)
        self._export()

    @work(thread=True, exclusive=True, group="export")
    def _export(self) -> None:
        # a long thread takes a while to write out: not on the event loop
        from lgscope.store.export import export_thread

        # named after the thread id only through safe_filename: it stays here and replaces nothing
        target = unused_path(Path.cwd(), safe_filename(self.thread_id), ".lgscope.jsonl")
        try:
            count = self.app.read(lambda s: export_thread(s, self.thread_id, target))  # type: ignore[attr-defined]
        except (LgscopeError, OSError) as exc:
            self.app.call_from_thread(
                self.notify, safe_text(f"Export failed: {exc}"), severity="error", markup=False
            )
            return
        self.app.call_from_thread(
            self.notify, safe_text(f"Exported {count} checkpoints to {target}"), markup=False, timeout=10
        )

    def action_fork(self) -> None:
        step = self.current()
        if step is None or self.thread is None:
            return
        if self.ns != "":
            self.notify("A fork starts from a checkpoint of the root graph: press t to go back to it.")
            return
        self.notify(f"Forking at step {step.step} into a sandbox…")
        self.app.fork_to_sandbox(self, step.checkpoint_id)  # type: ignore[attr-defined]

    def action_copy_id(self) -> None:
        step = self.current()
        if step is not None:
            self.app.copy_to_clipboard(step.checkpoint_id)
            self.notify(f"Copied {safe_text(step.checkpoint_id)}", markup=False)

    def action_find(self) -> None:
        if self.thread is None:
            return
        self.notify("Running the detectors over the whole thread…")
        self.app.find_in_thread(self)  # type: ignore[attr-defined]

    def action_whole(self) -> None:
        self._whole(self.query_one("#state", StateTree).cursor_value())

    @work(thread=True, exclusive=True, group="whole")
    def _whole(self, value: object) -> None:
        # a large value takes a while to lay out as JSON: not on the event loop
        text = safe_json(value)
        self.app.call_from_thread(self.notify, text[:4000], timeout=10, markup=False)

    def action_live(self) -> None:
        """Start or stop following new checkpoints."""
        if self.thread is None:
            return
        self.live = not self.live
        if self.live:
            self._tips = None
            interval = self.app.live_interval  # type: ignore[attr-defined]
            self._live_timer = self.set_interval(interval, self._poll)
            self.notify("Live: new checkpoints appear as they land (L stops).")
        else:
            if self._live_timer is not None:
                self._live_timer.stop()
                self._live_timer = None
            self.notify("Live mode off.")
        self._update_title()

    def _poll(self) -> None:
        if self.live:
            self._look()

    @work(thread=True, exclusive=True, group="live")
    def _look(self) -> None:
        # as `lgscope tail` polls: nothing committed since the last look, nothing to ask; else the
        # index alone, and the thread is read again only when it moved
        version = self.app.read(lambda s: s.data_version())  # type: ignore[attr-defined]
        if version is not None and version == self._version and self._tips is not None:
            return
        self._version = version
        tips = self.app.read(lambda s: tuple(s.tips(self.thread_id) or ()))  # type: ignore[attr-defined]
        if tips == self._tips:
            return
        first, self._tips = self._tips is None, tips
        t = self.thread
        if first and t is not None:  # unless it moved since it was loaded, this is the baseline
            root = [tip.last_checkpoint_id for tip in tips if tip.checkpoint_ns == ""]
            if sum(tip.checkpoints for tip in tips) == t.checkpoints and root == [t.last_checkpoint_id]:
                return
        ns = self.ns
        thread, findings, timelines, lazy = self.app.read_thread(self, ns)  # type: ignore[attr-defined]
        self.app.call_from_thread(self._moved, thread, findings, timelines, lazy, ns)

    def _moved(
        self,
        thread: Thread,
        findings: list[Finding] | None,
        timelines: Mapping[str, Sequence[Step]],
        lazy: bool,
        ns: str,
    ) -> None:
        """The thread moved: show its new checkpoints and findings; a cursor on the last row
        follows to the new last row, anywhere else it stays."""
        if ns != self.ns or not self.live:
            return
        timeline = self.query_one("#timeline", Timeline)
        row = timeline.cursor_row
        at_end = row >= len(self.steps) - 1
        if findings is None and self.findings_computed and self.lazy:
            findings = self.findings  # a large thread's findings are computed on demand (F)
        new_count = len(timelines.get(ns, ()))
        self.loaded(thread, findings, timelines, lazy=lazy, ns=ns, row=new_count - 1 if at_end else row)

    def action_back(self) -> None:
        self.app.leave_thread()  # type: ignore[attr-defined]
