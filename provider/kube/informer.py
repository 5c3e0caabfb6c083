"""The provider's informers: :class:`descheduler.kube.informer.ListWatch` caches of raw objects.

The list-then-watch loop is the descheduler's shared one (:mod:`descheduler.kube.informer`);
the provider caches the objects as the API sent them (it forwards whole bodies), keys them by
:class:`~provider.kube.objects.ObjectKey`, and waits out an unreachable cluster at the back-off of
its :class:`~provider.kube.reachability.Reachability`, shared by every informer of that cluster,
which also decides how loudly a failure is logged. Used by :mod:`provider.app` for every resource
the controllers read, and by the webhook and the extender for nodes and Leases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from descheduler.kube import errors
from descheduler.kube import informer as listwatch
from provider.kube import objects, reachability
from provider.kube.objects import RawObject

RELIST = listwatch.RELIST
object_key = objects.object_key

RAW_OBJECTS: listwatch.Codec[objects.ObjectKey, RawObject] = listwatch.Codec(
    from_item=orjson.loads, from_event=lambda obj: obj, key=object_key, version=listwatch.version_of
)
"""Objects as the API sent them, keyed by :class:`~provider.kube.objects.ObjectKey`."""


@dataclass
class Informer(listwatch.ListWatch[objects.ObjectKey, RawObject]):
    """A cache of one resource of one cluster, as the provider's controllers read it."""

    codec: listwatch.Codec[objects.ObjectKey, RawObject] = field(default_factory=lambda: RAW_OBJECTS)

    def __post_init__(self) -> None:
        if self.delay is None:
            self.delay = self._cluster_backoff
        if self.level is None:
            self.level = lambda exc: reachability.failure_level(exc, self.kube)

    def _cluster_backoff(self, exc: errors.ApiError, failures: int) -> float | None:
        """An unreachable cluster's back-off, shared by all its informers: they wake and fail together."""
        del failures
        tracker = reachability.of(self.kube)
        if tracker is not None and isinstance(exc, errors.ConnectionFailedError):
            return tracker.retry_delay()
        return None
