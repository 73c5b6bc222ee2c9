"""The state diff: nested, list-aware and message-aware."""

from __future__ import annotations

from lgscope.forensics.diff import Change, diff, format_change


def msg(kind: str, text: str, mid: str) -> dict[str, str]:
    return {"__type__": f"langchain_core.messages.{kind}", "type": kind, "content": text, "id": mid}


def test_nested_changes_have_paths() -> None:
    assert diff({"a": {"b": 1, "c": [1, 2]}}, {"a": {"b": 2, "c": [1, 2, 3]}, "d": True}) == [
        Change(("a", "b"), "changed", 1, 2),
        Change(("a", "c", 2), "added", None, 3),
        Change(("d",), "added", None, True),
    ]


def test_messages_match_by_id_not_position() -> None:
    old = [msg("human", "hi", "1"), msg("ai", "draft", "2")]
    new = [msg("ai", "final", "2"), msg("human", "thanks", "3")]
    changes = diff({"messages": old}, {"messages": new})
    assert [format_change(c) for c in changes] == [
        'messages[0] removed: human "hi"',
        'messages[0].content: "draft" → "final"',
        'messages[1] added: human "thanks"',
    ]


def test_appending_one_message_is_one_change() -> None:
    old = [msg("human", f"q{i}", str(i)) for i in range(50)]
    changes = diff(old, [*old, msg("ai", "answer", "x")])
    assert changes == [Change((50,), "added", None, msg("ai", "answer", "x"))]


def test_equal_values_have_no_changes() -> None:
    assert diff({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}) == []
