"""What an endpoint module of the kubelet API works with: the request being answered, and the
long-lived streams in flight.

:mod:`provider.kubelet.server` routes each request to an endpoint function (``logs.serve`` today;
exec, attach and port-forward next) and hands it an :class:`Exchange`; a streamed response
registers what it relays with :class:`Streams`, so that stopping the server ends it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from io import BufferedIOBase
from typing import Any, Protocol

Query = Mapping[str, list[str]]
"""A parsed query string: every value of each parameter, in order (as ``urllib.parse.parse_qs`` gives it)."""


class Exchange(Protocol):
    """One HTTP request being answered, as an endpoint sees it (the server's request handler is one).

    ``connection`` is the client's TLS socket (for watching it hang up), ``wfile`` the raw response
    stream after the headers; setting ``close_connection`` ends the keep-alive connection afterwards.
    """

    connection: Any
    wfile: BufferedIOBase
    close_connection: bool
    headers: Any
    """The request's headers (``get``, ``get_all``), as http.server parsed them."""

    def send_response(self, code: int, message: str | None = None) -> None: ...

    def send_header(self, keyword: str, value: str) -> None: ...

    def end_headers(self) -> None: ...

    def send_text(self, status: int, text: str) -> None:
        """A complete plain-text response (a newline is added)."""

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        """A complete response with a Content-Length."""


class Closeable(Protocol):
    """A stream whose ``close()`` may be called from another thread and ends its relay soon."""

    def close(self) -> None: ...


class Streams:
    """The streams being relayed right now; :meth:`close_all` (on stop) ends them and any asked for later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[Closeable] = set()
        self._stopped = False

    @contextlib.contextmanager
    def tracking(self, stream: Closeable) -> Iterator[None]:
        """Count ``stream`` as in flight while the block runs."""
        with self._lock:
            self._open.add(stream)
            stopped = self._stopped
        if stopped:  # a kept-alive connection asked after stop(): end it at once
            stream.close()
        try:
            yield
        finally:
            with self._lock:
                self._open.discard(stream)

    def count(self) -> int:
        with self._lock:
            return len(self._open)

    def close_all(self) -> None:
        with self._lock:
            self._stopped = True
            streams = list(self._open)
        for stream in streams:
            stream.close()
