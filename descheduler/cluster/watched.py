"""Cluster state kept by list-then-watch caches, for the long-lived mode: list once, then follow.

A cycle of the one-shot mode lists every kind (:mod:`descheduler.cluster.live`); a long-lived
process would re-list 20,000 pods every interval to learn about the few that changed. Here each
kind has a :class:`~descheduler.kube.informer.ListWatch` (the provider's informer, shared) that
decodes every LIST item and watch event straight into the records the planner reads, with the
same decoder as a LIST, so both modes see the same state. A watch that breaks watches again from
the last resourceVersion; one that is too old (410 Gone) lists again, so no event is lost.

Each cycle plans on a copy: the record lists are copied under the caches' locks (in a LIST's
order), and records are replaced by later events, never changed, so what a cycle holds stays as
it was. A cycle never plans on a cache that has not synced: :meth:`WatchedSource.load` waits for
every first LIST, until the cycle's deadline, and fails the cycle if one is missing, or if a
cache has lost the API server and not listed again since.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from descheduler.cluster import decoding, live
from descheduler.cluster.sources import build_state
from descheduler.cluster.state import ClusterState
from descheduler.errors import TensileError
from descheduler.kube import informer, retry
from descheduler.kube.client import Kube

logger = logging.getLogger(__name__)

Key = tuple[str, str]


def _key(record: Any) -> Key:
    return str(getattr(record, "namespace", "") or ""), str(record.name)


def _list_order(record: Any) -> str:
    namespace = getattr(record, "namespace", "") or ""
    return f"{namespace}/{record.name}" if namespace else str(record.name)


def _codec(kind: decoding.Kind[Any, Any]) -> informer.Codec[Key, Any]:
    def from_item(raw: memoryview) -> Any:
        return live.decoded(kind, raw)

    def from_event(obj: dict[str, Any]) -> Any:
        return live.decoded(kind, obj, via="a watch")

    return informer.Codec(from_item=from_item, from_event=from_event, key=_key, version=lambda _record: "")


class WatchedSource:
    """The cluster state of a long-lived process: one cache per kind, started once, read each cycle."""

    def __init__(self, kube: Kube, *, stop: threading.Event | None = None) -> None:
        self.stop = stop or threading.Event()
        self.caches = {
            kind_name: informer.ListWatch(kube, path, f"watch-{kind_name}", codec=_codec(decoding.KINDS[kind_name]))
            for kind_name, path in live.LIST_PATHS.items()
        }
        self._started = False

    def start(self) -> None:
        """Start every cache's list-then-watch thread (once; ``load`` starts them if needed)."""
        if not self._started:
            self._started = True
            for cache in self.caches.values():
                cache.start(self.stop)

    def close(self) -> None:
        """End every cache's watch (their threads leave at their next event or timeout)."""
        self.stop.set()

    def load(self, *, now: float) -> ClusterState:
        self.start()
        self._wait_synced()
        for kind_name, cache in self.caches.items():
            if cache.last_error:
                raise TensileError(
                    f"the watch of {kind_name} objects has lost the API server ({cache.last_error}): "
                    "this cycle plans nothing rather than on a stale cache"
                )
        started = time.monotonic()
        # In a LIST's order (etcd's key order), so a cycle plans exactly what a fresh run would.
        objects = {kind_name: sorted(cache.items(), key=_list_order) for kind_name, cache in self.caches.items()}
        logger.debug(
            "copied the caches (%s) in %.3fs",
            ", ".join(f"{len(items)} {kind}" for kind, items in objects.items()),
            time.monotonic() - started,
        )
        return build_state(objects, now=now)

    def _wait_synced(self) -> None:
        """Until every cache holds its first LIST, or the cycle's deadline (30 s without one)."""
        limit = retry.current_deadline()
        wait_until = time.monotonic() + (30.0 if limit is None else max(limit.remaining(), 0.0))
        for kind_name, cache in self.caches.items():
            if not cache.synced.wait(timeout=max(wait_until - time.monotonic(), 0.0)):
                raise TensileError(
                    f"the watch cache of {kind_name} objects has not synced (its first LIST has not "
                    "succeeded; see the warnings above): this cycle plans nothing"
                )
