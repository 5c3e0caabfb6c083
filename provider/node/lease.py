"""The node Lease in kube-node-lease: the virtual node's cheap "still alive" signal."""

from __future__ import annotations

from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider.kube.objects import metadata, now_micro
from provider.node import builders

LEASE_NAMESPACE = "kube-node-lease"


class LeaseController:
    """Renews ``kube-node-lease/<node>`` in the upper cluster, owned by the virtual Node.

    Called by :class:`~provider.node.controller.NodeController` on every heartbeat. Writes only
    that one Lease (created on first use, replaced with its resourceVersion after); reads
    nothing else.
    """

    def __init__(self, upper: Kube, *, node_name: str, duration_seconds: int) -> None:
        self._upper = upper
        self._node_name = node_name
        self._duration_seconds = duration_seconds

    def renew(self, *, node_uid: str) -> None:
        lease = builders.build_lease(
            self._node_name, node_uid=node_uid, now_micro=now_micro(), duration_seconds=self._duration_seconds
        )
        path = paths.lease(LEASE_NAMESPACE, self._node_name)
        try:
            current = self._upper.get(path)
        except errors.NotFoundError:
            self._upper.post(paths.lease(LEASE_NAMESPACE), lease)
            return
        lease["metadata"]["resourceVersion"] = metadata(current).get("resourceVersion")
        self._upper.put(path, lease)
