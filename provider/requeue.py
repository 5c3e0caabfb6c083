"""When a controller's key is tried again: one policy with named delays, growing per key.

A controller's processor answers each key with ``None`` (done) or a :class:`Retry` naming why
it must come back (:data:`Reason`). The work queue (:mod:`provider.kube.workqueue`) alone turns
that into a delay with :meth:`RequeuePolicy.delay`, counting the key's consecutive retries, so
the delay doubles per retry up to the reason's cap and starts again after a success. Nothing
else in the provider chooses a delay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

Reason = Literal["not_synced", "conflict", "transient", "rejected", "crashed"]
"""Why a key comes back:

- ``not_synced``: a cache the decision needs has not completed its first list;
- ``conflict``: our view was behind the server's (409, or the object vanished between read and write);
- ``transient``: the API server failed or could not be reached; it will likely answer later;
- ``rejected``: the lower cluster refused what we asked (403, 422, ...); only a change there helps;
- ``crashed``: the processor raised something unexpected (a bug; logged with its traceback).
"""


@dataclass(frozen=True)
class Backoff:
    """Delays of one reason: ``first`` seconds, doubled (``factor``) per consecutive retry, at most ``cap``."""

    first: float
    cap: float
    factor: float = 2.0

    def after(self, retries: int) -> float:
        """The delay before retry number ``retries`` (1 for the first retry)."""
        exponent = max(0, retries - 1)
        # Past the cap the exponent no longer matters; bound it so huge counts cannot overflow.
        if self.first * self.factor ** min(exponent, 64) >= self.cap:
            return self.cap
        return float(self.first * self.factor**exponent)


@dataclass(frozen=True, kw_only=True)
class RequeuePolicy:
    """The provider's requeue delays, one :class:`Backoff` per :data:`Reason`."""

    not_synced: Backoff = field(default_factory=lambda: Backoff(0.5, 2.0))
    """Waiting for caches: short, they complete their first list within seconds."""

    conflict: Backoff = field(default_factory=lambda: Backoff(0.2, 5.0))
    """A stale cache catches up with the next event; come back soon."""

    transient: Backoff = field(default_factory=lambda: Backoff(1.0, 30.0))
    """API errors: capped low so that a cluster that answers again is served again within half a minute."""

    rejected: Backoff = field(default_factory=lambda: Backoff(10.0, 300.0))
    """A refused create: 10 s, 20 s, 40 s ... up to five minutes, each step logged once."""

    crashed: Backoff = field(default_factory=lambda: Backoff(5.0, 60.0))
    """An unexpected exception: do not spin on a bug, but do not give up on the key either."""

    def delay(self, reason: Reason, retries: int) -> float:
        """Seconds before retry number ``retries`` of a key that came back for ``reason``."""
        backoff: Backoff = getattr(self, reason)
        return backoff.after(retries)


DEFAULT = RequeuePolicy()


@dataclass(frozen=True)
class Retry:
    """A processor's answer "try this key again later", with the reason that picks the delay.

    With a ``message``, the queue logs it once for this retry, followed by the delay it chose
    (``pod shop/web-1: the lower cluster refused the mirror: ...; next attempt in 40s``), at
    ``log_level``: a retry is logged once per back-off step, never in a loop of its own.
    """

    reason: Reason
    message: str = ""
    log_level: int = logging.WARNING


class RetryLater(Exception):  # noqa: N818 - a signal, not an error: the work queue catches it
    """Raised deep inside a processor to answer :class:`Retry` for the key being processed.

    For the places that find out only in a helper that the world moved under them (an object
    deleted between our read and our write); the work queue catches it like a returned Retry.
    """

    def __init__(self, retry: Retry) -> None:
        super().__init__(retry.message or retry.reason)
        self.retry = retry
