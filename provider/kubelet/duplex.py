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

WAIT_SECONDS = 1.0
"""Longest wait between checks of whether the socket was closed meanwhile."""


class DuplexSocket:
    """``recv`` from one thread, ``sendall`` from any; ``close`` from any ends both."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._closed = False
        sock.setblocking(False)

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes; ``b""`` when the peer closed; OSError when the socket failed or was closed."""
        while True:
            if self._closed:
                raise OSError("socket closed")
            with self._lock:
                try:
                    return self._sock.recv(size)
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
                except ssl.SSLWantWriteError:
                    pass
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
