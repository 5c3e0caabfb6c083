"""List-then-watch that keeps a local cache of one resource and reports changes: the one informer.

The Python client's stock informer reconnects in a hot loop on errors; this one lists,
watches from the list's resourceVersion with bookmarks, lists again on 410 Gone, backs off on
errors (honouring Retry-After on 429) and treats a silent connection as dead after an
inactivity timeout. What it caches is its user's choice (:class:`Codec`): the provider keeps the
raw objects it forwards (``provider.kube.informer``), the descheduler's long-lived mode keeps
compact records decoded straight from each LIST item (``descheduler.cluster.watched``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import orjson

from descheduler import bodies
from descheduler.kube import errors, retry
from descheduler.kube.client import Kube

logger = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
"""A change of the cache, as the handler is told (watch BOOKMARK and ERROR never reach handlers)."""

RELIST = retry.RetryPolicy(backoffs=(0.2, 0.5, 1.0, 2.0, 5.0, 10.0), max_retry_after=30.0)
"""Waits between failed lists or watches: the n-th consecutive failure waits the n-th backoff
(the last one for ever after), or the server's Retry-After on 429 up to ``max_retry_after``.
An informer never gives up, so errors that the policy would not retry wait the same backoffs."""


@dataclass(frozen=True)
class Codec(Generic[K, T]):
    """How an informer turns the API's objects into what it caches.

    ``from_item`` decodes one LIST item's JSON, ``from_event`` one watch event's decoded object;
    either may return None to leave an object out (it cannot be read). ``key`` names an item in
    the cache and ``version`` is its resourceVersion ("" when unknown: a relist then reports it
    MODIFIED).
    """

    from_item: Callable[[memoryview], T | None]
    from_event: Callable[[dict[str, Any]], T | None]
    key: Callable[[T], K]
    version: Callable[[T], str]


def version_of(obj: dict[str, Any]) -> str:
    """A raw object's resourceVersion ("" when it has none)."""
    return str(bodies.metadata_of(obj).get("resourceVersion") or "")


def _raw_key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = bodies.metadata_of(obj)
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


RAW: Codec[tuple[str, str], dict[str, Any]] = Codec(
    from_item=orjson.loads, from_event=lambda obj: obj, key=_raw_key, version=version_of
)
"""Cache the objects as the API sent them (decoded JSON), keyed by (namespace, name)."""


@dataclass
class ListWatch(Generic[K, T]):
    """A cache of one resource kept current by a list-then-watch loop in its own thread.

    ``synced`` is set once the first LIST is in the cache; ``relists`` counts the LISTs made
    (the first one included), so a reader can tell that a watch broke and the cache was rebuilt;
    ``last_error`` is the failure the loop is waiting out ("" once a LIST succeeded again), so a
    reader can refuse a cache that has stopped following the cluster.
    ``delay`` and ``level`` let the owner decide how long to wait after an error and how loudly
    to log it (the provider shares one back-off per unreachable cluster).
    """

    kube: Kube
    path: str
    name: str
    query: dict[str, Any] = field(default_factory=dict)
    handler: Callable[[EventType, T], None] | None = None
    codec: Codec[K, T] = field(default_factory=lambda: RAW)  # type: ignore[arg-type,return-value]
    watch_timeout_seconds: int = 120
    inactivity_timeout: float = 150.0
    synced: threading.Event = field(default_factory=threading.Event)
    retry_policy: retry.RetryPolicy = RELIST
    delay: Callable[[errors.ApiError, int], float | None] | None = None
    level: Callable[[errors.ApiError], int] | None = None
    relists: int = 0
    last_error: str = ""
    _cache: dict[K, T] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    # -- reading ---------------------------------------------------------------------

    def get(self, key: K) -> T | None:
        with self._lock:
            return self._cache.get(key)

    def items(self) -> list[T]:
        """A copy of the cached items: later events never change the list a caller holds."""
        with self._lock:
            return list(self._cache.values())

    def keys(self) -> list[K]:
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
                if failures:
                    logger.info("%s: listed again after %d failed attempt(s)", self.name, failures)
                failures = 0
                self.last_error = ""
                self._watch_until_gone(resource_version, stop)
            except errors.GoneError:
                logger.info("%s: resourceVersion too old; listing again", self.name)
            except errors.ApiError as exc:
                self.last_error = str(exc)
                wait = self._delay(exc, failures)
                failures += 1
                level = self.level(exc) if self.level is not None else logging.WARNING
                logger.log(level, "%s: %s; retrying in %.1fs", self.name, exc, wait)
                stop.wait(wait)
            except Exception:
                logger.exception("%s: unexpected error; retrying", self.name)
                stop.wait(self.retry_policy.backoffs[-1])

    def _delay(self, exc: errors.ApiError, failures: int) -> float:
        if self.delay is not None:
            chosen = self.delay(exc, failures)
            if chosen is not None:
                return chosen
        backoffs = self.retry_policy.backoffs
        step = min(failures, len(backoffs) - 1)
        delay = self.retry_policy.delay(exc, step)
        return backoffs[step] if delay is None else max(delay, backoffs[step])

    def _relist(self) -> str:
        items, resource_version = self.kube.list_objects(self.path, self.codec.from_item, query=self.query)
        key = self.codec.key
        fresh = {key(item): item for item in items if item is not None}
        with self._lock:
            old = self._cache
            self._cache = fresh
            self.relists += 1
        for k, item in old.items():
            if k not in fresh:
                self._emit("DELETED", item)
        version = self.codec.version
        for k, item in fresh.items():
            before = old.get(k)
            if before is None:
                self._emit("ADDED", item)
            elif not version(before) or version(before) != version(item):
                self._emit("MODIFIED", item)
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
                resource_version = version_of(obj) or resource_version
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

    def _apply(self, event_type: EventType, obj: dict[str, Any]) -> None:
        item = self.codec.from_event(obj)
        if item is None:
            return
        k = self.codec.key(item)
        with self._lock:
            if event_type == "DELETED":
                self._cache.pop(k, None)
            else:
                self._cache[k] = item
        self._emit(event_type, item)

    def _emit(self, event_type: EventType, item: T) -> None:
        if self.handler is not None:
            self.handler(event_type, item)


def _raise_watch_error(status: dict[str, Any]) -> None:
    code = int(status.get("code") or 500)
    raise errors.from_response(code, orjson.dumps(status), None)
