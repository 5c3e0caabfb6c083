"""The one retry loop for API calls. The policy is a value travelling with each call.

Reads retry connection errors, 5xx and 429 (honouring Retry-After); evictions pass a
policy that does not retry 429, because there a 429 means a PodDisruptionBudget said no.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from descheduler.kube import errors

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    backoffs: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    retry_too_many_requests: bool = True
    max_retry_after: float = 30.0

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
        if isinstance(error, errors.ConnectionFailedError | errors.ServerError):
            return self.backoffs[attempt]
        return None


READS = RetryPolicy()
WRITES = RetryPolicy(backoffs=(0.5, 1.0, 2.0))
EVICTIONS = RetryPolicy(backoffs=(0.5, 1.0), retry_too_many_requests=False)
NO_RETRY = RetryPolicy(backoffs=())


def call_with_retry(
    call: Callable[[], T], *, policy: RetryPolicy, what: str, sleep: Callable[[float], None] = time.sleep
) -> T:
    attempt = 0
    while True:
        try:
            return call()
        except errors.ApiError as exc:
            wait = policy.delay(exc, attempt)
            total = len(policy.backoffs) + 1
            if wait is None:
                if attempt:
                    logger.warning("%s: attempt %d/%d failed; escalating: %s", what, attempt + 1, total, exc)
                raise
            logger.debug("%s: attempt %d/%d failed; will retry in %.1fs: %s", what, attempt + 1, total, wait, exc)
            sleep(wait)
            attempt += 1
