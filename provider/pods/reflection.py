"""The Service reflector wired to its informers: what :mod:`provider.app` builds, starts and stops."""

from __future__ import annotations

from collections.abc import Callable

from descheduler import keys
from descheduler.kube import paths
from descheduler.kube.client import Kube
from provider import requeue
from provider.kube.index import LabelIndex
from provider.kube.informer import Informer
from provider.kube.objects import EventType, ObjectKey, RawObject
from provider.metrics import ProviderMetrics
from provider.pods.caches import PodCaches
from provider.pods.endpoint_sync import DISCOVERY, EndpointSources, EndpointWriter
from provider.pods.services import ServiceReflector, ServiceSources

SERVICES_WORKERS = 2
"""Services change rarely next to pods; two workers keep one slow Service from delaying the others."""


class ServiceReflection:
    """Upper Services and EndpointSlices, their lower copies, and the :class:`ServiceReflector` they feed.

    Lower objects are watched only when labelled as made for this upper cluster (by any of its
    virtual nodes: several may share the lower cluster, and so a copy). ``legacy_endpoints`` adds
    the lower Endpoints objects (``--reflect endpoints``).
    """

    def __init__(
        self,
        caches: PodCaches,
        *,
        upper: Kube,
        lower: Kube,
        lower_cluster: str,
        legacy_endpoints: bool,
        metrics: ProviderMetrics,
        policy: requeue.RequeuePolicy,
        workers: int = SERVICES_WORKERS,
    ) -> None:
        ours = {"labelSelector": f"{keys.UPPER_CLUSTER_LABEL}={caches.upper_cluster},{keys.VIRTUAL_NODE_LABEL}"}
        services_path = paths.resource(paths.CORE, "services")
        slices_path = paths.resource(DISCOVERY, "endpointslices")
        self._upper_index = LabelIndex(keys.SERVICE_NAME_LABEL)
        self._lower_index = LabelIndex(keys.SERVICE_NAME_LABEL)
        self.upper_services = Informer(upper, services_path, "upper-services", {}, self._on_upper_service)
        self.lower_services = Informer(lower, services_path, "lower-services", ours, self._on_lower_service)
        self.upper_slices = Informer(upper, slices_path, "upper-endpointslices", {}, self._on_upper_slice)
        self.lower_slices = Informer(lower, slices_path, "lower-endpointslices", ours, self._on_lower_slice)
        self.lower_endpoints = (
            Informer(lower, paths.resource(paths.CORE, "endpoints"), "lower-endpoints", ours, self._on_lower_endpoints)
            if legacy_endpoints
            else None
        )
        sources = EndpointSources(
            upper_slices=self.upper_slices,
            upper_index=self._upper_index,
            lower_slices=self.lower_slices,
            lower_index=self._lower_index,
            lower_endpoints=self.lower_endpoints,
        )
        writer = EndpointWriter(caches, sources, lower=lower, metrics=metrics.reflection)
        self.reflector = ServiceReflector(
            caches,
            ServiceSources(upper=self.upper_services, lower=self.lower_services),
            writer,
            lower=lower,
            upper_kube=upper,
            lower_cluster=lower_cluster,
            metrics=metrics,
            workers=workers,
            policy=policy,
        )
        counted: list[tuple[str, Informer | None]] = [
            ("Service", self.lower_services),
            ("EndpointSlice", self.lower_slices),
            ("Endpoints", self.lower_endpoints),
        ]
        for kind, informer in counted:
            if informer is not None:
                metrics.reflection.count_objects(kind, _counter(informer))
        self.queue = self.reflector.queue

    def informers(self) -> list[Informer]:
        found = [self.upper_services, self.lower_services, self.upper_slices, self.lower_slices, self.lower_endpoints]
        return [informer for informer in found if informer is not None]

    def start(self) -> None:
        """Start the queue with a first sweep: after a restart, orphans left by the last run are collected."""
        self.queue.start()
        self.reflector.resync()

    def on_upper_pod(self, event: EventType, obj: RawObject) -> None:
        self.reflector.on_upper_pod(event, obj)

    def _on_upper_service(self, event: EventType, obj: RawObject) -> None:
        self.reflector.on_upper_service(event, obj)

    def _on_lower_service(self, event: EventType, obj: RawObject) -> None:
        self.reflector.on_lower_service(event, obj)

    def _on_upper_slice(self, event: EventType, obj: RawObject) -> None:
        for service in self._upper_index.on_event(event, obj):
            self.reflector.changed(ObjectKey(*service))

    def _on_lower_slice(self, event: EventType, obj: RawObject) -> None:
        for service in self._lower_index.on_event(event, obj):
            if event != "ADDED":
                self.reflector.queue.add(ObjectKey(*service))

    def _on_lower_endpoints(self, event: EventType, obj: RawObject) -> None:
        self.reflector.on_lower_service(event, obj)  # named like its Service: the same key


def _counter(informer: Informer) -> Callable[[], int]:
    return lambda: len(informer.keys())
