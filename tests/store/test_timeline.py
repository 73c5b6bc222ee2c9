"""The browsing timeline: pages, sizes and positions agree with the whole history."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgscope import open_store
from lgscope.store import Store
from lgscope.store.export import export_thread


def _namespaces(store: Store) -> list[tuple[str, str]]:
    return [(t, ns) for t in store.thread_ids() for ns in store.thread(t).namespaces]


@pytest.mark.parametrize("page", [1, 2, 3, 7])
def test_sqlite_pages_put_together_are_the_whole_timeline(sample_store: Path, page: int) -> None:
    with open_store(sample_store) as store:
        assert store.pages_cheaply
        for thread_id, ns in _namespaces(store):
            whole = store.timeline(thread_id, ns)
            pages: list[object] = []
            while chunk := store.timeline(thread_id, ns, offset=len(pages), limit=page):
                pages.extend(chunk)
            assert pages == list(whole), (thread_id, ns)
            assert store.timeline_size(thread_id, ns) == len(whole)


def test_positions_come_from_the_store(sample_store: Path) -> None:
    with open_store(sample_store) as store:
        for thread_id, ns in _namespaces(store):
            for row, step in enumerate(store.timeline(thread_id, ns)):
                assert store.timeline_index(thread_id, step.checkpoint_id, ns) == row
            assert store.timeline_index(thread_id, "no-such-checkpoint", ns) is None


def test_timeline_nodes_match_the_full_history(sample_store: Path) -> None:
    """The cheap timeline decodes no state, yet names the same nodes, interrupts and errors."""
    with open_store(sample_store) as store:
        for thread_id, ns in _namespaces(store):
            light, full = store.timeline(thread_id, ns), store.history(thread_id, ns)
            assert [s.nodes for s in light] == [s.nodes for s in full]
            assert [[i.id for i in s.interrupts] for s in light] == [
                [i.id for i in s.interrupts] for s in full
            ]
            assert [len(s.errors) for s in light] == [len(s.errors) for s in full]


def test_other_stores_page_by_slicing(sample_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "loop.lgscope.jsonl"
    with open_store(sample_store) as store:
        export_thread(store, "support-loop-gave-up", target)
        expected = store.timeline("support-loop-gave-up")
    with open_store(target) as exported:
        assert not exported.pages_cheaply
        assert [s.checkpoint_id for s in exported.timeline("support-loop-gave-up", offset=3, limit=4)] == [
            s.checkpoint_id for s in expected[3:7]
        ]
        assert exported.timeline_size("support-loop-gave-up") == len(expected)
        assert exported.timeline_index("support-loop-gave-up", expected[5].checkpoint_id) == 5
