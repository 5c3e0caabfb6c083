"""The provider as a WebSocket client of the lower API server: what every lower leg of a streaming session shares.

exec and attach (:mod:`provider.kubelet.lower_exec`) and port-forward (:mod:`provider.kubelet.lower_portforward`)
each open a WebSocket to a pod subresource of the mirror with the provider's lower credentials
(:func:`connect`), wait for the upgrade (a refusal is the ``errors.ApiError`` of its Status, a server that
hangs up is a ``ConnectionFailedError``), then read in one thread and write from others. This module owns that
socket life; :class:`LowerWebSocket` subclasses add their own channel protocol on top.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from wsproto import ConnectionType, WSConnection
from wsproto import events as ws
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from descheduler.kube import errors
from descheduler.kube.client import Kube
from provider.kubelet import duplex

RECEIVE_BYTES = 64 * 1024
MAX_REJECTION_BODY = 64 * 1024
HUNG_UP = "the lower API server closed the connection during the upgrade"

Session = TypeVar("Session", bound="LowerWebSocket")


class LowerWebSocket:
    """One client WebSocket to the lower API server: the upgrade, then :meth:`_receive` in one thread and
    :meth:`_send` from any. ``what`` names the session in errors (``exec session lost: ...``)."""

    def __init__(self, sock: socket.socket, connection: WSConnection, *, what: str) -> None:
        self._sock: socket.socket | duplex.DuplexSocket = sock
        self._connection = connection
        self._lock = threading.Lock()
        self._what = what
        self._pending: list[ws.Event] = []
        """Events that arrived with the upgrade's answer, for the subclass to handle first."""
        self._eof = False
        self._accepted = False
        self.protocol = ""
        """The subprotocol the server chose (empty when it named none)."""
        self.heard_at = time.monotonic()
        """When the lower server last sent anything (data, pong, close): a silent peer is a dead one."""

    def wait_accepted(self) -> None:
        """Read the upgrade's answer (with the socket's own timeouts); raises as the module docstring says."""
        rejection: ws.RejectConnection | None = None
        body = bytearray()
        while True:
            events = self._receive()
            if not events and self._eof:
                raise errors.ConnectionFailedError.saying(HUNG_UP)
            for event in events:
                if isinstance(event, ws.AcceptConnection):
                    self.protocol = event.subprotocol or ""
                    self._accepted = True
                    return
                if isinstance(event, ws.RejectConnection):
                    rejection = event
                    if not event.has_body:
                        raise errors.from_response(event.status_code, b"", None)
                elif isinstance(event, ws.RejectData):
                    body += event.data[: MAX_REJECTION_BODY - len(body)]
                    if event.body_finished and rejection is not None:
                        raise errors.from_response(rejection.status_code, bytes(body), None)
                else:
                    self._pending.append(event)

    def go_duplex(self, *, idle_timeout: float | None = None) -> None:
        """From the handshake (one thread, socket timeouts) to the session (one reader, writers in other threads)."""
        if isinstance(self._sock, socket.socket):
            self._sock = duplex.DuplexSocket(self._sock, idle_timeout=idle_timeout)

    def _send(self, event: ws.Event) -> None:
        with self._lock:
            try:
                data = self._connection.send(event)
            except LocalProtocolError as exc:  # the session is closing or closed
                raise errors.ConnectionFailedError.saying(f"{self._what} closed: {exc}") from None
            try:
                self._sock.sendall(data)
            except OSError as exc:
                raise errors.ConnectionFailedError.saying(f"{self._what} lost: {exc}") from None

    def _receive(self) -> list[ws.Event]:
        try:
            chunk: bytes = self._sock.recv(RECEIVE_BYTES)
        except OSError as exc:
            raise errors.ConnectionFailedError.saying(f"{self._what} lost: {exc}") from None
        self.heard_at = time.monotonic()
        self._eof = not chunk
        with self._lock:
            try:
                self._connection.receive_data(chunk or None)
                return list(self._connection.events())
            except RemoteProtocolError as exc:
                if self._eof:
                    hung_up = f"{self._what} lost: the lower API server closed the connection"
                    raise errors.ConnectionFailedError.saying(hung_up if self._accepted else HUNG_UP) from None
                raise errors.ConnectionFailedError.saying(f"the lower API server broke the protocol: {exc}") from None


def connect(
    kube: Kube,
    target: str,
    subprotocols: Sequence[str],
    session: Callable[[socket.socket, WSConnection], Session],
    *,
    timeout: float,
) -> Session:
    """Dial the lower API server, ask for the upgrade to ``target`` and wait for it, each step within ``timeout``."""
    dialed = kube.dial(timeout=timeout)
    connection = WSConnection(ConnectionType.CLIENT)
    handshake = ws.Request(
        host=dialed.host,
        target=target,
        subprotocols=list(subprotocols),
        extra_headers=[(name.lower().encode(), value.encode()) for name, value in dialed.headers.items()],
    )
    opened: Session | None = None
    try:
        dialed.sock.sendall(connection.send(handshake))
        opened = session(dialed.sock, connection)
        opened.wait_accepted()
    except OSError as exc:
        dialed.sock.close()
        what = opened._what if opened is not None else "lower session"
        raise errors.ConnectionFailedError.saying(f"{what} upgrade failed: {exc}") from None
    except BaseException:
        dialed.sock.close()
        raise
    return opened
