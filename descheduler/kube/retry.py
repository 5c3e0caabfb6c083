"""The one retry loop for API calls. The policy is a value travelling with each call.

Reads retry connection errors, 5xx and 429 (honouring Retry-After); evictions pass a
policy that does not retry 429, because there a 429 means a PodDisruptionBudget said no.

A :func:`deadline` bounds everything inside it (a descheduling cycle, see
:func:`descheduler.runner.run_cycle`): no retry starts after it, and each attempt's timeouts
are cut to the time left (``Kube.request``). It is carried by a context variable, so it holds
for the thread that entered it only: the leader elector's and the provider's threads, which
must outlive outages, never see one.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from descheduler.kube import errors

logger = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    """How one API call is retried, as a value passed with the call (``Kube.get(..., policy=...)``).

    :func:`call_with_retry` asks :meth:`delay` after each failure: connection errors, 5xx and
    (unless turned off) 429 are retried, anything else is raised at once. :data:`READS`,
    :data:`WRITES`, :data:`EVICTIONS` and :data:`NO_RETRY` cover the descheduler; the provider
    builds its own (its kubelet API's, its informers' relist backoff).
    """

    backoffs: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    """Seconds to wait before the second, third, ... attempt; as many retries as entries."""
    retry_too_many_requests: bool = True
    """False for evictions, where a 429 is a PodDisruptionBudget's refusal, not throttling."""
    max_retry_after: float = 30.0
    """The longest ``Retry-After`` honoured, in seconds."""

    def delay(self, error: errors.ApiError, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if attempt >= len(self.backoffs):
            return None
        if isinstance(error, errors.TooManyRequestsError):
            if not self.retry_too_many_requests:
                return None
            if error.retry_after is not None:
                return min(error.retry_after, self.max_retry_after)
            return self.backoffs[attempt]
        if isinstance(error, errors.UnreachableError | errors.DeadlineExceededError):
            return None
        if isinstance(error, errors.ConnectionFailedError | errors.ServerError):
            return self.backoffs[attempt]
        return None


READS = RetryPolicy()
WRITES = RetryPolicy(backoffs=(0.5, 1.0, 2.0))
EVICTIONS = RetryPolicy(backoffs=(0.5, 1.0), retry_too_many_requests=False)
NO_RETRY = RetryPolicy(backoffs=())


@dataclass(frozen=True)
class Deadline:
    """The moment (on ``clock``) after which no API request may start; ``seconds`` is the
    budget it was given, for messages."""

    seconds: float
    at: float
    clock: Clock = time.monotonic

    def remaining(self) -> float:
        return self.at - self.clock()


_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("tensile_kube_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float | None, *, clock: Clock = time.monotonic) -> Iterator[Deadline | None]:
    """Bound the API calls made inside (in this thread) to ``seconds`` from now; None: no bound.

    Nested deadlines never extend an outer one.
    """
    if seconds is None:
        yield _CURRENT.get()
        return
    limit = Deadline(seconds, clock() + seconds, clock)
    outer = _CURRENT.get()
    if outer is not None and outer.remaining() <= limit.remaining():
        limit = outer
    token = _CURRENT.set(limit)
    try:
        yield limit
    finally:
        _CURRENT.reset(token)


def current_deadline() -> Deadline | None:
    return _CURRENT.get()


def call_with_retry(
    call: Callable[[], T], *, policy: RetryPolicy, what: str, sleep: Callable[[float], None] = time.sleep
) -> T:
    """``call()``, retried as ``policy`` says. Attempts log at DEBUG; a request that fails after
    retries (or whose retry the deadline forbids) logs one WARNING, then raises the last error."""
    attempt = 0
    total = len(policy.backoffs) + 1
    while True:
        try:
            return call()
        except errors.ApiError as exc:
            wait = policy.delay(exc, attempt)
            limit = current_deadline()
            if wait is not None and limit is not None and limit.remaining() <= wait:
                logger.warning(
                    "%s: attempt %d/%d failed; no time left before the %gs deadline to retry: %s",
                    what,
                    attempt + 1,
                    total,
                    limit.seconds,
                    exc,
                )
                raise
            if wait is None:
                if attempt:
                    logger.warning("%s: attempt %d/%d failed; escalating: %s", what, attempt + 1, total, exc)
                raise
            logger.debug("%s: attempt %d/%d failed; will retry in %.1fs: %s", what, attempt + 1, total, wait, exc)
            sleep(wait)
            attempt += 1
