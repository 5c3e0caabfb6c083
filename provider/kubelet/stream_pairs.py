"""Pairing the SPDY streams of a port-forward session into forwarded connections (pure).

For each TCP connection it forwards, kubectl opens two streams on the one SPDY session: an
``error`` stream and a ``data`` stream, both carrying the headers ``streamtype``, ``port`` and
``requestid`` (docs/design/streaming-findings.md section 2). :class:`Pairing` matches them by
request id, as the kubelet does: a request whose second stream does not come within the timeout,
that names an unknown stream type, opens the same type twice, or asks for a port that is not one
is :class:`Broken` (the message goes to the request's error stream, which kubectl prints). The
endpoint that owns the session (:mod:`provider.kubelet.forwarding`) calls it under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provider.kubelet import spdy

ERROR, DATA = "error", "data"
PAIRING_SECONDS = 30.0
"""How long the second stream of a request may take to follow the first (the kubelet's stream creation timeout)."""


@dataclass(frozen=True)
class Pair:
    """A complete forwarded connection: the port it asks for and its two streams."""

    request_id: str
    port: int
    error_stream: int
    data_stream: int


@dataclass(frozen=True)
class Waiting:
    """The stream is held until its partner comes."""


@dataclass(frozen=True)
class Broken:
    """A request that cannot be forwarded: ``message`` goes on ``error_stream`` (when there is one),
    then every stream of ``streams`` ends."""

    request_id: str
    error_stream: int | None
    streams: tuple[int, ...]
    message: str


Outcome = Pair | Waiting | Broken


def header(headers: spdy.Headers, name: str) -> str:
    """The first value of a header (names are lowercase on the wire), or ``""``."""
    values = headers.get(name) or []
    return values[0] if values else ""


def parse_port(text: str) -> int | None:
    """A TCP port from a ``port`` header (1 to 65535), or None."""
    if not text.isascii() or not text.isdigit():
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def request_id_of(stream_id: int, headers: spdy.Headers) -> str:
    """The stream's ``requestid``; clients that send none had their two streams numbered one after the other
    (error ``n``, data ``n + 2``), and the kubelet pairs those by number, so do we."""
    given = header(headers, "requestid")
    if given:
        return given
    kind = header(headers, "streamtype")
    return str(stream_id - 2 if kind == DATA else stream_id)


@dataclass
class _Pending:
    opened_at: float
    streams: dict[str, int] = field(default_factory=dict)
    data_headers: spdy.Headers = field(default_factory=dict)


@dataclass
class Pairing:
    """The requests of one session whose second stream has not come yet."""

    timeout: float = PAIRING_SECONDS
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def opened(self, stream_id: int, headers: spdy.Headers, *, now: float) -> Outcome:
        """A stream the peer opened (and we accepted): its request is waiting, complete, or broken."""
        request_id = request_id_of(stream_id, headers)
        kind = header(headers, "streamtype")
        pending = self._pending.setdefault(request_id, _Pending(opened_at=now))
        if kind not in (ERROR, DATA):
            return self._break(request_id, (stream_id,), f"unknown stream type {kind!r}")
        if kind in pending.streams:
            return self._break(request_id, (stream_id,), f"{kind} stream already assigned")
        pending.streams[kind] = stream_id
        if kind == DATA:
            pending.data_headers = headers
        if len(pending.streams) < 2:
            return Waiting()
        del self._pending[request_id]
        text = header(pending.data_headers, "port")
        port = parse_port(text)
        if port is None:
            streams = (pending.streams[ERROR], pending.streams[DATA])
            message = f"error processing stream for request {request_id}: invalid port {text!r}"
            return Broken(request_id, pending.streams[ERROR], streams, message)
        return Pair(request_id, port, pending.streams[ERROR], pending.streams[DATA])

    def expired(self, *, now: float) -> list[Broken]:
        """Requests whose partner stream did not come in time; they are dropped."""
        late = [rid for rid, pending in self._pending.items() if now - pending.opened_at >= self.timeout]
        return [self._break(rid, (), "timed out waiting for the other stream of the request") for rid in late]

    def forget(self, stream_id: int) -> None:
        """The peer reset a stream before its partner came: the request is gone."""
        for request_id, pending in list(self._pending.items()):
            if stream_id in pending.streams.values():
                del self._pending[request_id]

    def waiting(self) -> int:
        return len(self._pending)

    def _break(self, request_id: str, extra: tuple[int, ...], reason: str) -> Broken:
        pending = self._pending.pop(request_id)
        streams = tuple(pending.streams.values()) + extra
        message = f"error processing stream for request {request_id}: {reason}"
        return Broken(request_id, pending.streams.get(ERROR), streams, message)
