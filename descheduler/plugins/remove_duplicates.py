"""RemoveDuplicates: spread pods of one owner evenly instead of stacking copies on a node.

Upstream semantics (descheduler v0.36, a Balance plugin): pods on a node with the same owner
references and the same container images are duplicates. Per owner key (namespace, owner kind and
name, images) it evicts duplicates beyond ceil(pods / feasible nodes) on each node, where feasible
nodes are those the duplicates tolerate and select (taints, nodeSelector, required node affinity).
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from descheduler import matching
from descheduler.errors import Problem
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod, Taint
from descheduler.plugins import common
from descheduler.policy.argspec import doc

logger = logging.getLogger(__name__)

NAME = "RemoveDuplicates"

OwnerKey = tuple[str, str, str, str]
"""(namespace, owner kind, owner name, sorted images joined by '#')."""

PlacementKey = tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]]
"""(tolerations, required node affinity, nodeSelector): pods with equal keys fit the same nodes."""

_SCHEDULING_EFFECTS = ("NoSchedule", "NoExecute")


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``RemoveDuplicatesArgs``)."""

    namespaces: common.Namespaces | None = field(default=None, metadata=doc("Namespaces to include or exclude."))
    exclude_owner_kinds: tuple[str, ...] = field(
        default=(), metadata=doc("Pods with an owner of one of these kinds are never duplicates.")
    )


def validate(args: Args) -> list[Problem]:
    return common.validate_namespaces(args.namespaces)


def owner_keys(pod: Pod) -> list[OwnerKey]:
    images = "#".join(sorted(pod.images))
    return [(pod.namespace, ref.kind, ref.name, images) for ref in pod.owners]


def duplicate_signature(pod: Pod) -> tuple[str, ...]:
    """Every owner x image pair, sorted: two pods with equal signatures are duplicates."""
    if len(pod.owners) == 1 and len(pod.images) == 1:  # the common case, without sorting
        ref = pod.owners[0]
        return (f"{pod.namespace}/{ref.kind}/{ref.name}/{pod.images[0]}",)
    return tuple(sorted(f"{pod.namespace}/{ref.kind}/{ref.name}/{image}" for ref in pod.owners for image in pod.images))


def placement_key(pod: Pod) -> PlacementKey:
    affinity = matching.required_node_affinity_terms(pod)
    return (
        tuple(sorted(json.dumps(t, sort_keys=True) for t in pod.tolerations)),
        json.dumps(affinity, sort_keys=True) if affinity is not None else "",
        tuple(sorted(pod.node_selector.items())),
    )


class FeasibleNodes:
    """Which of the cycle's nodes a pod tolerates and selects, cached by placement key.

    Nodes are grouped by their scheduling taints, so a pod without node selection costs one
    toleration check per group rather than per node.
    """

    def __init__(self, nodes: Iterable[Node]) -> None:
        self._groups: dict[tuple[Taint, ...], list[Node]] = defaultdict(list)
        for node in nodes:
            self._groups[tuple(t for t in node.taints if t.effect in _SCHEDULING_EFFECTS)].append(node)
        self._cache: dict[PlacementKey, frozenset[str]] = {}

    def of(self, pod: Pod) -> frozenset[str]:
        key = placement_key(pod)
        if key not in self._cache:
            self._cache[key] = frozenset(self._compute(pod, selects=bool(key[1] or key[2])))
        return self._cache[key]

    def _compute(self, pod: Pod, *, selects: bool) -> Iterable[str]:
        for taints, nodes in self._groups.items():
            if any(not matching.tolerates(pod, taint) for taint in taints):
                continue
            for node in nodes:
                if not selects or matching.pod_matches_node_selector(pod, node):
                    yield node.name


def target_node_count(duplicates: Iterable[Pod], feasible: FeasibleNodes) -> int:
    """Nodes where some duplicate could land, counting only pods that fit more than one node."""
    targets: set[str] = set()
    for nodes in {feasible.of(pod) for pod in duplicates}:
        if len(nodes) > 1:
            targets |= nodes
    return len(targets)


def stacked_keys(pods_per_node: Iterable[list[Pod]]) -> set[OwnerKey]:
    """Owner keys of pods whose duplicate signature occurs more than once on some node."""
    stacked: set[OwnerKey] = set()
    for pods in pods_per_node:
        first: dict[tuple[str, ...], Pod] = {}
        for pod in pods:
            signature = duplicate_signature(pod)
            if signature in first:
                stacked.update(owner_keys(pod))
                stacked.update(owner_keys(first[signature]))
            else:
                first[signature] = pod
    return stacked


class RemoveDuplicates:
    """Balance plugin: per owner key, evicts the copies stacked on a node beyond an even spread over
    the nodes those copies could run on.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self._excluded_kinds = frozenset(args.exclude_owner_kinds)

    def listed(self, node: Node) -> list[Pod]:
        """Resource-holding pods with owners, as upstream lists them (terminal pods skipped), before
        the evictor's filters."""
        return [
            pod
            for pod in self.handle.state.pods_on(node.name)
            if pod.phase not in ("Succeeded", "Failed")
            and pod.owners
            and not (self._excluded_kinds and any(ref.kind in self._excluded_kinds for ref in pod.owners))
            and common.namespace_allowed(pod.namespace, self.args.namespaces)
        ]

    def evictable(self, pod: Pod) -> bool:
        return self.handle.filter(pod) and self.handle.pre_eviction_filter(pod)

    def find_duplicates(
        self, nodes: Sequence[Node]
    ) -> tuple[dict[OwnerKey, int], dict[OwnerKey, dict[str, list[Pod]]]]:
        """Pods per owner key, and per owner key and node the duplicates beyond the node's first copy.

        The evictor's filters (nodeFit among them) are the expensive part, and they can only
        remove pods: an owner key with at most one copy per node before filtering has no
        duplicates after it. So only the pods of keys stacked somewhere are filtered; the
        result is the same as filtering every pod first, as upstream does.
        """
        listed = {node.name: self.listed(node) for node in nodes}
        suspects = stacked_keys(listed.values())
        occurrences: dict[OwnerKey, int] = defaultdict(int)
        duplicates: dict[OwnerKey, dict[str, list[Pod]]] = defaultdict(lambda: defaultdict(list))
        for node in nodes:
            seen: set[tuple[str, ...]] = set()
            for pod in listed[node.name]:
                keys = owner_keys(pod)
                if not suspects.intersection(keys) or not self.evictable(pod):
                    continue
                for key in keys:
                    occurrences[key] += 1
                signature = duplicate_signature(pod)
                if signature not in seen:
                    seen.add(signature)
                    continue
                for key in keys:
                    duplicates[key][node.name].append(pod)
        return occurrences, duplicates

    def balance(self, nodes: Sequence[Node]) -> None:
        occurrences, duplicates = self.find_duplicates(nodes)
        feasible = FeasibleNodes(nodes)
        for key, per_node in duplicates.items():
            targets = target_node_count((pod for pods in per_node.values() for pod in pods), feasible)
            if targets < 2:
                logger.debug("%s: fewer than two feasible nodes for %s, skipping", NAME, "/".join(key))
                continue
            upper_avg = math.ceil(occurrences[key] / targets)
            for pods in per_node.values():
                # ``pods`` leaves out the node's first copy, hence the + 1.
                if len(pods) + 1 > upper_avg and not self._evict(pods[upper_avg - 1 :], key, upper_avg, targets):
                    return

    def _evict(self, pods: Sequence[Pod], key: OwnerKey, upper_avg: int, targets: int) -> bool:
        """Evict the surplus copies on one node; False when the total limit says stop."""
        reason = f"duplicate of {key[1]}/{key[2]}: more than {upper_avg} per node over {targets} feasible nodes"
        return common.evict_from_node(self.handle, ((pod, reason) for pod in pods))


def why_not(pod: Pod, args: Args, handle: Handle, _nodes: Sequence[Node]) -> types.Refusal | None:
    """Why ``pod`` is not a duplicate (for explain), or None."""
    plugin = RemoveDuplicates(args, handle)
    node = handle.state.nodes.get(pod.node_name)
    listed = plugin.listed(node) if node is not None else []
    if not any(p.uid == pod.uid for p in listed):
        found = common.namespace_refusal(pod.namespace, args.namespaces)
        if found is None and any(ref.kind in args.exclude_owner_kinds for ref in pod.owners):
            found = types.Refusal("excludeOwnerKinds", "the pod's owner kind is excluded")
        return found or types.Refusal("", "the pod is finished, has no owner or is bound to no known node")
    signature = duplicate_signature(pod)
    if sum(duplicate_signature(p) == signature for p in listed) < 2:
        return types.Refusal("", f"no other pod on {pod.node_name} has the same owner and images")
    return None


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=RemoveDuplicates,
    why_not=why_not,
    extension_points=frozenset({"balance"}),
    validate=validate,
    description="Evicts copies of a pod (same owner and images) beyond an even spread over feasible nodes.",
)
