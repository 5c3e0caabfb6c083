"""Whether each cluster's API server answers, told in a few lines however many loops ask it.

The provider talks to each cluster from many threads (one informer per resource, the workers, the
heartbeat). During an outage each of them fails on its own, so logging each failure floods the
log without ever saying what is wrong. Instead every request reports its outcome to its cluster's
:class:`Reachability` (through :class:`TrackedKube`, built by :mod:`provider.cli`); the tracker
logs one WARNING per back-off step and one INFO line when the cluster answers again. The
informers (:mod:`provider.kube.informer`) wait the tracker's current back-off between attempts, and
individual failures are DEBUG lines.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from descheduler.kube import errors, retry, streaming
from descheduler.kube.client import Kube, load_configuration
from provider import requeue

logger = logging.getLogger(__name__)

STEPS = (2.0, 4.0, 8.0, 16.0, 30.0)
"""Seconds between attempts during an outage, growing per summary line; the last one repeats."""


class Reachability:
    """One cluster's reachability as its requests found it, and the one place that logs about it.

    A response of any status means the API server is reachable; no response (refused, timed out,
    TLS failure, name not resolved) means it is not. Thread-safe: every loop reports here.
    """

    def __init__(
        self,
        role: str,
        name: str,
        *,
        server: str = "",
        clock: Callable[[], float] = time.monotonic,
        steps: tuple[float, ...] = STEPS,
    ) -> None:
        self.role = role
        self.name = name
        self.server = server
        self._clock = clock
        self._steps = steps
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._reported = 0
        """Summary lines logged in this outage; the next one is due at _next_report."""
        self._next_report = 0.0

    @property
    def reachable(self) -> bool:
        with self._lock:
            return self._down_since is None

    def retry_delay(self) -> float:
        """Seconds a loop should wait before trying this cluster again: the back-off last announced."""
        with self._lock:
            return self._steps[max(0, min(self._reported, len(self._steps)) - 1)]

    def failed(self, exc: BaseException) -> None:
        """A request got no response; logs the outage's summary line when one is due."""
        with self._lock:
            now = self._clock()
            if self._down_since is None:
                self._down_since, self._reported, self._next_report = now, 0, now
            if now < self._next_report:
                return
            delay = self._steps[min(self._reported, len(self._steps) - 1)]
            self._reported += 1
            self._next_report = now + delay
            down_for = now - self._down_since
        where = f" at {self.server}" if self.server else ""
        logger.warning(
            "%s cluster %s%s unreachable for %s: %s; retrying every %s",
            self.role,
            self.name,
            where,
            duration(down_for),
            describe(exc),
            duration(delay),
            extra={"cluster": self.name},
        )

    def answered(self) -> None:
        """A request got a response (of any status); ends an outage with one INFO line."""
        with self._lock:
            if self._down_since is None:
                return
            down_for = self._clock() - self._down_since
            self._down_since = None
            self._reported = 0
        logger.info(
            "%s cluster %s reachable again after %s",
            self.role,
            self.name,
            duration(down_for),
            extra={"cluster": self.name},
        )


def duration(seconds: float) -> str:
    """``0.4s``, ``30s``, ``2m``, ``2m10s``, ``1h5m``: how long, as a person would say it."""
    if seconds < 1:
        return f"{seconds:.1f}s" if seconds >= 0.05 else "0s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0s"


def describe(exc: BaseException) -> str:
    """What went wrong, in a few words, from the innermost operating-system error behind ``exc``."""
    cause = _innermost_os_error(exc)
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, socket.gaierror):
        return f"cannot resolve the server's name ({cause.strerror})"
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted ({cause.verify_message})"
    if isinstance(cause, ssl.SSLError):
        return f"TLS failed ({str(cause.reason or cause).lower().replace('_', ' ')})"
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    return "no response"


def _innermost_os_error(exc: BaseException) -> BaseException | None:
    """The deepest OSError in the chain (``raise ... from``, urllib3's ``reason``), if there is one."""
    found: BaseException | None = None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            found = current
        reason = getattr(current, "reason", None)
        current = current.__cause__ or (reason if isinstance(reason, BaseException) else None) or current.__context__
    return found


@dataclass(frozen=True)
class _LoopsRetryConnections(retry.RetryPolicy):
    """A policy that gives a connection failure straight back to the caller.

    The provider's loops (informers, work queues, heartbeat) retry on their own, at the back-off
    of the cluster's Reachability; retrying inside each call as well would multiply the attempts
    and the log lines of an outage. Server errors and throttling are still retried per call.
    """

    def delay(self, error: errors.ApiError, attempt: int) -> float | None:
        if isinstance(error, errors.ConnectionFailedError):
            return None
        return super().delay(error, attempt)


def _loops_retry_connections(policy: retry.RetryPolicy) -> retry.RetryPolicy:
    return _LoopsRetryConnections(
        backoffs=policy.backoffs,
        retry_too_many_requests=policy.retry_too_many_requests,
        max_retry_after=policy.max_retry_after,
    )


class TrackedKube(Kube):
    """A :class:`Kube` whose every request reports to one cluster's :class:`Reachability`."""

    def __init__(self, configuration: Any, *, reachability: Reachability, connections: int = 32) -> None:
        super().__init__(configuration, connections=connections)
        self.reachability = reachability
        if not reachability.server:
            reachability.server = self.host

    @classmethod
    def for_cluster(cls, kubeconfig: str | None, *, role: str, name: str, connections: int = 32) -> TrackedKube:
        """Load ``kubeconfig`` (InputError when it cannot be used) for the ``role`` cluster called ``name``."""
        return cls(load_configuration(kubeconfig), reachability=Reachability(role, name), connections=connections)

    @contextlib.contextmanager
    def _reporting(self) -> Iterator[None]:
        """Tell the tracker how the request inside went: no answer, or an answer (an error status too)."""
        try:
            yield
        except errors.ConnectionFailedError as exc:
            self.reachability.failed(exc)
            raise
        except errors.ApiError:
            self.reachability.answered()
            raise
        self.reachability.answered()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: streaming.Timeout | None = None,
        accept: str = "application/json",
    ) -> bytes:
        with self._reporting():
            return super().request(
                method, path, query=query, body=body, content_type=content_type, timeout=timeout, accept=accept
            )

    def stream(
        self,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        timeout: streaming.Timeout = (10.0, 60.0),
        policy: retry.RetryPolicy = retry.NO_RETRY,
    ) -> streaming.ResponseStream:
        # Only the opening is reported: a long watch that ends half-way is routine (servers and
        # proxies cut them), and the watch that follows finds out whether the server is there.
        with self._reporting():
            return super().stream(path, query=query, timeout=timeout, policy=_loops_retry_connections(policy))

    def call_raw(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
        policy: retry.RetryPolicy = retry.READS,
    ) -> bytes:
        return super().call_raw(
            method, path, body=body, query=query, content_type=content_type, policy=_loops_retry_connections(policy)
        )


def of(kube: Kube) -> Reachability | None:
    """The tracker ``kube`` reports to; None for a plain Kube, whose callers log failures themselves."""
    return kube.reachability if isinstance(kube, TrackedKube) else None


def failure_level(exc: errors.ApiError, *kubes: Kube) -> int:
    """How loudly a caller logs ``exc`` from one of ``kubes``: DEBUG for a connection failure when
    every one of them is tracked (its tracker has the summary), WARNING otherwise."""
    tracked = all(of(kube) is not None for kube in kubes)
    return logging.DEBUG if tracked and isinstance(exc, errors.ConnectionFailedError) else logging.WARNING


def retry_for(exc: errors.ApiError, *clusters: Kube) -> requeue.Retry:
    """The retry of a key whose processing failed with ``exc`` talking to ``clusters``.

    A conflict means our cache was behind: come back soon, quietly. Anything else is logged
    at the level the clusters' trackers choose (quiet during an outage they already reported).
    """
    if isinstance(exc, errors.ConflictError):
        return requeue.Retry("conflict", str(exc), logging.DEBUG)
    return requeue.Retry("transient", str(exc), failure_level(exc, *clusters))
