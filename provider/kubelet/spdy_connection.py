"""One SPDY/3 connection on a live byte pipe: the I/O around :class:`~provider.kubelet.spdy_session.ServerSession`.

The session is sans-IO; this class reads the pipe in the thread that iterates :meth:`SpdyConnection.events`
and lets any thread answer (accept, send, reset), serialising the session and the writes under
one lock. The pipe is a TLS socket after an ``Upgrade: SPDY/3.1`` (wrapped in
:class:`~provider.kubelet.duplex.DuplexSocket`), or the binary messages of a WebSocket that tunnels
SPDY (kubectl port-forward, :class:`WebSocketPipe`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Protocol

from provider.kubelet import spdy, spdy_session, websocket

RECEIVE_BYTES = 64 * 1024


class BytePipe(Protocol):
    """What a SPDY connection runs on: ``recv`` in one thread (``b""`` at the end), ``sendall`` from any."""

    def recv(self, size: int) -> bytes: ...

    def sendall(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class ConnectionLostError(Exception):
    """The pipe failed or the peer broke the protocol: the connection is over; the message says why."""


class WebSocketPipe:
    """A WebSocket's binary messages as one byte stream (SPDY tunnelled over WebSocket cuts frames anywhere)."""

    def __init__(self, upper: websocket.ServerWebSocket) -> None:
        self._upper = upper

    def recv(self, size: int) -> bytes:
        """The next non-empty message (an empty one is not the end of the stream); ``b""`` when the WebSocket closed."""
        while (message := self._upper.receive()) is not None:
            if message:
                return message
        return b""

    def sendall(self, data: bytes) -> None:
        try:
            self._upper.send(data)
        except websocket.WebSocketClosedError as exc:
            raise OSError(str(exc)) from None

    def close(self) -> None:
        """Send the close frame and drop the socket: a peer that no longer answers must not hold the reader."""
        self._upper.close()
        self._upper.shutdown()


class SpdyConnection:
    """A SPDY/3 server connection: :meth:`events` in one thread, the answers from any."""

    def __init__(self, pipe: BytePipe) -> None:
        self._pipe = pipe
        self._session = spdy_session.ServerSession()
        self._lock = threading.Lock()
        self.closed = False
        self.heard_at = time.monotonic()
        """When the peer last sent anything (the Go peers ping every 5 or 10 s): a long silence is a dead peer."""

    def events(self) -> Iterator[spdy_session.Event]:
        """What the peer does, until it closes (the iterator ends) or the connection fails (ConnectionLostError)."""
        while not self.closed:
            try:
                chunk = self._pipe.recv(RECEIVE_BYTES)
            except OSError as exc:
                if self.closed:
                    return
                raise ConnectionLostError(f"connection lost: {exc}") from None
            if not chunk:
                return
            self.heard_at = time.monotonic()
            with self._lock:
                try:
                    events = self._session.feed(chunk)
                except spdy.FrameError as exc:
                    raise ConnectionLostError(f"the peer broke SPDY: {exc}") from None
                self._flush()
            yield from events

    # -- answers, from any thread ----------------------------------------------------------

    def accept(self, stream_id: int, headers: spdy.Headers | None = None) -> None:
        with self._lock:
            self._session.accept(stream_id, headers)
            self._flush()

    def refuse(self, stream_id: int) -> None:
        with self._lock:
            self._session.refuse(stream_id)
            self._flush()

    def send(self, stream_id: int, data: bytes, *, fin: bool = False) -> None:
        """Write on an accepted stream; raises ConnectionLostError when the peer is gone."""
        with self._lock:
            self._session.send(stream_id, data, fin=fin)
            self._flush()

    def reset(self, stream_id: int, status: int = spdy.CANCEL) -> None:
        with self._lock:
            self._session.reset(stream_id, status)
            self._flush()

    def is_open(self, stream_id: int) -> bool:
        with self._lock:
            return self._session.is_open(stream_id)

    def close(self) -> None:
        """Say goodbye (GOAWAY) if the pipe still works, and close it; safe to call more than once."""
        if self.closed:
            return
        with contextlib.suppress(ConnectionLostError), self._lock:
            self._session.go_away()
            self._flush()
        self.closed = True
        self._pipe.close()

    def _flush(self) -> None:
        out = self._session.take_output()
        if out:
            try:
                self._pipe.sendall(out)
            except OSError as exc:
                raise ConnectionLostError(f"connection lost: {exc}") from None
