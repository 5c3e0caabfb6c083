"""Report rendering helpers."""

from __future__ import annotations

import pytest

from descheduler.report import human_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45s"), (330, "5m30s"), (7200, "2h"), (11700, "3h15m"), (3 * 86400 + 3600, "3d1h"), (940 * 86400, "940d")],
    ids=["seconds", "minutes and seconds", "whole hours", "hours and minutes", "few days keep hours", "many days"],
)
def test_durations_read_like_kubectl_ages(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text
