"""Shared maths and eviction loop of LowNodeUtilization and HighNodeUtilization.

Upstream semantics (descheduler v0.36 ``nodeutilization``): a node's utilization is the sum
of its pods' *requests* over its allocatable, in percent; pods leave the source nodes lowest
priority (then QoS) first while the destinations' spare capacity, up to their upper threshold,
lasts. Evicted pods are accounted here, on a snapshot taken once per run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from descheduler import keys, matching, quantity
from descheduler.cluster.state import ClusterState, holds_resources
from descheduler.errors import Problem
from descheduler.evictor import limits
from descheduler.framework import types
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod, Resources, Taint
from descheduler.plugins import common
from descheduler.policy.argspec import doc

logger = logging.getLogger(__name__)

BASIC_RESOURCES = (quantity.CPU, quantity.MEMORY, quantity.PODS)
KNOWN_RESOURCES = frozenset({*BASIC_RESOURCES, quantity.EPHEMERAL_STORAGE})
MIN_PERCENTAGE = 0.0
MAX_PERCENTAGE = 100.0
_QOS_RANK = {"BestEffort": 0, "Burstable": 1, "Guaranteed": 2}

Percentages = dict[str, float]
"""Resource name -> percent of allocatable, as in the plugins' threshold arguments."""

KeepGoing = Callable[["NodeLoad", Resources], bool]
"""Decides, given a source node and the destinations' spare capacity, whether to evict more."""


# -- validation --------------------------------------------------------------------------


def validate_thresholds(thresholds: Mapping[str, float], path: str) -> list[Problem]:
    """At least one resource, every percentage in [0, 100] (upstream ``validateThresholds``)."""
    if not thresholds:
        return [Problem(path, "must configure at least one resource (e.g. cpu, memory, pods)")]
    return [
        Problem(f"{path}.{name}", f"must be between {MIN_PERCENTAGE:g} and {MAX_PERCENTAGE:g}, got {percent:g}")
        for name, percent in thresholds.items()
        if not MIN_PERCENTAGE <= percent <= MAX_PERCENTAGE
    ]


def unknown_resource_warnings(thresholds: Mapping[str, float], path: str) -> list[Problem]:
    """Upstream accepts any resource name here, so tensile does too, but says so for names that
    are neither a node resource it knows nor an extended resource (``vendor.io/name``).

    Such a resource usually is a typo (``cpux``): no node has it, so it never marks a node over
    a threshold and leaves no room on any destination, and the plugin evicts nothing.
    """
    return [
        Problem(
            f"{path}.{name}",
            "is not a resource tensile knows (cpu, memory, pods, ephemeral-storage, hugepages-<size>, "
            "or an extended resource with a '/'); accepted as upstream does, but if no node has it, "
            "nothing is evicted",
            warning=True,
        )
        for name in thresholds
        if not _known_resource(name)
    ]


def _known_resource(name: str) -> bool:
    return name in KNOWN_RESOURCES or name.startswith("hugepages-") or "/" in name


@dataclass(frozen=True)
class EvictableNamespaces(common.Namespaces):
    """``evictableNamespaces``: upstream's Namespaces type, of which only ``exclude`` may be set."""

    include: tuple[str, ...] = field(
        default=(), metadata=doc("Refused, as upstream: namespaces are filtered only right before an eviction.")
    )
    exclude: tuple[str, ...] = field(default=(), metadata=doc("Never evict pods in these namespaces."))


def validate_evictable_namespaces(namespaces: common.Namespaces | None) -> list[Problem]:
    """Upstream filters namespaces only right before eviction, so only ``exclude`` is allowed."""
    if namespaces is not None and namespaces.include:
        return [Problem("evictableNamespaces.include", "is not supported; only exclude can be set")]
    return []


def excluded_namespaces(namespaces: common.Namespaces | None) -> frozenset[str]:
    return frozenset(namespaces.exclude) if namespaces is not None else frozenset()


# -- measuring ---------------------------------------------------------------------------


def resource_names(thresholds: Mapping[str, float]) -> tuple[str, ...]:
    """The threshold resources plus cpu, memory and pods: what upstream tracks and moves."""
    return tuple(dict.fromkeys((*thresholds, *BASIC_RESOURCES)))


def percentages(usage: Mapping[str, int], allocatable: Mapping[str, int], names: Iterable[str]) -> Percentages:
    """Usage in percent of allocatable; resources the node does not list are left out (so count as 0%)."""
    result: Percentages = {}
    for name in names:
        if name in allocatable:
            capacity = allocatable[name]
            result[name] = usage.get(name, 0) / capacity * 100 if capacity > 0 else 0.0
    return result


def at_or_below(usage: Percentages, thresholds: Mapping[str, float]) -> bool:
    """Every thresholded resource at or under its threshold (upstream ``isNodeBelowThreshold``)."""
    return all(usage.get(name, 0.0) <= limit for name, limit in thresholds.items())


def above(usage: Percentages, thresholds: Mapping[str, float]) -> bool:
    """Any thresholded resource strictly over its threshold (upstream ``isNodeAboveThreshold``)."""
    return any(usage.get(name, 0.0) > limit for name, limit in thresholds.items())


def deviation_thresholds(
    usages: Iterable[Percentages], low_span: Mapping[str, float], high_span: Mapping[str, float]
) -> tuple[Percentages, Percentages]:
    """Mean usage minus ``low_span`` and plus ``high_span``, clamped to [0, 100]."""
    totals: Percentages = {}
    counts: dict[str, int] = {}
    for usage in usages:
        for name, percent in usage.items():
            totals[name] = totals.get(name, 0.0) + percent
            counts[name] = counts.get(name, 0) + 1
    mean = {name: total / counts[name] for name, total in totals.items()}
    low = {name: _clamp(value - low_span.get(name, 0.0)) for name, value in mean.items()}
    high = {name: _clamp(value + high_span.get(name, 0.0)) for name, value in mean.items()}
    return low, high


def _clamp(percent: float) -> float:
    return min(max(percent, MIN_PERCENTAGE), MAX_PERCENTAGE)


def capped_capacity(allocatable: Mapping[str, int], thresholds: Mapping[str, float], names: Iterable[str]) -> Resources:
    """Allocatable cut down to ``thresholds`` (whole units, truncated as upstream); unthresholded stays whole."""
    capped: Resources = {}
    for name in names:
        if name not in allocatable:
            capped[name] = 0
        elif name not in thresholds:
            capped[name] = allocatable[name]
        else:
            capped[name] = int(float(thresholds[name]) * 0.01 * float(allocatable[name]))
    return capped


@dataclass(eq=False)
class NodeLoad:
    """One node's requested usage, tracked as this run evicts from it."""

    node: Node
    usage: Resources
    percent: Percentages
    capacity: Resources = field(default_factory=dict)
    """Allocatable capped at the node's upper threshold; set once the node is classified."""

    @property
    def total(self) -> int:
        """Sum of raw usage over resources: upstream's (memory-dominated) node ordering key."""
        return sum(self.usage.values())

    def above_capacity(self) -> bool:
        return any(used > self.capacity.get(name, 0) for name, used in self.usage.items())


def measure(
    state: ClusterState, nodes: Sequence[Node], names: Sequence[str], measured: Iterable[str]
) -> list[NodeLoad]:
    """Snapshot every node's usage of ``names`` and its percentages of the ``measured`` resources."""
    measured = tuple(measured)
    loads = []
    for node in nodes:
        current = state.usage(node.name)
        usage = {name: current.get(name, 0) for name in names}
        loads.append(NodeLoad(node, usage, percentages(usage, node.allocatable, measured)))
    return loads


def classify(
    loads: Iterable[NodeLoad], is_low: Callable[[NodeLoad], bool], is_high: Callable[[NodeLoad], bool]
) -> tuple[list[NodeLoad], list[NodeLoad]]:
    """Split into (low, high); a node is tested for high only when it is not low, as upstream."""
    low: list[NodeLoad] = []
    high: list[NodeLoad] = []
    for load in loads:
        if is_low(load):
            low.append(load)
            group = "low"
        elif is_high(load):
            high.append(load)
            group = "high"
        else:
            group = "neither"
        logger.debug("node %s classified %s, usage %s", load.node.name, group, load.percent)
    return low, high


def skip_reason(underutilized: int, *, number_of_nodes: int, total: int) -> str:
    """Why both plugins skip the run given the underutilized node count, or "" to go on (upstream's shared exits)."""
    found = skip_refusal(underutilized, number_of_nodes=number_of_nodes, total=total)
    return found.words if found is not None else ""


def skip_refusal(underutilized: int, *, number_of_nodes: int, total: int) -> types.Refusal | None:
    """:func:`skip_reason` with the argument that decided (for explain)."""
    if underutilized == 0:
        return types.Refusal("thresholds", "no node is underutilized; you might tune thresholds")
    if underutilized <= number_of_nodes:
        words = f"{underutilized} underutilized nodes <= numberOfNodes {number_of_nodes}"
        return types.Refusal("numberOfNodes", words)
    if underutilized == total:
        return types.Refusal("thresholds", "all nodes are underutilized")
    return None


def early_exit(
    plugin: str, underutilized: int, others: int, total: int, *, number_of_nodes: int, no_others: types.Refusal
) -> types.Refusal | None:
    """Why a run of ``plugin`` does nothing (logged), or None: the shared exits, then ``no_others`` when no node
    is overutilized (or schedulable), in upstream's order; each plugin's last check is its ``no_others``."""
    logger.info("%s: %d underutilized and %d other classified of %d nodes", plugin, underutilized, others, total)
    skip = skip_refusal(underutilized, number_of_nodes=number_of_nodes, total=total)
    if skip is None and others == 0:
        skip = no_others
    if skip is not None:
        logger.info("%s: %s", plugin, skip.words)
    return skip


def spare_capacity(destinations: Iterable[NodeLoad], names: Sequence[str]) -> Resources:
    """What the destinations can still take, summed: capped capacity minus usage, per resource."""
    spare = dict.fromkeys(names, 0)
    for load in destinations:
        for name in names:
            spare[name] += load.capacity.get(name, 0) - load.usage.get(name, 0)
    return spare


def spare_left(available: Resources) -> bool:
    """Upstream stops as soon as any tracked resource has no spare capacity left."""
    return all(amount > 0 for amount in available.values())


def describe_over(load: NodeLoad, thresholds: Mapping[str, float]) -> str:
    """Reason text naming the resources over their threshold, e.g. ``cpu 85% > 50%``."""
    over = {name: limit for name, limit in thresholds.items() if load.percent.get(name, 0.0) > limit}
    return _describe(load, over, ">")


def describe_under(load: NodeLoad, thresholds: Mapping[str, float]) -> str:
    """Reason text for a node at or under every threshold, e.g. ``cpu 10% <= 20%, memory 5% <= 20%``."""
    return _describe(load, thresholds, "<=")


def _describe(load: NodeLoad, thresholds: Mapping[str, float], relation: str) -> str:
    parts = [f"{name} {load.percent.get(name, 0.0):.0f}% {relation} {limit:g}%" for name, limit in thresholds.items()]
    return ", ".join(parts)


# -- evicting ----------------------------------------------------------------------------


def sort_by_usage(loads: Iterable[NodeLoad], *, ascending: bool) -> list[NodeLoad]:
    """Upstream ``sortNodesByUsage``: by the sum of raw usage over the tracked resources
    (millicores for cpu, bytes for memory, a count for pods), so memory usually dominates."""
    return sorted(loads, key=lambda n: n.total if ascending else -n.total)


def eviction_order(pods: Iterable[Pod]) -> list[Pod]:
    """Upstream ``podutil.SortPodsBasedOnPriorityLowToHigh``: pods without priority first, then
    lowest priority; ties BestEffort, Burstable, Guaranteed; within a QoS class, pods with the
    ``prefer-no-eviction`` annotation last. Stable, so the listing order breaks what is left."""
    return sorted(pods, key=_priority_low_to_high)


def _priority_low_to_high(pod: Pod) -> tuple[bool, int, int, bool]:
    return (
        pod.priority is not None,
        pod.priority or 0,
        _QOS_RANK.get(pod.qos_class, 2),
        keys.PREFER_NO_EVICTION_ANNOTATION in pod.annotations,
    )


class TaintTolerance:
    """Upstream ``utils.PodToleratesTaints``: the pod tolerates every taint, of any effect
    (PreferNoSchedule too), of at least one destination.

    Like upstream, a node with more taints than the pod has tolerations is never tolerated,
    even by a wildcard toleration (upstream compares the counts before matching).
    """

    def __init__(self, nodes: Iterable[Node]) -> None:
        # Nodes share few distinct taint sets; checking each set once keeps this O(pods).
        self._taint_sets: tuple[tuple[Taint, ...], ...] = tuple(dict.fromkeys(n.taints for n in nodes))
        self._untainted = any(not taints for taints in self._taint_sets)

    def allows(self, pod: Pod) -> bool:
        if self._untainted:
            return True
        return any(
            len(pod.tolerations) >= len(taints) and all(matching.tolerates(pod, t) for t in taints)
            for taints in self._taint_sets
        )


@dataclass(frozen=True)
class EvictionPlan:
    """What the shared loop needs from a plugin: where from, where to, and when to stop."""

    sources: Sequence[NodeLoad]
    destinations: Sequence[NodeLoad]
    names: Sequence[str]
    keep_going: KeepGoing
    reason: Callable[[NodeLoad], str]
    pod_filter: Callable[[Pod], bool]
    excluded_namespaces: frozenset[str] = frozenset()
    node_limit: int | None = None


def pod_refusal(pod: Pod, plan: EvictionPlan, *, not_a_source: types.Refusal) -> types.Refusal | None:
    """Why the shared loop would never take ``pod`` (for explain): its node is no source
    (``not_a_source``), the pod is finished, its namespace is excluded or it tolerates no destination."""
    if not any(source.node.name == pod.node_name for source in plan.sources):
        return not_a_source
    if not holds_resources(pod):
        return types.Refusal("", "the pod is finished")
    if pod.namespace in plan.excluded_namespaces:
        return types.Refusal("evictableNamespaces.exclude", f"namespace {pod.namespace} is excluded")
    if not TaintTolerance(d.node for d in plan.destinations).allows(pod):
        return types.Refusal("", "the pod tolerates the taints of no destination node")
    return None


def evict_from_sources(handle: Handle, plan: EvictionPlan) -> None:
    """Walk the sources in order; a total limit ends the run, a node limit moves to the next node."""
    available = spare_capacity(plan.destinations, plan.names)
    logger.debug("capacity to be moved: %s", available)
    tolerance = TaintTolerance(d.node for d in plan.destinations)
    for source in plan.sources:
        removable = [p for p in handle.state.pods_on(source.node.name) if holds_resources(p) and plan.pod_filter(p)]
        if not removable:
            logger.debug("no removable pods on node %s", source.node.name)
            continue
        try:
            _evict_from_node(handle, plan, source, eviction_order(removable), available, tolerance)
        except limits.TotalLimitError:
            return


def _evict_from_node(
    handle: Handle,
    plan: EvictionPlan,
    source: NodeLoad,
    pods: Sequence[Pod],
    available: Resources,
    tolerance: TaintTolerance,
) -> None:
    if not plan.keep_going(source, available):
        return
    reason = plan.reason(source)
    evicted = 0
    for pod in pods:
        if plan.node_limit is not None and evicted >= plan.node_limit:
            break
        if not tolerance.allows(pod) or pod.namespace in plan.excluded_namespaces:
            continue
        try:
            if not handle.evict(pod, reason=reason):
                continue
        except limits.NodeLimitError:
            return
        except limits.NamespaceLimitError:
            continue
        evicted += 1
        _account(pod, source.usage, available)
        if not plan.keep_going(source, available):
            break


def _account(pod: Pod, usage: Resources, available: Resources) -> None:
    """The pod leaves its node and takes its requests from the destinations' spare capacity."""
    for name in available:
        amount = 1 if name == quantity.PODS else pod.requests.get(name, 0)
        usage[name] = usage.get(name, 0) - amount
        available[name] -= amount
