"""The room left on each lower node, for the fit summary the scheduler extender reads.

Unlike :class:`~provider.node.capacity.Capacity` (one sum over the lower cluster, which leaves
out this node's own mirrors because the upper scheduler counts them), a room is per lower node
and counts every pod on it, mirrors included: a mirror takes real room below. Fed by the same
lower Node and Pod events; each event is O(number of resource names); :meth:`NodeRooms.rooms`
is O(nodes) and is only called when a summary is published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from descheduler import model
from descheduler.model import Taint
from provider.fit.summary import NodeRoom

_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the summary needs of a counted lower node (Ready and schedulable)."""

    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    allocatable: Mapping[str, int]


class NodeRooms:
    """Per lower node: its labels, taints and allocatable while it counts, and what its pods request."""

    def __init__(self) -> None:
        self._nodes: dict[str, _Shape] = {}
        self._pods: dict[tuple[str, str], tuple[str, Mapping[str, int]]] = {}
        self._used_on: dict[str, dict[str, int]] = {}

    def upsert_node(self, raw: Mapping[str, Any]) -> None:
        node = model.node_from_raw(raw)
        if node.ready and not node.unschedulable:
            self._nodes[node.name] = _Shape(dict(node.labels), node.taints, dict(node.allocatable))
        else:
            self._nodes.pop(node.name, None)

    def delete_node(self, name: str) -> None:
        self._nodes.pop(name, None)

    def upsert_pod(self, raw: Mapping[str, Any]) -> None:
        meta = raw["metadata"]
        key = (meta.get("namespace") or "default", meta["name"])
        spec = raw.get("spec") or {}
        node = spec.get("nodeName")
        self.delete_pod(*key)
        if node and (raw.get("status") or {}).get("phase") not in _TERMINAL_PHASES:
            requests = model.pod_requests(spec)
            self._pods[key] = (node, requests)
            used = self._used_on.setdefault(node, {})
            for name, amount in requests.items():
                used[name] = used.get(name, 0) + amount

    def delete_pod(self, namespace: str, name: str) -> None:
        found = self._pods.pop((namespace, name), None)
        if found is None:
            return
        node, requests = found
        used = self._used_on[node]
        for resource, amount in requests.items():
            left = used.get(resource, 0) - amount
            if left:
                used[resource] = left
            else:
                used.pop(resource, None)
        if not used:
            del self._used_on[node]

    def rooms(self) -> list[NodeRoom]:
        """Every counted node with what is free on it (never below zero)."""
        found = []
        for name, shape in sorted(self._nodes.items()):
            used = self._used_on.get(name, {})
            free = {resource: max(0, total - used.get(resource, 0)) for resource, total in shape.allocatable.items()}
            found.append(NodeRoom(labels=shape.labels, taints=shape.taints, allocatable=shape.allocatable, free=free))
        return found
