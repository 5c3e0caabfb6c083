"""The server side of one SPDY/3 connection, without I/O: bytes in, events out, bytes to send back.

A kubelet endpoint (exec, attach, port-forward) owns one :class:`ServerSession` per upgraded
connection: it feeds what the socket received to :meth:`ServerSession.feed`, handles the
returned events (a stream opened with its headers, data, a stream's end or reset, the peer
going away), and writes what :meth:`ServerSession.take_output` returns, which includes the
session's own answers (PING echoes, RST_STREAM for frames on streams that do not exist).

Rules kept as the Go peers (moby/spdystream) expect: the client opens odd, increasing stream
ids; every opened stream gets a SYN_REPLY (:meth:`accept`) or a RST_STREAM (:meth:`refuse`);
data is sent in frames of at most :data:`CHUNK` bytes.

Flow control (SPDY/3 section 2.6.8): we give credit back with WINDOW_UPDATE as data arrives, so a
peer that keeps windows never stalls. Our own sends honour the peer's windows only once the peer
has shown it keeps them (a SETTINGS_INITIAL_WINDOW_SIZE or a WINDOW_UPDATE): spdystream, the peer
of every Kubernetes component, never sends either, and waiting for its credit would hang after
64 KiB. Until the peer grants credit, data beyond a window waits in the stream (:meth:`pending`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provider.kubelet import spdy

CHUNK = 32 * 1024
"""Largest DATA frame we send: small enough to interleave streams, large enough to be cheap."""
INITIAL_WINDOW = 64 * 1024
"""SPDY/3's default stream window, until the peer's SETTINGS say otherwise."""
SETTINGS_INITIAL_WINDOW_SIZE = 7

INVALID_STREAM, STREAM_ALREADY_CLOSED = 2, 9


@dataclass(frozen=True)
class StreamOpened:
    """The peer opened a stream: accept or refuse it."""

    stream_id: int
    headers: spdy.Headers
    fin: bool


@dataclass(frozen=True)
class StreamData:
    """Bytes that arrived on a stream."""

    stream_id: int
    data: bytes


@dataclass(frozen=True)
class StreamEnded:
    """The peer half-closed the stream (DATA or SYN_STREAM with FIN): no more data will come on it."""

    stream_id: int


@dataclass(frozen=True)
class StreamReset:
    """The peer reset a stream; it is gone."""

    stream_id: int
    status: int


@dataclass(frozen=True)
class PeerGoingAway:
    """The peer opens no more streams."""

    last_good_stream_id: int


Event = StreamOpened | StreamData | StreamEnded | StreamReset | PeerGoingAway


@dataclass
class _Stream:
    remote_open: bool = True
    local_open: bool = True
    send_window: int = INITIAL_WINDOW
    received: int = 0
    """Bytes taken in since we last gave credit back."""
    queued: bytearray = field(default_factory=bytearray)
    fin_queued: bool = False


@dataclass
class ServerSession:
    """One SPDY/3 connection as the kubelet serves it; see the module docstring for the protocol rules."""

    _reader: spdy.FrameReader = field(default_factory=spdy.FrameReader)
    _codec: spdy.HeaderCodec = field(default_factory=spdy.HeaderCodec)
    _streams: dict[int, _Stream] = field(default_factory=dict)
    _last_opened: int = 0
    _output: bytearray = field(default_factory=bytearray)
    going_away: bool = False
    peer_keeps_windows: bool = False
    """Set when the peer sent SETTINGS_INITIAL_WINDOW_SIZE or WINDOW_UPDATE: from then on its windows bind."""
    _initial_window: int = INITIAL_WINDOW

    def feed(self, data: bytes) -> list[Event]:
        """Events in what the peer sent; raises :class:`spdy.FrameError` when the connection must end."""
        events: list[Event] = []
        for frame in self._reader.feed(data):
            events += self._handle(frame)
        return events

    def take_output(self) -> bytes:
        """Bytes to write to the socket now (answers of the session and of the calls since the last take)."""
        out = bytes(self._output)
        self._output.clear()
        return out

    # -- what the endpoint does ------------------------------------------------------------

    def accept(self, stream_id: int, headers: spdy.Headers | None = None) -> None:
        self._write(spdy.SynReply(stream_id, headers or {}))

    def refuse(self, stream_id: int, status: int = spdy.REFUSED_STREAM) -> None:
        self._streams.pop(stream_id, None)
        self._write(spdy.RstStream(stream_id, status))

    def send(self, stream_id: int, data: bytes, *, fin: bool = False) -> None:
        """Queue ``data`` on an accepted stream (``fin``: it is our last); a closed stream drops it."""
        stream = self._streams.get(stream_id)
        if stream is None or not stream.local_open or stream.fin_queued:
            return
        stream.queued += data
        stream.fin_queued = fin
        self._drain(stream_id, stream)

    def pending(self, stream_id: int) -> int:
        """Bytes of ``stream_id`` waiting for the peer's credit (0 when the peer keeps no windows)."""
        stream = self._streams.get(stream_id)
        return len(stream.queued) if stream is not None else 0

    def _drain(self, stream_id: int, stream: _Stream) -> None:
        """Send what the window allows (all of it for a peer that keeps no windows); FIN with the last byte."""
        while stream.queued or stream.fin_queued:
            room = min(CHUNK, stream.send_window) if self.peer_keeps_windows else CHUNK
            if room <= 0 and stream.queued:
                return
            chunk = bytes(stream.queued[:room])
            del stream.queued[:room]
            last = stream.fin_queued and not stream.queued
            if not chunk and not last:
                return
            self._write(spdy.DataFrame(stream_id, chunk, fin=last))
            stream.send_window -= len(chunk)
            if last:
                stream.fin_queued = False
                self._close_local(stream_id)
                return

    def reset(self, stream_id: int, status: int = spdy.CANCEL) -> None:
        if self._streams.pop(stream_id, None) is not None:
            self._write(spdy.RstStream(stream_id, status))

    def go_away(self) -> None:
        """Say we accept no new streams (GOAWAY with the last stream we opened for the peer)."""
        if not self.going_away:
            self.going_away = True
            self._write(spdy.GoAway(self._last_opened, 0))

    def is_open(self, stream_id: int) -> bool:
        return stream_id in self._streams

    # -- what the peer did -------------------------------------------------------------------

    def _handle(self, frame: spdy.Frame) -> list[Event]:
        if isinstance(frame, spdy.SynStream):
            return self._opened(frame)
        if isinstance(frame, spdy.DataFrame):
            return self._data(frame)
        if isinstance(frame, spdy.RstStream):
            self._streams.pop(frame.stream_id, None)
            return [StreamReset(frame.stream_id, frame.status)]
        if isinstance(frame, spdy.Ping):
            if frame.ping_id % 2 == 1:  # the client's ids are odd; ours (even) would be answers
                self._write(frame)
            return []
        if isinstance(frame, spdy.GoAway):
            return [PeerGoingAway(frame.last_good_stream_id)]
        if isinstance(frame, spdy.WindowUpdate):
            self._credit(frame)
        elif isinstance(frame, spdy.Settings):
            self._settings(frame)
        return []  # HEADERS: the Go peers send none we need

    def _credit(self, frame: spdy.WindowUpdate) -> None:
        self.peer_keeps_windows = True
        stream = self._streams.get(frame.stream_id)
        if stream is not None and frame.delta > 0:
            stream.send_window = min(stream.send_window + frame.delta, 0x7FFFFFFF)
            self._drain(frame.stream_id, stream)

    def _settings(self, frame: spdy.Settings) -> None:
        for _flags, setting, value in frame.entries:
            if setting == SETTINGS_INITIAL_WINDOW_SIZE and 0 < value <= 0x7FFFFFFF:
                self.peer_keeps_windows = True
                for stream in self._streams.values():  # the change applies to open streams too
                    stream.send_window += value - self._initial_window
                self._initial_window = value

    def _opened(self, frame: spdy.SynStream) -> list[Event]:
        if frame.stream_id % 2 == 0 or frame.stream_id <= self._last_opened:
            raise spdy.FrameError(f"stream {frame.stream_id} opened out of order (last {self._last_opened})")
        self._last_opened = frame.stream_id
        if self.going_away:
            self._write(spdy.RstStream(frame.stream_id, spdy.REFUSED_STREAM))
            return []
        self._streams[frame.stream_id] = _Stream(remote_open=not frame.fin, send_window=self._initial_window)
        return [StreamOpened(frame.stream_id, frame.headers, frame.fin)]

    def _data(self, frame: spdy.DataFrame) -> list[Event]:
        stream = self._streams.get(frame.stream_id)
        if stream is None:
            self._write(spdy.RstStream(frame.stream_id, INVALID_STREAM))
            return []
        if not stream.remote_open:
            self.reset(frame.stream_id, STREAM_ALREADY_CLOSED)
            return []
        events: list[Event] = [StreamData(frame.stream_id, frame.data)] if frame.data else []
        stream.received += len(frame.data)
        if stream.received >= INITIAL_WINDOW // 2 and not frame.fin:
            # Credit back what arrived, so a peer that keeps windows never waits on us.
            self._write(spdy.WindowUpdate(frame.stream_id, stream.received))
            stream.received = 0
        if frame.fin:
            stream.remote_open = False
            if not stream.local_open:
                del self._streams[frame.stream_id]
            events.append(StreamEnded(frame.stream_id))
        return events

    def _close_local(self, stream_id: int) -> None:
        stream = self._streams[stream_id]
        stream.local_open = False
        if not stream.remote_open:
            del self._streams[stream_id]

    def _write(self, frame: spdy.Frame) -> None:
        self._output += spdy.encode(frame, self._codec)
