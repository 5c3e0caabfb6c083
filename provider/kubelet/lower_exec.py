"""The lower leg of exec and attach: the lower pod, through the lower API server's ``pods/exec|attach``.

The provider is a client here, as kubectl would be: one WebSocket (``v5.channel.k8s.io``,
else ``v4``) to the lower API server, which reaches the lower kubelet (kwok in the test
environment) however it must. :class:`LowerExec` opens sessions; a :class:`LowerSession`
sends stdin and resizes, and yields what the lower side writes, channel by channel, until its
error channel has spoken and the server has closed (see :mod:`provider.kubelet.channels`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from wsproto import WSConnection
from wsproto import events as ws

from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider.kubelet import channels, duplex, lower_websocket

PING_SECONDS = 5.0
"""The lower leg pings this often, so a lower API server that stops answering is noticed (duplex.DEAD_PEER_SECONDS)."""


@dataclass(frozen=True)
class ExecRequest:
    """What to run where (``exec``) or join (``attach``): the pod, its container, the command, the streams."""

    namespace: str
    pod: str
    container: str
    command: Sequence[str]
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False
    subresource: Literal["exec", "attach"] = "exec"

    def target(self) -> str:
        query = [("command", part) for part in self.command] + [
            ("container", self.container),
            ("stdin", _flag(self.stdin)),
            ("stdout", _flag(self.stdout)),
            ("stderr", _flag(self.stderr and not self.tty)),
            ("tty", _flag(self.tty)),
        ]
        return f"{paths.pod(self.namespace, self.pod, self.subresource)}?{urlencode(query)}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


class LowerExec:
    """Opens exec sessions in pods of the lower cluster, with the provider's lower credentials."""

    def __init__(self, kube: Kube, *, connect_timeout: float = 10.0) -> None:
        self._kube = kube
        self._connect_timeout = connect_timeout

    def open(self, request: ExecRequest) -> LowerSession:
        """Connect and upgrade; an API error (pod not found, forbidden) is raised as ``errors.ApiError``."""
        session = lower_websocket.connect(
            self._kube, request.target(), channels.WEBSOCKET_PROTOCOLS, LowerSession, timeout=self._connect_timeout
        )
        session.go_duplex()  # a command may be silent for as long as it likes; stdin is written meanwhile
        return session


class LowerSession(lower_websocket.LowerWebSocket):
    """One exec session with the lower API server; :meth:`output` runs in one thread, the senders in others."""

    def __init__(self, sock: socket.socket, connection: WSConnection) -> None:
        super().__init__(sock, connection, what="exec session")
        self._closed = threading.Event()
        self._message = bytearray()
        self.error_channel = b""
        """What the lower error channel said (a metav1.Status), once :meth:`output` has ended."""

    # -- opening -----------------------------------------------------------------------------

    def wait_accepted(self) -> None:
        super().wait_accepted()
        self.protocol = self.protocol or "v4.channel.k8s.io"  # a server that names none speaks the oldest

    def go_duplex(self, *, idle_timeout: float | None = duplex.DEAD_PEER_SECONDS) -> None:
        """As the base, pinged every :data:`PING_SECONDS` so a silent lower side is taken for dead."""
        duplexed = isinstance(self._sock, socket.socket)
        super().go_duplex(idle_timeout=idle_timeout)
        if duplexed:
            threading.Thread(target=self._ping, name="exec-lower-ping", daemon=True).start()

    def _ping(self) -> None:
        while not self._closed.wait(PING_SECONDS):
            try:
                self._send(ws.Ping(b"tensile"))
            except errors.ConnectionFailedError:
                return

    # -- talking -----------------------------------------------------------------------------

    def send_stdin(self, data: bytes) -> None:
        self._send(ws.BytesMessage(channels.ws_message(channels.STDIN, data)))

    def close_stdin(self) -> None:
        """End stdin: v5 says so with a close message; v4 cannot, the command then reads until the session ends."""
        if self.protocol.startswith("v5."):
            self._send(ws.BytesMessage(channels.ws_message(channels.CLOSE, bytes((channels.STDIN,)))))

    def resize(self, size: channels.TerminalSize) -> None:
        payload = f'{{"Width":{size.width},"Height":{size.height}}}\n'.encode()
        self._send(ws.BytesMessage(channels.ws_message(channels.RESIZE, payload)))

    def output(self) -> Iterator[tuple[int, bytes]]:
        """(channel, data) as the lower side writes stdout and stderr, until the session ends.

        The error channel is kept in :attr:`error_channel` rather than yielded; read the outcome
        with :func:`channels.exit_code_of` afterwards.
        """
        while True:
            events, self._pending = self._pending, []
            if not events:
                try:
                    events = self._receive()
                except errors.ConnectionFailedError:
                    if self.error_channel:
                        return  # the outcome is known: a server that drops the socket now loses nothing
                    raise
                if not events and self._connection.state.name in ("CLOSED", "REMOTE_CLOSING"):
                    return
            for event in events:
                if isinstance(event, ws.BytesMessage | ws.TextMessage):
                    data = event.data.encode() if isinstance(event.data, str) else bytes(event.data)
                    self._message += data
                    if not event.message_finished:
                        continue
                    message, self._message = bytes(self._message), bytearray()
                    channel, payload = channels.split_ws_message(message, protocol=self.protocol)
                    if channel == channels.ERROR:
                        self.error_channel += payload
                    elif channel in (channels.STDOUT, channels.STDERR) and payload:
                        yield channel, payload
                elif isinstance(event, ws.Ping):
                    self._send(event.response())
                elif isinstance(event, ws.Pong):
                    pass  # the answer to our ping: hearing it is all that counts (duplex idle timeout)
                elif isinstance(event, ws.CloseConnection):
                    # Our answer is a courtesy: a server that closed the socket right after its
                    # close frame has said all it will (the outcome is in the error channel).
                    with contextlib.suppress(errors.ConnectionFailedError):
                        self._send(event.response())
                    return

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(errors.ConnectionFailedError):
            self._send(ws.CloseConnection(code=1000))
        self._sock.close()
