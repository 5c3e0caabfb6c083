"""The status copy: lower pod status onto the upper pod, on a queue of its own."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from descheduler import keys
from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider import requeue
from provider.kube import reachability
from provider.kube.objects import ObjectKey, RawObject, metadata, now_rfc3339
from provider.kube.workqueue import WorkQueue
from provider.metrics import ProviderMetrics
from provider.pods import status
from provider.pods.caches import PodCaches


class StatusSync:
    """Copies each mirror's status onto its upper pod, and ends upper pods whose mirror is gone.

    Watches nothing itself: the app feeds it lower pod changes (:meth:`lower_changed`) and the
    pod controller hands it upper pods to bring in line (:meth:`sync_upper`). Writes only the
    status subresource of upper pods bound to this node, and deletes (grace 0, uid
    precondition) upper pods that are terminating with no mirror left, as a kubelet's last
    word. Never writes the lower cluster. Its own queue, so a burst of creates on the pod
    controller's queue does not delay status copies.
    """

    def __init__(
        self,
        caches: PodCaches,
        *,
        upper: Kube,
        lower: Kube,
        host_ip: str,
        metrics: ProviderMetrics,
        workers: int,
        policy: requeue.RequeuePolicy,
    ) -> None:
        self._caches = caches
        self._upper = upper
        self._lower = lower
        self._host_ip = host_ip
        self._metrics = metrics
        self.queue: WorkQueue[ObjectKey] = WorkQueue(
            self.process, workers=workers, name="status", policy=policy, observer=metrics.queue("status")
        )
        self._changed_at: dict[ObjectKey, float] = {}
        """Per pod: when a lower change not yet copied up reached us (the status-sync metric)."""
        self._copied: dict[ObjectKey, tuple[str | None, tuple[str | None, ...]]] = {}
        """Per pod: the lower resourceVersion of the last copy, and the upper ones that hold it:
        the one it was copied onto (the upper cache lags our own writes) and the one the write
        made. Until the lower one changes or the upper one becomes another, nothing is to copy."""

    def lower_changed(self, key: ObjectKey, lower: RawObject | None) -> None:
        """A lower pod that is (or may be) a mirror changed (``lower``, None once deleted): copy its status soon.

        A change that the upper pod already shows needs no worker (a mirror being created and
        bound changes in ways the upper pod shows from the start); it is checked here, on the
        informer thread, against the upper cache. Anything else goes to the queue.
        """
        upper = self._caches.upper.get(key)
        if lower is not None and upper is not None and self._shows(upper, lower):
            return
        self._changed_at.setdefault(key, time.monotonic())
        self.queue.add(key)

    def _shows(self, upper: RawObject, lower: RawObject) -> bool:
        """Whether ``upper`` (not being deleted) is the pod ``lower`` mirrors and already shows its status."""
        meta = metadata(upper)
        return (
            not meta.get("deletionTimestamp")
            and self._caches.is_own_mirror(lower)
            and metadata(lower).get("annotations", {}).get(keys.UPPER_UID_ANNOTATION) == meta.get("uid")
            and status.shows_status(upper, lower, host_ip=self._host_ip)
        )

    def upper_changed(self, key: ObjectKey, upper: RawObject) -> None:
        """The upper pod changed in nothing the pod controller plans on (its status, mostly).

        The echo of our own last copy needs no work (it is what :meth:`process` would find);
        any other change may have undone a copy: check it.
        """
        lower = self._caches.lower.get(key)
        if lower is not None and self._holds_copy(key, lower, upper):
            return
        self.queue.add(key)

    def _holds_copy(self, key: ObjectKey, lower: RawObject, upper: RawObject) -> bool:
        """Whether this version of ``upper`` already shows this version of ``lower``, by our last copy."""
        lower_version, upper_versions = self._copied.get(key, (None, ()))
        return lower_version is not None and lower_version == _version(lower) and _version(upper) in upper_versions

    def process(self, key: ObjectKey) -> requeue.Retry | None:
        """Copy the lower pod's status up; the pod controller's reconcile repeats this, so it may be skipped."""
        if not self._caches.synced():
            return requeue.Retry("not_synced")
        upper, lower = self._caches.upper.get(key), self._caches.lower.get(key)
        if upper is None or lower is None or metadata(upper).get("deletionTimestamp"):
            self._copied.pop(key, None)
            self._changed_at.pop(key, None)
            return None
        if self._holds_copy(key, lower, upper):
            self._changed_at.pop(key, None)
            return None  # this lower status was copied onto this upper pod; the cache has not caught up yet
        changed_at = self._changed_at.pop(key, None)
        try:
            written = self.sync_upper(key, upper, lower)
        except errors.ApiError as exc:
            if changed_at is not None:
                self._changed_at.setdefault(key, changed_at)
            return reachability.retry_for(exc, self._upper, self._lower)
        if written is not None and changed_at is not None:
            self._metrics.status_sync.observe(time.monotonic() - changed_at)
        self._copied[key] = (_version(lower), (_version(upper), *((written,) if written else ())))
        return None

    def sync_upper(
        self, key: ObjectKey, upper: RawObject, lower: RawObject | None, *, copy_status: bool = True
    ) -> str | None:
        """Bring the upper pod in line with its mirror; None when its status was not written,
        else the upper pod's resourceVersion after the write ("" when it is gone).

        ``copy_status=False`` (the pod controller's call) leaves a status copy to this queue:
        one writer of pod status.
        """
        meta = metadata(upper)
        ours = lower is not None and self._caches.is_own_mirror(lower)
        same = ours and metadata(lower or {}).get("annotations", {}).get(keys.UPPER_UID_ANNOTATION) == meta.get("uid")
        if meta.get("deletionTimestamp"):
            if lower is None or not ours:
                # The kubelet's last word: the containers are gone, the API object may go.
                body = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta.get("uid")}}
                with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
                    self._upper.delete(paths.pod(key.namespace, key.name), body=body)
            return None
        if same and lower is not None:
            if not copy_status:
                self.queue.add(key)
                return None
            patch = status.status_patch(upper, lower, host_ip=self._host_ip)
        elif lower is None and status.mirror_reported(upper):
            patch = status.lost_mirror_patch(
                upper, reason="MirrorLost", message="the pod disappeared from the lower cluster", now=now_rfc3339()
            )
        else:
            patch = None
        if patch is None:
            return None
        return self.patch_upper(key, patch)

    def patch_upper(self, key: ObjectKey, patch: dict[str, Any]) -> str:
        """Patch the upper pod's status; its resourceVersion after the write ("" when it is gone:
        a pod deleted meanwhile needs none)."""
        try:
            return _version(self._upper.patch(paths.pod(key.namespace, key.name, "status"), patch)) or ""
        except errors.NotFoundError:
            return ""


def _version(obj: RawObject) -> str | None:
    version = metadata(obj).get("resourceVersion")
    return None if version is None else str(version)
