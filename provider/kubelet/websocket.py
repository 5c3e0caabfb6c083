"""The server side of a WebSocket the kubelet API accepts: the handshake answer and the framed channel.

http.server has already read the upgrade request; :func:`accept_key` computes the answer's
``Sec-WebSocket-Accept`` (RFC 6455 section 4.2.2) and :class:`ServerWebSocket` frames messages on
the socket afterwards with wsproto's connection object, which is sans-IO and so fits a socket
that another thread may write to (sends are serialised by a lock).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import threading

from wsproto import events as ws
from wsproto.connection import Connection, ConnectionType
from wsproto.utilities import LocalProtocolError

from provider.kubelet import duplex

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RECEIVE_BYTES = 64 * 1024


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for the client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1((key.strip() + GUID).encode()).digest()).decode()


class WebSocketClosedError(Exception):
    """The WebSocket is closed or the socket failed; the session ends."""


class ServerWebSocket:
    """Messages on an upgraded connection: :meth:`receive` in one thread, :meth:`send` from any."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = duplex.DuplexSocket(sock, idle_timeout=duplex.DEAD_PEER_SECONDS)
        self._connection = Connection(ConnectionType.SERVER)
        self._lock = threading.Lock()
        self._partial = bytearray()
        self.closed = False

    def send(self, data: bytes) -> None:
        self._write(ws.BytesMessage(data))

    def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(WebSocketClosedError):
                self._write(ws.CloseConnection(code=code, reason=reason))

    def shutdown(self) -> None:
        """Close the socket under the session (a reader blocked in :meth:`receive` returns None)."""
        self.closed = True
        self._sock.close()

    def receive(self) -> bytes | None:
        """The next whole binary (or text) message; None when the peer closed."""
        while True:
            try:
                chunk = self._sock.recv(RECEIVE_BYTES)
            except OSError:
                return None
            with self._lock:
                self._connection.receive_data(chunk or None)
                events = list(self._connection.events())
            for event in events:
                if isinstance(event, ws.BytesMessage | ws.TextMessage):
                    data = event.data.encode() if isinstance(event.data, str) else bytes(event.data)
                    self._partial += data
                    if event.message_finished:
                        message, self._partial = bytes(self._partial), bytearray()
                        return message
                elif isinstance(event, ws.Ping):
                    with contextlib.suppress(WebSocketClosedError):
                        self._write(event.response())
                elif isinstance(event, ws.CloseConnection):
                    if not self.closed:
                        self.closed = True
                        with contextlib.suppress(WebSocketClosedError):  # the peer may be gone already
                            self._write(event.response())
                    return None
            if not chunk:
                return None

    def _write(self, event: ws.Event) -> None:
        with self._lock:
            try:
                data = self._connection.send(event)
                self._sock.sendall(data)
            except (LocalProtocolError, OSError) as exc:
                raise WebSocketClosedError(str(exc)) from None
