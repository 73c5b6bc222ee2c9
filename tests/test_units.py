"""`lgscope.units`: durations both ways, and ages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lgscope import UsageError
from lgscope.units import format_age, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("60s", "60s"),
        ("90s", "90s"),
        ("5m", "5m"),
        ("1h", "60m"),
        ("2h", "2h"),
        ("1d", "24h"),
        ("3d", "3d"),
        ("500ms", "500ms"),
    ],
)
def test_durations_read_back_as_written(text: str, shown: str) -> None:
    assert format_duration(parse_duration(text)) == shown
    assert parse_duration(shown) == parse_duration(text)


def test_ages_and_bad_durations() -> None:
    assert [format_age(s) for s in (42, 420, 5 * 3600 + 720, 3 * 86400 + 4 * 3600)] == [
        "42s",
        "7m",
        "5h12m",
        "3d04h",
    ]
    with pytest.raises(UsageError, match="'soon' is not a duration; write a number and a unit"):
        parse_duration("soon")
    assert parse_duration("1.5h") == timedelta(minutes=90)
