"""Real sockets on 127.0.0.1 that fail the way API servers do: accept and never answer,
answer too slowly, or vanish behind a forwarder (an outage in front of a real kube-apiserver).

Each is a context manager running daemon threads until it closes, and counts what it accepted.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from typing import Self


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Listener:
    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = int(self._server.getsockname()[1])
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        """Hold the connection and say nothing."""
        self._stop.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        for conn in self._conns:
            with suppress(OSError):
                conn.close()
        self._thread.join(timeout=2)


class SilentServer(_Listener):
    """Accepts every connection and never sends a byte (a hung API server, a stuck proxy)."""


class TricklingServer(_Listener):
    """Answers a plain-HTTP request with a 200 whose promised body arrives one byte per ``every``
    seconds: each read succeeds, so only a deadline on the whole attempt stops the client."""

    every = 0.1

    def serve(self, conn: socket.socket) -> None:
        with suppress(OSError):
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request and not self._stop.is_set():
                request += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            while not self._stop.wait(self.every):
                conn.sendall(b" ")


class Forwarder(_Listener):
    """Forwards TCP to ``upstream`` (a real kube-apiserver) until closed; then the port is refused."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        with suppress(OSError), socket.create_connection(self.upstream, timeout=5) as up:
            self._conns.append(up)
            threading.Thread(target=_pump, args=(up, conn), daemon=True).start()
            _pump(conn, up)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        source.settimeout(None)
        while data := source.recv(65536):
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
