"""The lower leg of port-forward: one TCP connection to a port of the lower pod, through the lower API server.

Per connection kubectl forwards upstairs, :class:`LowerPortForward` opens one legacy WebSocket
port-forward session (``v4.channel.k8s.io``) to the lower API server's ``pods/portforward?ports=P``
for the mirror (same namespace and name) with the provider's lower credentials; the lower API
server passes it to kwok (or a kubelet) unchanged (docs/design/streaming-findings.md section 2,
"Legacy WS port-forward"). Channel 0 carries the data both ways, channel 1 the server's error
text; the server first writes the port (2 bytes, little endian) on each, which
:class:`ChannelReader` drops. The protocol has no half-close: the connection ends when the
session does. The caller pings (:meth:`LowerForward.ping`) and watches :attr:`LowerForward.heard_at`
to notice a dead peer.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field
from urllib.parse import urlencode

from wsproto import WSConnection
from wsproto import events as ws

from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider.kubelet import lower_websocket

PROTOCOL = "v4.channel.k8s.io"
DATA_CHANNEL, ERROR_CHANNEL = 0, 1
PORT_PREFIX = 2
"""Bytes the server writes first on each channel: the port, little endian."""
MAX_ERROR_TEXT = 16 * 1024


class FramingError(Exception):
    """A message from the lower server that is not the port-forward protocol."""


class LowerForwardError(Exception):
    """The lower side could not forward the connection; the message is the lower server's own text."""


@dataclass
class ChannelReader:
    """Splits the lower server's messages into (channel, payload), without each channel's port prefix (pure)."""

    _prefix_left: dict[int, int] = field(
        default_factory=lambda: {DATA_CHANNEL: PORT_PREFIX, ERROR_CHANNEL: PORT_PREFIX}
    )

    def feed(self, message: bytes) -> tuple[int, bytes]:
        """The channel and the payload of one whole message; an empty payload when there is nothing to pass on."""
        if not message:
            return DATA_CHANNEL, b""
        channel, payload = message[0], message[1:]
        left = self._prefix_left.get(channel)
        if left is None:
            raise FramingError(f"message on channel {channel}: port-forward uses 0 (data) and 1 (error)")
        if left:
            skipped = min(left, len(payload))
            self._prefix_left[channel] = left - skipped
            payload = payload[skipped:]
        return channel, payload


def data_message(data: bytes) -> bytes:
    """A message carrying ``data`` to the lower pod."""
    return bytes((DATA_CHANNEL,)) + data


def target(namespace: str, pod: str, port: int) -> str:
    """The lower API server's request path for one forwarded port of the mirror."""
    return f"{paths.pod(namespace, pod, 'portforward')}?{urlencode({'ports': str(port)})}"


class LowerPortForward:
    """Opens forwarded connections to ports of pods in the lower cluster, with the provider's lower credentials."""

    def __init__(self, kube: Kube, *, connect_timeout: float = 10.0) -> None:
        self._kube = kube
        self._connect_timeout = connect_timeout

    def open(self, namespace: str, pod: str, port: int) -> LowerForward:
        """Connect and upgrade (each step within the connect timeout); a refusal (pod not found,
        forbidden) is raised as ``errors.ApiError``, a lost connection as ``errors.ConnectionFailedError``."""
        forward = lower_websocket.connect(
            self._kube, target(namespace, pod, port), [PROTOCOL], LowerForward, timeout=self._connect_timeout
        )
        forward.go_duplex()
        return forward


class LowerForward(lower_websocket.LowerWebSocket):
    """One forwarded connection: :meth:`receive` in one thread, :meth:`send`, :meth:`ping`, :meth:`close` from any."""

    def __init__(self, sock: socket.socket, connection: WSConnection) -> None:
        super().__init__(sock, connection, what="port-forward session")
        self._reader = ChannelReader()
        self._message = bytearray()
        self._error_text = bytearray()
        self._ended = False

    def receive(self) -> bytes | None:
        """The next bytes from the lower pod; None when the session ended cleanly.

        Raises :class:`LowerForwardError` with the lower server's text when its error channel
        spoke, :class:`errors.ConnectionFailedError` when the connection broke,
        :class:`FramingError` for a message outside the protocol.
        """
        while self._pending or not self._ended:
            if not self._pending:
                self._pending = self._receive()
                if not self._pending and (self._eof or self._connection.state.name in ("CLOSED", "REMOTE_CLOSING")):
                    self._ended = True
                continue
            data = self._handle(self._pending.pop(0))
            if data:
                return data
        if self._error_text:
            raise LowerForwardError(self._error_text.decode(errors="replace").strip())
        return None

    def _handle(self, event: ws.Event) -> bytes:
        if isinstance(event, ws.BytesMessage | ws.TextMessage):
            self._message += event.data.encode() if isinstance(event.data, str) else bytes(event.data)
            if not event.message_finished:
                return b""
            message, self._message = bytes(self._message), bytearray()
            channel, payload = self._reader.feed(message)
            if channel == ERROR_CHANNEL:
                self._error_text += payload[: MAX_ERROR_TEXT - len(self._error_text)]
                return b""
            return payload
        if isinstance(event, ws.Ping):
            with contextlib.suppress(errors.ConnectionFailedError):
                self._send(event.response())
        elif isinstance(event, ws.CloseConnection):
            self._ended = True
            with contextlib.suppress(errors.ConnectionFailedError):  # a courtesy: the server may be gone already
                self._send(event.response())
        return b""

    def send(self, data: bytes) -> None:
        """Bytes to the lower pod; raises :class:`errors.ConnectionFailedError` when the session is over."""
        self._send(ws.BytesMessage(data_message(data)))

    def ping(self) -> None:
        """Ask for a sign of life (the answer moves :attr:`heard_at`); best effort."""
        with contextlib.suppress(errors.ConnectionFailedError):
            self._send(ws.Ping(b"tensile"))

    def close(self) -> None:
        """End the connection (the lower server then closes its side towards the pod); from any thread."""
        with contextlib.suppress(errors.ConnectionFailedError):
            self._send(ws.CloseConnection(code=1000))
        self._sock.close()
