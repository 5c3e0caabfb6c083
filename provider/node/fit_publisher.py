"""Publishes the fit summary of the lower cluster upstairs, for the scheduler extender.

The summary (:mod:`provider.fit.summary`) answers "could one lower node run this pod now?"
exactly, in a few hundred bytes: the non-dominated free-resource vectors of the lower nodes,
grouped by their labels and taints. It lives on a Lease of its own
(``kube-node-lease/<node>-tensile-fit``), not on the Node: every Node write wakes the upper
scheduler's queue and its controllers, a Lease write wakes only the extender. The Lease is
written within :data:`DEBOUNCE_SECONDS` of a lower change and renewed every
:data:`HEARTBEAT_SECONDS` while the lower cluster answers and its caches are synced; a
provider that is down or cut off from its lower cluster stops renewing, and the extender
then treats its summary as stale (and lets the virtual node pass).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from descheduler import keys
from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider.fit import summary
from provider.kube import reachability
from provider.kube.objects import EventType, RawObject, metadata, now_micro
from provider.node.lease import LEASE_NAMESPACE
from provider.node.rooms import NodeRooms

logger = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.2
"""A burst of lower changes makes one write."""
HEARTBEAT_SECONDS = 1.0
"""How often an unchanged summary is renewed, so that the extender can tell a live one from a stale one."""
LEASE_DURATION_SECONDS = 2


def lease_name(node_name: str) -> str:
    return f"{node_name}{keys.FIT_LEASE_SUFFIX}"


class FitPublisher:
    """Keeps ``kube-node-lease/<node>-tensile-fit`` current: the summary ``summarize()`` gives, renewed.

    ``summarize`` returns None while the lower caches have not listed once (nothing is published
    then); ``live`` says whether the lower cluster answers. Writes only that one Lease, owned by
    the virtual Node so that it goes with it.
    """

    def __init__(
        self,
        upper: Kube,
        *,
        node_name: str,
        summarize: Callable[[], summary.Summary | None],
        live: Callable[[], bool],
    ) -> None:
        self._upper = upper
        self._node_name = node_name
        self._summarize = summarize
        self._live = live
        self._dirty = threading.Event()
        self._written: RawObject | None = None
        self._thread: threading.Thread | None = None

    def changed(self) -> None:
        """The lower cluster changed (informer threads: no I/O here)."""
        self._dirty.set()

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self._loop, args=(stop,), name="fit-summary", daemon=True)
        self._thread.start()

    def _loop(self, stop: threading.Event) -> None:
        last = 0.0
        while not stop.is_set():
            self._dirty.wait(timeout=max(0.0, last + HEARTBEAT_SECONDS - time.monotonic()))
            if stop.wait(DEBOUNCE_SECONDS if self._dirty.is_set() else 0.0):
                return
            self._dirty.clear()
            last = time.monotonic()
            try:
                self.publish()
            except errors.ApiError as exc:
                level = reachability.failure_level(exc, self._upper)
                logger.log(level, "publishing the fit summary of %s failed: %s", self._node_name, exc)
                self._written = None

    def publish(self) -> bool:
        """Write the summary now if it can be trusted; whether a write was made."""
        found = self._summarize()
        if found is None or not self._live():
            return False
        text = summary.to_json(found)
        lease = self._written or self._read()
        if lease is None:
            node = self._upper.get(paths.node(self._node_name))
            self._written = self._upper.post(paths.lease(LEASE_NAMESPACE), self._body(text, node_uid=_uid(node)))
            return True
        body = self._body(text, node_uid=_owner_uid(lease))
        body["metadata"]["resourceVersion"] = metadata(lease).get("resourceVersion")
        try:
            self._written = self._upper.put(paths.lease(LEASE_NAMESPACE, lease_name(self._node_name)), body)
        except (errors.ConflictError, errors.NotFoundError):
            self._written = None  # someone else wrote it (or deleted it): read it again next time
            raise
        return True

    def _read(self) -> RawObject | None:
        try:
            return self._upper.get(paths.lease(LEASE_NAMESPACE, lease_name(self._node_name)))
        except errors.NotFoundError:
            return None

    def _body(self, text: str, *, node_uid: str) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": lease_name(self._node_name),
                "namespace": LEASE_NAMESPACE,
                "labels": {keys.FIT_SUMMARY_LABEL: "true", keys.VIRTUAL_NODE_LABEL: self._node_name},
                "annotations": {keys.FIT_SUMMARY_ANNOTATION: text},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self._node_name, "uid": node_uid}],
            },
            "spec": {
                "holderIdentity": self._node_name,
                "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                "renewTime": now_micro(),
            },
        }


def _uid(obj: RawObject) -> str:
    return str(metadata(obj).get("uid") or "")


def _owner_uid(lease: RawObject) -> str:
    owners = metadata(lease).get("ownerReferences") or [{}]
    return str(owners[0].get("uid") or "")


class FitFeed:
    """The lower Node and Pod events turned into rooms (:class:`~provider.node.rooms.NodeRooms`) and
    handed to a :class:`FitPublisher` as summaries; what :class:`~provider.app.VirtualNode` wires."""

    def __init__(self, upper: Kube, lower: Kube, *, node_name: str, synced: Callable[[], bool]) -> None:
        self._rooms = NodeRooms()
        self._lock = threading.Lock()
        self._synced = synced
        self._lower = lower
        self.publisher = FitPublisher(upper, node_name=node_name, summarize=self.summarize, live=self.live)

    def on_lower_pod(self, event: EventType, obj: RawObject) -> None:
        with self._lock:
            if event == "DELETED":
                self._rooms.delete_pod(metadata(obj).get("namespace") or "default", metadata(obj).get("name", ""))
            else:
                self._rooms.upsert_pod(obj)
        self.publisher.changed()

    def on_lower_node(self, event: EventType, obj: RawObject) -> None:
        with self._lock:
            if event == "DELETED":
                self._rooms.delete_node(metadata(obj).get("name", ""))
            else:
                self._rooms.upsert_node(obj)
        self.publisher.changed()

    def summarize(self) -> summary.Summary | None:
        if not self._synced():
            return None
        with self._lock:
            rooms = self._rooms.rooms()
        return summary.summarize(rooms)

    def live(self) -> bool:
        tracker = reachability.of(self._lower)
        return tracker is None or tracker.reachable
