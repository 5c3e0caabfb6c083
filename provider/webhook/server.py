"""The webhook's HTTPS server: POST /mutate-pods answered by an admitter, GET /healthz.

Built on :mod:`provider.serving.https` like the kubelet API server (:mod:`provider.kubelet.server`):
TLS handshakes in the request's own thread, keep-alive for the API server, a bounded request body
and a prompt ``stop()``. The serving certificate can be swapped while running
(:meth:`AdmissionServer.use`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from provider.serving import https, tls
from provider.webhook import admission

logger = logging.getLogger(__name__)

MUTATE_PATH = "/mutate-pods"
HEALTH_PATH = "/healthz"
# Idle keep-alive connections from the apiserver are dropped after this long.
CLIENT_TIMEOUT = 60.0
# AdmissionReviews carry the whole pod (etcd caps an object at 1.5 MiB); anything far larger is not one.
MAX_BODY_BYTES = 8 * 1024 * 1024


class Admits(Protocol):
    """What answers a review body (:class:`~provider.webhook.admission.Admitter`)."""

    def handle(self, body: bytes) -> admission.Reply: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the apiserver reuses connections
    server_version = "tensile-webhook"
    sys_version = ""
    timeout = CLIENT_TIMEOUT

    @property
    def owner(self) -> AdmissionServer:
        return cast(AdmissionServer, cast(https.TlsServer, self.server).app)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == HEALTH_PATH:
            if self.owner.ready():
                self._send(admission.text_reply(200, "ok"))
            else:
                self._send(admission.text_reply(503, "not ready: virtual nodes not listed yet"))
        elif path == MUTATE_PATH:
            self._send(admission.text_reply(405, "use POST"))
        else:
            self._send(admission.text_reply(404, "not found"))

    def do_POST(self) -> None:
        # The apiserver appends ?timeout=5s; only the path matters.
        if urlsplit(self.path).path != MUTATE_PATH:
            self._send(admission.text_reply(404, "not found"))
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._send(admission.text_reply(411, "Content-Length required"))
            return
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(admission.text_reply(413, f"body larger than {MAX_BODY_BYTES} bytes"))
            return
        self._send(self.owner.admitter.handle(self.rfile.read(int(length))))

    def _send(self, reply: admission.Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("admission: %s %s", self.address_string(), format % args)


class AdmissionServer(https.TlsEndpoint):
    """HTTPS: POST /mutate-pods answered by ``admitter``; GET /healthz is 200 once ``ready()``.

    Any client that completes the handshake may ask (the kube-apiserver authenticates us through
    the caBundle, not the other way round); the certificate can be swapped while serving.
    """

    def __init__(
        self, *, address: str, port: int, pair: tls.CertPair, admitter: Admits, ready: Callable[[], bool]
    ) -> None:
        super().__init__(address=address, port=port, pair=pair, handler=_Handler, what="admission")
        self.admitter = admitter
        self.ready = ready
