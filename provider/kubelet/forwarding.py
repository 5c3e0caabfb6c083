"""One port-forward session: kubectl's SPDY streams paired into connections, each relayed to the lower pod.

:mod:`provider.kubelet.portforward` answers the upgrade and hands the SPDY connection (on the TLS
socket, or tunnelled in a WebSocket) to :class:`ForwardSession`, which reads it in the calling
thread. Every stream is accepted at once (kubectl waits for that before opening the next one);
:class:`~provider.kubelet.stream_pairs.Pairing` matches each ``error`` stream with its ``data``
stream; a complete pair becomes a :class:`Forward` with its own lower connection (opened in its
own thread, so a slow lower API server holds up only that connection) and relays bytes both
ways. Any failure is written as plain text on the pair's error stream, which kubectl prints.

A watchdog thread ends what has gone quiet: a session whose client sent nothing (kubectl pings
every 5 s over SPDY, 10 s in the WebSocket tunnel) for :attr:`Timeouts.dead_peer`, a request
whose second stream never came, a lower connection that stopped answering our pings, and a
connection the client half-closed once the lower side has been silent for :attr:`Timeouts.linger`
(the lower protocol cannot pass a half-close on, so closing is the only way to say it).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from descheduler.kube import errors
from provider.kubelet import stream_pairs
from provider.kubelet.lower_portforward import FramingError, LowerForwardError
from provider.kubelet.remote_command import Traffic
from provider.kubelet.spdy_connection import ConnectionLostError, SpdyConnection
from provider.kubelet.spdy_session import Event, PeerGoingAway, StreamData, StreamEnded, StreamOpened, StreamReset

logger = logging.getLogger(__name__)

BUFFER_BYTES = 1024 * 1024
"""Client bytes held for a connection whose lower leg is still opening; beyond that the session waits."""


class LowerConnection(Protocol):
    """One forwarded connection below (:class:`~provider.kubelet.lower_portforward.LowerForward`)."""

    heard_at: float

    def receive(self) -> bytes | None: ...

    def send(self, data: bytes) -> None: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class LowerOpener(Protocol):
    """Opens lower connections (:class:`~provider.kubelet.lower_portforward.LowerPortForward`)."""

    def open(self, namespace: str, pod: str, port: int) -> LowerConnection: ...


@dataclass(frozen=True)
class Timeouts:
    """How long each stage of a session may be quiet."""

    pairing: float = stream_pairs.PAIRING_SECONDS
    """For the second stream of a request to follow the first."""
    dead_peer: float = 20.0
    """Silence after which a peer (the client, or a lower connection we ping) counts as gone."""
    ping: float = 10.0
    """Between our pings on each lower connection."""
    linger: float = 5.0
    """After the client half-closed a connection: lower silence after which it is closed."""
    tick: float = 1.0
    """Between two rounds of the watchdog."""


def lower_message(exc: errors.ApiError) -> str:
    """What kubectl shows for a lower refusal or outage."""
    if exc.status == 404:
        return f"pod not found in the lower cluster: {exc.message}"
    return f"lower cluster: {exc.message}"


class Forward:
    """One forwarded TCP connection: its two upper streams and its lower connection."""

    def __init__(self, session: ForwardSession, pair: stream_pairs.Pair) -> None:
        self.pair = pair
        self._session = session
        self._ready = threading.Condition()
        self._lower: LowerConnection | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._stopping = False
        self._reason: str | None = None
        self._client_done_at: float | None = None
        self._last_ping = self._last_up = time.monotonic()
        self.failed = False
        self.thread = threading.Thread(target=self._run, name=f"portforward-{pair.request_id}", daemon=True)

    # -- from the session's reader ------------------------------------------------------------

    def down(self, data: bytes) -> None:
        """Client bytes to the lower pod (held while the lower connection opens)."""
        with self._ready:
            if self._stopping:
                return
            if self._lower is None:
                self._buffer.append(data)
                self._buffered += len(data)
                while self._lower is None and not self._stopping and self._buffered > BUFFER_BYTES:
                    self._ready.wait(1.0)
                return
            lower = self._lower
        try:
            lower.send(data)
        except errors.ConnectionFailedError:
            return  # the relay upwards sees the same end and reports it
        self._session.traffic.count(down=len(data))

    def client_finished(self) -> None:
        self._client_done_at = time.monotonic()

    def stop(self, reason: str | None) -> None:
        """End the connection; ``reason`` goes on the error stream (None: a clean end). From any thread."""
        with self._ready:
            if self._stopping:
                return
            self._stopping, self._reason = True, reason
            lower = self._lower
            self._ready.notify_all()
        if lower is not None:
            lower.close()

    # -- from the watchdog -----------------------------------------------------------------------

    def tick(self, now: float, timeouts: Timeouts) -> None:
        lower = self._lower
        if lower is None or self._stopping:
            return
        if now - lower.heard_at > timeouts.dead_peer:
            self.stop(f"the lower connection has been silent for {timeouts.dead_peer:.0f}s")
        elif self._client_done_at is not None and now - max(self._client_done_at, self._last_up) >= timeouts.linger:
            self.stop(None)
        elif now - self._last_ping >= timeouts.ping:
            self._last_ping = now
            lower.ping()

    # -- the relay upwards, in its own thread ----------------------------------------------------

    def _run(self) -> None:
        pair, session = self.pair, self._session
        try:
            lower = session.opener.open(session.namespace, session.pod, pair.port)
        except errors.ApiError as exc:
            self._finish(lower_message(exc))
            return
        if not self._attach(lower):
            lower.close()
            self._finish(self._reason)
            return
        message: str | None = None
        try:
            while (data := lower.receive()) is not None:
                session.connection.send(pair.data_stream, data)
                session.traffic.count(up=len(data))
                self._last_up = time.monotonic()
        except (LowerForwardError, errors.ConnectionFailedError, FramingError) as exc:
            message = f"lower cluster: {exc}"
        except ConnectionLostError:
            self.stop(None)  # the upper side is gone: nobody to tell
        finally:
            lower.close()
        self._finish(self._reason if self._stopping else message)

    def _attach(self, lower: LowerConnection) -> bool:
        """Send what the client wrote meanwhile and let further bytes go straight down; False when stopped."""
        with self._ready:
            if self._stopping:
                return False
            try:
                for chunk in self._buffer:
                    lower.send(chunk)
                    self._session.traffic.count(down=len(chunk))
            except errors.ConnectionFailedError:
                pass  # receive() reports the end
            self._buffer.clear()
            self._lower = lower
            self._ready.notify_all()
        return True

    def _finish(self, message: str | None) -> None:
        """The error stream's text (when there is one) and the end of both streams; best effort."""
        pair, connection = self.pair, self._session.connection
        text = ""
        if message:
            self.failed = True
            text = f"error forwarding port {pair.port} to pod {self._session.namespace}/{self._session.pod}: {message}"
            logger.info("kubelet API: port-forward request %s: %s", pair.request_id, text)
        with contextlib.suppress(ConnectionLostError):
            connection.send(pair.error_stream, text.encode(), fin=True)
            connection.send(pair.data_stream, b"", fin=True)
        self._session.forward_done(self)


class ForwardSession:
    """The forwarded connections of one upgraded port-forward request, until the client hangs up."""

    def __init__(
        self,
        connection: SpdyConnection,
        opener: LowerOpener,
        *,
        namespace: str,
        pod: str,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.connection, self.opener = connection, opener
        self.namespace, self.pod = namespace, pod
        self.timeouts = timeouts or Timeouts()
        self.traffic = Traffic(started=time.monotonic())
        self._pairing = stream_pairs.Pairing(timeout=self.timeouts.pairing)
        self._forwards: dict[int, Forward] = {}
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._failures = 0
        self._peer_left = False

    def run(self) -> Traffic:
        """Serve the session in this thread until it ends; closes everything and says what went through."""
        watchdog = threading.Thread(target=self._watch, name="portforward-watchdog", daemon=True)
        watchdog.start()
        try:
            for event in self.connection.events():
                self._handle(event)
        except ConnectionLostError as exc:
            if not self._peer_left:  # after its GOAWAY, a client may drop the socket as it likes
                logger.info("kubelet API: port-forward to %s/%s ended: %s", self.namespace, self.pod, exc)
                self.traffic.result = "upper_gone"
        finally:
            self._done.set()
            with self._lock:
                forwards = set(self._forwards.values())
            for forward in forwards:
                forward.stop(None)
            self.connection.close()
            for forward in forwards:
                forward.thread.join(self.timeouts.linger)
            watchdog.join(self.timeouts.tick + 1)
        if self._failures and self.traffic.result == "ok":
            self.traffic.result = "lower_failed"
        return self.traffic

    def close(self) -> None:
        """End the session from another thread (the server is stopping)."""
        self.connection.close()

    def forward_done(self, forward: Forward) -> None:
        with self._lock:
            self._failures += forward.failed
            for stream_id in (forward.pair.error_stream, forward.pair.data_stream):
                if self._forwards.get(stream_id) is forward:
                    del self._forwards[stream_id]

    def _handle(self, event: Event) -> None:
        if isinstance(event, StreamOpened):
            self.connection.accept(event.stream_id)
            with self._lock:
                outcome = self._pairing.opened(event.stream_id, event.headers, now=time.monotonic())
                if isinstance(outcome, stream_pairs.Pair):
                    forward = Forward(self, outcome)
                    self._forwards[outcome.error_stream] = self._forwards[outcome.data_stream] = forward
                    forward.thread.start()
            if isinstance(outcome, stream_pairs.Broken):
                self._break(outcome)
            return
        if isinstance(event, PeerGoingAway):
            self._peer_left = True  # kubectl is closing; the connections in flight carry on until it hangs up
            return
        with self._lock:
            found = self._forwards.get(event.stream_id)
            if found is None and isinstance(event, StreamReset):
                self._pairing.forget(event.stream_id)
        if found is None or (event.stream_id != found.pair.data_stream and not isinstance(event, StreamReset)):
            return  # nothing to do for the error stream's own end (kubectl never writes on it)
        if isinstance(event, StreamData):
            found.down(event.data)
        elif isinstance(event, StreamEnded):
            found.client_finished()
        else:
            found.stop(None)  # kubectl resets the data stream once its side is done

    def _break(self, broken: stream_pairs.Broken) -> None:
        logger.info("kubelet API: port-forward to %s/%s: %s", self.namespace, self.pod, broken.message)
        with contextlib.suppress(ConnectionLostError):
            if broken.error_stream is not None:
                self.connection.send(broken.error_stream, broken.message.encode(), fin=True)
            for stream_id in broken.streams:
                if stream_id != broken.error_stream:
                    self.connection.reset(stream_id)

    def _watch(self) -> None:
        timeouts = self.timeouts
        while not self._done.wait(timeouts.tick):
            now = time.monotonic()
            if now - self.connection.heard_at > timeouts.dead_peer:
                logger.info(
                    "kubelet API: port-forward to %s/%s: the client has been silent for %.0fs; closing",
                    self.namespace,
                    self.pod,
                    timeouts.dead_peer,
                )
                self.traffic.result = "upper_gone"
                self.connection.close()
                return
            with self._lock:
                expired = self._pairing.expired(now=now)
                forwards = set(self._forwards.values())
            for broken in expired:
                self._break(broken)
            for forward in forwards:
                forward.tick(now, timeouts)
