"""Lower copies of the upper Services that mirrored pods may call, with their endpoints, and their collection."""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

from descheduler import keys
from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider import requeue
from provider.kube import reachability
from provider.kube.index import NamespaceIndex
from provider.kube.informer import Informer
from provider.kube.objects import EventType, ObjectKey, RawObject, metadata, now_rfc3339, object_key
from provider.kube.workqueue import WorkQueue
from provider.metrics import ProviderMetrics, ReflectionMetrics
from provider.pods import deps, service_plan
from provider.pods.caches import PodCaches
from provider.pods.endpoint_sync import EndpointWriter

logger = logging.getLogger(__name__)

CLASH_REASON = "LowerServiceExists"


class NamespaceKey(NamedTuple):
    """A namespace whose membership changed (its first mirrored pod came, or its last went)."""

    namespace: str

    def __str__(self) -> str:
        return f"namespace {self.namespace}"


class Sweep(enum.Enum):
    """The queue's other key: every Service on either side, and endpoint objects left without one."""

    ALL = "every reflected Service"

    def __str__(self) -> str:
        return self.value


ReflectorKey = ObjectKey | NamespaceKey | Sweep


@dataclass(frozen=True)
class ServiceSources:
    """Upper Services (all namespaces) and the lower copies made for this upper cluster."""

    upper: Informer
    lower: Informer


class ServiceReflector:
    """Keeps a lower copy of every upper Service in the namespaces this virtual node mirrors pods of.

    One key per Service (namespace/name). A Service is wanted below while its namespace has a pod
    bound to this virtual node and :func:`~provider.pods.service_plan.skip_reason` has nothing
    against it; then this virtual node is one of the copy's users (``tensile.io/used-by``, as for
    ConfigMap copies) and keeps it and its endpoints (:class:`EndpointWriter`) current. Unwanted,
    it lets go; the last user deletes the copy and its endpoints. Never writes a lower Service
    that tensile did not create: such a clash is reported once as a Warning Event upstairs.
    """

    def __init__(
        self,
        caches: PodCaches,
        services: ServiceSources,
        endpoints: EndpointWriter,
        *,
        lower: Kube,
        upper_kube: Kube,
        lower_cluster: str,
        metrics: ProviderMetrics,
        workers: int,
        policy: requeue.RequeuePolicy,
    ) -> None:
        self._caches = caches
        self._services = services
        self._endpoints = endpoints
        self._lower = lower
        self._upper_kube = upper_kube
        self._metrics = metrics.reflection
        self._changed_at: dict[ObjectKey, float] = {}
        self._mirrored = NamespaceIndex()
        """Namespaces with a pod bound to this virtual node: the Services there are wanted below."""
        self._clashes = ClashReporter(upper_kube, lower_cluster=lower_cluster, node_name=caches.node_name)
        self._lock = threading.Lock()
        self.queue: WorkQueue[ReflectorKey] = WorkQueue(
            self.process, workers=workers, name="services", policy=policy, observer=metrics.queue("services")
        )

    # -- events (informer threads: cheap, no I/O) ------------------------------------------

    def changed(self, key: ObjectKey) -> None:
        """An upper change concerns Service ``key`` (itself, or one of its EndpointSlices)."""
        with self._lock:
            self._changed_at.setdefault(key, time.monotonic())
        self.queue.add(key)

    def on_upper_service(self, _event: EventType, obj: RawObject) -> None:
        self.changed(object_key(obj))

    def on_upper_pod(self, event: EventType, obj: RawObject) -> None:
        """Fed every event of the bound upper pods; only a namespace's first and last pod matter."""
        if self._mirrored.on_event(event, obj):
            self.queue.add(NamespaceKey(object_key(obj).namespace))

    def on_lower_service(self, event: EventType, obj: RawObject) -> None:
        if event != "ADDED":  # our own creates come back as ADDED; edits and deletes by others are repaired
            self.queue.add(object_key(obj))

    def resync(self) -> None:
        self.queue.add(Sweep.ALL)

    # -- work (queue workers) -------------------------------------------------------------

    def process(self, key: ReflectorKey) -> requeue.Retry | None:
        if not (
            self._caches.synced() and self._services.upper.synced.is_set() and self._services.lower.synced.is_set()
        ):
            return requeue.Retry("not_synced")
        try:
            if isinstance(key, Sweep):
                self.sweep()
            elif isinstance(key, NamespaceKey):
                self._touch_namespace(key.namespace)
            else:
                self.sync(key)
        except errors.ApiError as exc:
            return reachability.retry_for(exc, self._upper_kube, self._lower)
        return None

    def sweep(self) -> None:
        """Look at every Service known on either side; delete endpoint objects whose Service copy is gone."""
        namespaces = self._mirrored.namespaces()
        upper_keys = self._services.upper.keys()
        wanted = {key for key in upper_keys if key.namespace in namespaces}
        for key in wanted | set(self._services.lower.keys()):
            self.queue.add(key)
        for orphan in self._endpoints.orphans(set(self._services.lower.keys())):
            self._endpoints.remove(orphan)

    def _touch_namespace(self, namespace: str) -> None:
        for key in {*self._services.upper.keys(), *self._services.lower.keys()}:
            if key.namespace == namespace:
                self.queue.add(key)

    def sync(self, key: ObjectKey) -> None:
        """Make the lower copy of Service ``key`` and its endpoints what the upper cluster says, or let go of it."""
        with self._lock:
            since = self._changed_at.pop(key, None)
        try:
            wrote = self._sync(key)
        except BaseException:
            if since is not None:
                with self._lock:
                    self._changed_at.setdefault(key, since)
            raise
        if since is not None:
            for kind in wrote:
                self._metrics.lagged(kind, time.monotonic() - since)

    def _sync(self, key: ObjectKey) -> set[str]:
        upper = self._services.upper.get(key)
        existing = self._services.lower.get(key)
        me = self._caches.node_name
        if upper is None or service_plan.skip_reason(upper) or key.namespace not in self._mirrored:
            return self._release(key, existing) if existing is not None else set()
        users = deps.users(existing) if existing is not None else frozenset()
        desired = service_plan.lower_service(
            upper, upper_cluster=self._caches.upper_cluster, virtual_node=_creator(existing, me), users=users | {me}
        )
        wrote: set[str] = set()
        lower_service = existing
        if existing is None:
            lower_service = self._create(key, upper, desired)
            if lower_service is None:
                return wrote
            wrote.add("Service")
        elif service_plan.needs_replace(desired, existing):
            _delete_copy(self._lower, key, existing, self._metrics)
            lower_service = self._create(key, upper, desired)
            wrote.add("Service")
            if lower_service is None:
                return wrote
        elif service_plan.service_differs(desired, existing) or me not in users:
            lower_service = self._update(key, service_plan.update_body(desired, existing))
            wrote.add("Service")
        assert lower_service is not None
        return wrote | self._endpoints.sync(lower_service)

    def _create(self, key: ObjectKey, upper: RawObject, desired: RawObject) -> RawObject | None:
        """Create the copy; None when a lower Service of that name is not ours (the clash is reported)."""
        try:
            created = self._lower.post(paths.resource(paths.CORE, "services", namespace=key.namespace), desired)
            self._metrics.wrote("Service", "create")
            return created
        except errors.ConflictError:
            found = self._lower.get(_path(key))
        except errors.NotFoundError:
            # The namespace is created below with the first mirror in it, which is being created now.
            raise requeue.RetryLater(
                requeue.Retry("conflict", f"namespace {key.namespace} not there yet", logging.DEBUG)
            ) from None
        except errors.ApiError:
            self._metrics.failed("Service")
            raise
        if deps.is_copy_of(found, self._caches.upper_cluster):
            # Our cache is behind (we created it moments ago, or a sibling virtual node did): update it.
            return self._update(key, service_plan.update_body(desired, found))
        self._clashes.report(key, upper)
        return None

    def _update(self, key: ObjectKey, body: RawObject) -> RawObject:
        try:
            updated = self._lower.put(_path(key), body)
        except (errors.ConflictError, errors.NotFoundError):
            self._metrics.failed("Service")
            raise requeue.RetryLater(
                requeue.Retry("conflict", f"Service {key} changed meanwhile", logging.DEBUG)
            ) from None
        except errors.ApiError:
            self._metrics.failed("Service")
            raise
        self._metrics.wrote("Service", "update")
        return updated

    def _release(self, key: ObjectKey, existing: RawObject) -> set[str]:
        """This virtual node no longer needs the copy: leave its users, or delete it if we were the last."""
        if not deps.is_copy_of(existing, self._caches.upper_cluster) or metadata(existing).get("deletionTimestamp"):
            return set()
        me = self._caches.node_name
        current = deps.users(existing)
        if me not in current:
            return set()
        if current - {me}:
            with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
                self._update(key, deps.with_users(existing, current - {me}))
            return {"Service"}
        self._endpoints.remove(key)
        _delete_copy(self._lower, key, existing, self._metrics)
        return {"Service", "EndpointSlice"}


def _delete_copy(lower: Kube, key: ObjectKey, existing: RawObject, metrics: ReflectionMetrics) -> None:
    """Delete the lower copy ``existing`` as it was read (uid and resourceVersion preconditions)."""
    meta = metadata(existing)
    preconditions = {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
    try:
        lower.delete(_path(key), body={"preconditions": preconditions})
    except errors.NotFoundError:
        return
    except errors.ConflictError:
        metrics.failed("Service")
        raise requeue.RetryLater(requeue.Retry("conflict", f"Service {key} changed meanwhile", logging.DEBUG)) from None
    metrics.wrote("Service", "delete")


def _creator(existing: RawObject | None, me: str) -> str:
    """The virtual node that created the copy (its label stays as users come and go)."""
    if existing is None:
        return me
    return str((metadata(existing).get("labels") or {}).get(keys.VIRTUAL_NODE_LABEL) or me)


def _path(key: ObjectKey) -> str:
    return paths.resource(paths.CORE, "services", namespace=key.namespace, name=key.name)


class ClashReporter:
    """Tells the upper cluster, once per upper Service (per process), that its name is taken below by a
    Service tensile did not create: a Warning Event on the upper Service, which ``kubectl describe`` shows."""

    def __init__(self, upper: Kube, *, lower_cluster: str, node_name: str) -> None:
        self._upper = upper
        self._lower_cluster = lower_cluster
        self._node_name = node_name
        self._reported: set[str] = set()
        """Upper Service uids already reported."""

    def report(self, key: ObjectKey, upper: RawObject) -> None:
        meta = metadata(upper)
        uid = str(meta.get("uid") or "")
        if uid in self._reported:
            return
        message = (
            f"lower cluster {self._lower_cluster} already has a Service {key} that tensile did not create;"
            " it is left alone, and pods mirrored there reach that Service, not this one"
        )
        logger.warning("Service %s: %s", key, message)
        now = now_rfc3339()
        involved = {"apiVersion": "v1", "kind": "Service", "namespace": key.namespace, "name": key.name, "uid": uid}
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{key.name}.", "namespace": key.namespace},
            "involvedObject": involved,
            "reason": CLASH_REASON,
            "message": message,
            "type": "Warning",
            "source": {"component": "tensile-virtual-node", "host": self._node_name},
            "reportingComponent": "tensile.io/virtual-node",
            "reportingInstance": self._node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self._upper.post(paths.resource(paths.CORE, "events", namespace=key.namespace), event)
        self._reported.add(uid)
