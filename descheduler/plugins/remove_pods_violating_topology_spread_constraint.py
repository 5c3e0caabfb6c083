"""RemovePodsViolatingTopologySpreadConstraint: rebalance topology domains to within maxSkew.

Upstream semantics (descheduler v0.36, a Balance plugin): per namespace and distinct spread
constraint of its evictable pods, count matching pods per domain; when two domains differ by
more than ``maxSkew``, move pods from the largest domains towards the smallest without crossing
the ideal average, skipping (with ``topologyBalanceNodeFit``) pods that fit no node below it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from descheduler import matching, placement
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

NAME = "RemovePodsViolatingTopologySpreadConstraint"
ALLOWED_CONSTRAINTS = ("DoNotSchedule", "ScheduleAnyway")
DEFAULT_CONSTRAINTS = ("DoNotSchedule",)
HONOR = "Honor"
SCHEDULING_TAINT_EFFECTS = ("NoSchedule", "NoExecute")


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults
    (``RemovePodsViolatingTopologySpreadConstraintArgs``).
    """

    namespaces: common.Namespaces | None = field(default=None, metadata=doc("Namespaces to include or exclude."))
    label_selector: LabelSelector | None = field(
        default=None, metadata=doc("Only pods matching this selector are counted and evicted.")
    )
    constraints: tuple[str, ...] = field(
        default=DEFAULT_CONSTRAINTS,
        metadata=doc("whenUnsatisfiable kinds to balance: " + ", ".join(ALLOWED_CONSTRAINTS) + "."),
    )
    topology_balance_node_fit: bool = field(
        default=True, metadata=doc("Only move pods that fit a node in a domain below the ideal average.")
    )


def validate(args: Args) -> list[Problem]:
    problems = common.validate_namespaces(args.namespaces)
    for i, kind in enumerate(args.constraints):
        if kind not in ALLOWED_CONSTRAINTS:
            allowed = ", ".join(ALLOWED_CONSTRAINTS)
            problems.append(Problem(f"constraints[{i}]", f"must be one of {allowed}; got {kind!r}"))
    return problems


def effective_constraints(args: Args) -> tuple[str, ...]:
    """Upstream's defaulting (``len(args.Constraints) == 0``): an empty list means DoNotSchedule too."""
    return args.constraints or DEFAULT_CONSTRAINTS


# -- constraints ----------------------------------------------------------------------------


def _required_node_affinity(pod: Pod) -> Any:
    return ((pod.affinity or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")


@dataclass
class Constraint:
    """A pod's spread constraint as upstream resolves it: the selector narrowed by
    ``matchLabelKeys``, and the node inclusion policies bound to the declaring pod."""

    max_skew: int
    topology_key: str
    selector: Mapping[str, Any] | None
    extra_labels: tuple[tuple[str, str], ...]
    affinity_pod: Pod | None
    """Set when nodeAffinityPolicy is Honor (the default): only nodes matching its affinity count."""
    taints_pod: Pod | None
    """Set when nodeTaintsPolicy is Honor: only nodes whose taints it tolerates count."""
    eligibility_key: tuple[str | None, str | None]
    """What node eligibility depends on: the honored affinity and tolerations (as JSON)."""
    identity: tuple[Any, ...]
    """Upstream deduplicates constraints by deep equality of the resolved form; this is that form."""

    def eligible(self, node: Node) -> bool:
        if self.affinity_pod is not None and not matching.pod_matches_node_selector(self.affinity_pod, node):
            return False
        return self.taints_pod is None or not matching.untolerated_taints(
            self.taints_pod, node, SCHEDULING_TAINT_EFFECTS
        )


def resolve_constraint(raw: Mapping[str, Any], pod: Pod) -> Constraint:
    selector = raw.get("labelSelector")
    extra: tuple[tuple[str, str], ...] = ()
    if selector is not None and pod.labels:
        extra = tuple((k, pod.labels[k]) for k in raw.get("matchLabelKeys") or () if k in pod.labels)
    affinity_honored = (raw.get("nodeAffinityPolicy") or HONOR) == HONOR
    taints_honored = (raw.get("nodeTaintsPolicy") or "Ignore") == HONOR
    # The pod's affinity and tolerations only tell constraints apart when their policy is Honor.
    eligibility = (
        json.dumps([pod.node_selector, _required_node_affinity(pod)], sort_keys=True) if affinity_honored else None,
        json.dumps(pod.tolerations, sort_keys=True) if taints_honored else None,
    )
    max_skew, key = int(raw.get("maxSkew") or 0), str(raw.get("topologyKey") or "")
    return Constraint(
        max_skew=max_skew,
        topology_key=key,
        selector=selector,
        extra_labels=extra,
        affinity_pod=pod if affinity_honored else None,
        taints_pod=pod if taints_honored else None,
        eligibility_key=eligibility,
        identity=(max_skew, key, json.dumps(selector, sort_keys=True), extra, *eligibility),
    )


def namespace_constraints(pods: Iterable[Pod], allowed: frozenset[str]) -> list[Constraint]:
    """Distinct constraints of the namespace's evictable pods, in first-seen order."""
    found: dict[tuple[Any, ...], Constraint] = {}
    for pod in pods:
        for raw in pod.topology_spread:
            if raw.get("whenUnsatisfiable") in allowed:
                constraint = resolve_constraint(raw, pod)
                found.setdefault(constraint.identity, constraint)
    return list(found.values())


# -- node indexes --------------------------------------------------------------------------


class NodeDomains:
    """Eligible nodes per inclusion policy and their topology values, computed once per cycle."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = nodes
        self.by_name = {n.name: n for n in nodes}
        self._eligible: dict[tuple[Any, ...], list[Node]] = {}
        self._by_value: dict[tuple[Any, ...], dict[str, list[Node]]] = {}

    def eligible(self, constraint: Constraint) -> list[Node]:
        key = constraint.eligibility_key
        if key not in self._eligible:
            self._eligible[key] = [n for n in self.nodes if constraint.eligible(n)]
        return self._eligible[key]

    def by_value(self, constraint: Constraint) -> dict[str, list[Node]]:
        """Eligible nodes grouped by their topologyKey value (nodes without the label drop out)."""
        key = (*constraint.eligibility_key, constraint.topology_key)
        if key not in self._by_value:
            grouped: dict[str, list[Node]] = {}
            for node in self.eligible(constraint):
                if constraint.topology_key in node.labels:
                    grouped.setdefault(node.labels[constraint.topology_key], []).append(node)
            self._by_value[key] = grouped
        return self._by_value[key]


# -- balancing ------------------------------------------------------------------------------


@dataclass
class Domain:
    """One topology domain of a constraint: its topologyKey value and the matching pods counted in it."""

    value: str
    pods: list[Pod]


def count_domains(
    constraint: Constraint, nodes: NodeDomains, labels: label_index.LabelIndex, order: Mapping[str, int]
) -> list[Domain]:
    """Matching pods per domain: every eligible domain (even empty) plus domains pods run in."""
    domains = {value: Domain(value, []) for value in nodes.by_value(constraint)}
    key = constraint.topology_key
    matched = labels.matching(constraint.selector, extra_labels=constraint.extra_labels)
    for pod in sorted(matched, key=lambda p: order[p.uid]):
        node = nodes.by_name.get(pod.node_name)
        if node is not None and key in node.labels:
            domains.setdefault(node.labels[key], Domain(node.labels[key], [])).pods.append(pod)
    return list(domains.values())


def is_balanced(domains: Sequence[Domain], max_skew: int) -> bool:
    sizes = [len(d.pods) for d in domains]
    return not sizes or max(sizes) - min(sizes) <= max_skew


def has_selector_or_affinity(pod: Pod) -> bool:
    """Upstream ``hasSelectorOrAffinity``: a node affinity counts when set at all, even empty."""
    return bool(pod.node_selector) or (pod.affinity or {}).get("nodeAffinity") is not None


def sort_domains(domains: list[Domain]) -> list[Domain]:
    """Smallest domain first; inside a domain the pods evicted first (popped from the back) are
    those without nodeSelector/affinity, highest priority first, exactly as upstream orders them.
    Every counted pod already passed the evictor filter, so upstream's "non-evictable first" is moot.
    """
    for domain in domains:
        domain.pods.sort(key=lambda p: (not has_selector_or_affinity(p), p.priority is not None, p.priority or 0))
    return sorted(domains, key=lambda d: len(d.pods))


def move_count(above: int, below: int, ideal: float, max_skew: int) -> int:
    """Pods to move from a domain of ``above`` pods to one of ``below``: at most half the excess
    skew, without taking the larger below or the smaller above the ideal average (all rounded up)."""
    half_skew = math.ceil((above - below - max_skew) / 2)
    return int(min(math.ceil(above - ideal), math.ceil(ideal - below), half_skew))


class FitChecker:
    """Does a pod fit some node below the ideal average other than its own? Cached per pod and
    per scheduling signature, since replicas ask the same question."""

    def __init__(self, handle: Handle, targets: Sequence[Node]) -> None:
        self.handle = handle
        self.targets = targets
        self._by_pod: dict[str, bool] = {}
        self._by_signature: dict[str, list[str]] = {}

    def fits_elsewhere(self, pod: Pod) -> bool:
        if pod.uid not in self._by_pod:
            fitting = self._fitting_nodes(pod)
            self._by_pod[pod.uid] = any(name != pod.node_name for name in fitting)
        return self._by_pod[pod.uid]

    def _fitting_nodes(self, pod: Pod) -> list[str]:
        """Up to two fitting node names: enough to know whether one is not the pod's own.

        Room is checked on every target (as_replacement), so the answer does not depend on which
        replica asked first; a pod with anti-affinity terms adds its namespace and name, which they read.
        """
        anti = placement.required_anti_affinity_terms(pod)
        signature = json.dumps(
            [sorted(pod.requests.items()), pod.node_selector, _required_node_affinity(pod), pod.tolerations]
            + ([pod.namespace, pod.name, anti] if anti else []),
            sort_keys=True,
        )
        if signature not in self._by_signature:
            fitting: list[str] = []
            for node in self.targets:
                if placement.fits(self.handle.state, pod, node, as_replacement=True):
                    fitting.append(node.name)
                    if len(fitting) == 2:
                        break
            self._by_signature[signature] = fitting
        return self._by_signature[signature]


class RemovePodsViolatingTopologySpreadConstraint:
    """Balance plugin: plans first, per namespace and spread constraint, which pods move from the
    largest domains towards the smallest, then evicts the plan in decision order.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self.allowed = frozenset(effective_constraints(args))

    def balance(self, nodes: Sequence[Node]) -> None:
        self.evict(self.plan(nodes))

    def namespace_pods(self, nodes: Sequence[Node]) -> dict[str, list[Pod]]:
        """Unfinished pods on the given nodes by namespace, in listing order, passing namespaces and labelSelector."""
        a = self.args
        grouped: dict[str, list[Pod]] = {}
        for node in nodes:
            for pod in self.handle.state.pods_on(node.name):
                if holds_resources(pod) and common.pod_allowed(pod, a.namespaces, a.label_selector):
                    grouped.setdefault(pod.namespace, []).append(pod)
        return grouped

    def plan(self, nodes: Sequence[Node]) -> dict[str, tuple[Pod, str]]:
        """Pods to evict (by uid, in decision order) with their reasons; nothing is evicted yet."""
        chosen: dict[str, tuple[Pod, str]] = {}
        domains = NodeDomains(nodes)
        for namespace, pods in self.namespace_pods(nodes).items():
            if not any(raw.get("whenUnsatisfiable") in self.allowed for p in pods for raw in p.topology_spread):
                continue  # cheap skip before asking the evictor filter about every pod
            # Upstream counts only the pods its filter lists: evictable ones, in allowed namespaces.
            evictable = [p for p in pods if self.handle.filter(p)]
            constraints = namespace_constraints(evictable, self.allowed)
            if not constraints:
                continue
            logger.debug("namespace %s: %d topology spread constraints", namespace, len(constraints))
            counted = [p for p in evictable if not p.deleting]
            order = {p.uid: i for i, p in enumerate(counted)}
            labels = label_index.LabelIndex(counted)
            for constraint in constraints:
                counts = count_domains(constraint, domains, labels, order)
                if not is_balanced(counts, constraint.max_skew):
                    self.balance_domains(constraint, counts, domains, chosen)
        return chosen

    def balance_domains(
        self, constraint: Constraint, counts: list[Domain], nodes: NodeDomains, chosen: dict[str, tuple[Pod, str]]
    ) -> None:
        """Upstream's two-pointer walk: the smallest domain (i) takes from the largest (j)."""
        ideal = sum(len(d.pods) for d in counts) / len(counts)
        ordered = sort_domains(counts)
        by_value = nodes.by_value(constraint)
        below = [n for d in ordered if len(d.pods) < ideal for n in by_value.get(d.value, ())]
        checker = FitChecker(self.handle, below)
        i, j = 0, len(ordered) - 1
        while i < j:
            if len(ordered[j].pods) <= ideal:
                j -= 1
            small, large = ordered[i], ordered[j]
            if len(large.pods) - len(small.pods) <= constraint.max_skew:
                i += 1
                continue
            moving = move_count(len(large.pods), len(small.pods), ideal, constraint.max_skew)
            if moving <= 0:
                i += 1
                continue
            reason = (
                f"topology spread {constraint.topology_key} maxSkew {constraint.max_skew}: "
                f"{large.value} has {len(large.pods)} pods, {small.value} {len(small.pods)}"
            )
            # Prefer moving pods that fit a node below the average: they go to the back.
            large.pods.sort(key=checker.fits_elsewhere)
            movers = large.pods[-moving:]
            for pod in movers:
                if self.args.topology_balance_node_fit and not checker.fits_elsewhere(pod):
                    logger.debug("not moving %s: it fits no node below the ideal average", pod.key)
                    continue
                chosen.setdefault(pod.uid, (pod, reason))
            del large.pods[-moving:]
            small.pods.extend(movers)  # counted as moved even when skipped, as upstream does

    def evict(self, chosen: Mapping[str, tuple[Pod, str]]) -> None:
        a = self.args
        full_nodes: set[str] = set()
        for pod, reason in chosen.values():
            if pod.node_name in full_nodes or not common.pod_allowed(pod, a.namespaces, a.label_selector):
                continue
            if not (self.handle.filter(pod) and self.handle.pre_eviction_filter(pod)):
                continue
            try:
                self.handle.evict(pod, reason=reason)
            except limits.NodeLimitError:
                full_nodes.add(pod.node_name)
            except limits.NamespaceLimitError:
                continue
            except limits.TotalLimitError:
                return


def why_not(pod: Pod, args: Args, handle: Handle, nodes: Sequence[Node]) -> types.Refusal | None:
    """Why the plan would not move ``pod`` (for explain), or None."""
    plugin = RemovePodsViolatingTopologySpreadConstraint(args, handle)
    found = common.pod_refusal(pod, args.namespaces, args.label_selector)
    if found is None and not pod.topology_spread:
        found = types.Refusal("", "the pod has no topology spread constraint")
    if found is None and not any(raw.get("whenUnsatisfiable") in plugin.allowed for raw in pod.topology_spread):
        kinds = ", ".join(sorted(plugin.allowed))
        found = types.Refusal("constraints", f"{kinds}: none of the pod's spread constraints is of these kinds")
    if found is None and pod.uid not in plugin.plan(nodes):
        words = "its domains are within maxSkew, or the pods that move are others (or fit no node below the average)"
        found = types.Refusal("", words)
    return found


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=RemovePodsViolatingTopologySpreadConstraint,
    why_not=why_not,
    extension_points=frozenset({"balance"}),
    validate=validate,
    description="Evicts pods so that every topology spread constraint's domains are within maxSkew.",
)
