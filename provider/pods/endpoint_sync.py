"""Writes the lower EndpointSlices (and, with ``--reflect endpoints``, Endpoints) of reflected Services."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from descheduler import keys
from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider import requeue
from provider.kube.index import LabelIndex
from provider.kube.informer import Informer
from provider.kube.objects import ObjectKey, RawObject, metadata, object_key
from provider.metrics import ReflectionMetrics
from provider.pods import endpoint_plan, service_plan
from provider.pods.caches import PodCaches

logger = logging.getLogger(__name__)

DISCOVERY = "/apis/discovery.k8s.io/v1"


@dataclass(frozen=True)
class EndpointSources:
    """The informers the endpoint writer reads, with the indexes that find a Service's slices in them."""

    upper_slices: Informer
    upper_index: LabelIndex
    lower_slices: Informer
    """Lower slices reflected for this upper cluster (by any of its virtual nodes)."""
    lower_index: LabelIndex
    lower_endpoints: Informer | None = None
    """Lower Endpoints reflected for this upper cluster; None unless ``--reflect endpoints``."""


class EndpointWriter:
    """Makes the lower endpoints of one reflected Service equal to its upper endpoints.

    Called by :class:`~provider.pods.services.ServiceReflector` with the lower Service it keeps
    (only when this virtual node is one of its users). Writes only slices labelled as ours and
    compares source digests first, so an unchanged Service costs no request.
    """

    def __init__(self, caches: PodCaches, sources: EndpointSources, *, lower: Kube, metrics: ReflectionMetrics) -> None:
        self._caches = caches
        self._sources = sources
        self._lower = lower
        self._metrics = metrics

    def mirror_of(self, namespace: str, name: str) -> endpoint_plan.Mirror | None:
        """The mirror of upper pod namespace/name here, made by any virtual node of our upper cluster."""
        pod = self._caches.lower.get(ObjectKey(namespace, name))
        if pod is None:
            return None
        meta = metadata(pod)
        labels = meta.get("labels") or {}
        if labels.get(keys.UPPER_CLUSTER_LABEL) != self._caches.upper_cluster or not labels.get(
            keys.VIRTUAL_NODE_LABEL
        ):
            return None
        upper_uid = str((meta.get("annotations") or {}).get(keys.UPPER_UID_ANNOTATION) or "")
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        return endpoint_plan.Mirror(node_name=node, uid=str(meta.get("uid") or ""), upper_uid=upper_uid)

    def sync(self, lower_service: RawObject) -> set[str]:
        """Write what differs; returns the kinds written."""
        key = object_key(lower_service)
        if service_plan.is_external_name(lower_service):
            desired: list[RawObject] = []
        else:
            upper = [self._sources.upper_slices.get(k) for k in self._sources.upper_index.keys(*key)]
            desired = endpoint_plan.lower_slices(
                lower_service, [s for s in upper if s is not None], mirror_of=self.mirror_of
            )
        wrote: set[str] = set()
        existing = self._existing_slices(key)
        for body in desired:
            if self._put(
                "EndpointSlice", self._slice_path(key.namespace), body, existing.pop(body["metadata"]["name"], None)
            ):
                wrote.add("EndpointSlice")
        for stale in existing.values():
            self._delete("EndpointSlice", self._slice_path(key.namespace, metadata(stale).get("name")), stale)
            wrote.add("EndpointSlice")
        if self._sources.lower_endpoints is not None and self._sync_legacy(key, lower_service, desired):
            wrote.add("Endpoints")
        return wrote

    def remove(self, key: ObjectKey) -> None:
        """Delete every lower endpoint object of the Service ``key`` (its copy is gone or going)."""
        for stale in self._existing_slices(key).values():
            self._delete("EndpointSlice", self._slice_path(key.namespace, metadata(stale).get("name")), stale)
        legacy = self._sources.lower_endpoints.get(key) if self._sources.lower_endpoints is not None else None
        if legacy is not None:
            self._delete("Endpoints", self._endpoints_path(key.namespace, key.name), legacy)

    def orphans(self, services: set[ObjectKey]) -> list[ObjectKey]:
        """Services with lower endpoint objects of ours but no lower copy in ``services`` (a crash between deletes)."""
        found = {ObjectKey(k.namespace, v) for k, v in self._slice_services()}
        if self._sources.lower_endpoints is not None:
            found |= set(self._sources.lower_endpoints.keys())
        return sorted(found - services)

    def _slice_services(self) -> Iterable[tuple[ObjectKey, str]]:
        for obj in self._sources.lower_slices.items():
            value = self._sources.lower_index.value_of(obj)
            if value is not None:
                yield object_key(obj), value

    def _existing_slices(self, key: ObjectKey) -> dict[str, RawObject]:
        found: dict[str, RawObject] = {}
        for k in self._sources.lower_index.keys(*key):
            obj = self._sources.lower_slices.get(k)
            if obj is not None and not metadata(obj).get("deletionTimestamp"):
                found[k.name] = obj
        return found

    def _sync_legacy(self, key: ObjectKey, lower_service: RawObject, slices: list[RawObject]) -> bool:
        assert self._sources.lower_endpoints is not None
        existing = self._sources.lower_endpoints.get(key)
        if service_plan.is_external_name(lower_service):
            if existing is not None:
                self._delete("Endpoints", self._endpoints_path(key.namespace, key.name), existing)
            return existing is not None
        body = endpoint_plan.lower_endpoints(lower_service, slices)
        return self._put("Endpoints", self._endpoints_path(key.namespace), body, existing)

    def _put(self, kind: str, collection: str, body: RawObject, existing: RawObject | None) -> bool:
        """Create or update ``body`` unless ``existing`` already holds it; whether a write was made."""
        name = body["metadata"]["name"]
        if existing is None:
            try:
                self._lower.post(collection, body)
                self._metrics.wrote(kind, "create")
                return True
            except errors.ConflictError:
                existing = self._lower.get(f"{collection}/{name}")
            except errors.ApiError:
                self._metrics.failed(kind)
                raise
        if service_plan.source_hash(existing) == service_plan.source_hash(body):
            return False
        if not _ours(existing, self._caches.upper_cluster):
            logger.warning(
                "%s %s/%s exists in the lower cluster and is not ours; not overwriting it",
                kind,
                body["metadata"]["namespace"],
                name,
            )
            return False
        try:
            self._lower.put(f"{collection}/{name}", endpoint_plan.update_body(body, existing))
        except errors.ConflictError:
            self._metrics.failed(kind)
            raise requeue.RetryLater(
                requeue.Retry("conflict", f"{kind} {name} changed meanwhile", logging.DEBUG)
            ) from None
        except errors.ApiError:
            self._metrics.failed(kind)
            raise
        self._metrics.wrote(kind, "update")
        return True

    def _delete(self, kind: str, path: str, obj: RawObject) -> None:
        meta = metadata(obj)
        preconditions = {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
        with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
            try:
                self._lower.delete(path, body={"preconditions": preconditions})
            except errors.ApiError:
                self._metrics.failed(kind)
                raise
            self._metrics.wrote(kind, "delete")

    @staticmethod
    def _slice_path(namespace: str, name: str | None = None) -> str:
        return paths.resource(DISCOVERY, "endpointslices", namespace=namespace, name=name)

    @staticmethod
    def _endpoints_path(namespace: str, name: str | None = None) -> str:
        return paths.resource(paths.CORE, "endpoints", namespace=namespace, name=name)


def _ours(obj: RawObject, upper_cluster: str) -> bool:
    labels = metadata(obj).get("labels") or {}
    return labels.get(keys.UPPER_CLUSTER_LABEL) == upper_cluster and bool(labels.get(keys.VIRTUAL_NODE_LABEL))
