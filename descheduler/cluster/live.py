"""Cluster state from a live API server: one paginated LIST per kind, no per-node calls.

Items are decoded straight from each page's JSON into records by the snapshot's decoder
(:mod:`descheduler.cluster.decoding`). A corrupt object (a conversion webhook gone wrong, an
aggregated API, a bug elsewhere) is skipped with a warning naming it, never a crashed cycle.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from descheduler import wire_errors
from descheduler.cluster import decoding
from descheduler.cluster.sources import build_state
from descheduler.cluster.state import ClusterState
from descheduler.kube import paths
from descheduler.kube.client import Kube

logger = logging.getLogger(__name__)

LIST_PATHS = {
    "Node": paths.resource(paths.CORE, "nodes"),
    "Pod": paths.resource(paths.CORE, "pods"),
    "Namespace": paths.resource(paths.CORE, "namespaces"),
    "PodDisruptionBudget": paths.resource(paths.POLICY, "poddisruptionbudgets"),
    "PriorityClass": paths.resource(paths.SCHEDULING, "priorityclasses"),
    "PersistentVolumeClaim": paths.resource(paths.CORE, "persistentvolumeclaims"),
}


class LiveSource:
    """Lists every kind tensile reads from the API server on each cycle."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def load(self, *, now: float) -> ClusterState:
        objects: dict[str, list[Any]] = {}
        for kind_name, path in LIST_PATHS.items():
            started = time.monotonic()
            kind = decoding.KINDS[kind_name]
            items, _rv = self.kube.list_objects(path, lambda raw, kind=kind: decoded(kind, raw))  # type: ignore[misc]
            objects[kind_name] = [item for item in items if item is not None]
            logger.debug("listed %d %s in %.2fs", len(objects[kind_name]), kind_name, time.monotonic() - started)
        return build_state(objects, now=now)


def decoded(kind: decoding.Kind[Any, Any], raw: memoryview | dict[str, Any], *, via: str = "the API server") -> Any:
    """The record of one listed object (JSON) or watch event's object (parsed), or None, with a
    warning naming it and ``via`` (where it came from), when it cannot be read."""
    try:
        return kind.from_raw(raw) if isinstance(raw, dict) else kind.from_json(raw)
    except wire_errors.ObjectError as exc:
        label = decoding.header_of(raw).label()
        logger.warning("skipping %s from %s: %s", label, via, exc, extra={"object": label})
        return None
