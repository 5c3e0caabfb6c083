"""Go duration strings, the one parser for flags and policy arguments."""

from __future__ import annotations

import pytest

from descheduler import durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("2h0m3s", 7203.0),
        ("1m0.5s", 60.5),
        ("-2m", -120.0),
        ("+5s", 5.0),
    ],
    ids=[
        "0",
        "30s",
        "5m",
        "1h30m",
        "fraction of an hour",
        "milliseconds",
        "Go's String() form",
        "fraction of a second",
        "negative",
        "explicit plus",
    ],
)
def test_go_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert durations.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "5", "5x", "m5", "5m junk", "1.2.3s", "5 m", "five minutes", "1d"],
    ids=["empty", "no unit", "bad unit", "unit first", "trailing", "two dots", "space", "words", "days are not Go"],
)
def test_bad_durations_are_refused_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        durations.parse_duration(text)


def test_a_huge_duration_is_shortened_in_the_message() -> None:
    with pytest.raises(ValueError) as info:
        durations.parse_duration("9" * 5000 + "x")
    assert len(str(info.value)) < 150
