"""Cluster state from a live API server: one paginated LIST per kind, no per-node calls."""

from __future__ import annotations

import logging
import time
from typing import Any

from descheduler.cluster.sources import CONVERTERS, build_state
from descheduler.cluster.state import ClusterState
from descheduler.kube.client import Kube

logger = logging.getLogger(__name__)

LIST_PATHS = {
    "Node": "/api/v1/nodes",
    "Pod": "/api/v1/pods",
    "Namespace": "/api/v1/namespaces",
    "PodDisruptionBudget": "/apis/policy/v1/poddisruptionbudgets",
    "PriorityClass": "/apis/scheduling.k8s.io/v1/priorityclasses",
    "PersistentVolumeClaim": "/api/v1/persistentvolumeclaims",
}


class LiveSource:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def load(self, *, now: float) -> ClusterState:
        objects: dict[str, list[Any]] = {}
        for kind, path in LIST_PATHS.items():
            started = time.monotonic()
            objects[kind], _rv = self.kube.list_objects(path, CONVERTERS[kind])
            logger.debug("listed %d %s in %.2fs", len(objects[kind]), kind, time.monotonic() - started)
        return build_state(objects, now=now)
