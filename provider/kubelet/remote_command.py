"""Relaying one exec or attach session between the upper side and the lower pod, whatever the transports.

The upper side is kubectl's session as it reaches the kubelet API: a WebSocket passed through by
the API server (:mod:`provider.kubelet.ws_upper`) or SPDY streams (:mod:`provider.kubelet.spdy_upper`);
both look like an :class:`UpperSession` here. The lower side is a
:class:`~provider.kubelet.lower_exec.LowerSession`. Upper stdin, its end and resizes go down in one
thread; lower stdout and stderr come up in the calling one, a chunk at a time (nothing buffers a
whole stream); the lower error channel's Status (the exit code) goes up last.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from descheduler.kube import errors
from provider.kubelet import channels
from provider.kubelet.lower_exec import LowerSession

logger = logging.getLogger(__name__)

LINGER_SECONDS = 5.0
"""After the outcome went up, how long the upper side may take to hang up before we close it."""


class UpperGoneError(Exception):
    """The upper side of the session is gone (closed, reset, or it broke the protocol)."""


class UpperSession(Protocol):
    """kubectl's side of a remote-command session, as the kubelet API sees it."""

    def inputs(self) -> Iterator[tuple[int, bytes]]:
        """(STDIN, data), (CLOSE, b"\\x00") at stdin's end, (RESIZE, json); ends when the upper side hangs up."""
        ...

    def send(self, channel: int, data: bytes) -> None:
        """Output on STDOUT or STDERR; raises :class:`UpperGoneError`."""

    def finish(self, status: bytes) -> None:
        """The error channel's Status, then the end of every output; best effort."""

    def close(self) -> None:
        """Hang up now (from any thread)."""


@dataclass
class Traffic:
    """What one session carried, for the session metrics."""

    bytes_down: int = 0
    """Upper stdin sent to the lower pod."""
    bytes_up: int = 0
    """Lower stdout and stderr sent upstairs."""
    result: str = "ok"
    """``ok`` (the command's outcome reached kubectl, whatever its exit code), ``lower_failed``, ``upper_gone``."""
    started: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def count(self, *, down: int = 0, up: int = 0) -> None:
        """Add bytes carried (from any of the session's threads)."""
        with self._lock:
            self.bytes_down += down
            self.bytes_up += up


def relay(upper: UpperSession, lower: LowerSession, *, what: str) -> Traffic:
    """Run the session until either side ends it; closes both and says what went through."""
    traffic = Traffic(started=time.monotonic())
    down = threading.Thread(target=_downstream, args=(upper, lower, what, traffic), name="exec-stdin", daemon=True)
    down.start()
    status = b""
    try:
        for channel, data in lower.output():
            upper.send(channel, data)
            traffic.count(up=len(data))
        # A lower session always ends with its Status; none means it was cut off.
        status = lower.error_channel or channels.failure_status("lower cluster: the session ended before its outcome")
        if not lower.error_channel:
            traffic.result = "lower_failed"
    except errors.ConnectionFailedError as exc:
        logger.info("kubelet API: %s: the lower session ended: %s", what, exc)
        traffic.result = "lower_failed"
        status = channels.failure_status(f"lower cluster: {exc.message}")
    except UpperGoneError as exc:
        logger.info("kubelet API: %s: the upper side is gone: %s", what, exc)
        traffic.result = "upper_gone"
    finally:
        if status:
            upper.finish(status)
        lower.close()
        down.join(LINGER_SECONDS)
        upper.close()
    return traffic


def _downstream(upper: UpperSession, lower: LowerSession, what: str, traffic: Traffic) -> None:
    """Upper stdin, its end and resizes, to the lower session, until the upper side is done."""
    sizes = channels.ResizeReader()
    try:
        for channel, payload in upper.inputs():
            if channel == channels.STDIN:
                lower.send_stdin(payload)
                traffic.count(down=len(payload))
            elif channel == channels.CLOSE and payload == bytes((channels.STDIN,)):
                lower.close_stdin()
            elif channel == channels.RESIZE:
                for size in sizes.feed(payload):
                    lower.resize(size)
    except (channels.ChannelError, UpperGoneError, errors.ConnectionFailedError) as exc:
        logger.info("kubelet API: %s: %s", what, exc)
    # The upper side is done: a session whose kubectl went away must not keep running below.
    lower.close()
