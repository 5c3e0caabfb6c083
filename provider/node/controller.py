"""The node controller: the virtual Node's registration, heartbeat, status and capacity."""

from __future__ import annotations

import logging
import threading
import time

from descheduler.kube import errors, paths, retry
from descheduler.kube.client import Kube
from provider import config
from provider.kube import reachability
from provider.kube.informer import Informer
from provider.kube.objects import EventType, RawObject, metadata, now_rfc3339
from provider.node import builders, capacity
from provider.node.lease import LeaseController

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 0.2
"""After a status write between beats, wait this long: bursts of capacity changes make one write."""


class NodeController:
    """Keeps the virtual Node in the upper cluster: registered, heartbeating, and showing the lower capacity.

    Watches the lower nodes and lower pods (fed by the app through :meth:`on_lower_node` and
    :meth:`on_lower_pod`) into a :class:`~provider.node.capacity.Capacity`, and checks that the
    lower cluster answers. Writes the upper Node (created if missing) and its status, and,
    through :class:`~provider.node.lease.LeaseController`, its Lease. Never writes pods or the
    lower cluster. Runs one heartbeat thread: a full status write and Lease renewal every
    ``renew_interval``, and in between a write only when the advertised capacity changed.
    """

    def __init__(
        self,
        cfg: config.ProviderConfig,
        *,
        upper: Kube,
        lower: Kube,
        lower_nodes: Informer,
        lower_pods: Informer,
        capacity_of: capacity.Capacity,
    ) -> None:
        self._cfg = cfg
        self._upper = upper
        self._lower = lower
        self._lower_nodes = lower_nodes
        self._lower_pods = lower_pods
        self._capacity = capacity_of
        self._capacity_lock = threading.Lock()
        self._dirty = threading.Event()
        self._lease = LeaseController(upper, node_name=cfg.node_name, duration_seconds=cfg.lease_seconds)
        self._written: tuple[tuple[tuple[str, str], ...] | None, bool] | None = None
        """(allocatable, lower reachable) as last written to the node's status."""
        self.lower_reachable = True
        self._thread: threading.Thread | None = None

    # -- events (informer threads: cheap, no I/O) ------------------------------------------

    def on_lower_pod(self, event: EventType, obj: RawObject) -> None:
        with self._capacity_lock:
            if event == "DELETED":
                self._capacity.delete_pod(metadata(obj).get("namespace", ""), metadata(obj).get("name", ""))
            else:
                self._capacity.upsert_pod(obj)
        self._dirty.set()

    def on_lower_node(self, event: EventType, obj: RawObject) -> None:
        with self._capacity_lock:
            if event == "DELETED":
                self._capacity.delete_node(metadata(obj).get("name", ""))
            else:
                self._capacity.upsert_node(obj)
        self._dirty.set()

    # -- running -----------------------------------------------------------------------

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self._heartbeat_loop, args=(stop,), name="heartbeat", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _heartbeat_loop(self, stop: threading.Event) -> None:
        last_beat = 0.0
        while not stop.is_set():
            timeout = max(0.0, last_beat + self._cfg.renew_interval - time.monotonic())
            if not self._capacity_known():
                timeout = min(timeout, COALESCE_SECONDS)  # write the capacity as soon as the caches have it
            self._dirty.wait(timeout=timeout)
            if stop.is_set():
                return
            beat = time.monotonic() >= last_beat + self._cfg.renew_interval
            self._dirty.clear()
            try:
                self.update_node(renew_lease=beat)
            except errors.ApiError as exc:
                level = reachability.failure_level(exc, self._upper, self._lower)
                logger.log(level, "updating node %s failed: %s", self._cfg.node_name, exc)
            if beat:
                last_beat = time.monotonic()
            else:
                stop.wait(COALESCE_SECONDS)

    def _capacity_known(self) -> bool:
        return self._lower_nodes.synced.is_set() and self._lower_pods.synced.is_set()

    def advertised(self) -> dict[str, str] | None:
        """The allocatable the virtual node shows now; None until both lower caches have listed once."""
        if not self._capacity_known():
            return None
        with self._capacity_lock:
            return self._capacity.allocatable()

    def check_lower(self) -> tuple[bool, str]:
        """Whether the lower cluster answers, and its version."""
        try:
            version = self._lower.get("/version", policy=retry.NO_RETRY)
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
        allocatable = self.advertised()
        written = (tuple(sorted(allocatable.items())) if allocatable is not None else None, reachable)
        if not renew_lease and written == self._written:
            return
        path = paths.node(self._cfg.node_name)
        try:
            current = self._upper.get(path)
        except errors.NotFoundError:
            current = self._create_node(allocatable or {}, version or "unknown", reachable)
        patch = builders.node_status_patch(
            current,
            allocatable=allocatable or {},
            lower_reachable=reachable,
            now=now_rfc3339(),
            features=builders.declared_features(self._cfg),
        )
        if allocatable is None:
            for unknown in ("capacity", "allocatable"):
                patch["status"].pop(unknown, None)
        if version:
            patch.setdefault("status", {}).setdefault("nodeInfo", {})["kubeletVersion"] = version
        self._upper.patch(paths.node(self._cfg.node_name, "status"), patch)
        self._written = written
        if renew_lease:
            self._lease.renew(node_uid=str(metadata(current).get("uid") or ""))

    def _create_node(self, allocatable: dict[str, str], version: str, reachable: bool) -> RawObject:
        body = builders.build_node(
            self._cfg, allocatable=allocatable, kubelet_version=version, lower_reachable=reachable, now=now_rfc3339()
        )
        logger.info("registering virtual node %s", self._cfg.node_name)
        try:
            return self._upper.post(paths.node(), body)
        except errors.ConflictError:
            return self._upper.get(paths.node(self._cfg.node_name))
