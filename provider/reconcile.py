"""The provider's control loops: watch both clusters, mirror pods down, copy status up,
keep the virtual node and its Lease current.

Every decision is made by the pure planners (:mod:`provider.mirror`, :mod:`provider.status`,
:mod:`provider.deps`, :mod:`provider.node`, :mod:`provider.capacity`); this module only
feeds them from the informers' caches and applies their actions, idempotently, one key at
a time. Nothing is done for a pod until both pod caches have completed their first list,
so a restart adopts existing mirrors instead of duplicating or deleting them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from descheduler import keys
from descheduler.kube import errors, paths, retry
from descheduler.kube.client import Kube
from provider import capacity, deps, mirror, node, status
from provider.config import ProviderConfig
from provider.kube import reachability
from provider.kube.informer import Informer, RawObject, object_key
from provider.kube.workqueue import WorkQueue
from provider.metrics import ProviderMetrics

logger = logging.getLogger(__name__)

POD_PREFIX = "pod:"
DEP_PREFIX = "dep:"
GC_KEY = "gc:copies"
DEP_KINDS = {"ConfigMap": "configmaps", "Secret": "secrets"}


def now_rfc3339() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _split(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    return namespace, name


def _meta(obj: RawObject) -> dict[str, Any]:
    meta: dict[str, Any] = obj.get("metadata") or {}
    return meta


@dataclass
class Clusters:
    upper: Kube
    lower: Kube


class Provider:
    def __init__(self, cfg: ProviderConfig, clusters: Clusters, metrics: ProviderMetrics | None = None) -> None:
        self.cfg = cfg
        self.metrics = metrics or ProviderMetrics()
        self.upper = clusters.upper
        self.lower = clusters.lower
        self.stop_event = threading.Event()
        self.capacity = capacity.Capacity(is_own_mirror=self.is_own_mirror)
        self._capacity_lock = threading.Lock()
        self._node_dirty = threading.Event()
        self._written_node: tuple[tuple[tuple[str, str], ...] | None, bool] | None = None
        """(allocatable, lower reachable) as last written to the node's status."""
        self.lower_reachable = True
        # Copies of every virtual node of this upper cluster: one copy may serve several of them.
        ours = f"{keys.UPPER_CLUSTER_LABEL}={cfg.upper_cluster},{keys.VIRTUAL_NODE_LABEL}"
        self.upper_pods = Informer(
            self.upper,
            "/api/v1/pods",
            "upper-pods",
            {"fieldSelector": f"spec.nodeName={cfg.node_name}"},
            self._on_upper_pod,
        )
        self.lower_pods = Informer(self.lower, "/api/v1/pods", "lower-pods", {}, self._on_lower_pod)
        self.lower_nodes = Informer(self.lower, "/api/v1/nodes", "lower-nodes", {}, self._on_lower_node)
        self.upper_deps = {
            kind: Informer(self.upper, f"/api/v1/{plural}", f"upper-{plural}", {}, self._dep_handler(kind))
            for kind, plural in DEP_KINDS.items()
        }
        self.lower_copies = {
            kind: Informer(self.lower, f"/api/v1/{plural}", f"lower-{plural}", {"labelSelector": ours}, None)
            for kind, plural in DEP_KINDS.items()
        }
        self.queue = WorkQueue(
            self.process, workers=cfg.workers, name="reconcile", observer=self.metrics.queue("reconcile")
        )
        # Status copies get their own queue: a burst of creates must not delay them.
        self.status_queue = WorkQueue(
            self.process_status, workers=cfg.workers, name="status", observer=self.metrics.queue("status")
        )
        # Per pod: when a lower change not yet copied up reached us (the status-sync metric).
        self._lower_changed_at: dict[str, float] = {}
        self._lower_namespaces: set[str] = set()
        # Per pod: the (lower, upper) resourceVersions of the last status copy. Until either
        # changes, the same copy would be sent again (the upper cache lags our own writes).
        self._copied: dict[str, tuple[str | None, str | None]] = {}
        self._threads: list[threading.Thread] = []

    # -- ownership ----------------------------------------------------------------------

    def is_own_mirror(self, lower: Mapping[str, Any]) -> bool:
        return mirror.is_own_mirror(lower, upper_cluster=self.cfg.upper_cluster, virtual_node=self.cfg.node_name)

    # -- lifecycle ----------------------------------------------------------------------

    def informers(self) -> list[Informer]:
        return [
            self.upper_pods,
            self.lower_pods,
            self.lower_nodes,
            *self.upper_deps.values(),
            *self.lower_copies.values(),
        ]

    def start(self) -> None:
        for informer in self.informers():
            informer.start(self.stop_event)
        self.queue.start()
        self.status_queue.start()
        for target, name in ((self._heartbeat_loop, "heartbeat"), (self._resync_loop, "resync")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(i.synced.wait(max(0.0, deadline - time.monotonic())) for i in self.informers())

    def stop(self) -> None:
        self.stop_event.set()
        self.queue.stop()
        self.status_queue.stop()
        for thread in self._threads:
            thread.join(5.0)

    # -- event handlers (informer threads: cheap, no I/O) ---------------------------------

    def _on_upper_pod(self, _event: str, obj: RawObject) -> None:
        self.queue.add(POD_PREFIX + object_key(obj))

    def _on_lower_pod(self, event: str, obj: RawObject) -> None:
        with self._capacity_lock:
            if event == "DELETED":
                self.capacity.delete_pod(_meta(obj).get("namespace", ""), _meta(obj).get("name", ""))
            else:
                self.capacity.upsert_pod(obj)
        self._node_dirty.set()
        key = object_key(obj)
        if self.is_own_mirror(obj) or self.upper_pods.get(key) is not None:
            self._lower_changed_at.setdefault(key, time.monotonic())
            self.queue.add(POD_PREFIX + key)
            self.status_queue.add(key)

    def _on_lower_node(self, event: str, obj: RawObject) -> None:
        with self._capacity_lock:
            if event == "DELETED":
                self.capacity.delete_node(_meta(obj).get("name", ""))
            else:
                self.capacity.upsert_node(obj)
        self._node_dirty.set()

    def _dep_handler(self, kind: str) -> Any:
        def handle(_event: str, obj: RawObject) -> None:
            key = f"{DEP_PREFIX}{kind}/{object_key(obj)}"
            if self.lower_copies[kind].get(object_key(obj)) is not None:
                self.queue.add(key)

        return handle

    # -- work ---------------------------------------------------------------------------

    def process(self, key: str) -> float | None:
        if not (self.upper_pods.synced.is_set() and self.lower_pods.synced.is_set()):
            return 0.5  # never act on a half-known world
        try:
            if key.startswith(POD_PREFIX):
                return self.reconcile_pod(key[len(POD_PREFIX) :])
            if key.startswith(DEP_PREFIX):
                kind, _, obj_key = key[len(DEP_PREFIX) :].partition("/")
                self.sync_copy(kind, obj_key)
                return None
            if key == GC_KEY:
                self.collect_copies()
            return None
        except errors.ApiError as exc:
            logger.log(reachability.failure_level(exc, self.upper, self.lower), "%s: %s; retrying", key, exc)
            return 2.0 if not isinstance(exc, errors.ConflictError) else 0.2

    def process_status(self, key: str) -> float | None:
        """Copy the lower pod's status up; the full reconcile repeats this, so it may be skipped."""
        if not (self.upper_pods.synced.is_set() and self.lower_pods.synced.is_set()):
            return 0.5
        upper, lower = self.upper_pods.get(key), self.lower_pods.get(key)
        if upper is None or lower is None or _meta(upper).get("deletionTimestamp"):
            self._copied.pop(key, None)
            self._lower_changed_at.pop(key, None)
            return None
        versions = (_meta(lower).get("resourceVersion"), _meta(upper).get("resourceVersion"))
        if self._copied.get(key) == versions:
            self._lower_changed_at.pop(key, None)
            return None  # this lower status was copied onto this upper pod; the cache has not caught up yet
        changed_at = self._lower_changed_at.pop(key, None)
        try:
            wrote = self._sync_upper(key, upper, lower)
        except errors.ApiError as exc:
            if changed_at is not None:
                self._lower_changed_at.setdefault(key, changed_at)
            logger.log(reachability.failure_level(exc, self.upper, self.lower), "status of %s: %s; retrying", key, exc)
            return 1.0
        if wrote and changed_at is not None:
            self.metrics.status_sync.observe(time.monotonic() - changed_at)
        self._copied[key] = versions
        return None

    def reconcile_pod(self, key: str) -> float | None:
        upper = self.upper_pods.get(key)
        if upper is not None and (upper.get("spec") or {}).get("nodeName") != self.cfg.node_name:
            upper = None
        lower = self.lower_pods.get(key)
        action = mirror.plan(upper, lower, upper_cluster=self.cfg.upper_cluster, virtual_node=self.cfg.node_name)
        retry_after = self._apply(key, action, upper)
        if upper is not None:
            self._sync_upper(key, upper, lower, copy_status=False)
        return retry_after

    def _apply(self, key: str, action: mirror.Action, upper: RawObject | None) -> float | None:
        namespace, name = _split(key)
        if isinstance(action, mirror.Create):
            assert upper is not None
            return self._create(namespace, action.body, upper)
        if isinstance(action, mirror.Update):
            self.lower.patch(paths.pod(namespace, name), action.patch)
        elif isinstance(action, mirror.Delete):
            body: dict[str, Any] = {"preconditions": {"uid": action.uid}}
            if action.grace_period_seconds is not None:
                body["gracePeriodSeconds"] = action.grace_period_seconds
            # Already gone, or replaced by a pod that is not the one we meant: nothing to do.
            with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
                self.lower.delete(paths.pod(namespace, name), body=body)
        elif isinstance(action, mirror.Conflict):
            logger.warning("pod %s: %s; leaving it alone", key, action.reason)
        return None

    def _create(self, namespace: str, body: RawObject, upper: RawObject) -> float | None:
        try:
            self._ensure_namespace(namespace)
            self._ensure_copies(upper)
            self.lower.post(paths.pod(namespace), body)
        except errors.ConflictError:
            self.metrics.mirror_creates.labels(result="conflict").inc()
            return 0.5  # our cache is behind: the next event tells what is there
        except (errors.ForbiddenError, errors.UnprocessableError, errors.BadRequestError, errors.NotFoundError) as exc:
            self.metrics.mirror_creates.labels(result="failed").inc()
            self._lower_namespaces.discard(namespace)
            patch = status.create_failure_patch(
                upper, reason="ProviderCreateFailed", message=exc.message, now=now_rfc3339()
            )
            if patch is not None:
                self._patch_upper_status(object_key(upper), patch)
            return 10.0
        self.metrics.mirror_creates.labels(result="created").inc()
        return None

    def _sync_upper(self, key: str, upper: RawObject, lower: RawObject | None, *, copy_status: bool = True) -> bool:
        """Bring the upper pod in line with its mirror; True when its status was written."""
        namespace, name = _split(key)
        meta = _meta(upper)
        ours = lower is not None and self.is_own_mirror(lower)
        same = ours and _meta(lower or {}).get("annotations", {}).get(keys.UPPER_UID_ANNOTATION) == meta.get("uid")
        if meta.get("deletionTimestamp"):
            if lower is None or not ours:
                # The kubelet's last word: the containers are gone, the API object may go.
                body = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta.get("uid")}}
                with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
                    self.upper.delete(paths.pod(namespace, name), body=body)
            return False
        if same and lower is not None:
            if not copy_status:
                self.status_queue.add(key)  # one writer of pod status: the status queue
                return False
            patch = status.status_patch(upper, lower, host_ip=self.cfg.kubelet_address)
        elif lower is None and status.mirror_reported(upper):
            patch = status.lost_mirror_patch(
                upper, reason="MirrorLost", message="the pod disappeared from the lower cluster", now=now_rfc3339()
            )
        else:
            patch = None
        if patch is None:
            return False
        self._patch_upper_status(key, patch)
        return True

    def _patch_upper_status(self, key: str, patch: dict[str, Any]) -> None:
        namespace, name = _split(key)
        with contextlib.suppress(errors.NotFoundError):
            self.upper.patch(paths.pod(namespace, name, "status"), patch)

    def _ensure_namespace(self, namespace: str) -> None:
        if namespace in self._lower_namespaces:
            return  # deleted meanwhile? the create then fails with 404, forgets it, and retries
        try:
            self.lower.get(f"/api/v1/namespaces/{namespace}")
        except errors.NotFoundError:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            with contextlib.suppress(errors.ConflictError):
                self.lower.post("/api/v1/namespaces", body)
        self._lower_namespaces.add(namespace)

    # -- ConfigMaps and Secrets ---------------------------------------------------------

    def _ensure_copies(self, upper: RawObject) -> None:
        refs = deps.references(upper)
        namespace = _meta(upper).get("namespace", "default")
        for kind, names in (("ConfigMap", refs.configmaps), ("Secret", refs.secrets)):
            for name in names:
                self.sync_copy(kind, f"{namespace}/{name}", claim=True)

    def sync_copy(self, kind: str, key: str, *, claim: bool = False) -> None:
        """Make the lower copy of an upper ConfigMap/Secret current.

        ``claim``: a mirror of ours needs it, so we become one of its users (creating it if
        missing). Otherwise (the upper object changed) only a copy we use is updated.
        """
        source = self.upper_deps[kind].get(key)
        if source is None:
            return  # missing upstream: an optional reference, or the pod waits like it would upstairs
        namespace, name = _split(key)
        path = f"/api/v1/namespaces/{namespace}/{DEP_KINDS[kind]}"
        me = self.cfg.node_name
        existing = self.lower_copies[kind].get(key)
        if existing is None:
            if not claim:
                return
            try:
                self.lower.post(path, self._copy(source, kind, creator=me, users={me}))
                return
            except errors.ConflictError:
                existing = self.lower.get(f"{path}/{name}")
        if not deps.is_copy_of(existing, self.cfg.upper_cluster):
            logger.warning("%s %s exists in the lower cluster and is not ours; not overwriting it", kind, key)
            return
        users = deps.users(existing)
        if me not in users and not claim:
            return
        wanted = users | {me}
        if wanted == users and not deps.copy_differs(source, existing):
            return
        creator = _meta(existing).get("labels", {}).get(keys.VIRTUAL_NODE_LABEL) or me
        body = self._copy(source, kind, creator=creator, users=wanted)
        if existing.get("immutable") and deps.copy_differs(source, existing):
            # Immutable upstairs means replaced upstairs (deleted and created again): do the same
            # below. Running mirrors keep what they mounted, as they would with the upper object.
            meta = _meta(existing)
            preconditions = {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
            self.lower.delete(f"{path}/{name}", body={"preconditions": preconditions})
            self.lower.post(path, body)
            return
        body["metadata"]["resourceVersion"] = _meta(existing).get("resourceVersion")
        try:
            self.lower.put(f"{path}/{name}", body)
        except errors.NotFoundError:
            # Its last other user deleted it meanwhile; our cache will tell, and the retry creates it.
            raise errors.ConflictError(409, "Conflict", f"{kind} {key} was deleted meanwhile") from None

    def _copy(self, source: RawObject, kind: str, *, creator: str, users: set[str] | frozenset[str]) -> RawObject:
        return deps.lower_copy(
            source, kind=kind, upper_cluster=self.cfg.upper_cluster, virtual_node=creator, users=users
        )

    def collect_copies(self) -> None:
        """Let go of copies our mirrors no longer use; the last user deletes them."""
        referenced: set[tuple[str, str, str]] = set()
        for pod in self.upper_pods.items():
            refs = deps.references(pod)
            namespace = _meta(pod).get("namespace", "default")
            referenced |= {("ConfigMap", namespace, n) for n in refs.configmaps}
            referenced |= {("Secret", namespace, n) for n in refs.secrets}
        for kind, plural in DEP_KINDS.items():
            # LIST items carry no "kind", so each informer's copies are collected separately.
            wanted = {(k, ns, n) for k, ns, n in referenced if k == kind}
            copies = self.lower_copies[kind].items()
            ours = {"upper_cluster": self.cfg.upper_cluster, "virtual_node": self.cfg.node_name}
            for obj, users_left in deps.released_copies(copies, wanted, **ours):
                meta = _meta(obj)
                path = f"/api/v1/namespaces/{meta.get('namespace')}/{plural}/{meta.get('name')}"
                # Preconditions: if another virtual node claimed it meanwhile, this write fails and
                # the next collection looks again.
                with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
                    if users_left:
                        self.lower.put(path, deps.with_users(obj, users_left))
                    else:
                        preconditions = {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
                        self.lower.delete(path, body={"preconditions": preconditions})

    def _resync_loop(self) -> None:
        """Repair drift the events missed: every pod known on either side, then unused copies."""
        while not self.stop_event.wait(self.cfg.resync_interval):
            for key in {
                *self.upper_pods.keys(),
                *(object_key(p) for p in self.lower_pods.items() if self.is_own_mirror(p)),
            }:
                self.queue.add(POD_PREFIX + key)
            self.queue.add(GC_KEY)

    def _heartbeat_loop(self) -> None:
        last_beat = 0.0
        while not self.stop_event.is_set():
            timeout = max(0.0, last_beat + self.cfg.renew_interval - time.monotonic())
            if not self._capacity_known():
                timeout = min(timeout, 0.2)  # write the capacity as soon as the caches have it
            self._node_dirty.wait(timeout=timeout)
            if self.stop_event.is_set():
                return
            beat = time.monotonic() >= last_beat + self.cfg.renew_interval
            self._node_dirty.clear()
            try:
                self.update_node(renew_lease=beat)
            except errors.ApiError as exc:
                level = reachability.failure_level(exc, self.upper, self.lower)
                logger.log(level, "updating node %s failed: %s", self.cfg.node_name, exc)
            if beat:
                last_beat = time.monotonic()
            else:
                self.stop_event.wait(0.2)  # coalesce bursts of capacity changes

    def _capacity_known(self) -> bool:
        return self.lower_nodes.synced.is_set() and self.lower_pods.synced.is_set()

    def check_lower(self) -> tuple[bool, str]:
        try:
            version = self.lower.get("/version", policy=retry.NO_RETRY)
        except errors.ApiError:
            return False, ""
        return True, str(version.get("gitVersion") or "")

    def update_node(self, *, renew_lease: bool) -> None:
        """Write the node's status: in full on every beat, in between only when capacity changed.

        Like a kubelet, unchanged status is not written between beats: every node write wakes
        the upper scheduler and controllers, and mirrored pods (which do not count) change the
        lower pods many times a second.
        """
        reachable, version = self.check_lower() if renew_lease else (self.lower_reachable, "")
        self.lower_reachable = reachable
        # Until both lower caches have listed once, capacity is a guess (nodes without the pods
        # on them, or nothing): advertise none rather than invite pods that do not fit.
        known = self._capacity_known()
        with self._capacity_lock:
            allocatable = self.capacity.allocatable() if known else None
        written = (tuple(sorted(allocatable.items())) if allocatable is not None else None, reachable)
        if not renew_lease and written == self._written_node:
            return
        path = f"/api/v1/nodes/{self.cfg.node_name}"
        try:
            current = self.upper.get(path)
        except errors.NotFoundError:
            current = self._create_node(allocatable or {}, version or "unknown", reachable)
        patch = node.node_status_patch(
            current, allocatable=allocatable or {}, lower_reachable=reachable, now=now_rfc3339()
        )
        if allocatable is None:
            for unknown in ("capacity", "allocatable"):
                patch["status"].pop(unknown, None)
        if version:
            patch.setdefault("status", {}).setdefault("nodeInfo", {})["kubeletVersion"] = version
        self.upper.patch(path + "/status", patch)
        self._written_node = written
        if renew_lease:
            self._renew_lease(str(_meta(current).get("uid") or ""))

    def _create_node(self, allocatable: dict[str, str], version: str, reachable: bool) -> RawObject:
        body = node.build_node(
            self.cfg, allocatable=allocatable, kubelet_version=version, lower_reachable=reachable, now=now_rfc3339()
        )
        logger.info("registering virtual node %s", self.cfg.node_name)
        try:
            return self.upper.post("/api/v1/nodes", body)
        except errors.ConflictError:
            return self.upper.get(f"/api/v1/nodes/{self.cfg.node_name}")

    def _renew_lease(self, node_uid: str) -> None:
        lease = node.build_lease(
            self.cfg.node_name, node_uid=node_uid, now_micro=now_micro(), duration_seconds=self.cfg.lease_seconds
        )
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.cfg.node_name}"
        try:
            current = self.upper.get(path)
        except errors.NotFoundError:
            self.upper.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease)
            return
        lease["metadata"]["resourceVersion"] = _meta(current).get("resourceVersion")
        self.upper.put(path, lease)
