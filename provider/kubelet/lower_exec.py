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

from wsproto import ConnectionType, WSConnection
from wsproto import events as ws
from wsproto.utilities import LocalProtocolError

from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider.kubelet import channels, duplex

RECEIVE_BYTES = 64 * 1024
PING_SECONDS = 5.0
"""The lower leg pings this often, so a lower API server that stops answering is noticed (duplex.DEAD_PEER_SECONDS)."""
MAX_REJECTION_BODY = 64 * 1024


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
        dialed = self._kube.dial(timeout=self._connect_timeout)
        connection = WSConnection(ConnectionType.CLIENT)
        handshake = ws.Request(
            host=dialed.host,
            target=request.target(),
            subprotocols=list(channels.WEBSOCKET_PROTOCOLS),
            extra_headers=[(name.lower().encode(), value.encode()) for name, value in dialed.headers.items()],
        )
        try:
            dialed.sock.sendall(connection.send(handshake))
            session = LowerSession(dialed.sock, connection)
            session.wait_accepted()
        except BaseException:
            dialed.sock.close()
            raise
        session.go_duplex()  # a command may be silent for as long as it likes; stdin is written meanwhile
        return session


class LowerSession:
    """One exec session with the lower API server; :meth:`output` runs in one thread, the senders in others."""

    def __init__(self, sock: socket.socket, connection: WSConnection) -> None:
        self._sock: socket.socket | duplex.DuplexSocket = sock
        self._connection = connection
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.protocol = ""
        self._message = bytearray()
        self._pending: list[ws.Event] = []
        self.error_channel = b""
        """What the lower error channel said (a metav1.Status), once :meth:`output` has ended."""

    # -- opening -----------------------------------------------------------------------------

    def go_duplex(self) -> None:
        """From the handshake (one thread, with timeouts) to the session (reads and writes from two threads),
        pinged every :data:`PING_SECONDS` so a silent lower side is taken for dead."""
        if isinstance(self._sock, socket.socket):
            self._sock = duplex.DuplexSocket(self._sock, idle_timeout=duplex.DEAD_PEER_SECONDS)
            threading.Thread(target=self._ping, name="exec-lower-ping", daemon=True).start()

    def _ping(self) -> None:
        while not self._closed.wait(PING_SECONDS):
            try:
                self._send(ws.Ping(b"tensile"))
            except errors.ConnectionFailedError:
                return

    def wait_accepted(self) -> None:
        rejection: ws.RejectConnection | None = None
        body = bytearray()
        while True:
            for event in self._receive():
                if isinstance(event, ws.AcceptConnection):
                    self.protocol = event.subprotocol or "v4.channel.k8s.io"
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

    # -- the socket ----------------------------------------------------------------------------

    def _send(self, event: ws.Event) -> None:
        with self._lock:
            try:
                data = self._connection.send(event)
            except LocalProtocolError as exc:  # the session is closing or closed
                raise errors.ConnectionFailedError.saying(f"exec session closed: {exc}") from None
            try:
                self._sock.sendall(data)
            except OSError as exc:
                raise errors.ConnectionFailedError.saying(f"exec session lost: {exc}") from None

    def _receive(self) -> list[ws.Event]:
        try:
            chunk: bytes = self._sock.recv(RECEIVE_BYTES)
        except OSError as exc:
            raise errors.ConnectionFailedError.saying(f"exec session lost: {exc}") from None
        with self._lock:
            self._connection.receive_data(chunk or None)
            return list(self._connection.events())
