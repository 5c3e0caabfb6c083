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

from provider.serving import tls

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
        # Handlers write the headers and the body separately: with Nagle's algorithm on, the body
        # waits for the client's delayed ACK of the headers (about 40 ms a response on Linux).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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


class TlsEndpoint:
    """One HTTPS endpoint whose serving certificate can be swapped while it serves (the webhook's
    and the extender's): ``handler`` answers, reading this object as ``self.server.app``.

    With ``client_ca``, only clients presenting a certificate that CA signed complete the handshake.
    """

    def __init__(
        self,
        *,
        address: str,
        port: int,
        pair: tls.CertPair,
        handler: type[BaseHTTPRequestHandler],
        what: str,
        client_ca: str | None = None,
    ) -> None:
        self.address = address
        self.port = port
        self._handler = handler
        self._what = what
        self._client_ca = client_ca
        self.context = tls.server_context(pair, client_ca=client_ca, what=what)
        self.cert_pem = pair[0]
        self._server: TlsServer | None = None
        self._thread: threading.Thread | None = None

    def use(self, pair: tls.CertPair) -> bool:
        """Serve ``pair`` from the next handshake on; True when it differs from the current one."""
        if pair[0] == self.cert_pem:
            return False
        # A new context, swapped whole: no handshake sees half of it.
        self.context = tls.server_context(pair, client_ca=self._client_ca, what=self._what)
        self.cert_pem = pair[0]
        return True

    def start(self) -> None:
        """Bind (port 0 picks a free port, then ``.port`` tells it) and serve in a background thread."""
        self._server = TlsServer(
            (self.address, self.port), self._handler, context=lambda: self.context, app=self, what=self._what
        )
        self.port = int(self._server.server_address[1])
        self._thread = self._server.serve_in_thread(self._what)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server, self._thread = None, None
