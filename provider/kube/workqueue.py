"""A work queue of keys, processed serially per key by a pool of worker threads.

Like client-go's rate-limited workqueue: a key queued while it is being processed is processed
again afterwards (never twice at once), and repeated events for a waiting key collapse into one.
A key whose processor answers :class:`~provider.requeue.Retry` comes back after the delay the
queue's :class:`~provider.requeue.RequeuePolicy` gives for its reason and its count of
consecutive retries for that reason; a success (or another reason) starts the count again.
While a key waits out its delay, plain :meth:`WorkQueue.add` calls wait with it (a rejected
create is not retried by every event it causes); :meth:`WorkQueue.add_now` is for changes that
must not wait, such as a deletion.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from provider import requeue

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

Processor = Callable[[K], "requeue.Retry | None"]
"""Handles one key; returns None when done, or a Retry naming why the key must come back."""


class QueueObserver(Protocol):
    """Told what a queue does (metrics); called from its threads, mostly with its lock held: keep it quick."""

    def added(self, depth: int) -> None: ...

    def taken(self, depth: int, waited_seconds: float) -> None: ...

    def worked(self, seconds: float) -> None: ...

    def retried(self) -> None: ...


class _Unobserved:
    def added(self, depth: int) -> None:
        pass

    def taken(self, depth: int, waited_seconds: float) -> None:
        pass

    def worked(self, seconds: float) -> None:
        pass

    def retried(self) -> None:
        pass


class WorkQueue(Generic[K]):
    """Keys waiting for a controller's workers; the one place where retry delays are applied.

    Owns the ready queue, the delayed keys (one timer heap, woken by the workers themselves)
    and each key's count of consecutive retries. Knows nothing of what a key names.
    """

    def __init__(
        self,
        processor: Processor[K],
        *,
        workers: int = 4,
        name: str = "work",
        policy: requeue.RequeuePolicy = requeue.DEFAULT,
        observer: QueueObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._processor = processor
        self._workers = workers
        self._name = name
        self._policy = policy
        self._observer: QueueObserver = observer or _Unobserved()
        self._clock = clock
        self._queue: deque[K] = deque()
        self._added_at: dict[K, float] = {}
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._urgent: set[K] = set()
        self._delayed: dict[K, float] = {}
        """Keys waiting out a retry delay, with the time they become ready."""
        self._timers: list[tuple[float, int, K]] = []
        self._sequence = itertools.count()
        self._retries: dict[K, tuple[requeue.Reason, int]] = {}
        """Per key: the reason of its last retry and how many retries in a row had it."""
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    # -- adding ------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Process ``key`` soon; if it waits out a retry delay, it keeps waiting."""
        with self._cond:
            if self._stopping:
                return
            if key in self._active:
                self._dirty.add(key)
            elif key not in self._queued and key not in self._delayed:
                self._enqueue(key)

    def add_now(self, key: K) -> None:
        """Process ``key`` soon even if it waits out a retry delay (its retry count stays)."""
        with self._cond:
            if self._stopping:
                return
            if key in self._active:
                self._dirty.add(key)
                self._urgent.add(key)
                return
            self._delayed.pop(key, None)  # its timer entry finds it gone and is dropped
            if key not in self._queued:
                self._enqueue(key)

    def next_delay(self, key: K, reason: requeue.Reason) -> float:
        """The delay a Retry for ``reason`` returned now for ``key`` would get (for messages)."""
        with self._cond:
            return self._policy.delay(reason, self._count_after(key, reason))

    def _count_after(self, key: K, reason: requeue.Reason) -> int:
        last_reason, count = self._retries.get(key, (reason, 0))
        return count + 1 if last_reason == reason else 1

    def _enqueue(self, key: K) -> None:
        self._queued.add(key)
        self._queue.append(key)
        self._added_at[key] = self._clock()
        self._observer.added(len(self._queue))
        self._cond.notify()

    def _delay(self, key: K, delay: float) -> None:
        ready_at = self._clock() + delay
        current = self._delayed.get(key)
        if current is not None and current <= ready_at:
            return
        self._delayed[key] = ready_at
        heapq.heappush(self._timers, (ready_at, next(self._sequence), key))
        self._cond.notify()

    # -- running -----------------------------------------------------------------------

    def start(self) -> None:
        for i in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"{self._name}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def pending(self) -> int:
        """Keys queued or being processed (not those waiting out a delay)."""
        with self._cond:
            return len(self._queue) + len(self._active)

    def retries(self, key: K) -> int:
        """Consecutive retries of ``key`` for the same reason so far (0 after a success)."""
        with self._cond:
            return self._retries.get(key, ("crashed", 0))[1]

    def _promote_due(self) -> float | None:
        """Move delayed keys that are due to the queue; the seconds until the next one is due."""
        now = self._clock()
        while self._timers:
            ready_at, _, key = self._timers[0]
            if self._delayed.get(key) != ready_at:
                heapq.heappop(self._timers)  # superseded by add_now or an earlier delay
                continue
            if ready_at > now:
                return ready_at - now
            heapq.heappop(self._timers)
            del self._delayed[key]
            if key in self._active:
                self._dirty.add(key)
            elif key not in self._queued:
                self._enqueue(key)
        return None

    def _next(self) -> K | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                wait = self._promote_due()
                if self._queue:
                    break
                self._cond.wait(timeout=wait)
            key = self._queue.popleft()
            self._queued.discard(key)
            self._active.add(key)
            waited = self._clock() - self._added_at.pop(key, self._clock())
            self._observer.taken(len(self._queue), waited)
            return key

    def _done(self, key: K, retry: requeue.Retry | None) -> None:
        with self._cond:
            self._active.discard(key)
            dirty, urgent = key in self._dirty, key in self._urgent
            self._dirty.discard(key)
            self._urgent.discard(key)
            if retry is None:
                self._retries.pop(key, None)
            else:
                retries = self._count_after(key, retry.reason)
                self._retries[key] = (retry.reason, retries)
                delay = self._policy.delay(retry.reason, retries)
                self._observer.retried()
                if retry.message:
                    logger.log(
                        retry.log_level,
                        "%s %s: %s; next attempt in %s",
                        self._name,
                        key,
                        retry.message,
                        _seconds(delay),
                    )
                if not urgent:
                    self._delay(key, delay)
                    return
            if (dirty or urgent) and key not in self._queued:
                self._delayed.pop(key, None)
                self._enqueue(key)

    def _work(self) -> None:
        while (key := self._next()) is not None:
            retry: requeue.Retry | None = None
            started = self._clock()
            try:
                retry = self._processor(key)
            except requeue.RetryLater as later:
                retry = later.retry
            except Exception:
                logger.exception("%s: processing %s failed; retrying", self._name, key)
                retry = requeue.Retry("crashed")
            finally:
                self._observer.worked(self._clock() - started)
            self._done(key, retry)


def _seconds(delay: float) -> str:
    return f"{delay:.0f}s" if delay >= 10 else f"{delay:.1f}s"
