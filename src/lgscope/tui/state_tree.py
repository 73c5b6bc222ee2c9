"""The selected checkpoint's state as a collapsible tree; huge values are cut, Enter shows them whole."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from lgscope.forensics.diff import summarize
from lgscope.sanitize import safe_json, safe_text

__all__ = ["StateTree"]

_CUT = 160


class _Entry(NamedTuple):
    parent: int  # index of the parent entry, -1 for the root
    label: Text
    data: Any
    leaf: bool
    hit: bool  # the search matched: its parent is expanded


def _plan(values: dict[str, Any], search: str) -> list[_Entry]:
    """The tree's nodes in pre-order, as data: equal structures can be updated in place."""
    entries: list[_Entry] = []
    needle = search.lower()

    def add(parent: int, label: str, value: Any) -> None:
        hit = bool(needle) and needle in label.lower()
        if isinstance(value, dict) and value:
            entries.append(_Entry(parent, Text(safe_text(f"{label} {{{len(value)}}}")), value, False, hit))
            me = len(entries) - 1
            for k, v in value.items():
                add(me, str(k), v)
        elif isinstance(value, list) and value:
            entries.append(_Entry(parent, Text(safe_text(f"{label} [{len(value)}]")), value, False, hit))
            me = len(entries) - 1
            for i, v in enumerate(value):
                add(me, f"[{i}] {summarize(v, 40)}" if isinstance(v, dict) else f"[{i}]", v)
        else:
            text = json.dumps(value, ensure_ascii=False, default=str)
            shown = text if len(text) <= _CUT else text[:_CUT] + f"… ({len(text):,} chars)"
            leaf = Text(safe_text(f"{label}: {shown}"))
            if needle and needle in f"{label} {text}".lower():
                leaf.stylize("reverse")
                hit = True
            entries.append(_Entry(parent, leaf, value, True, hit))

    for key, value in values.items():
        add(-1, str(key), value)
    return entries


class StateTree(Tree[Any]):
    """Values of a step; a leaf longer than 160 characters is cut (select it to see it whole).

    Stepping between checkpoints of the same shape (the usual case) relabels the nodes in
    place; only a new shape rebuilds the tree, which costs a screen layout.
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(label, id=id)
        self._shown: list[TreeNode[Any]] = []
        self._shape: list[tuple[int, bool]] | None = None

    def show(self, values: dict[str, Any], *, search: str = "") -> None:
        plan = _plan(values, search)
        shape = [(e.parent, e.leaf) for e in plan]
        self.root.data = values
        if shape == self._shape:
            for node, entry in zip(self._shown, plan, strict=True):
                node.data = entry.data
                if node.label != entry.label:
                    node.set_label(entry.label)
                if entry.hit and entry.parent >= 0:
                    self._shown[entry.parent].expand()
            return
        self.clear()
        self.root.set_label(Text("state"))
        self.root.data = values
        self._shown = []
        for entry in plan:
            parent = self._shown[entry.parent] if entry.parent >= 0 else self.root
            if entry.leaf:
                self._shown.append(parent.add_leaf(entry.label, data=entry.data))
            else:
                self._shown.append(parent.add(entry.label, data=entry.data))
            if entry.hit:
                parent.expand()
        self._shape = shape
        self.root.expand()

    def cursor_value(self) -> Any:
        """The selected node's value."""
        node = self.cursor_node
        return node.data if node is not None else None

    def full_text(self) -> str:
        """The selected node's value, whole."""
        return safe_json(self.cursor_value())
