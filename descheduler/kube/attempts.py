"""The time one request attempt may take, reading a response body within it, and the error
an attempt that got no response ends with.

Used by ``Kube.request`` only: the attempt's own timeouts, cut to what a
:func:`descheduler.kube.retry.deadline` in force leaves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from descheduler.kube import errors, retry, streaming

CHUNK_SIZE = 256 * 1024
# A socket timeout fires at or just after the time it was given; never ask for less than this.
_TOLERANCE = 0.05


@dataclass(frozen=True)
class Attempt:
    """The time one attempt may take: its own timeouts, cut to what the deadline leaves."""

    connect: float
    read: float | None
    total: float | None
    ends_at: float | None
    deadline: retry.Deadline | None
    started: float

    @classmethod
    def start(cls, timeout: streaming.Timeout, deadline: retry.Deadline | None) -> Attempt:
        if isinstance(timeout, tuple):
            connect, read = timeout
            total: float | None = None
        else:
            connect, read, total = timeout, timeout, timeout
        if deadline is not None:
            left = max(deadline.remaining(), 0.0)
            total = left if total is None else min(total, left)
        if total is not None:
            connect = min(connect, total)
            read = total if read is None else min(read, total)
        now = time.monotonic()
        return cls(connect, read, total, None if total is None else now + total, deadline, now)

    def left(self) -> float | None:
        return None if self.ends_at is None else self.ends_at - time.monotonic()

    def expired(self) -> bool:
        left = self.left()
        return left is not None and left <= 0

    def waited(self) -> float:
        """The timeout that fired: connecting (the TLS handshake counts) or reading."""
        elapsed = time.monotonic() - self.started
        if self.read is None or elapsed < self.read - _TOLERANCE:
            return self.connect
        return self.read

    def cut_by_deadline(self) -> bool:
        return self.deadline is not None and self.deadline.remaining() < _TOLERANCE

    def failed(self, exc: BaseException, what: str, *, host: str, answered: bool) -> errors.ApiError:
        """The one-line error for ``exc``; ``answered``: the server has answered this client before."""
        failure = errors.classify_transport(exc)
        if failure.timed_out and self.cut_by_deadline():
            seconds = self.deadline.seconds if self.deadline is not None else 0.0
            return errors.DeadlineExceededError.saying(f"API server {host} did not answer within {seconds:g}s ({what})")
        # Before the server has ever answered, waiting only delays the one-line error.
        cls = errors.ConnectionFailedError if answered else errors.UnreachableError
        if failure.timed_out and failure.connected:
            return cls.saying(f"API server {host} did not answer within {self.waited():g}s ({what})")
        if not failure.connected:
            reason = f"no connection within {self.connect:g}s" if failure.timed_out else failure.reason
            return cls.saying(f"cannot reach the API server {host}: {reason}")
        return cls.saying(f"{what} on {host}: {failure.reason}")

    def too_late(self, what: str, *, host: str) -> errors.ApiError:
        """The error for an attempt the deadline forbids to start."""
        seconds = self.deadline.seconds if self.deadline is not None else 0.0
        return errors.DeadlineExceededError.saying(
            f"{what} on {host} not started: the {seconds:g}s deadline has passed"
        )

    def socket_timeouts(self) -> tuple[float, float | None]:
        return max(self.connect, _TOLERANCE), None if self.read is None else max(self.read, _TOLERANCE)


def read_body(response: Any, attempt: Attempt) -> bytes:
    """The whole body, one socket read at a time, each bounded by the time the attempt has left:
    a server that trickles bytes cannot stretch an attempt past its deadline."""
    parts: list[bytes] = []
    try:
        while True:
            left = attempt.left()
            if left is not None:
                if left <= 0:
                    raise errors.BodyTooSlowError
                _bound_socket(response, min(left, attempt.read or left))
            chunk: bytes = response.read1(CHUNK_SIZE)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
    except BaseException:
        response.close()  # a half-read connection must not go back to the pool
        raise
    finally:
        response.release_conn()


def _bound_socket(response: Any, seconds: float) -> None:
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, _TOLERANCE))
