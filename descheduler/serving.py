"""A small plain-HTTP server for ``/metrics`` and ``/healthz``, shared by the descheduler's
long-lived mode and the provider (IPv4, IPv6 and host names, via :mod:`descheduler.addresses`).
What it serves is anything that renders Prometheus text; it imports no metrics library."""

from __future__ import annotations

import http.server
import logging
import socket
import threading
from typing import Protocol

from descheduler import addresses

logger = logging.getLogger(__name__)


class Renders(Protocol):
    """Anything with metrics in the Prometheus text format: the descheduler's Metrics, the provider's."""

    content_type: str

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
        """``/metrics`` from ``metrics``, ``ok`` on the health paths, 404 elsewhere; requests logged at DEBUG."""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, metrics.render(), metrics.content_type)
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
