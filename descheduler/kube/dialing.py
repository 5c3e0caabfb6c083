"""A raw, authenticated connection to the API server, for protocols that upgrade (WebSocket, SPDY).

exec, attach and port-forward leave HTTP after the handshake, which the client library's pooled
HTTP connections cannot do. :func:`dial` opens one TCP (and TLS) connection to the same server
with the same credentials as the :class:`~descheduler.kube.client.Kube` it is given, and says
which headers authenticate a request on it; the caller speaks the protocol on the socket.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from descheduler.kube import errors


@dataclass
class Dialed:
    """A connected socket to the API server, the ``Host`` to name, and the headers that authenticate."""

    sock: socket.socket
    host: str
    headers: dict[str, str]


def dial(configuration: Any, *, timeout: float = 10.0) -> Dialed:
    """Connect to the server of ``configuration`` (the client library's) as its requests would."""
    url = urlsplit(str(configuration.host))
    secure = url.scheme == "https"
    port = url.port or (443 if secure else 80)
    hostname = url.hostname or ""
    try:
        sock = socket.create_connection((hostname, port), timeout=timeout)
    except OSError as exc:
        raise errors.ConnectionFailedError.saying(f"cannot connect to {url.netloc}: {exc}") from exc
    # A streaming session writes small frames in a row (an exit status, then the close): with Nagle's
    # algorithm the second waits for the peer's delayed ACK, about 40 ms on Linux. Go peers set this too.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if secure:
        try:
            sock = _tls_context(configuration).wrap_socket(sock, server_hostname=_server_name(configuration, hostname))
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise errors.ConnectionFailedError.saying(f"TLS with {url.netloc} failed: {exc}") from exc
    return Dialed(sock, url.netloc, _auth_headers(configuration))


def _tls_context(configuration: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context


def _server_name(configuration: Any, hostname: str) -> str:
    return str(getattr(configuration, "tls_server_name", None) or hostname)


def _auth_headers(configuration: Any) -> dict[str, str]:
    token = configuration.get_api_key_with_prefix("authorization") or configuration.get_api_key_with_prefix(
        "BearerToken"
    )
    if token:
        return {"Authorization": str(token)}
    basic = configuration.get_basic_auth_token()
    return {"Authorization": str(basic)} if basic else {}
