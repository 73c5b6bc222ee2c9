"""The state codec: detector results to JSON and back, nothing but the asked-for dataclasses built."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from lgscope import open_store
from lgscope.examples import REFERENCE_NOW
from lgscope.forensics._codec import CodecError, decode, encode
from lgscope.forensics._config import DetectorConfig
from lgscope.forensics._scan import ThreadResult, analyse


def test_every_sample_thread_round_trips(sample_store: Path) -> None:
    with open_store(sample_store) as st:
        results = [analyse(h, DetectorConfig(), REFERENCE_NOW) for h in st.scan(state_writes=False)]
    assert len(results) == 24 and sum(len(r.tails) for r in results) >= 5
    for result in results:
        back = decode(ThreadResult, orjson.loads(orjson.dumps(encode(result))))
        assert back.analysis.thread == result.analysis.thread
        assert back.analysis.size == result.analysis.size and back.tails == result.tails
        assert json.dumps([f.to_dict() for f in back.analysis.findings], default=str) == json.dumps(
            [f.to_dict() for f in result.analysis.findings], default=str
        )


@dataclass(frozen=True)
class Inner:
    at: datetime
    wait: timedelta


@dataclass(frozen=True)
class Outer:
    name: str
    items: tuple[Inner, ...]
    kinds: frozenset[str]
    extra: dict[str, object]
    score: float = 0.0
    note: str | None = None


def test_fields_and_types_are_checked() -> None:
    value = Outer(
        "a", (Inner(datetime(2026, 1, 1, tzinfo=UTC), timedelta(seconds=5)),), frozenset({"y", "x"}), {}
    )
    data = orjson.loads(orjson.dumps(encode(value)))
    assert data["kinds"] == ["x", "y"] and decode(Outer, data) == value
    data["score"] = 3  # an int where a float is written back is the same number
    assert decode(Outer, data).score == 3.0
    for broken in ({**data, "name": 5}, {k: v for k, v in data.items() if k != "items"}, [data]):
        with pytest.raises(CodecError):
            decode(Outer, broken)
    with pytest.raises(CodecError):
        encode(Outer("a", (), frozenset(), {"k": b"bytes"}))


def test_hostile_data_stays_data() -> None:
    # what pickle or a type-restoring decoder would act on is only a dict here
    data = {"name": "x", "items": [], "kinds": [], "extra": {"__reduce__": ["os.system", ["touch /tmp/x"]]}}
    assert decode(Outer, data).extra == {"__reduce__": ["os.system", ["touch /tmp/x"]]}
