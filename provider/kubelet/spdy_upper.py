"""The upper side of exec/attach over SPDY/3.1: what an API server that translates (1.35 and earlier, or
``ExtendWebSocketsToKubelet`` off, or a node that does not declare it) or kubectl with
``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`` sends.

After the upgrade the client opens one stream per channel, named by its ``streamtype`` header
(``error``, ``stdin``, ``stdout``, ``stderr``, ``resize``). :func:`gather` waits for the streams
the request asked for (as the kubelet does, 30 s at most) and accepts each; :class:`SpdyUpper`
then carries the session: stdin data and its end (a DATA frame with FIN), resizes, output, and
the v4 error stream's Status written once before every stream ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from provider.kubelet import channels
from provider.kubelet.remote_command import UpperGoneError
from provider.kubelet.spdy_connection import ConnectionLostError, SpdyConnection
from provider.kubelet.spdy_session import Event, StreamData, StreamEnded, StreamOpened, StreamReset

STREAM_CREATION_SECONDS = 30.0
"""How long the client may take to open the streams it asked for (the kubelet's own bound)."""


@dataclass(frozen=True)
class Wanted:
    """The streams a request asks for (its ``input``/``output``/``error``/``tty`` flags)."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    def stream_types(self) -> set[str]:
        wanted = {"error"}
        wanted |= {"stdin"} if self.stdin else set()
        wanted |= {"stdout"} if self.stdout else set()
        wanted |= {"stderr"} if self.stderr and not self.tty else set()
        wanted |= {"resize"} if self.tty else set()
        return wanted


def gather(connection: SpdyConnection, wanted: Wanted, *, timeout: float | None = None) -> SpdyUpper:
    """Accept the streams of a remote-command session; raises UpperGoneError when they do not all come
    within ``timeout`` seconds (default :data:`STREAM_CREATION_SECONDS`)."""
    missing = wanted.stream_types()
    ids: dict[int, int] = {}
    timer = threading.Timer(timeout or STREAM_CREATION_SECONDS, connection.close)
    timer.daemon = True
    timer.start()
    events = connection.events()
    try:
        while missing:
            event = next(events, None)
            if event is None:
                raise UpperGoneError(f"the client opened no {', '.join(sorted(missing))} stream")
            if not isinstance(event, StreamOpened):
                continue
            kind = (event.headers.get("streamtype") or [""])[0]
            if kind not in missing:
                connection.refuse(event.stream_id)
                continue
            connection.accept(event.stream_id)
            ids[channels.STREAM_TYPES[kind]] = event.stream_id
            missing.discard(kind)
    except ConnectionLostError as exc:
        raise UpperGoneError(str(exc)) from None
    finally:
        timer.cancel()
    return SpdyUpper(connection, ids, events)


class SpdyUpper:
    """An :class:`~provider.kubelet.remote_command.UpperSession` over the accepted SPDY streams."""

    def __init__(self, connection: SpdyConnection, ids: dict[int, int], events: Iterator[Event]) -> None:
        self._connection = connection
        self._ids = ids
        self._channels = {stream_id: channel for channel, stream_id in ids.items()}
        self._events = events

    def inputs(self) -> Iterator[tuple[int, bytes]]:
        try:
            for event in self._events:
                channel = self._channels.get(getattr(event, "stream_id", -1))
                if channel not in (channels.STDIN, channels.RESIZE):
                    continue
                if isinstance(event, StreamData):
                    yield channel, event.data
                elif isinstance(event, StreamEnded | StreamReset) and channel == channels.STDIN:
                    yield channels.CLOSE, bytes((channels.STDIN,))
        except ConnectionLostError as exc:
            raise UpperGoneError(str(exc)) from None

    def send(self, channel: int, data: bytes) -> None:
        stream_id = self._ids.get(channel)
        if stream_id is None:
            return  # e.g. stderr of a tty session: the request did not ask for it
        try:
            self._connection.send(stream_id, data)
        except ConnectionLostError as exc:
            raise UpperGoneError(str(exc)) from None
        if not self._connection.is_open(stream_id):
            raise UpperGoneError(f"the client reset its {_name(channel)} stream")

    def finish(self, status: bytes) -> None:
        try:
            self._connection.send(self._ids[channels.ERROR], status, fin=True)
            for channel in (channels.STDOUT, channels.STDERR):
                if channel in self._ids:
                    self._connection.send(self._ids[channel], b"", fin=True)
        except ConnectionLostError:
            return

    def close(self) -> None:
        self._connection.close()


def _name(channel: int) -> str:
    return next((kind for kind, number in channels.STREAM_TYPES.items() if number == channel), str(channel))
