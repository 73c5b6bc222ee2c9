"""The checkpoint timeline: a virtual list that formats and paints only the rows on screen.

A thread of 10,000 checkpoints would cost seconds as table rows (every cell measured and
stored up front); here a row is a string made when its line is painted, so opening a thread
and stepping through it cost the same for 100 checkpoints as for 100,000.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import overload

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lgscope.model import Step
from lgscope.sanitize import safe_text
from lgscope.store import Store

__all__ = ["COLUMNS", "Timeline", "TimelinePages"]

COLUMNS: tuple[tuple[str, int], ...] = (
    ("step", 6),
    ("node(s)", 22),
    ("time", 15),
    ("source", 7),
    ("size", 10),
    ("", 14),
)
"""Column titles and widths (the node column takes what the others leave)."""


def _cells(step: Step, marker: str) -> tuple[str, ...]:
    return (
        str(step.step),
        safe_text("+".join(step.nodes)),
        step.ts.strftime("%m-%d %H:%M:%S"),
        safe_text(step.source),
        f"{step.size:,}",
        marker,
    )


def _fit(text: str, width: int, right: bool = False) -> str:
    if len(text) > width:
        return text[: max(width - 1, 0)] + "…"
    return text.rjust(width) if right else text.ljust(width)


class Timeline(ScrollView, can_focus=True):
    """Checkpoints one per line, a cursor, and a marker column (finding, error, waiting)."""

    COMPONENT_CLASSES = {"timeline--header", "timeline--cursor", "timeline--marked"}
    DEFAULT_CSS = """
    Timeline { background: $surface; }
    Timeline > .timeline--header { text-style: bold; background: $panel; }
    Timeline > .timeline--cursor { background: $accent 50%; text-style: bold; }
    Timeline:blur > .timeline--cursor { background: $accent 25%; }
    Timeline > .timeline--marked { color: $warning; }
    """
    BINDINGS = [
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    class PageWanted(Message):
        """Row ``row`` is on screen but its page of a large timeline has not been read yet."""

        def __init__(self, timeline: Timeline, row: int) -> None:
            super().__init__()
            self.timeline = timeline
            self.row = row

    class RowHighlighted(Message):
        """The cursor moved to ``row``."""

        def __init__(self, timeline: Timeline, row: int) -> None:
            super().__init__()
            self.timeline = timeline
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._steps: Sequence[Step] = ()
        self._marker: Callable[[Step], str] = lambda step: ""
        self._overrides: dict[int, str] = {}
        self._wanted: set[int] = set()
        self.cursor_row = 0
        self.marked_row: int | None = None

    # -- data -------------------------------------------------------------------------

    def set_steps(self, steps: Sequence[Step], marker: Callable[[Step], str]) -> None:
        """Show ``steps``; ``marker`` gives a step's marker text when its line is painted."""
        self._steps, self._marker, self._overrides, self._wanted = steps, marker, {}, set()
        self.cursor_row = min(self.cursor_row, max(len(steps) - 1, 0))
        self.virtual_size = Size(self._width(), len(steps) + 1)
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self._steps)

    def get_row_at(self, row: int) -> tuple[str, ...]:
        """The cells of a row, as painted (``…`` while its page is being read)."""
        steps = self._steps
        if isinstance(steps, TimelinePages):
            step = steps.peek(row)
            if step is None:
                page = row // steps.PAGE
                if page not in self._wanted:  # ask once; the screen reads it in a worker
                    self._wanted.add(page)
                    self.post_message(self.PageWanted(self, row))
                return (str(row), "…", "", "", "", "reading")
        else:
            step = steps[row]
        return _cells(step, self._overrides.get(row, self._marker(step)))

    def page_read(self, row: int) -> None:
        """The page of ``row`` has been read: paint it (and show the cursor's step if it is there)."""
        steps = self._steps
        if isinstance(steps, TimelinePages):
            self._wanted.discard(row // steps.PAGE)
            if self.cursor_row // steps.PAGE == row // steps.PAGE:
                self.post_message(self.RowHighlighted(self, self.cursor_row))
        self.refresh()

    def set_marker(self, row: int, text: str) -> None:
        """Replace a row's marker (a corrupt checkpoint is only known once it is read)."""
        self._overrides[row] = text
        self.refresh()

    # -- cursor -----------------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped), scroll it into view and announce it."""
        if not self._steps:
            return
        row = max(0, min(row, len(self._steps) - 1))
        previous, scrolled = self.cursor_row, self.scroll_offset.y
        changed = row != previous
        self.cursor_row = row
        # line 0 is the header: row r is painted on line r + 1 of the virtual canvas
        self.scroll_to_region(Region(0, row + 1, 1, 1), animate=False, immediate=True)
        if self.scroll_offset.y > row:  # keep the header from covering the first rows
            self.scroll_to(y=row, animate=False, immediate=True)
        if self.scroll_offset.y == scrolled:  # repaint the two lines that changed, not the pane
            self.refresh_line(previous + 1)
            self.refresh_line(row + 1)
        else:
            self.refresh()
        if changed:
            self.post_message(self.RowHighlighted(self, row))

    def action_move(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(self.size.height - 2, 1))

    def action_jump(self, row: int) -> None:
        self.move_cursor(row if row >= 0 else len(self._steps) - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_cursor(int(self.scroll_offset.y) + event.y - 1)

    # -- painting ---------------------------------------------------------------------

    def _widths(self) -> list[int]:
        widths = [w for _, w in COLUMNS]
        spare = self.size.width - sum(widths) - len(widths)
        widths[1] += max(spare, 0)
        return widths

    def _width(self) -> int:
        return max(sum(w for _, w in COLUMNS) + len(COLUMNS), self.size.width)

    def _line(self, cells: Sequence[str], style: Style) -> Strip:
        # a segment per cell: exported screenshots place each at its own column
        segments: list[Segment] = []
        used = 0
        for index, (cell, width) in enumerate(zip(cells, self._widths(), strict=True)):
            segments.append(Segment(_fit(cell, width, right=index in (0, 4)) + " ", style))
            used += width + 1
        if used < self.size.width:
            segments.append(Segment(" " * (self.size.width - used), style))
        strip = Strip(segments, max(used, self.size.width))
        x = int(self.scroll_offset.x)
        return strip.crop(x, x + self.size.width) if x else strip

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        if y == 0:  # the header stays put while the rows scroll under it
            header = base + self.get_component_rich_style("timeline--header")
            return self._line([title for title, _ in COLUMNS], header)
        row = int(self.scroll_offset.y) + y - 1
        if row >= len(self._steps):
            return Strip.blank(self.size.width, base)
        style = base
        if row == self.cursor_row:
            style = base + self.get_component_rich_style("timeline--cursor")
        elif row == self.marked_row:
            style = base + self.get_component_rich_style("timeline--marked")
        return self._line(self.get_row_at(row), style)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self._width(), len(self._steps) + 1)


class TimelinePages(Sequence[Step]):
    """A namespace's timeline read a page at a time, as its rows are looked at.

    Opening a 100,000-checkpoint thread reads one page; `Timeline` asks only for the rows it
    paints. The last 64 pages read are kept.
    """

    PAGE = 256

    def __init__(self, store: Store, thread_id: str, ns: str) -> None:
        self._store, self._thread_id, self._ns = store, thread_id, ns
        self._size = store.timeline_size(thread_id, ns)
        self._pages: OrderedDict[int, tuple[Step, ...]] = OrderedDict()

    def __len__(self) -> int:
        return self._size

    def _page(self, number: int) -> tuple[Step, ...]:
        page = self._pages.get(number)
        if page is None:
            page = self._pages[number] = self._store.timeline(
                self._thread_id, self._ns, offset=number * self.PAGE, limit=self.PAGE
            )
            while len(self._pages) > 64:
                self._pages.popitem(last=False)
        self._pages.move_to_end(number)
        return page

    @overload
    def __getitem__(self, index: int) -> Step: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Step]: ...

    def __getitem__(self, index: int | slice) -> Step | Sequence[Step]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(index)
        page = self._page(index // self.PAGE)
        offset = index % self.PAGE
        if offset >= len(page):  # the thread shrank or was rewritten under us: read afresh
            raise IndexError(index)
        return page[offset]

    def peek(self, index: int) -> Step | None:
        """Row ``index`` if its page has been read, else None (never reads the store)."""
        page = self._pages.get(index // self.PAGE)
        offset = index % self.PAGE
        return page[offset] if page is not None and 0 <= index < self._size and offset < len(page) else None

    def fetch(self, index: int) -> None:
        """Read the page of row ``index`` (in a worker)."""
        self._page(index // self.PAGE)

    def index_of(self, checkpoint_id: str) -> int | None:
        """A checkpoint's row, asked of the store (no page is read)."""
        return self._store.timeline_index(self._thread_id, checkpoint_id, self._ns)
