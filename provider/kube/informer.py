"""List-then-watch that keeps a local cache of one resource and reports changes.

The Python client's stock informer reconnects in a hot loop on errors; this one lists,
watches from the list's resourceVersion with bookmarks, lists again on 410 Gone, backs
off on errors (honouring Retry-After on 429; an unreachable cluster at the back-off of its
:class:`~provider.kube.reachability.Reachability`, which also does the logging) and treats a silent
connection as dead after an inactivity timeout. The cache is keyed by :class:`~provider.kube.objects.ObjectKey`.
Used by :mod:`provider.app` for every resource the controllers read, and by the webhook for nodes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from descheduler import bodies
from descheduler.kube import errors, retry
from descheduler.kube.client import Kube
from provider.kube import objects, reachability
from provider.kube.objects import EventType, ObjectKey, RawObject

logger = logging.getLogger(__name__)

Handler = Callable[[EventType, RawObject], None]
"""Called with the event type and the object for every change of the cache."""

RELIST = retry.RetryPolicy(backoffs=(0.2, 0.5, 1.0, 2.0, 5.0, 10.0), max_retry_after=30.0)
"""Waits between failed lists or watches: the n-th consecutive failure waits the n-th backoff
(the last one for ever after), or the server's Retry-After on 429 up to ``max_retry_after``.
An informer never gives up, so errors that the policy would not retry wait the same backoffs."""

object_key = objects.object_key


@dataclass
class Informer:
    """A cache of one resource kept current by a list-then-watch loop in its own thread."""

    kube: Kube
    path: str
    name: str
    query: dict[str, Any] = field(default_factory=dict)
    handler: Handler | None = None
    watch_timeout_seconds: int = 120
    inactivity_timeout: float = 150.0
    synced: threading.Event = field(default_factory=threading.Event)
    retry_policy: retry.RetryPolicy = RELIST
    _cache: dict[ObjectKey, RawObject] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    # -- reading ---------------------------------------------------------------------

    def get(self, key: ObjectKey) -> RawObject | None:
        with self._lock:
            return self._cache.get(key)

    def items(self) -> list[RawObject]:
        with self._lock:
            return list(self._cache.values())

    def keys(self) -> list[ObjectKey]:
        with self._lock:
            return list(self._cache)

    # -- running ---------------------------------------------------------------------

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self.run, args=(stop,), name=f"informer-{self.name}", daemon=True)
        self._thread.start()

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                resource_version = self._relist()
                failures = 0
                self._watch_until_gone(resource_version, stop)
            except errors.GoneError:
                logger.info("%s: resourceVersion too old; listing again", self.name)
            except errors.ApiError as exc:
                delay = self._delay(exc, failures)
                failures += 1
                level = reachability.failure_level(exc, self.kube)
                logger.log(level, "%s: %s; retrying in %.1fs", self.name, exc, delay)
                stop.wait(delay)
            except Exception:
                logger.exception("%s: unexpected error; retrying", self.name)
                stop.wait(self.retry_policy.backoffs[-1])

    def _delay(self, exc: errors.ApiError, failures: int) -> float:
        tracker = reachability.of(self.kube)
        if tracker is not None and isinstance(exc, errors.ConnectionFailedError):
            # The cluster's back-off, shared by all its informers: they wake and fail together.
            return tracker.retry_delay()
        backoffs = self.retry_policy.backoffs
        step = min(failures, len(backoffs) - 1)
        delay = self.retry_policy.delay(exc, step)
        return backoffs[step] if delay is None else max(delay, backoffs[step])

    def _relist(self) -> str:
        items, resource_version = self.kube.list_objects(self.path, orjson.loads, query=self.query)
        fresh = {object_key(obj): obj for obj in items}
        with self._lock:
            old = self._cache
            self._cache = fresh
        for key, obj in old.items():
            if key not in fresh:
                self._emit("DELETED", obj)
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None:
                self._emit("ADDED", obj)
            elif _rv(before) != _rv(obj):
                self._emit("MODIFIED", obj)
        self.synced.set()
        return resource_version

    def _watch_until_gone(self, resource_version: str, stop: threading.Event) -> None:
        """Watch from ``resource_version``; re-watch when the server ends a watch normally."""
        while not stop.is_set():
            query = {
                **self.query,
                "watch": "1",
                "resourceVersion": resource_version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": self.watch_timeout_seconds,
            }
            for event in self._events(query):
                if stop.is_set():
                    return
                event_type, obj = event.get("type"), event.get("object") or {}
                resource_version = _rv(obj) or resource_version
                match event_type:
                    case "ERROR":
                        _raise_watch_error(obj)
                    case "ADDED" | "MODIFIED" | "DELETED":
                        self._apply(event_type, obj)
                    case _:
                        pass  # BOOKMARK: only its resourceVersion counts

    def _events(self, query: dict[str, Any]) -> Iterator[bodies.RawWatchEvent]:
        """Events of one watch request. Failing to open it raises; a connection that breaks
        after it opened just ends the watch, and the caller watches again from the last
        resourceVersion (no relist): servers and proxies cut long requests routinely."""
        stream = self.kube.stream(self.path, query=query, timeout=(10.0, self.inactivity_timeout))
        buffer = b""
        try:
            for chunk in stream:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        event: bodies.RawWatchEvent = orjson.loads(line)
                        yield event
        except errors.ConnectionFailedError as exc:
            logger.debug("%s: watch connection ended: %s", self.name, exc)
        finally:
            stream.close()

    def _apply(self, event_type: EventType, obj: RawObject) -> None:
        key = object_key(obj)
        with self._lock:
            if event_type == "DELETED":
                self._cache.pop(key, None)
            else:
                self._cache[key] = obj
        self._emit(event_type, obj)

    def _emit(self, event_type: EventType, obj: RawObject) -> None:
        if self.handler is not None:
            self.handler(event_type, obj)


def _rv(obj: RawObject) -> str:
    return str(bodies.metadata_of(obj).get("resourceVersion") or "")


def _raise_watch_error(status: RawObject) -> None:
    code = int(status.get("code") or 500)
    raise errors.from_response(code, orjson.dumps(status), None)
