"""plan_lease: who may take or renew a Lease at a given moment (plain dicts, injected clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from descheduler.kube.leaderelection import format_microtime, parse_microtime, plan_lease

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def held_by(holder: str, *, renewed_ago: float, duration: int = 15, transitions: int = 3) -> dict[str, object]:
    renewed = format_microtime(NOW - timedelta(seconds=renewed_ago))
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration,
        "acquireTime": renewed,
        "renewTime": renewed,
        "leaseTransitions": transitions,
    }


def test_no_lease_yet_is_taken_with_zero_transitions() -> None:
    spec = plan_lease(None, identity="me", now=NOW, lease_duration=15)
    assert spec == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-01-02T03:04:05.678901Z",
        "renewTime": "2026-01-02T03:04:05.678901Z",
        "leaseTransitions": 0,
    }


def test_another_holders_valid_lease_is_refused() -> None:
    assert plan_lease(held_by("other", renewed_ago=14.9), identity="me", now=NOW, lease_duration=15) is None


def test_an_expired_lease_is_taken_and_counts_a_transition() -> None:
    spec = plan_lease(held_by("other", renewed_ago=15.0), identity="me", now=NOW, lease_duration=15)
    assert spec is not None
    assert spec["holderIdentity"] == "me"
    assert spec["leaseTransitions"] == 4
    assert spec["acquireTime"] == format_microtime(NOW)


def test_the_holders_own_lease_duration_counts_not_ours() -> None:
    lease = held_by("other", renewed_ago=20, duration=30)
    assert plan_lease(lease, identity="me", now=NOW, lease_duration=5) is None


def test_the_holder_renews_keeping_acquire_time_and_transitions() -> None:
    lease = held_by("me", renewed_ago=2)
    spec = plan_lease(lease, identity="me", now=NOW, lease_duration=15)
    assert spec is not None
    assert spec["renewTime"] == format_microtime(NOW)
    assert spec["acquireTime"] == lease["acquireTime"]
    assert spec["leaseTransitions"] == 3


def test_the_holder_renews_even_after_expiry_if_nobody_took_it() -> None:
    spec = plan_lease(held_by("me", renewed_ago=100), identity="me", now=NOW, lease_duration=15)
    assert spec is not None and spec["holderIdentity"] == "me"


def test_a_released_lease_is_free_at_once() -> None:
    lease = held_by("", renewed_ago=0)
    spec = plan_lease(lease, identity="me", now=NOW, lease_duration=15)
    assert spec is not None and spec["holderIdentity"] == "me"
    assert spec["leaseTransitions"] == 3, "taking a released lease is not a transition away from a holder"


def test_a_lease_without_times_is_taken() -> None:
    spec = plan_lease({"holderIdentity": "other"}, identity="me", now=NOW, lease_duration=15)
    assert spec is not None and spec["holderIdentity"] == "me"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05.678901Z", NOW),
        ("2026-01-02T03:04:05Z", NOW.replace(microsecond=0)),
        ("", None),
        ("yesterday", None),
    ],
    ids=["microtime", "whole seconds", "empty → None", "garbage → None"],
)
def test_parse_microtime(text: str, expected: datetime | None) -> None:
    assert parse_microtime(text) == expected
