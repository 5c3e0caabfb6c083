"""The avoidance record: adding and withdrawing entries, pure functions of a clock."""

from __future__ import annotations

from descheduler import avoidance

NOW = 1_700_000_000.0


def test_withdrawing_removes_the_entry_this_cycle_added() -> None:
    added = avoidance.add({}, "vk-a", NOW + 600, now=NOW)
    assert avoidance.withdraw(added, "vk-a", NOW + 600, None, now=NOW) == {}


def test_withdrawing_restores_an_earlier_live_expiry() -> None:
    record = {"vk-a": NOW + 60}
    added = avoidance.add(record, "vk-a", NOW + 600, now=NOW)
    assert avoidance.withdraw(added, "vk-a", NOW + 600, NOW + 60, now=NOW) == {"vk-a": NOW + 60}


def test_withdrawing_leaves_an_entry_that_was_extended_since() -> None:
    extended = {"vk-a": NOW + 900, "vk-b": NOW + 100}
    assert avoidance.withdraw(extended, "vk-a", NOW + 600, None, now=NOW) == extended


def test_withdrawing_compares_at_the_records_one_second_resolution() -> None:
    written = avoidance.decode(avoidance.encode(avoidance.add({}, "vk-a", NOW + 600.4, now=NOW)))
    assert avoidance.withdraw(written, "vk-a", NOW + 600.4, None, now=NOW) == {}
