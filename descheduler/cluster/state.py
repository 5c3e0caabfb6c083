"""The cluster as one cycle sees it: nodes, pods and the objects the evictor consults.

Built once per cycle by :mod:`descheduler.cluster.live` or
:mod:`descheduler.cluster.snapshot`. Queries are pure; ``mark_evicted`` and ``reserve``
are the only mutators, so a dry run sees the capacity its own planned evictions free
(and their replacements consume) exactly as a real run would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from descheduler.model import (
    Namespace,
    Node,
    PersistentVolumeClaim,
    Pod,
    PodDisruptionBudget,
    PriorityClass,
    Resources,
)

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def holds_resources(pod: Pod) -> bool:
    return pod.phase not in TERMINAL_PHASES


def _by_node_name(pods: Iterable[Pod]) -> dict[str, list[Pod]]:
    """The bound ones of ``pods`` by node, in their order."""
    grouped: dict[str, list[Pod]] = {}
    for pod in pods:
        if pod.node_name:
            grouped.setdefault(pod.node_name, []).append(pod)
    return grouped


@dataclass
class ClusterState:
    """Everything one cycle knows about the cluster: nodes by name, pods (indexed by node and by
    controlling owner), budgets, priority classes, claims and the cycle's clock.

    Built once per cycle by a source (:func:`descheduler.cluster.sources.build_state`) and read by
    plugins through their handle. The evictor alone changes it, with ``mark_evicted`` and
    ``reserve``, so every later plugin of the cycle, in a dry run too, sees the capacity earlier
    evictions freed and their replacements are expected to take.
    """

    nodes: dict[str, Node]
    pods: list[Pod]
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    pdbs: list[PodDisruptionBudget] = field(default_factory=list)
    priority_classes: dict[str, PriorityClass] = field(default_factory=dict)
    pvcs: dict[str, PersistentVolumeClaim] = field(default_factory=dict)
    now: float = 0.0
    """The cycle's clock (epoch seconds); pure code reads time only from here."""

    _by_node: dict[str, list[Pod]] = field(init=False, repr=False)
    _by_owner: dict[str, list[Pod]] = field(init=False, repr=False)
    _usage: dict[str, Resources] = field(init=False, repr=False)
    _evicted: set[str] = field(init=False, repr=False)
    _resident: dict[str, dict[str, list[Pod]]] = field(init=False, repr=False)
    """node -> namespace -> resource-holding pods, built per node on first use, dropped on eviction."""
    _failed: dict[str, list[Pod]] | None = field(init=False, repr=False)
    """node -> Failed pods, in listing order; built on first use."""

    def __post_init__(self) -> None:
        self._resident = {}
        self._failed = None
        self._by_node = {name: [] for name in self.nodes}
        self._by_owner = {}
        self._usage = {name: {} for name in self.nodes}
        self._evicted = set()
        for pod in self.pods:
            if pod.node_name:
                self._by_node.setdefault(pod.node_name, []).append(pod)
                if holds_resources(pod) and pod.node_name in self._usage:
                    self._add_usage(pod.node_name, pod.requests, 1)
            for ref in pod.owners:
                if ref.controller:
                    self._by_owner.setdefault(ref.uid, []).append(pod)

    # -- queries -------------------------------------------------------------------------

    def pods_on(self, node_name: str) -> list[Pod]:
        """Pods bound to the node that have not been evicted in this cycle (a copy)."""
        return list(self._by_node.get(node_name, ()))

    def resident_pods(self, node_name: str, namespace: str) -> Sequence[Pod]:
        """The node's resource-holding pods in ``namespace``, not evicted this cycle (not a copy).

        What upstream's ``ListPodsOnANode`` + ``GroupByNamespace`` give NodeFit's anti-affinity check.
        """
        groups = self._resident.get(node_name)
        if groups is None:
            groups = {}
            for pod in self._by_node.get(node_name, ()):
                if holds_resources(pod):
                    groups.setdefault(pod.namespace, []).append(pod)
            self._resident[node_name] = groups
        return groups.get(namespace, ())

    def failed_pods_on(self, node_name: str) -> list[Pod]:
        """``pods_on`` restricted to phase Failed, in the same order, without walking the node's other pods."""
        if self._failed is None:
            self._failed = _by_node_name(p for p in self.pods if p.phase == "Failed")
        return [p for p in self._failed.get(node_name, ()) if p.uid not in self._evicted]

    def unbound_pods(self) -> list[Pod]:
        return [p for p in self.pods if not p.node_name and p.uid not in self._evicted]

    def pods_of_owner(self, owner_uid: str) -> list[Pod]:
        return [p for p in self._by_owner.get(owner_uid, ()) if p.uid not in self._evicted]

    def is_evicted(self, pod: Pod) -> bool:
        return pod.uid in self._evicted

    def usage(self, node_name: str) -> Resources:
        """Requests of resource-holding pods on the node (after this cycle's evictions)."""
        return dict(self._usage.get(node_name, {}))

    def free(self, node_name: str) -> Resources:
        node = self.nodes[node_name]
        used = self._usage.get(node_name, {})
        names = set(node.allocatable) | set(used)
        return {name: node.allocatable.get(name, 0) - used.get(name, 0) for name in names}

    def insufficient(self, node_name: str, requests: Resources) -> list[str]:
        """Resources of ``requests`` that the node's free capacity cannot cover (no dict copies: hot path).

        As upstream's ``fitsRequest``: a resource the node does not list has none free, even a zero
        request fails where usage already exceeds allocatable, and the ``pods`` every request
        carries needs one free pod slot. A node that reports no allocatable (only capacity) has no room.
        """
        node = self.nodes[node_name]
        allocatable = node.allocatable if node.allocatable_reported else {}
        used = self._usage.get(node_name, {})
        return [name for name, amount in requests.items() if allocatable.get(name, 0) - used.get(name, 0) < amount]

    def has_room(self, node_name: str, requests: Resources) -> bool:
        """Same verdict as ``not insufficient(...)``, stopping at the first short resource.

        Asked for every candidate node of every replacement the evictor places and of every nodeFit check.
        """
        node = self.nodes[node_name]
        allocatable = node.allocatable if node.allocatable_reported else {}
        used = self._usage.get(node_name, {})
        for name, amount in requests.items():  # noqa: SIM110 - a loop, not a generator: asked per pod
            if allocatable.get(name, 0) - used.get(name, 0) < amount:
                return False
        return True

    def priority_of(self, pod: Pod) -> int:
        if pod.priority is not None:
            return pod.priority
        pc = self.priority_classes.get(pod.priority_class_name)
        return pc.value if pc else 0

    def ready_nodes(self, names: Iterable[str] | None = None) -> list[Node]:
        chosen = self.nodes.values() if names is None else (self.nodes[n] for n in names if n in self.nodes)
        return [n for n in chosen if n.ready]

    # -- mutators ------------------------------------------------------------------------

    def mark_evicted(self, pod: Pod) -> None:
        """Forget the pod for the rest of the cycle and free what it held."""
        if pod.uid in self._evicted:
            return
        self._evicted.add(pod.uid)
        self._resident.pop(pod.node_name, None)
        on_node = self._by_node.get(pod.node_name)
        if on_node is not None and pod in on_node:
            on_node.remove(pod)
        if pod.node_name in self._usage and holds_resources(pod):
            self._add_usage(pod.node_name, pod.requests, -1)

    def reserve(self, requests: Resources, node_name: str) -> None:
        """Account for a replacement pod expected to land on ``node_name``."""
        if node_name in self._usage:
            self._add_usage(node_name, requests, 1)

    def _add_usage(self, node_name: str, requests: Resources, sign: int) -> None:
        used = self._usage[node_name]
        for name, amount in requests.items():
            used[name] = used.get(name, 0) + sign * amount
