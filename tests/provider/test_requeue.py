"""The requeue policy: named delays per reason, doubling per retry, capped."""

from __future__ import annotations

import pytest

from provider import requeue


def test_each_reason_has_its_own_first_delay() -> None:
    policy = requeue.RequeuePolicy()
    firsts = {reason: policy.delay(reason, 1) for reason in ("not_synced", "conflict", "transient", "rejected")}
    assert firsts == {"not_synced": 0.5, "conflict": 0.2, "transient": 1.0, "rejected": 10.0}


def test_delays_double_per_consecutive_retry_up_to_the_cap() -> None:
    rejected = [requeue.DEFAULT.delay("rejected", n) for n in range(1, 8)]
    assert rejected == [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]


def test_a_huge_retry_count_stays_at_the_cap() -> None:
    assert requeue.Backoff(1.0, 30.0).after(10_000) == 30.0


def test_transient_errors_are_capped_low_so_recovery_is_noticed_soon() -> None:
    assert requeue.DEFAULT.delay("transient", 50) == 30.0


@pytest.mark.parametrize("retries", [0, 1])
def test_the_first_retry_waits_the_first_delay(retries: int) -> None:
    assert requeue.Backoff(0.5, 4.0, factor=3.0).after(retries) == 0.5


def test_a_custom_factor_grows_by_that_factor() -> None:
    assert [requeue.Backoff(1.0, 100.0, factor=3.0).after(n) for n in (1, 2, 3, 4, 5)] == [1.0, 3.0, 9.0, 27.0, 81.0]
