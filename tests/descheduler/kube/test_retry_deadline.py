"""The one retry loop under a deadline: no retry starts after it, unreachable servers and a
passed deadline are not retried, and a failing request logs one warning (clock and sleep faked)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from descheduler.kube import errors, retry
from descheduler.runner import DEFAULT_CYCLE_TIMEOUT


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(error: errors.ApiError, clock: FakeTime, *, takes: float = 0.0) -> Callable[[], object]:
    def call() -> object:
        clock.now += takes
        raise error

    return call


BROKEN = errors.ServerError(500, "InternalError", "etcd is sad")
REFUSED_AT_START = errors.UnreachableError.saying("cannot reach the API server https://h: connection refused")


def test_without_a_deadline_reads_retry_over_all_backoffs() -> None:
    fake = FakeTime()
    with pytest.raises(errors.ServerError):
        retry.call_with_retry(failing(BROKEN, fake), policy=retry.READS, what="GET /x", sleep=fake.sleep)
    assert fake.sleeps == list(retry.READS.backoffs)


def test_no_retry_starts_after_the_deadline() -> None:
    fake = FakeTime()
    with retry.deadline(2.0, clock=fake.clock), pytest.raises(errors.ServerError):
        retry.call_with_retry(failing(BROKEN, fake, takes=0.1), policy=retry.READS, what="GET /x", sleep=fake.sleep)
    # 0.1 + 0.5 + 0.1 + 1.0 + 0.1 = 1.8 s used; waiting 2 s more would pass the deadline.
    assert fake.sleeps == [0.5, 1.0]
    assert fake.now < 1000.0 + 2.0


def test_a_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    fake = FakeTime()
    throttled = errors.TooManyRequestsError(429, "TooManyRequests", "slow down", retry_after=20.0)
    with retry.deadline(5.0, clock=fake.clock), pytest.raises(errors.TooManyRequestsError):
        retry.call_with_retry(failing(throttled, fake), policy=retry.READS, what="GET /x", sleep=fake.sleep)
    assert fake.sleeps == []


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(REFUSED_AT_START, id="server never answered this client -> no retry"),
        pytest.param(
            errors.DeadlineExceededError.saying("did not answer within 30s"), id="deadline passed -> no retry"
        ),
    ],
)
def test_errors_that_waiting_cannot_fix_are_not_retried(error: errors.ApiError) -> None:
    fake = FakeTime()
    with pytest.raises(type(error)):
        retry.call_with_retry(failing(error, fake), policy=retry.READS, what="GET /x", sleep=fake.sleep)
    assert fake.sleeps == []


def test_a_connection_lost_after_the_server_answered_is_an_outage_and_retried() -> None:
    fake = FakeTime()
    outage = errors.ConnectionFailedError.saying("cannot reach the API server https://h: connection refused")
    with pytest.raises(errors.ConnectionFailedError):
        retry.call_with_retry(failing(outage, fake), policy=retry.READS, what="GET /x", sleep=fake.sleep)
    assert len(fake.sleeps) == len(retry.READS.backoffs)


def test_a_request_that_finally_fails_logs_one_warning_and_debug_per_attempt(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    caplog.set_level(logging.DEBUG, logger="descheduler.kube.retry")
    with pytest.raises(errors.ServerError):
        retry.call_with_retry(failing(BROKEN, fake), policy=retry.READS, what="GET /x", sleep=fake.sleep)
    levels = [r.levelno for r in caplog.records]
    assert levels.count(logging.WARNING) == 1
    assert levels.count(logging.DEBUG) == len(retry.READS.backoffs)
    assert "attempt 5/5 failed; escalating" in caplog.records[-1].getMessage()


def test_giving_up_for_the_deadline_says_so_in_its_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    caplog.set_level(logging.DEBUG, logger="descheduler.kube.retry")
    with retry.deadline(1.0, clock=fake.clock), pytest.raises(errors.ServerError):
        retry.call_with_retry(failing(BROKEN, fake, takes=0.3), policy=retry.READS, what="GET /x", sleep=fake.sleep)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "GET /x: attempt 2/5 failed; no time left before the 1s deadline to retry: 500 InternalError: etcd is sad"
    ]


def test_a_request_failing_at_once_without_retries_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    caplog.set_level(logging.DEBUG, logger="descheduler.kube.retry")
    with pytest.raises(errors.UnreachableError):
        retry.call_with_retry(failing(REFUSED_AT_START, fake), policy=retry.READS, what="GET /x", sleep=fake.sleep)
    assert caplog.records == []


def test_a_nested_deadline_never_extends_the_outer_one() -> None:
    fake = FakeTime()
    with retry.deadline(5.0, clock=fake.clock) as outer, retry.deadline(60.0, clock=fake.clock) as inner:
        assert inner is outer
    with retry.deadline(60.0, clock=fake.clock), retry.deadline(5.0, clock=fake.clock) as shorter:
        assert shorter is not None
        assert shorter.remaining() == 5.0


def test_a_deadline_holds_only_in_the_thread_that_entered_it() -> None:
    seen: list[retry.Deadline | None] = []
    with retry.deadline(5.0):
        assert retry.current_deadline() is not None
        other = threading.Thread(target=lambda: seen.append(retry.current_deadline()))
        other.start()
        other.join()
    assert seen == [None]
    assert retry.current_deadline() is None


def test_each_deadline_starts_its_own_budget() -> None:
    fake = FakeTime()
    for _cycle in range(3):
        with retry.deadline(30.0, clock=fake.clock) as limit:
            assert limit is not None
            assert limit.remaining() == 30.0
            fake.now += 29.0


def test_the_default_cycle_deadline_is_30_seconds() -> None:
    assert DEFAULT_CYCLE_TIMEOUT == 30.0
