"""The safe decoder renders LangGraph's serialized values as inert data."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Interrupt, Send

from lgscope import DecodeError
from lgscope.store.decode import TYPE_KEY, decode_typed, describe_type

SERDE = JsonPlusSerializer()


def roundtrip(value: object) -> object:
    return decode_typed(*SERDE.dumps_typed(value))


def test_plain_values_come_back_unchanged() -> None:
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": "d"}}
    assert roundtrip(value) == value


def test_messages_become_tagged_dicts_not_objects() -> None:
    decoded = roundtrip([HumanMessage("hi", id="h1"), AIMessage("hello", id="a1")])
    assert isinstance(decoded, list)
    assert [describe_type(m) for m in decoded] == [
        "langchain_core.messages.human.HumanMessage",
        "langchain_core.messages.ai.AIMessage",
    ]
    assert [(m["type"], m["content"], m["id"]) for m in decoded] == [
        ("human", "hi", "h1"),
        ("ai", "hello", "a1"),
    ]


def test_simple_types_render_as_strings_and_lists() -> None:
    when = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert roundtrip({"when": when, "id": u, "price": Decimal("1.50"), "tags": {"x"}}) == {
        "when": when.isoformat(),
        "id": str(u),
        "price": "1.50",
        "tags": ["x"],
    }


def test_langgraph_types_keep_their_fields() -> None:
    send = roundtrip(Send("work", {"i": 1}))
    assert send == {TYPE_KEY: "langgraph.types.Send", "args": ["work", {"i": 1}]}
    intr = roundtrip(Interrupt(value={"q": "ok?"}, id="abc"))
    assert isinstance(intr, dict) and (intr[TYPE_KEY], intr["value"], intr["id"]) == (
        "langgraph.types.Interrupt",
        {"q": "ok?"},
        "abc",
    )


def test_bytes_pickle_and_unknown_types_are_placeholders() -> None:
    assert decode_typed("bytes", b"\x00\x01") == {TYPE_KEY: "bytes", "size": 2, "base64": "AAE="}
    assert decode_typed("pickle", b"\x80\x04") == {
        TYPE_KEY: "pickle",
        "size": 2,
        "undecoded": "pickle is never unpickled by lgscope",
    }
    assert decode_typed("msgpack+aes", b"xyz")["undecoded"].startswith("serializer type 'msgpack+aes'")
    assert decode_typed("null", b"") is None


def test_truncated_msgpack_is_a_decode_error() -> None:
    _, blob = SERDE.dumps_typed({"messages": ["a" * 100]})
    with pytest.raises(DecodeError, match="corrupt or truncated"):
        decode_typed("msgpack", blob[:10])


def test_json_values_read_fast_and_what_the_fast_parser_refuses_still_reads() -> None:
    from lgscope.store.decode import DecodeError, loads_json

    assert loads_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    odd = loads_json('{"score": NaN, "big": 123456789012345678901234567890, "inf": Infinity}')
    assert odd["score"] != odd["score"] and odd["big"] == 123456789012345678901234567890
    assert odd["inf"] == float("inf")
    for text in ('{"big": 123456789012345678901234567890}', b'{"id": -9223372036854775809, "n": 1}'):
        exact = loads_json(text)  # no NaN beside them: orjson alone would read these as floats
        assert all(type(v) is int for v in exact.values()) and exact == __import__("json").loads(text)
    with pytest.raises(DecodeError, match="corrupt or truncated"):
        loads_json(b'{"a": [1, 2')
