"""Fakes and helpers shared by the kubelet API tests: a LogSource in plain Python and an HTTPS client."""

from __future__ import annotations

import http.client
import queue
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from descheduler.kube import errors
from provider.kubelet import server

END = b"<end>"


class FakeStream:
    """Yields the given chunks, then (when ``live``) whatever the test feeds until ended or closed."""

    def __init__(self, chunks: list[bytes], *, live: bool, fail_after: errors.ApiError | None) -> None:
        self.fed: queue.Queue[bytes] = queue.Queue()
        for chunk in chunks:
            self.fed.put(chunk)
        if not live:
            self.fed.put(END)
        self.fail_after = fail_after
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.fed.get()
            if chunk is END or self.closed.is_set():
                break
            yield chunk
        if self.fail_after is not None and not self.closed.is_set():
            raise self.fail_after

    def close(self) -> None:
        self.closed.set()
        self.fed.put(END)  # wakes a blocked reader, like shutting a socket down


@dataclass
class FakeLogs:
    """A LogSource that records each call and answers with ``chunks``, or raises ``error``."""

    chunks: list[bytes] = field(default_factory=lambda: [b"line 1\n", b"line 2\n"])
    error: errors.ApiError | None = None
    live: bool = False
    fail_after: errors.ApiError | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    streams: queue.Queue[FakeStream] = field(default_factory=queue.Queue)

    def stream(self, namespace: str, pod: str, **options: Any) -> FakeStream:
        self.calls.append({"namespace": namespace, "pod": pod, **options})
        if self.error is not None:
            raise self.error
        stream = FakeStream(list(self.chunks), live=self.live, fail_after=self.fail_after)
        self.streams.put(stream)
        return stream


@dataclass(frozen=True)
class Tls:
    """The server's certificate and key files; clients trust the certificate."""

    cert: Path
    key: Path


def connect(
    srv: server.KubeletServer, tls: Tls, client_cert: tuple[Path, Path] | None = None
) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(tls.cert))
    if client_cert is not None:
        context.load_cert_chain(*client_cert)
    return http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=10)


def get(srv: server.KubeletServer, tls: Tls, path: str) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = connect(srv, tls)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, response
