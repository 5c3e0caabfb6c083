"""Prometheus metrics of the provider; with descheduler.metrics, the only modules importing prometheus_client.

Names follow client-go's workqueue metrics (depth, adds, queue and work durations, retries)
with a ``tensile_provider_`` prefix, plus the provider's own: how long a lower pod's status
change takes to be written upstairs, and the mirrors it created. Served by ``--metrics-addr``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SESSION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 14400.0)


class SessionTraffic(Protocol):
    """What a finished exec/attach/port-forward session reports (provider.kubelet.remote_command.Traffic)."""

    @property
    def bytes_down(self) -> int: ...

    @property
    def bytes_up(self) -> int: ...

    @property
    def result(self) -> str: ...

    @property
    def seconds(self) -> float: ...


class SessionMetrics:
    """Streaming sessions of the kubelet API (exec, attach, portforward): how many, how they ended, what
    they carried."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._sessions = Counter(
            "tensile_provider_stream_sessions",
            "Streaming sessions of the kubelet API by kind, upper transport and result"
            " (ok, lower_failed, upper_gone, refused).",
            ["kind", "transport", "result"],
            registry=registry,
        )
        self._bytes = Counter(
            "tensile_provider_stream_bytes",
            "Bytes relayed by streaming sessions: down = to the lower pod (stdin), up = from it (stdout, stderr).",
            ["kind", "direction"],
            registry=registry,
        )
        self._duration = Histogram(
            "tensile_provider_stream_session_duration_seconds",
            "Duration of streaming sessions, from the upgrade to the end.",
            ["kind"],
            buckets=SESSION_BUCKETS,
            registry=registry,
        )

    def session_ended(self, kind: str, transport: str, traffic: SessionTraffic) -> None:
        self._sessions.labels(kind=kind, transport=transport, result=traffic.result).inc()
        self._bytes.labels(kind=kind, direction="down").inc(traffic.bytes_down)
        self._bytes.labels(kind=kind, direction="up").inc(traffic.bytes_up)
        self._duration.labels(kind=kind).observe(traffic.seconds)


class ReflectionMetrics:
    """Objects reflected into the lower cluster (Services, EndpointSlices, Endpoints), per kind: how many
    there are, the writes and failed requests, and the lag from an upper change to its lower write."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._objects = Gauge(
            "tensile_provider_reflected_objects",
            "Lower objects reflected for this upper cluster, by kind.",
            ["kind"],
            registry=registry,
        )
        self._writes = Counter(
            "tensile_provider_reflection_writes",
            "Writes of reflected lower objects, by kind and verb (create, update, delete).",
            ["kind", "verb"],
            registry=registry,
        )
        self._errors = Counter(
            "tensile_provider_reflection_errors",
            "Failed requests while reflecting an object, by kind.",
            ["kind"],
            registry=registry,
        )
        self._lag = Histogram(
            "tensile_provider_reflection_lag_seconds",
            "From an upper change reaching the provider to the lower write that reflects it, by kind.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def count_objects(self, kind: str, count: Callable[[], int]) -> None:
        """Report ``count()`` as the number of reflected ``kind`` objects, asked at every scrape."""
        self._objects.labels(kind=kind).set_function(lambda: float(count()))

    def wrote(self, kind: str, verb: str) -> None:
        self._writes.labels(kind=kind, verb=verb).inc()

    def failed(self, kind: str) -> None:
        self._errors.labels(kind=kind).inc()

    def lagged(self, kind: str, seconds: float) -> None:
        self._lag.labels(kind=kind).observe(seconds)


EXTENDER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)


class ExtenderMetrics:
    """The scheduler extender (``tensile_extender_``): calls by verb, their latency, virtual nodes struck
    out by reason, and virtual nodes let through without a decision (fallbacks) by why."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._calls = Counter(
            "tensile_extender_calls",
            "Extender calls, by verb (filter, prioritize) and result (ok, error).",
            ["verb", "result"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "tensile_extender_call_duration_seconds",
            "Time to answer one extender call, by verb.",
            ["verb"],
            buckets=EXTENDER_BUCKETS,
            registry=self.registry,
        )
        self._struck = Counter(
            "tensile_extender_struck_out",
            "Virtual nodes struck out by a filter call, by reason (blocked: no room now;"
            " unresolvable: no lower node could ever run the pod).",
            ["reason"],
            registry=self.registry,
        )
        self._fallbacks = Counter(
            "tensile_extender_fallbacks", "Virtual nodes let through undecided, by why (no summary, stale, partial,"
            " unreadable, by hostname).", ["why"], registry=self.registry,
        )  # fmt: skip

    def answered(self, verb: str, seconds: float, *, ok: bool) -> None:
        self._calls.labels(verb=verb, result="ok" if ok else "error").inc()
        self._latency.labels(verb=verb).observe(seconds)

    def struck_out(self, reason: str) -> None:
        self._struck.labels(reason=reason).inc()

    def fell_back(self, why: str) -> None:
        self._fallbacks.labels(why=why).inc()

    content_type = CONTENT_TYPE_LATEST

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class QueueMetrics:
    """What one work queue reports; see :class:`provider.kube.workqueue.QueueObserver`."""

    def __init__(self, metrics: ProviderMetrics, queue: str) -> None:
        self._depth = metrics.queue_depth.labels(queue=queue)
        self._adds = metrics.queue_adds.labels(queue=queue)
        self._waits = metrics.queue_wait.labels(queue=queue)
        self._works = metrics.work_duration.labels(queue=queue)
        self._retries = metrics.queue_retries.labels(queue=queue)

    def added(self, depth: int) -> None:
        self._adds.inc()
        self._depth.set(depth)

    def taken(self, depth: int, waited_seconds: float) -> None:
        self._depth.set(depth)
        self._waits.observe(waited_seconds)

    def worked(self, seconds: float) -> None:
        self._works.observe(seconds)

    def retried(self) -> None:
        self._retries.inc()


class ProviderMetrics:
    """One registry per provider (not the global default), so tests can build as many as they like."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queue_depth = Gauge(
            "tensile_provider_workqueue_depth", "Keys waiting in a work queue.", ["queue"], registry=self.registry
        )
        self.queue_adds = Counter(
            "tensile_provider_workqueue_adds", "Keys added to a work queue.", ["queue"], registry=self.registry
        )
        self.queue_wait = Histogram(
            "tensile_provider_workqueue_queue_duration_seconds",
            "Time a key waited in a work queue before a worker took it.",
            ["queue"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.work_duration = Histogram(
            "tensile_provider_workqueue_work_duration_seconds",
            "Time a worker spent on one key, API requests included.",
            ["queue"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_retries = Counter(
            "tensile_provider_workqueue_retries",
            "Keys processed again after a delay.",
            ["queue"],
            registry=self.registry,
        )
        self.status_sync = Histogram(
            "tensile_provider_status_sync_duration_seconds",
            "From a lower pod's change reaching the provider to its status written on the upper pod.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.mirror_creates = Counter(
            "tensile_provider_mirror_creates",
            "Lower pods created for upper pods, by result (created, conflict, failed).",
            ["result"],
            registry=self.registry,
        )

        self.sessions = SessionMetrics(self.registry)
        self.reflection = ReflectionMetrics(self.registry)

    def queue(self, name: str) -> QueueMetrics:
        return QueueMetrics(self, name)

    content_type = CONTENT_TYPE_LATEST

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
