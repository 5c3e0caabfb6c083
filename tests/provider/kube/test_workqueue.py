"""The provider's work queue: one worker per key at a time, collapsed repeats, retries, metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from provider.kube.workqueue import WorkQueue
from provider.metrics import ProviderMetrics


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
        self.retry: dict[str, list[float | None]] = {}
        self.lock = threading.Lock()

    def __call__(self, key: str) -> float | None:
        with self.lock:
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
def queue(recorder: Recorder, metrics: ProviderMetrics) -> Iterator[WorkQueue]:
    work = WorkQueue(recorder, workers=4, name="test", observer=metrics.queue("test"))
    work.start()
    yield work
    for gate in recorder.gates.values():
        gate.set()
    work.stop()


def sample(metrics: ProviderMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, {"queue": "test", **labels})
    return 0.0 if value is None else value


def test_every_added_key_is_processed(queue: WorkQueue, recorder: Recorder) -> None:
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


def test_a_key_added_while_processed_runs_again_afterwards_never_at_once(queue: WorkQueue, recorder: Recorder) -> None:
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


def test_a_processor_asking_for_a_retry_gets_one_after_the_delay(queue: WorkQueue, recorder: Recorder) -> None:
    recorder.retry["a"] = [0.2, None]
    started = time.monotonic()
    queue.add("a")
    eventually(lambda: recorder.calls == ["a", "a"])
    assert time.monotonic() - started >= 0.2


def test_a_failing_processor_is_retried_not_fatal(metrics: ProviderMetrics) -> None:
    calls: list[str] = []

    def explode(key: str) -> float | None:
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
    queue: WorkQueue, recorder: Recorder, metrics: ProviderMetrics
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
