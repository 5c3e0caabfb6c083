"""What a cluster-state source must provide, and how its records become a ClusterState.

Both sources (live API server, snapshot files) decode objects with
:mod:`descheduler.cluster.decoding`, so the planner cannot tell them apart.
"""

from __future__ import annotations

from typing import Any, Protocol

from descheduler.cluster.state import ClusterState


class StateSource(Protocol):
    """Where a cycle's cluster state comes from: the runner calls ``load`` once per cycle, with the cycle's clock."""

    def load(self, *, now: float) -> ClusterState: ...


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
