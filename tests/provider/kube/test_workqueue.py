"""The provider's work queue: one worker per key at a time, collapsed repeats, retries, metrics."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from provider import requeue
from provider.kube.workqueue import WorkQueue
from provider.metrics import ProviderMetrics

FAST = requeue.RequeuePolicy(
    not_synced=requeue.Backoff(0.02, 0.08),
    conflict=requeue.Backoff(0.05, 0.2),
    transient=requeue.Backoff(0.05, 0.2),
    rejected=requeue.Backoff(0.1, 0.4),
    crashed=requeue.Backoff(0.05, 0.2),
)


def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


class Recorder:
    """A processor that records calls; a key blocks while its gate is closed."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.running: set[str] = set()
        self.overlaps: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.retry: dict[str, list[requeue.Retry | None]] = {}
        self.times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, key: str) -> requeue.Retry | None:
        with self.lock:
            self.times.append(time.monotonic())
            if key in self.running:
                self.overlaps.append(key)
            self.running.add(key)
            self.calls.append(key)
        gate = self.gates.get(key)
        if gate is not None:
            gate.wait(5)
        with self.lock:
            self.running.discard(key)
            plan = self.retry.get(key)
            return plan.pop(0) if plan else None


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def metrics() -> ProviderMetrics:
    return ProviderMetrics()


@pytest.fixture
def queue(recorder: Recorder, metrics: ProviderMetrics) -> Iterator[WorkQueue[str]]:
    work = WorkQueue(recorder, workers=4, name="test", policy=FAST, observer=metrics.queue("test"))
    work.start()
    yield work
    for gate in recorder.gates.values():
        gate.set()
    work.stop()


def sample(metrics: ProviderMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, {"queue": "test", **labels})
    return 0.0 if value is None else value


def test_every_added_key_is_processed(queue: WorkQueue[str], recorder: Recorder) -> None:
    for key in ("a", "b", "c"):
        queue.add(key)
    eventually(lambda: sorted(recorder.calls) == ["a", "b", "c"])


def test_repeats_of_a_waiting_key_collapse_into_one(recorder: Recorder) -> None:
    work = WorkQueue(recorder, workers=1)
    for _ in range(5):
        work.add("a")
    work.add("b")
    work.start()
    try:
        eventually(lambda: len(recorder.calls) == 2)
        time.sleep(0.05)
        assert recorder.calls == ["a", "b"]
    finally:
        work.stop()


def test_a_key_added_while_processed_runs_again_afterwards_never_at_once(
    queue: WorkQueue[str], recorder: Recorder
) -> None:
    recorder.gates["a"] = threading.Event()
    queue.add("a")
    eventually(lambda: "a" in recorder.running)
    queue.add("a")
    queue.add("a")
    time.sleep(0.05)
    assert recorder.calls == ["a"], "a second worker must not take a key being processed"
    recorder.gates["a"].set()
    eventually(lambda: recorder.calls == ["a", "a"])
    assert recorder.overlaps == []


def test_a_processor_asking_for_a_retry_gets_one_after_the_delay(queue: WorkQueue[str], recorder: Recorder) -> None:
    recorder.retry["a"] = [requeue.Retry("rejected"), None]
    queue.add("a")
    eventually(lambda: recorder.calls == ["a", "a"])
    assert recorder.times[1] - recorder.times[0] >= FAST.rejected.first


def test_a_failing_processor_is_retried_not_fatal(metrics: ProviderMetrics) -> None:
    calls: list[str] = []

    def explode(key: str) -> requeue.Retry | None:
        calls.append(key)
        raise RuntimeError("boom")

    work = WorkQueue(explode, workers=1, name="test", observer=metrics.queue("test"))
    work.start()
    try:
        work.add("a")
        eventually(lambda: calls == ["a"])
        eventually(lambda: sample(metrics, "tensile_provider_workqueue_retries_total") == 1.0)
    finally:
        work.stop()


def test_stop_ends_the_workers_and_refuses_new_keys(recorder: Recorder) -> None:
    work = WorkQueue(recorder, workers=2)
    work.start()
    work.stop()
    work.add("late")
    time.sleep(0.05)
    assert recorder.calls == []


def test_metrics_count_adds_waits_work_and_depth(
    queue: WorkQueue[str], recorder: Recorder, metrics: ProviderMetrics
) -> None:
    recorder.gates = {key: threading.Event() for key in ("a", "b", "c", "d", "e")}
    for key in ("a", "b", "c", "d", "e"):
        queue.add(key)
    eventually(lambda: len(recorder.running) == 4)
    assert sample(metrics, "tensile_provider_workqueue_adds_total") == 5.0
    assert sample(metrics, "tensile_provider_workqueue_depth") == 1.0, "four workers busy, one key waiting"
    for gate in recorder.gates.values():
        gate.set()
    eventually(lambda: sample(metrics, "tensile_provider_workqueue_work_duration_seconds_count") == 5.0)
    assert sample(metrics, "tensile_provider_workqueue_queue_duration_seconds_count") == 5.0
    assert sample(metrics, "tensile_provider_workqueue_depth") == 0.0
    assert sample(metrics, "tensile_provider_workqueue_retries_total") == 0.0


def test_provider_metrics_render_in_the_prometheus_text_format(metrics: ProviderMetrics) -> None:
    metrics.status_sync.observe(0.3)
    metrics.mirror_creates.labels(result="created").inc()
    text = metrics.render().decode()
    assert 'tensile_provider_status_sync_duration_seconds_bucket{le="0.5"} 1.0' in text
    assert 'tensile_provider_mirror_creates_total{result="created"} 1.0' in text


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_the_queue_grows_a_keys_delay_per_retry_up_to_the_cap(queue: WorkQueue[str], recorder: Recorder) -> None:
    recorder.retry["a"] = [requeue.Retry("conflict")] * 4 + [None]
    queue.add("a")
    eventually(lambda: len(recorder.calls) == 5)
    expected = [0.05, 0.1, 0.2, 0.2]  # doubled per retry, then held at the cap
    assert all(gap >= want * 0.95 for gap, want in zip(gaps(recorder.times), expected, strict=True)), gaps(
        recorder.times
    )


def test_a_success_resets_the_keys_retry_count(queue: WorkQueue[str], recorder: Recorder) -> None:
    recorder.retry["a"] = [requeue.Retry("transient"), requeue.Retry("transient"), None]
    queue.add("a")
    eventually(lambda: len(recorder.calls) == 2)
    assert queue.next_delay("a", "transient") in (0.1, 0.2), "after one or two retries the delay has grown"
    eventually(lambda: len(recorder.calls) == 3)
    eventually(lambda: queue.retries("a") == 0)
    assert queue.next_delay("a", "transient") == FAST.transient.first


def test_events_for_a_key_waiting_out_its_delay_wait_with_it(queue: WorkQueue[str], recorder: Recorder) -> None:
    recorder.retry["a"] = [requeue.Retry("rejected"), None]
    queue.add("a")
    eventually(lambda: len(recorder.calls) == 1 and not recorder.running)
    for _ in range(5):
        queue.add("a")  # e.g. the status patch that reports the rejection
    eventually(lambda: len(recorder.calls) == 2)
    time.sleep(0.05)
    assert recorder.calls == ["a", "a"], "the events collapsed into the one delayed retry"
    assert recorder.times[1] - recorder.times[0] >= FAST.rejected.first * 0.95


def test_add_now_does_not_wait_for_the_delay(queue: WorkQueue[str], recorder: Recorder) -> None:
    recorder.retry["a"] = [requeue.Retry("rejected"), None]
    queue.add("a")
    eventually(lambda: len(recorder.calls) == 1 and not recorder.running)
    queue.add_now("a")  # e.g. the pod is being deleted
    eventually(lambda: len(recorder.calls) == 2)
    assert recorder.times[1] - recorder.times[0] < FAST.rejected.first
    time.sleep(FAST.rejected.first * 2)
    assert recorder.calls == ["a", "a"], "the superseded timer does not process the key again"


def test_a_retry_message_is_logged_once_per_step_with_its_delay(
    queue: WorkQueue[str], recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    refused = requeue.Retry("rejected", "the lower cluster refused the mirror: quota exceeded")
    recorder.retry["a"] = [refused, refused, None]
    with caplog.at_level("WARNING", logger="provider.kube.workqueue"):
        queue.add("a")
        eventually(lambda: len(recorder.calls) == 3)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "test a: the lower cluster refused the mirror: quota exceeded; next attempt in 0.1s",
        "test a: the lower cluster refused the mirror: quota exceeded; next attempt in 0.2s",
    ]


def test_retry_later_raised_inside_the_processor_is_a_retry(queue: WorkQueue[str], recorder: Recorder) -> None:
    calls: list[float] = []

    def deleted_meanwhile(key: str) -> requeue.Retry | None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise requeue.RetryLater(requeue.Retry("conflict", "it was deleted meanwhile"))
        return None

    work = WorkQueue(deleted_meanwhile, workers=1, name="test", policy=FAST)
    work.start()
    try:
        work.add("a")
        eventually(lambda: len(calls) == 2)
        assert calls[1] - calls[0] >= FAST.conflict.first * 0.95
        eventually(lambda: work.retries("a") == 0)
    finally:
        work.stop()


def test_a_new_reason_starts_its_own_count(queue: WorkQueue[str], recorder: Recorder) -> None:
    recorder.retry["a"] = [requeue.Retry("not_synced"), requeue.Retry("not_synced"), requeue.Retry("rejected"), None]
    queue.add("a")
    eventually(lambda: len(recorder.calls) == 3)
    assert queue.retries("a") in (1, 2)
    eventually(lambda: len(recorder.calls) == 4)
    assert gaps(recorder.times)[2] < FAST.rejected.first * 2, "waiting for caches does not inflate a rejection's delay"
