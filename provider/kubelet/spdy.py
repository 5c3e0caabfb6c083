"""SPDY/3 framing as Kubernetes speaks it (``SPDY/3.1`` upgrades, moby/spdystream's frames).

The API server talks SPDY to a kubelet for exec/attach when it translates a kubectl WebSocket
(nodes that do not declare ``ExtendWebSocketsToKubelet``), and for port-forward always: kubectl's
port-forward WebSocket carries SPDY frames in binary messages (docs/design/streaming-findings.md).

This module is the codec only, pure and incremental: :class:`FrameReader` turns received bytes
into frames and refuses malformed ones with :class:`FrameError` (never an exception of another
kind, never unbounded memory); :func:`encode` turns frames into bytes. Header blocks are
compressed with one zlib stream per direction per connection, primed with the SPDY/3
dictionary, so each connection owns one :class:`HeaderCodec` per direction. Flow control
frames are parsed and written; :mod:`provider.kubelet.spdy_session` decides when windows bind.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
MAX_LENGTH = (1 << 24) - 1
"""A frame's payload length is 24 bits."""
MAX_HEADER_BLOCK = 256 * 1024
"""Decompressed header blocks larger than this are refused (a compressed block may expand ~1000x)."""
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9

# RST_STREAM status codes (SPDY/3 section 2.6.3) that a session sends.
PROTOCOL_ERROR, REFUSED_STREAM, INTERNAL_ERROR, CANCEL, STREAM_IN_USE = 1, 3, 6, 5, 8

_WORDS = (
    *(  # noqa: SIM905 - one long line of words reads better than 64 lines of one word each
        "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges age"
        " allow authorization cache-control connection content-base content-encoding content-language"
        " content-length content-location content-md5 content-range content-type date etag expect expires from"
        " host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location"
        " max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer"
        " transfer-encoding upgrade user-agent vary via warning www-authenticate method get status"
    ).split(),
    "200 OK",
    *"version HTTP/1.1 url public set-cookie keep-alive origin".split(),  # noqa: SIM905
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _dictionary() -> bytes:
    # The SPDY/3 draft's header dictionary: length-prefixed words, then a run of common values.
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


DICTIONARY = _dictionary()

Headers = dict[str, list[str]]
"""Header names (lower case) to their values; SPDY joins several values of one name with NUL."""


class FrameError(ValueError):
    """The peer sent something that is not a SPDY/3 frame we can accept; the message says what."""


@dataclass(frozen=True)
class DataFrame:
    """Bytes of one stream; ``fin`` ends the sender's half."""

    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    """The peer opens a stream, with its headers (``streamtype``, ``port``, ...)."""

    stream_id: int
    headers: Headers
    associated_id: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    """The answer that accepts an opened stream."""

    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class HeadersFrame:
    """More headers for an open stream."""

    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    """A stream ends abnormally, with a status (CANCEL, REFUSED_STREAM, ...)."""

    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    """Connection settings; the Go peers send none and ignore ours."""

    entries: tuple[tuple[int, int, int], ...] = ()
    """(flags, id, value) per setting."""


@dataclass(frozen=True)
class Ping:
    """A liveness check; the receiver echoes the peer's ids."""

    ping_id: int


@dataclass(frozen=True)
class GoAway:
    """No new streams on this connection after ``last_good_stream_id``."""

    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class WindowUpdate:
    """Flow-control credit (the Go peers neither send it nor act on ours; see spdy_session)."""

    stream_id: int
    delta: int


Frame = DataFrame | SynStream | SynReply | HeadersFrame | RstStream | Settings | Ping | GoAway | WindowUpdate


class HeaderCodec:
    """One direction's header compression of one connection (the zlib stream spans all its frames)."""

    def __init__(self) -> None:
        self._compress = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self._decompress = zlib.decompressobj(zdict=DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        block = [struct.pack(">I", len(headers))]
        for name, values in headers.items():
            raw_name, raw_value = name.lower().encode(), "\0".join(values).encode()
            block += [struct.pack(">I", len(raw_name)), raw_name, struct.pack(">I", len(raw_value)), raw_value]
        return self._compress.compress(b"".join(block)) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    def decompress(self, compressed: bytes) -> Headers:
        try:
            block = self._decompress.decompress(compressed, MAX_HEADER_BLOCK)
        except zlib.error as exc:
            raise FrameError(f"header block does not decompress: {exc}") from None
        if self._decompress.unconsumed_tail:
            raise FrameError(f"header block larger than {MAX_HEADER_BLOCK} bytes")
        return _parse_header_block(block)


def _parse_header_block(block: bytes) -> Headers:
    view = _Cursor(block, "header block")
    count = view.u32()
    if count > len(block) // 8:
        raise FrameError(f"header block claims {count} headers in {len(block)} bytes")
    headers: Headers = {}
    for _ in range(count):
        name = view.text(view.u32())
        if not name or name != name.lower():
            raise FrameError(f"header name {name!r} is empty or not lower case")
        if name in headers:
            raise FrameError(f"header {name!r} given twice")
        headers[name] = view.text(view.u32()).split("\0")
    if view.left():
        raise FrameError(f"{view.left()} bytes after the last header")
    return headers


class _Cursor:
    def __init__(self, data: bytes, what: str) -> None:
        self._data, self._at, self._what = data, 0, what

    def take(self, n: int) -> bytes:
        if self._at + n > len(self._data):
            raise FrameError(f"{self._what} ends early")
        chunk = self._data[self._at : self._at + n]
        self._at += n
        return chunk

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def text(self, n: int) -> str:
        try:
            return self.take(n).decode()
        except UnicodeDecodeError:
            raise FrameError(f"{self._what}: a header is not UTF-8") from None

    def left(self) -> int:
        return len(self._data) - self._at


def encode(frame: Frame, codec: HeaderCodec) -> bytes:
    """The bytes of ``frame``; header blocks go through ``codec`` (this connection's sending side)."""
    if isinstance(frame, DataFrame):
        return _data_header(frame.stream_id, FLAG_FIN if frame.fin else 0, len(frame.data)) + frame.data
    if isinstance(frame, SynStream):
        flags = (FLAG_FIN if frame.fin else 0) | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
        fixed = struct.pack(">IIBB", frame.stream_id, frame.associated_id, (frame.priority & 7) << 5, 0)
        return _control(SYN_STREAM, flags, fixed + codec.compress(frame.headers))
    if isinstance(frame, SynReply | HeadersFrame):
        kind = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
        payload = struct.pack(">I", frame.stream_id) + codec.compress(frame.headers)
        return _control(kind, FLAG_FIN if frame.fin else 0, payload)
    if isinstance(frame, RstStream):
        return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
    if isinstance(frame, Settings):
        entries = b"".join(struct.pack(">II", (flags << 24) | id_, value) for flags, id_, value in frame.entries)
        return _control(SETTINGS, 0, struct.pack(">I", len(frame.entries)) + entries)
    if isinstance(frame, Ping):
        return _control(PING, 0, struct.pack(">I", frame.ping_id))
    if isinstance(frame, GoAway):
        return _control(GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id, frame.status))
    return _control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))


def _data_header(stream_id: int, flags: int, length: int) -> bytes:
    if length > MAX_LENGTH:
        raise ValueError(f"a data frame holds at most {MAX_LENGTH} bytes")
    return struct.pack(">IB", stream_id & 0x7FFFFFFF, flags) + length.to_bytes(3, "big")


def _control(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHB", 0x8000 | VERSION, kind, flags) + len(payload).to_bytes(3, "big") + payload


class FrameReader:
    """Frames from a byte stream, as they complete; one per connection (it owns the receiving codec).

    :meth:`feed` buffers at most one frame's bytes; anything malformed raises :class:`FrameError`
    and the connection must end (the zlib stream cannot be resynchronised). Unknown control frame
    types are skipped, as SPDY/3 requires.
    """

    def __init__(self, *, max_length: int = MAX_LENGTH) -> None:
        self._buffer = bytearray()
        self._codec = HeaderCodec()
        self._max_length = max_length

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if length > self._max_length:
                raise FrameError(f"frame of {length} bytes exceeds the limit of {self._max_length}")
            if len(self._buffer) < 8 + length:
                break
            head, payload = bytes(self._buffer[:8]), bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            frame = self._frame(head, payload)
            if frame is not None:
                frames.append(frame)
        return frames

    def _frame(self, head: bytes, payload: bytes) -> Frame | None:
        flags = head[4]
        if not head[0] & 0x80:
            stream_id = int.from_bytes(head[:4], "big")
            if stream_id == 0:
                raise FrameError("data frame for stream 0")
            return DataFrame(stream_id, payload, fin=bool(flags & FLAG_FIN))
        version, kind = struct.unpack(">HH", head[:4])
        if version & 0x7FFF != VERSION:
            raise FrameError(f"SPDY version {version & 0x7FFF}, expected {VERSION}")
        return self._control(kind, flags, _Cursor(payload, _KIND_NAMES.get(kind, "control frame")))

    def _control(self, kind: int, flags: int, view: _Cursor) -> Frame | None:
        fin = bool(flags & FLAG_FIN)
        if kind == SYN_STREAM:
            stream_id, associated = _stream(view), view.u32() & 0x7FFFFFFF
            priority = view.take(2)[0] >> 5
            headers = self._codec.decompress(view.take(view.left()))
            return SynStream(stream_id, headers, associated, priority, fin, bool(flags & FLAG_UNIDIRECTIONAL))
        if kind in (SYN_REPLY, HEADERS):
            stream_id = _stream(view)
            headers = self._codec.decompress(view.take(view.left()))
            return SynReply(stream_id, headers, fin) if kind == SYN_REPLY else HeadersFrame(stream_id, headers, fin)
        if kind == SETTINGS:
            count = view.u32()
            if view.left() != count * 8:
                raise FrameError(f"SETTINGS claims {count} entries in {view.left()} bytes")
            entries = []
            for _ in range(count):
                word = view.u32()
                entries.append((word >> 24, word & 0xFFFFFF, view.u32()))
            return Settings(tuple(entries))
        fixed = {RST_STREAM: 8, PING: 4, GOAWAY: 8, WINDOW_UPDATE: 8}.get(kind)
        if fixed is None:
            return None  # an unknown control frame: ignored
        if view.left() != fixed:
            raise FrameError(f"{_KIND_NAMES[kind]} of {view.left()} bytes, expected {fixed}")
        if kind == PING:
            return Ping(view.u32())
        first, second = view.u32() & 0x7FFFFFFF, view.u32()
        if kind == RST_STREAM:
            return RstStream(first, second)
        if kind == GOAWAY:
            return GoAway(first, second)
        return WindowUpdate(first, second & 0x7FFFFFFF)


_KIND_NAMES = {
    SYN_STREAM: "SYN_STREAM",
    SYN_REPLY: "SYN_REPLY",
    RST_STREAM: "RST_STREAM",
    SETTINGS: "SETTINGS",
    PING: "PING",
    GOAWAY: "GOAWAY",
    HEADERS: "HEADERS",
    WINDOW_UPDATE: "WINDOW_UPDATE",
}


def _stream(view: _Cursor) -> int:
    stream_id = view.u32() & 0x7FFFFFFF
    if stream_id == 0:
        raise FrameError("stream id 0 in a stream frame")
    return stream_id
