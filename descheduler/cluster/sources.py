"""What a cluster-state source must provide, and the object kinds it reads.

Both sources (live API server, snapshot files) convert raw objects with the same
functions, so the planner cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from descheduler import model
from descheduler.cluster.state import ClusterState


class StateSource(Protocol):
    def load(self, *, now: float) -> ClusterState: ...


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "Node": model.node_from_raw,
    "Pod": model.pod_from_raw,
    "Namespace": model.namespace_from_raw,
    "PodDisruptionBudget": model.pdb_from_raw,
    "PriorityClass": model.priority_class_from_raw,
    "PersistentVolumeClaim": model.pvc_from_raw,
}


def build_state(objects: dict[str, list[Any]], *, now: float) -> ClusterState:
    """``objects`` maps kind -> converted records."""
    return ClusterState(
        nodes={n.name: n for n in objects.get("Node", [])},
        pods=objects.get("Pod", []),
        namespaces={n.name: n for n in objects.get("Namespace", [])},
        pdbs=objects.get("PodDisruptionBudget", []),
        priority_classes={p.name: p for p in objects.get("PriorityClass", [])},
        pvcs={f"{p.namespace}/{p.name}": p for p in objects.get("PersistentVolumeClaim", [])},
        now=now,
    )
