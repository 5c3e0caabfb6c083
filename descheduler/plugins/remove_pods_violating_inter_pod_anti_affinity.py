"""RemovePodsViolatingInterPodAntiAffinity: evict pods whose required anti-affinity is violated.

Upstream semantics (descheduler v0.36): a pod is evicted when one of its own required
podAntiAffinity terms matches another listed pod in the same topology domain (same node, or
nodes with equal ``topologyKey`` values). Pods are visited per node, lowest priority first, and
an evicted pod no longer counts against the others.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from descheduler import keys
from descheduler.cluster.state import holds_resources
from descheduler.errors import Problem
from descheduler.evictor import limits
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod
from descheduler.plugins import common, label_index
from descheduler.policy.argspec import LabelSelector, doc

logger = logging.getLogger(__name__)

NAME = "RemovePodsViolatingInterPodAntiAffinity"
QOS_ORDER = {"BestEffort": 0, "Burstable": 1, "Guaranteed": 2}

Domain = tuple[str, str]
"""("value", v) for nodes labelled topologyKey=v, ("node", name) for a node without the label."""


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``RemovePodsViolatingInterPodAntiAffinityArgs``)."""

    namespaces: common.Namespaces | None = field(default=None, metadata=doc("Namespaces to include or exclude."))
    label_selector: LabelSelector | None = field(default=None, metadata=doc("Only pods matching this selector."))


def validate(args: Args) -> list[Problem]:
    return common.validate_namespaces(args.namespaces)


def anti_affinity_terms(pod: Pod) -> list[Mapping[str, Any]]:
    anti = (pod.affinity or {}).get("podAntiAffinity") or {}
    return list(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or ())


def term_namespaces(pod: Pod, term: Mapping[str, Any]) -> tuple[str, ...]:
    """The term's namespaces, or the pod's own; upstream ignores namespaceSelector."""
    return tuple(term.get("namespaces") or ()) or (pod.namespace,)


def eviction_order(pod: Pod) -> tuple[bool, int, int, bool]:
    """Upstream SortPodsBasedOnPriorityLowToHigh: no priority first, then low priority, then QoS
    tier, and within a tier pods with the prefer-no-eviction annotation last."""
    return (
        pod.priority is not None,
        pod.priority or 0,
        QOS_ORDER.get(pod.qos_class, 0),
        keys.PREFER_NO_EVICTION_ANNOTATION in pod.annotations,
    )


class PodIndex:
    """The listed pods by node and namespace, and cached term matches per topology domain."""

    def __init__(self, pods: Sequence[Pod], nodes: Sequence[Node]) -> None:
        self.nodes = {n.name: n for n in nodes}
        self.by_node: dict[str, list[Pod]] = {}
        self.by_namespace: dict[str, list[Pod]] = {}
        for pod in pods:
            self.by_node.setdefault(pod.node_name, []).append(pod)
            self.by_namespace.setdefault(pod.namespace, []).append(pod)
        self.removed: set[str] = set()
        self._labels: dict[str, label_index.LabelIndex] = {}
        self._domains: dict[tuple[str, str, str], dict[Domain, list[Pod]]] = {}

    def domain(self, pod: Pod, key: str) -> Domain:
        node = self.nodes[pod.node_name]
        return ("value", node.labels[key]) if key in node.labels else ("node", node.name)

    def matches_in(self, namespace: str, term: Mapping[str, Any], key: str) -> dict[Domain, list[Pod]]:
        """Pods of ``namespace`` matching the term's selector, grouped by their ``key`` domain (cached)."""
        selector = term.get("labelSelector")
        cache_key = (namespace, json.dumps(selector, sort_keys=True), key)
        if cache_key not in self._domains:
            if namespace not in self._labels:
                self._labels[namespace] = label_index.LabelIndex(self.by_namespace.get(namespace, ()))
            grouped: dict[Domain, list[Pod]] = {}
            for pod in self._labels[namespace].matching(selector):
                grouped.setdefault(self.domain(pod, key), []).append(pod)
            self._domains[cache_key] = grouped
        return self._domains[cache_key]

    def conflict(self, pod: Pod) -> tuple[Pod, str] | None:
        """Another live pod that one of ``pod``'s required anti-affinity terms forbids next to it."""
        for term in anti_affinity_terms(pod):
            key = term.get("topologyKey") or ""
            domain = self.domain(pod, key)
            for namespace in term_namespaces(pod, term):
                for other in self.matches_in(namespace, term, key).get(domain, ()):
                    # Upstream skips the candidate by name, so a namesake in another namespace
                    # of the term is skipped too.
                    if other.name != pod.name and other.uid not in self.removed:
                        return other, key
        return None


class RemovePodsViolatingInterPodAntiAffinity:
    """Deschedule plugin: node by node, lowest priority first, evicts pods whose own required
    anti-affinity another pod in the same topology domain violates.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle

    def listed_pods(self, nodes: Sequence[Node]) -> list[Pod]:
        """Pods the plugin sees, as candidates and as the pods they conflict with (finished pods never)."""
        a = self.args
        return [
            pod
            for node in nodes
            for pod in self.handle.state.pods_on(node.name)
            if holds_resources(pod) and common.pod_allowed(pod, a.namespaces, a.label_selector)
        ]

    def deschedule(self, nodes: Sequence[Node]) -> None:
        index = PodIndex(self.listed_pods(nodes), nodes)
        for node in nodes:
            try:
                self._evict_from(node, index)
            except limits.NodeLimitError:
                continue
            except limits.TotalLimitError:
                return

    def _evict_from(self, node: Node, index: PodIndex) -> None:
        # Only a pod with required anti-affinity terms can be in conflict; sorting just those
        # (stably) visits them in the order sorting every pod would.
        candidates = [pod for pod in index.by_node.get(node.name, ()) if anti_affinity_terms(pod)]
        for pod in sorted(candidates, key=eviction_order):
            found = index.conflict(pod)
            if found is None or not (self.handle.filter(pod) and self.handle.pre_eviction_filter(pod)):
                continue
            other, key = found
            reason = f"required pod anti-affinity ({key or 'no topologyKey'}) violated by {other.key}"
            try:
                evicted = self.handle.evict(pod, reason=reason)
            except limits.NamespaceLimitError:
                continue
            if evicted:
                # Once evicted, the pod no longer violates anything for the pods after it.
                index.removed.add(pod.uid)


def why_not(pod: Pod, args: Args, handle: Handle, nodes: Sequence[Node]) -> types.Refusal | None:
    """Why ``pod``'s required anti-affinity is not violated (for explain), or None."""
    plugin = RemovePodsViolatingInterPodAntiAffinity(args, handle)
    found = common.pod_refusal(pod, args.namespaces, args.label_selector)
    if found is None and not anti_affinity_terms(pod):
        found = types.Refusal("", "the pod has no required pod anti-affinity")
    listed = plugin.listed_pods(nodes)
    if found is None and not any(p.uid == pod.uid for p in listed):
        found = types.Refusal("", "the pod is finished or not on a node of this cycle")
    if found is None and PodIndex(listed, nodes).conflict(pod) is None:
        found = types.Refusal("", "no pod in its topology domain matches its required anti-affinity")
    return found


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=RemovePodsViolatingInterPodAntiAffinity,
    why_not=why_not,
    extension_points=frozenset({"deschedule"}),
    validate=validate,
    description="Evicts pods whose required pod anti-affinity matches another pod in the same topology domain.",
)
