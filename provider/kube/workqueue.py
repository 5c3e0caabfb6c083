"""A work queue of object keys, processed serially per key by a pool of worker threads.

Like client-go's workqueue: a key queued while it is being processed is processed again
afterwards (never twice at once), and repeated events for a waiting key collapse into one.
Failed keys are retried after a delay chosen by the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)

Processor = Callable[[str], float | None]
"""Handles one key; returns seconds after which to process it again, or None when done."""


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


class WorkQueue:
    def __init__(
        self, processor: Processor, *, workers: int = 4, name: str = "work", observer: QueueObserver | None = None
    ) -> None:
        self._processor = processor
        self._workers = workers
        self._name = name
        self._observer: QueueObserver = observer or _Unobserved()
        self._queue: deque[str] = deque()
        self._added_at: dict[str, float] = {}
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._timers: list[threading.Timer] = []
        self._stopping = False

    def add(self, key: str) -> None:
        with self._cond:
            if self._stopping:
                return
            if key in self._active:
                self._dirty.add(key)
                return
            if key not in self._queued:
                self._enqueue(key)

    def _enqueue(self, key: str) -> None:
        self._queued.add(key)
        self._queue.append(key)
        self._added_at[key] = time.monotonic()
        self._observer.added(len(self._queue))
        self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        timer = threading.Timer(delay, self.add, args=(key,))
        timer.daemon = True
        timer.start()
        with self._cond:
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)

    def start(self) -> None:
        for i in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"{self._name}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            for timer in self._timers:
                timer.cancel()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._active)

    def _next(self) -> str | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            key = self._queue.popleft()
            self._queued.discard(key)
            self._active.add(key)
            waited = time.monotonic() - self._added_at.pop(key, time.monotonic())
            self._observer.taken(len(self._queue), waited)
            return key

    def _done(self, key: str) -> None:
        with self._cond:
            self._active.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued:
                    self._enqueue(key)

    def _work(self) -> None:
        while (key := self._next()) is not None:
            retry_after: float | None = None
            started = time.monotonic()
            try:
                retry_after = self._processor(key)
            except Exception:
                logger.exception("%s: processing %s failed; retrying", self._name, key)
                retry_after = 5.0
            finally:
                self._observer.worked(time.monotonic() - started)
                self._done(key)
            if retry_after is not None:
                self._observer.retried()
                self.add_after(key, retry_after)
