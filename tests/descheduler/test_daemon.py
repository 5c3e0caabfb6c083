"""Long-lived mode: Go durations, cron schedules, and a scheduler that survives failed cycles."""

from __future__ import annotations

import threading

import pytest

from descheduler import daemon
from descheduler.kube import errors


def test_a_five_field_cron_schedule_parses() -> None:
    trigger = daemon.parse_schedule("*/10 2-4 * * mon-fri")
    assert "minute='*/10'" in str(trigger) and "hour='2-4'" in str(trigger)


@pytest.mark.parametrize(
    "text", ["* * * *", "0 0 * * * *", "61 * * * *"], ids=["4 fields", "6 fields", "minute out of range"]
)
def test_bad_cron_schedules_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid schedule"):
        daemon.parse_schedule(text)


def test_a_failed_cycle_is_logged_and_the_next_one_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    overlapping = threading.Lock()

    def cycle() -> None:
        assert overlapping.acquire(blocking=False), "two cycles ran at once"
        try:
            calls.append(len(calls))
            if len(calls) == 1:
                raise RuntimeError("API down")
            if len(calls) == 3:
                runner.request_stop()
        finally:
            overlapping.release()

    runner = daemon.Daemon(cycle, daemon.interval_trigger(0.05), grace_period=5)
    assert runner.run() is True
    assert len(calls) >= 3
    assert "cycle 1 failed; the next one runs as scheduled" in caplog.text


def test_a_cycle_failing_with_a_tensile_error_is_one_line_without_traceback(caplog: pytest.LogCaptureFixture) -> None:
    def cycle() -> None:
        runner.request_stop()
        raise errors.DeadlineExceededError.saying("API server https://h did not answer within 30s (GET /api/v1/nodes)")

    runner = daemon.Daemon(cycle, daemon.interval_trigger(60), grace_period=5)
    assert runner.run() is True
    (failure,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert failure.getMessage() == (
        "cycle 1 failed; the next one runs as scheduled: "
        "API server https://h did not answer within 30s (GET /api/v1/nodes)"
    )
    assert failure.exc_info is None


def test_stop_cycles_schedules_no_more() -> None:
    calls: list[int] = []

    def cycle() -> None:
        calls.append(1)
        runner.stop_cycles()
        threading.Timer(0.3, runner.request_stop).start()

    runner = daemon.Daemon(cycle, daemon.interval_trigger(0.02), grace_period=5)
    assert runner.run() is True
    assert calls == [1]


def test_a_cycle_outliving_the_grace_period_is_abandoned() -> None:
    release = threading.Event()

    def cycle() -> None:
        runner.request_stop()
        release.wait(30)

    runner = daemon.Daemon(cycle, daemon.interval_trigger(60), grace_period=0.2)
    try:
        assert runner.run() is False
    finally:
        release.set()
