"""The selected checkpoint's state as a collapsible tree; huge values are cut, Enter shows them whole."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from lgscope.forensics.diff import summarize

__all__ = ["StateTree"]

_CUT = 160


class StateTree(Tree[Any]):
    """Values of a step; a leaf longer than 160 characters is cut (select it to see it whole)."""

    def show(self, values: dict[str, Any], *, search: str = "") -> None:
        self.clear()
        self.root.set_label(Text("state"))
        self.root.data = values
        for key, value in values.items():
            self._add(self.root, str(key), value, search)
        self.root.expand()

    def _add(self, parent: TreeNode[Any], label: str, value: Any, search: str) -> None:
        if isinstance(value, dict) and value:
            node = parent.add(Text(f"{label} {{{len(value)}}}"), data=value)
            for k, v in value.items():
                self._add(node, str(k), v, search)
        elif isinstance(value, list) and value:
            node = parent.add(Text(f"{label} [{len(value)}]"), data=value)
            for i, v in enumerate(value):
                self._add(node, f"[{i}] {summarize(v, 40)}" if isinstance(v, dict) else f"[{i}]", v, search)
        else:
            text = json.dumps(value, ensure_ascii=False, default=str)
            shown = text if len(text) <= _CUT else text[:_CUT] + f"… ({len(text):,} chars)"
            leaf = Text(f"{label}: {shown}")
            if search and search.lower() in f"{label} {text}".lower():
                leaf.stylize("reverse")
                parent.expand()
            parent.add_leaf(leaf, data=value)
        if search and search.lower() in label.lower():
            parent.expand()

    def full_text(self) -> str:
        """The selected node's value, whole."""
        node = self.cursor_node
        value = node.data if node is not None else None
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
