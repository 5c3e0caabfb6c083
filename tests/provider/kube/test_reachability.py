"""A cluster's outage is told in one line per back-off step and one line when it ends."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from descheduler.kube import errors
from provider.kube import reachability

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "%s"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused() -> errors.ConnectionFailedError:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as cause:
            raise errors.ConnectionFailedError(0, "ConnectionFailed", "GET /api/v1/pods: refused") from cause
    except errors.ConnectionFailedError as exc:
        return exc


def summaries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == reachability.__name__]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_an_outage_is_one_line_per_back_off_step_however_many_loops_fail(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    tracker = reachability.Reachability("lower", "lower-a", server="https://10.0.0.1:6443", clock=clock)
    caplog.set_level(logging.DEBUG)
    for _second in range(70):  # eight informers and a heartbeat fail every second for 70 s
        for _loop in range(9):
            tracker.failed(refused())
        clock.now += 1
    assert summaries(caplog) == [
        f"lower cluster lower-a at https://10.0.0.1:6443 unreachable for {after}: connection refused;"
        f" retrying every {every}"
        for after, every in [
            ("0s", "2s"), ("2s", "4s"), ("6s", "8s"), ("14s", "16s"), ("30s", "30s"), ("1m", "30s"),
        ]
    ]  # fmt: skip
    assert tracker.retry_delay() == 30.0 and not tracker.reachable


def test_the_first_answer_after_an_outage_is_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    tracker = reachability.Reachability("upper", "upper", clock=clock)
    caplog.set_level(logging.DEBUG)
    tracker.answered()
    tracker.failed(refused())
    clock.now += 130
    tracker.answered()
    tracker.answered()
    records = [r for r in caplog.records if r.name == reachability.__name__]
    assert [(r.levelno, r.getMessage()) for r in records[1:]] == [
        (logging.INFO, "upper cluster upper reachable again after 2m10s")
    ]
    assert tracker.reachable and tracker.retry_delay() == reachability.STEPS[0]


def test_a_new_outage_starts_its_back_off_again(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    tracker = reachability.Reachability("lower", "lower-a", clock=clock)
    caplog.set_level(logging.WARNING)
    for _ in range(40):
        tracker.failed(refused())
        clock.now += 1
    tracker.answered()
    tracker.failed(refused())
    assert summaries(caplog)[-1] == "lower cluster lower-a unreachable for 0s: connection refused; retrying every 2s"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.43, "0.4s"), (2.004, "2s"), (59.6, "1m"), (120, "2m"), (130.2, "2m10s"), (3900, "1h5m")],
    ids=["under a second", "seconds", "rounds up to a minute", "minutes", "minutes and seconds", "hours"],
)
def test_durations_read_as_a_person_says_them(seconds: float, text: str) -> None:
    assert reachability.duration(seconds) == text


def test_a_closed_port_fails_at_once_and_is_reported_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG % f"http://127.0.0.1:{closed_port()}")
    kube = reachability.TrackedKube.for_cluster(str(kubeconfig), role="lower", name="lower-a")
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    for _ in range(3):
        with pytest.raises(errors.ConnectionFailedError):
            kube.get("/api/v1/pods")
    assert time.monotonic() - started < 2.0, "no retry loop inside the call: the provider's loops retry"
    # urllib3's warnings about its own quick retries are silenced by the CLI's logging set-up.
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING and not r.name.startswith("urllib3")]
    assert [r.name for r in loud] == [reachability.__name__], "no 'attempt n/m failed; escalating' lines"
    [summary] = summaries(caplog)
    assert summary.startswith(f"lower cluster lower-a at {kube.host} unreachable for 0s: connection refused;")
    assert reachability.failure_level(errors.ConnectionFailedError(0, "x", "y"), kube) == logging.DEBUG
    assert reachability.failure_level(errors.ForbiddenError(403, "Forbidden", "no"), kube) == logging.WARNING


def test_an_unresolvable_server_name_is_said_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG % "http://api.no-such-cluster.invalid:6443")
    kube = reachability.TrackedKube.for_cluster(str(kubeconfig), role="upper", name="upper")
    caplog.set_level(logging.WARNING)
    with pytest.raises(errors.ConnectionFailedError):
        kube.get("/version")
    [summary] = summaries(caplog)
    assert ": cannot resolve the server's name (" in summary
