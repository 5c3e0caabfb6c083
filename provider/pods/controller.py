"""The pod controller: upper pods bound to the virtual node, mirrored into the lower cluster."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider import requeue
from provider.kube import reachability
from provider.kube.objects import EventType, ObjectKey, RawObject, metadata, now_rfc3339, object_key
from provider.kube.workqueue import WorkQueue
from provider.metrics import ProviderMetrics
from provider.pods import mirror, status
from provider.pods.caches import PodCaches
from provider.pods.copies import CopiesController
from provider.pods.status_sync import StatusSync

logger = logging.getLogger(__name__)

REJECTED_REASON = "ProviderCreateFailed"
"""The upper pod's ``PodScheduled=False`` reason while the lower cluster refuses its mirror."""


class PodController:
    """Mirrors each upper pod bound to this virtual node into the lower cluster, one key at a time.

    Watches (through :class:`~provider.pods.caches.PodCaches`) upper pods bound to this node and
    lower pods; asks the pure planner :func:`provider.pods.mirror.plan` what to do and applies
    it: create (with its namespace and, through :class:`CopiesController`, the ConfigMaps and
    Secrets it uses), update, delete. Writes lower pods that are its own mirrors and lower
    namespaces it needs; hands upper pod status to :class:`StatusSync` (one writer of status),
    except the ``ProviderCreateFailed`` condition of a refused create. Never touches lower
    pods of other virtual nodes or of users (a name clash is logged and left alone).

    A create that the lower cluster refuses (a 4xx other than 401, 409 and 429) comes back with the
    ``rejected`` back-off, growing per pod to the policy's cap; each step is logged once and
    shown on the upper pod's condition with the time of the next attempt.
    """

    def __init__(
        self,
        caches: PodCaches,
        *,
        lower: Kube,
        upper: Kube,
        copies: CopiesController,
        status_sync: StatusSync,
        metrics: ProviderMetrics,
        workers: int,
        policy: requeue.RequeuePolicy,
    ) -> None:
        self._caches = caches
        self._lower = lower
        self._upper = upper
        self._copies = copies
        self._status = status_sync
        self._metrics = metrics
        self.queue: WorkQueue[ObjectKey] = WorkQueue(
            self.process, workers=workers, name="pods", policy=policy, observer=metrics.queue("pods")
        )
        self._lower_namespaces: set[str] = set()
        """Lower namespaces known to exist (created or seen); forgotten when a create there fails."""
        self._upper_inputs: dict[ObjectKey, tuple[object, ...]] = {}
        self._lower_inputs: dict[ObjectKey, tuple[object, ...]] = {}
        """Per pod and side: the :func:`mirror.plan_inputs` last queued for planning (each
        written by one informer thread only). An event that leaves them as they were is a
        status change: it goes to the status copy alone."""

    # -- events (informer threads: cheap, no I/O) ------------------------------------------

    def on_upper_pod(self, event: EventType, obj: RawObject) -> None:
        key = object_key(obj)
        if event == "DELETED" or metadata(obj).get("deletionTimestamp"):
            self._upper_inputs.pop(key, None)
            self.queue.add_now(key)  # a pod being deleted must not wait out a create's back-off
            return
        inputs = mirror.plan_inputs(obj, upper=True)
        if self._upper_inputs.get(key) == inputs:
            self._status.upper_changed(key, obj)
            return
        self._upper_inputs[key] = inputs
        self.queue.add(key)

    def on_lower_pod(self, event: EventType, obj: RawObject) -> None:
        key = object_key(obj)
        if not self._caches.is_own_mirror(obj) and self._caches.upper.get(key) is None:
            return
        self._status.lower_changed(key, None if event == "DELETED" else obj)
        if event == "DELETED":
            self._lower_inputs.pop(key, None)
        else:
            inputs = mirror.plan_inputs(obj, upper=False)
            if self._lower_inputs.get(key) == inputs:
                return
            self._lower_inputs[key] = inputs
        self.queue.add(key)

    def resync(self) -> None:
        """Repair drift the events missed: look at every pod known on either side."""
        for key in self._caches.mirrored_keys():
            self.queue.add(key)

    # -- work --------------------------------------------------------------------------

    def process(self, key: ObjectKey) -> requeue.Retry | None:
        if not self._caches.synced():
            return requeue.Retry("not_synced")  # never act on a half-known world
        try:
            return self.reconcile(key)
        except errors.ApiError as exc:
            return reachability.retry_for(exc, self._upper, self._lower)

    def reconcile(self, key: ObjectKey) -> requeue.Retry | None:
        upper = self._caches.bound_upper(key)
        lower = self._caches.lower.get(key)
        action = mirror.plan(
            upper, lower, upper_cluster=self._caches.upper_cluster, virtual_node=self._caches.node_name
        )
        retry = self._apply(key, action, upper)
        if upper is not None:
            self._status.sync_upper(key, upper, lower, copy_status=False)
        return retry

    def _apply(self, key: ObjectKey, action: mirror.Action, upper: RawObject | None) -> requeue.Retry | None:
        if isinstance(action, mirror.Create):
            assert upper is not None
            return self._create(key, action.body, upper)
        if isinstance(action, mirror.Update):
            self._lower.patch(paths.pod(key.namespace, key.name), action.patch)
        elif isinstance(action, mirror.Delete):
            body: dict[str, Any] = {"preconditions": {"uid": action.uid}}
            if action.grace_period_seconds is not None:
                body["gracePeriodSeconds"] = action.grace_period_seconds
            # Already gone, or replaced by a pod that is not the one we meant: nothing to do.
            with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
                self._lower.delete(paths.pod(key.namespace, key.name), body=body)
        elif isinstance(action, mirror.Conflict):
            logger.warning("pod %s: %s; leaving it alone", key, action.reason)
        return None

    def _create(self, key: ObjectKey, body: RawObject, upper: RawObject) -> requeue.Retry | None:
        try:
            self._ensure_namespace(key.namespace)
            self._copies.claim(upper)
            self._lower.post(paths.pod(key.namespace), body)
        except errors.ConflictError:
            self._metrics.mirror_creates.labels(result="conflict").inc()
            return requeue.Retry("conflict")  # our cache is behind: the next event tells what is there
        except (errors.TooManyRequestsError, errors.UnauthorizedError):
            raise  # about the cluster or our credentials, not this pod: a transient retry
        except errors.ClientError as exc:  # 400, 403, 404, 422, ...: the lower cluster refuses this pod
            self._metrics.mirror_creates.labels(result="failed").inc()
            self._lower_namespaces.discard(key.namespace)
            return self._rejected(key, upper, exc)
        self._metrics.mirror_creates.labels(result="created").inc()
        return None

    def _rejected(self, key: ObjectKey, upper: RawObject, exc: errors.ApiError) -> requeue.Retry:
        """Say on the upper pod, and once in the log, that the lower cluster refused its mirror."""
        next_attempt = round(self.queue.next_delay(key, "rejected"))
        message = f"the lower cluster refused the pod: {exc.message} (next attempt in {next_attempt}s)"
        patch = status.create_failure_patch(upper, reason=REJECTED_REASON, message=message, now=now_rfc3339())
        if patch is not None:
            self._status.patch_upper(key, patch)
        return requeue.Retry("rejected", f"the lower cluster refused the mirror: {exc}")

    def _ensure_namespace(self, namespace: str) -> None:
        if namespace in self._lower_namespaces:
            return  # deleted meanwhile? the create then fails with 404, forgets it, and retries
        try:
            self._lower.get(paths.resource(paths.CORE, "namespaces", name=namespace))
        except errors.NotFoundError:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            with contextlib.suppress(errors.ConflictError):
                self._lower.post(paths.resource(paths.CORE, "namespaces"), body)
        self._lower_namespaces.add(namespace)
