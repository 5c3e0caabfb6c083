"""The extender's HTTPS server: POST /filter and /prioritize from kube-scheduler, GET /healthz.

Only clients presenting a certificate signed by ``--client-ca-file`` complete the handshake
(kube-scheduler presents the one of its ``tlsConfig.certFile``); the serving certificate can be
swapped while running. A body that is not an ``ExtenderArgs`` gets a 400 with one line, and
filter answers carry problems in ``Error`` as the scheduler expects; nothing here writes to any
cluster.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import urlsplit

from provider.extender import api
from provider.extender.decide import Decider
from provider.metrics import ExtenderMetrics
from provider.serving import https, tls

logger = logging.getLogger(__name__)

FILTER_PATH = "/filter"
PRIORITIZE_PATH = "/prioritize"
HEALTH_PATH = "/healthz"
CLIENT_TIMEOUT = 60.0
MAX_BODY_BYTES = 8 * 1024 * 1024
"""ExtenderArgs carry one pod and node names (whole nodes without nodeCacheCapable); far larger is not one."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kube-scheduler keeps its connections
    server_version = "tensile-extender"
    sys_version = ""
    timeout = CLIENT_TIMEOUT

    @property
    def owner(self) -> ExtenderServer:
        return cast(ExtenderServer, cast(https.TlsServer, self.server).app)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == HEALTH_PATH:
            ready = self.owner.ready()
            self._send(200 if ready else 503, b"ok" if ready else b"not ready: summaries not listed yet", "text/plain")
        elif path in (FILTER_PATH, PRIORITIZE_PATH):
            self._send(405, b"use POST", "text/plain")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        verb = {FILTER_PATH: "filter", PRIORITIZE_PATH: "prioritize"}.get(urlsplit(self.path).path)
        if verb is None:
            self._send(404, b"not found", "text/plain")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(411 if length is None else 413, b"Content-Length required, at most 8 MiB", "text/plain")
            return
        started = time.perf_counter()
        status, body = self.owner.answer(verb, self.rfile.read(int(length)))
        self.owner.metrics.answered(verb, time.perf_counter() - started, ok=status == 200)
        self._send(status, body, "application/json" if status == 200 else "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("extender: %s %s", self.address_string(), format % args)


class ExtenderServer(https.TlsEndpoint):
    """HTTPS for ``decider``: filter and prioritize; /healthz is 200 once ``ready()``."""

    def __init__(
        self,
        *,
        address: str,
        port: int,
        pair: tls.CertPair,
        client_ca: str,
        decider: Decider,
        metrics: ExtenderMetrics,
        ready: Callable[[], bool],
    ) -> None:
        super().__init__(address=address, port=port, pair=pair, handler=_Handler, what="extender", client_ca=client_ca)
        self.decider = decider
        self.metrics = metrics
        self.ready = ready

    def answer(self, verb: str, body: bytes) -> tuple[int, bytes]:
        try:
            args = api.parse_args(body)
        except api.FrameError as exc:
            return 400, str(exc).encode()
        try:
            if verb == "filter":
                return 200, api.filter_body(self.decider.filter(args), args)
            return 200, api.priorities_body(self.decider.prioritize(args))
        except ValueError as exc:  # a Pod whose spec is not pod-shaped (provider.fit.needs)
            return 400, f"ExtenderArgs.Pod: {exc}".encode()
