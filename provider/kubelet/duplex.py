"""A TLS socket that one thread reads while others write.

OpenSSL connections are not safe for a read and a write at the same time, and CPython's ssl
module releases the GIL around both: a relay that reads one leg in one thread and writes it in
another corrupts the TLS stream ("EOF occurred in violation of protocol"). :class:`DuplexSocket`
puts the socket in non-blocking mode, waits for readiness outside the lock, and makes each TLS
call under it.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time

WAIT_SECONDS = 1.0
"""Longest wait between checks of whether the socket was closed meanwhile."""
DEAD_PEER_SECONDS = 25.0
"""Silence after which a streaming session's peer counts as gone: with the check interval, a dead peer
ends the session within 30 s (the peers ping every 5-10 s, so a live one is never this quiet)."""


class DuplexSocket:
    """``recv`` from one thread, ``sendall`` from any; ``close`` from any ends both.

    With ``idle_timeout``, a peer that sends nothing for that long is taken for dead: ``recv`` raises
    TimeoutError. The peers of a streaming session ping every few seconds (kubectl and the API server
    every 5 s; the lower leg's pings are answered), so silence means a lost peer, not a quiet command.
    """

    def __init__(self, sock: socket.socket, *, idle_timeout: float | None = None) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._closed = False
        self._idle_timeout = idle_timeout
        self._heard = time.monotonic()
        sock.setblocking(False)

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes; ``b""`` when the peer closed; OSError when the socket failed, was closed
        or stayed silent longer than the idle timeout."""
        while True:
            if self._closed:
                raise OSError("socket closed")
            with self._lock:
                try:
                    data = self._sock.recv(size)
                    self._heard = time.monotonic()
                    return data
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
                except ssl.SSLWantWriteError:
                    pass
            if self._idle_timeout is not None and time.monotonic() - self._heard > self._idle_timeout:
                raise TimeoutError(f"nothing heard from the peer for {self._idle_timeout:.0f} s")
            select.select([self._sock], [], [], WAIT_SECONDS)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._closed:
                raise OSError("socket closed")
            with self._lock:
                try:
                    sent = self._sock.send(view)
                    view = view[sent:]
                    continue
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    pass
            select.select([], [self._sock], [], WAIT_SECONDS)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._sock.close()
