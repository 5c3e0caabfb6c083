"""Prometheus metrics with upstream descheduler names; the only module importing prometheus_client.

The runner records each cycle's :class:`~descheduler.report.Report` and plugin timings here;
the CLI and daemon expose them: an HTTP ``/metrics`` + ``/healthz`` listener in daemon mode,
a textfile-collector file or a Pushgateway push after a single run.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
from importlib import metadata
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, push_to_gateway, write_to_textfile
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from descheduler import addresses
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

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))

    def write_file(self, path: str) -> None:
        """Write the textfile-collector format atomically (a temporary file renamed over ``path``)."""
        write_to_textfile(path, self.registry)

    def push(self, url: str, *, job: str = "descheduler") -> None:
        push_to_gateway(url, job=job, registry=self.registry)


class Renders(Protocol):
    """Anything with metrics in the Prometheus text format: these Metrics, the provider's."""

    def render(self) -> bytes: ...


class MetricsServer:
    """A plain HTTP listener serving ``/metrics`` and ``/healthz`` from a daemon thread."""

    def __init__(self, metrics: Renders, address: str) -> None:
        host, port = addresses.parse_address(address)
        handler = _handler_for(metrics)
        server_class = _IPv6Server if ":" in host else http.server.ThreadingHTTPServer
        self._server = server_class((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        logger.info("serving /metrics and /healthz on port %d", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _IPv6Server(http.server.ThreadingHTTPServer):
    """The stock server binds IPv4 sockets only; parse_address hands IPv6 hosts over without brackets."""

    address_family = socket.AF_INET6


def _handler_for(metrics: Renders) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, metrics.render(), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/livez", "/readyz"):
                self._send(200, b"ok", "text/plain; charset=utf-8")
            else:
                self._send(404, b"not found", "text/plain; charset=utf-8")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("metrics http: " + format, *args)

    return Handler
