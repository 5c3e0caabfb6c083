"""Lower copies of the ConfigMaps and Secrets that mirrored pods use, and their collection."""

from __future__ import annotations

import contextlib
import enum
import logging
from typing import Literal, NamedTuple

from descheduler import keys
from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider import requeue
from provider.kube import reachability
from provider.kube.informer import Informer
from provider.kube.objects import EventType, ObjectKey, RawObject, metadata, object_key
from provider.kube.workqueue import WorkQueue
from provider.metrics import ProviderMetrics
from provider.pods import deps
from provider.pods.caches import PodCaches

logger = logging.getLogger(__name__)

CopiedKind = Literal["ConfigMap", "Secret"]
PLURALS: dict[CopiedKind, str] = {"ConfigMap": "configmaps", "Secret": "secrets"}


class CopyKey(NamedTuple):
    """One upper ConfigMap or Secret whose lower copy may need an update."""

    kind: CopiedKind
    key: ObjectKey

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class Collection(enum.Enum):
    """The queue's other key: look for copies that no mirror of ours uses any more."""

    COPIES = "unused copies"

    def __str__(self) -> str:
        return self.value


CopiesKey = CopyKey | Collection


class CopiesController:
    """Keeps lower copies of the ConfigMaps and Secrets our mirrors reference, and lets go of unused ones.

    Watches the upper ConfigMaps and Secrets (``upper``) and the lower copies of every virtual
    node of this upper cluster (``copies``: one copy may serve several nodes, each listed as a
    user). Writes only lower ConfigMaps/Secrets labelled as copies from this upper cluster;
    never overwrites a lower object that is not a copy, and never writes the upper cluster.
    :meth:`claim` is called by the pod controller before it creates a mirror.
    """

    def __init__(
        self,
        caches: PodCaches,
        *,
        upper: dict[CopiedKind, Informer],
        copies: dict[CopiedKind, Informer],
        lower: Kube,
        upper_kube: Kube,
        metrics: ProviderMetrics,
        workers: int,
        policy: requeue.RequeuePolicy,
    ) -> None:
        self._caches = caches
        self._upper = upper
        self._copies = copies
        self._lower = lower
        self._upper_kube = upper_kube
        self.queue: WorkQueue[CopiesKey] = WorkQueue(
            self.process, workers=workers, name="copies", policy=policy, observer=metrics.queue("copies")
        )

    def on_upper_change(self, kind: CopiedKind, _event: EventType, obj: RawObject) -> None:
        """An upper ConfigMap/Secret changed: update its copy, if there is one."""
        key = object_key(obj)
        if self._copies[kind].get(key) is not None:
            self.queue.add(CopyKey(kind, key))

    def resync(self) -> None:
        self.queue.add(Collection.COPIES)

    def process(self, key: CopiesKey) -> requeue.Retry | None:
        if not self._caches.synced():
            return requeue.Retry("not_synced")
        try:
            if isinstance(key, Collection):
                self.collect()
            else:
                self.sync(key.kind, key.key)
        except errors.ApiError as exc:
            return reachability.retry_for(exc, self._upper_kube, self._lower)
        return None

    def claim(self, upper_pod: RawObject) -> None:
        """Make sure every ConfigMap/Secret that ``upper_pod`` references has a current lower copy used by us."""
        refs = deps.references(upper_pod)
        namespace = metadata(upper_pod).get("namespace", "default")
        for name in refs.configmaps:
            self.sync("ConfigMap", ObjectKey(namespace, name), claim=True)
        for name in refs.secrets:
            self.sync("Secret", ObjectKey(namespace, name), claim=True)

    def sync(self, kind: CopiedKind, key: ObjectKey, *, claim: bool = False) -> None:
        """Make the lower copy of an upper ConfigMap/Secret current.

        ``claim``: a mirror of ours needs it, so we become one of its users (creating it if
        missing). Otherwise (the upper object changed) only a copy we use is updated.
        """
        source = self._upper[kind].get(key)
        if source is None:
            return  # missing upstream: an optional reference, or the pod waits like it would upstairs
        path = paths.resource(paths.CORE, PLURALS[kind], namespace=key.namespace)
        me = self._caches.node_name
        existing = self._copies[kind].get(key)
        if existing is None:
            if not claim:
                return
            try:
                self._lower.post(path, self._copy(source, kind, creator=me, users={me}))
                return
            except errors.ConflictError:
                existing = self._lower.get(self._path(kind, key))
        if not deps.is_copy_of(existing, self._caches.upper_cluster):
            logger.warning("%s %s exists in the lower cluster and is not ours; not overwriting it", kind, key)
            return
        users = deps.users(existing)
        if me not in users and not claim:
            return
        wanted = users | {me}
        if wanted == users and not deps.copy_differs(source, existing):
            return
        creator = metadata(existing).get("labels", {}).get(keys.VIRTUAL_NODE_LABEL) or me
        body = self._copy(source, kind, creator=creator, users=wanted)
        if existing.get("immutable") and deps.copy_differs(source, existing):
            # Immutable upstairs means replaced upstairs (deleted and created again): do the same
            # below. Running mirrors keep what they mounted, as they would with the upper object.
            meta = metadata(existing)
            preconditions = {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
            self._lower.delete(self._path(kind, key), body={"preconditions": preconditions})
            self._lower.post(path, body)
            return
        body["metadata"]["resourceVersion"] = metadata(existing).get("resourceVersion")
        try:
            self._lower.put(self._path(kind, key), body)
        except errors.NotFoundError:
            # Its last other user deleted it meanwhile; our cache will tell, and the retry creates it.
            raise requeue.RetryLater(requeue.Retry("conflict", f"{kind} {key} was deleted meanwhile")) from None

    @staticmethod
    def _path(kind: CopiedKind, key: ObjectKey) -> str:
        return paths.resource(paths.CORE, PLURALS[kind], namespace=key.namespace, name=key.name)

    def _copy(
        self, source: RawObject, kind: CopiedKind, *, creator: str, users: set[str] | frozenset[str]
    ) -> RawObject:
        return deps.lower_copy(
            source, kind=kind, upper_cluster=self._caches.upper_cluster, virtual_node=creator, users=users
        )

    def collect(self) -> None:
        """Let go of copies our mirrors no longer use; the last user deletes them."""
        referenced: set[tuple[str, str, str]] = set()  # (kind, namespace, name)
        for pod in self._caches.upper.items():
            refs = deps.references(pod)
            namespace = metadata(pod).get("namespace", "default")
            referenced |= {("ConfigMap", namespace, n) for n in refs.configmaps}
            referenced |= {("Secret", namespace, n) for n in refs.secrets}
        ours = {"upper_cluster": self._caches.upper_cluster, "virtual_node": self._caches.node_name}
        for kind in PLURALS:
            # LIST items carry no "kind", so each informer's copies are collected separately.
            used: set[tuple[str, str, str]] = {(k, ns, n) for k, ns, n in referenced if k == kind}
            for obj, users_left in deps.released_copies(self._copies[kind].items(), used, **ours):
                meta = metadata(obj)
                path = self._path(kind, object_key(obj))
                # Preconditions: if another virtual node claimed it meanwhile, this write fails and
                # the next collection looks again.
                with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
                    if users_left:
                        self._lower.put(path, deps.with_users(obj, users_left))
                    else:
                        preconditions = {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
                        self._lower.delete(path, body={"preconditions": preconditions})
