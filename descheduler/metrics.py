"""Prometheus metrics with upstream descheduler names; the only module importing prometheus_client.

The runner records each cycle's :class:`~descheduler.report.Report` and plugin timings here;
the CLI and daemon expose them: an HTTP ``/metrics`` + ``/healthz`` listener in daemon mode,
a textfile-collector file or a Pushgateway push after a single run.
"""

from __future__ import annotations

import logging
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, push_to_gateway, write_to_textfile
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from descheduler.report import Report

logger = logging.getLogger(__name__)

# Upstream's buckets for descheduler_loop_duration_seconds and descheduler_strategy_duration_seconds.
DURATION_BUCKETS = (0.001, 0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def _version() -> str:
    try:
        return metadata.version("tensile")
    except metadata.PackageNotFoundError:
        return "unknown"


class Metrics:
    """One registry per process (not the global default), so tests can build as many as they like."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pods_evicted = Counter(
            "descheduler_pods_evicted",
            "Pods the descheduler tried to evict, by result (evicted, planned, blocked, failed, limit, gone).",
            ["result", "strategy", "profile", "namespace", "node"],
            registry=self.registry,
        )
        self.loop_duration = Histogram(
            "descheduler_loop_duration_seconds",
            "Time one descheduling cycle took, from reading cluster state to the last eviction.",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.strategy_duration = Histogram(
            "descheduler_strategy_duration_seconds",
            "Time one strategy (plugin) of one profile took in a cycle.",
            ["strategy", "profile"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        build_info = Gauge(
            "descheduler_build_info", "Build information; always 1.", ["version"], registry=self.registry
        )
        build_info.labels(version=_version()).set(1)

    def observe_strategy(self, profile: str, strategy: str, seconds: float) -> None:
        self.strategy_duration.labels(strategy=strategy, profile=profile).observe(seconds)

    def record_report(self, report: Report) -> None:
        """Count the cycle's decisions and its duration."""
        for d in report.decisions:
            self.pods_evicted.labels(
                result=d.result.value, strategy=d.plugin, profile=d.profile, namespace=d.namespace, node=d.node
            ).inc()
        self.loop_duration.observe(report.duration_seconds)

    content_type = CONTENT_TYPE_LATEST
    """Served with the text of :meth:`render` (see :class:`descheduler.serving.MetricsServer`)."""

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))

    def write_file(self, path: str) -> None:
        """Write the textfile-collector format atomically (a temporary file renamed over ``path``)."""
        write_to_textfile(path, self.registry)

    def push(self, url: str, *, job: str = "descheduler") -> None:
        push_to_gateway(url, job=job, registry=self.registry)
