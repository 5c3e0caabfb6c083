"""The HTTPS server both of the provider's endpoints use (kubelet API, admission webhook).

A ThreadingHTTPServer that does the TLS handshake in each request's own thread, so a slow or
hostile client cannot stall the accept loop, and that skips HTTPServer's FQDN lookup of the
bind address (a DNS query that can hang start-up on a machine with broken name resolution).
The TLS context is asked for per connection, so a renewed certificate applies to the next one.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0
# How long stop() may take to notice it was asked to stop.
SHUTDOWN_POLL_SECONDS = 0.1


class TlsServer(ThreadingHTTPServer):
    """Serves one HTTPS endpoint: accepts on ``address``, handshakes with ``context()`` in the
    request's thread, then lets ``handler`` answer; ``app`` is what the handler serves.

    Who may connect is the context's business (a client CA, or anyone); this class only logs
    failed handshakes, as ``what`` (the endpoint's name), and drops them.
    """

    daemon_threads = True
    # Owners stop their long requests themselves; idle keep-alive connections must not hold up stop().
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        context: Callable[[], ssl.SSLContext],
        app: Any,
        what: str,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        self.handler = handler
        self.context = context
        self.app = app
        """What the handlers serve; they read it as ``self.server.app``."""
        self.what = what

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls_socket = self.context().wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            logger.info("%s: TLS handshake with %s failed: %s", self.what, client_address[0], exc)
            return
        try:
            self.handler(tls_socket, client_address, self)
        finally:
            tls_socket.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.exception("%s: request from %s failed", self.what, client_address[0])

    def serve_in_thread(self, name: str) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name=name, daemon=True)
        thread.start()
        return thread
