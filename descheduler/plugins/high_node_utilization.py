"""HighNodeUtilization: empty underutilized nodes so their pods pack onto the others.

Upstream semantics (descheduler v0.36): utilization is requests over allocatable; a node
with every resource at or under ``thresholds`` is underutilized. Its evictable pods leave
(emptiest node first) while the schedulable nodes still have room in total, for every
resource; meant for the scheduler's MostAllocated scoring and a cluster autoscaler.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from descheduler import quantity
from descheduler.errors import Problem
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod, Resources
from descheduler.plugins import node_utilization as nu
from descheduler.policy.argspec import doc

logger = logging.getLogger(__name__)

NAME = "HighNodeUtilization"
ONLY_THRESHOLDING_RESOURCES = "OnlyThresholdingResources"
EVICTION_MODES = (ONLY_THRESHOLDING_RESOURCES,)


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``HighNodeUtilizationArgs``)."""

    thresholds: dict[str, float] = field(
        default_factory=dict, metadata=doc("Resource -> percent; a node at or under all of them is underutilized.")
    )
    number_of_nodes: int = field(default=0, metadata=doc("Act only when more nodes than this are underutilized."))
    eviction_modes: tuple[str, ...] = field(
        default=(), metadata=doc("OnlyThresholdingResources: evict only pods requesting a thresholded resource.")
    )
    evictable_namespaces: nu.EvictableNamespaces | None = field(
        default=None, metadata=doc("Namespaces whose pods are never evicted: set exclude.")
    )


def validate(args: Args) -> list[Problem]:
    problems = nu.validate_evictable_namespaces(args.evictable_namespaces)
    problems += nu.validate_thresholds(args.thresholds, "thresholds")
    problems += nu.unknown_resource_warnings(args.thresholds, "thresholds")
    problems += [
        Problem(f"evictionModes[{i}]", f"must be one of {', '.join(EVICTION_MODES)}; got {mode!r}")
        for i, mode in enumerate(args.eviction_modes)
        if mode not in EVICTION_MODES
    ]
    return problems


def requests_any(pod: Pod, names: Iterable[str]) -> bool:
    """The pod asks for one of ``names`` (even 0); ``pods`` is implicit, so it never counts."""
    return any(name != quantity.PODS and name in pod.requests for name in names)


class HighNodeUtilization:
    """Balance plugin: evicts the evictable pods of underutilized nodes, emptiest node first, while
    the schedulable nodes have room for them, so the scheduler packs them onto fewer nodes.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self.names = nu.resource_names(args.thresholds)
        self.only_thresholding = ONLY_THRESHOLDING_RESOURCES in args.eviction_modes
        # The destinations may fill up completely: their upper threshold is 100%.
        self.full = dict.fromkeys(args.thresholds, nu.MAX_PERCENTAGE)

    def balance(self, nodes: Sequence[Node]) -> None:
        plan = self.plan(nodes)
        if isinstance(plan, nu.EvictionPlan):
            nu.evict_from_sources(self.handle, plan)

    def plan(self, nodes: Sequence[Node]) -> nu.EvictionPlan | types.Refusal:
        """Sources and destinations of this run, or why upstream's early exits skip it."""
        thresholds = self.args.thresholds
        loads = nu.measure(self.handle.state, nodes, self.names, thresholds)
        # Unlike LowNodeUtilization, an unschedulable underutilized node is a source: it should empty.
        underutilized, schedulable = nu.classify(
            loads, lambda n: nu.at_or_below(n.percent, thresholds), lambda n: not n.node.unschedulable
        )
        skip = nu.early_exit(
            NAME,
            len(underutilized),
            len(schedulable),
            len(nodes),
            number_of_nodes=self.args.number_of_nodes,
            no_others=types.Refusal("", "no node is available to take the pods"),
        )
        if skip is not None:
            return skip
        for load in (*underutilized, *schedulable):
            load.capacity = nu.capped_capacity(load.node.allocatable, self.full, self.names)
        return nu.EvictionPlan(
            sources=nu.sort_by_usage(underutilized, ascending=True),
            destinations=schedulable,
            names=self.names,
            keep_going=_keep_going,
            reason=lambda n: "node underutilized: " + nu.describe_under(n, thresholds),
            pod_filter=self._pod_filter,
            excluded_namespaces=nu.excluded_namespaces(self.args.evictable_namespaces),
        )

    def _pod_filter(self, pod: Pod) -> bool:
        if self.only_thresholding and not requests_any(pod, self.args.thresholds):
            return False
        return self.handle.filter(pod)


def _keep_going(_source: nu.NodeLoad, available: Resources) -> bool:
    """Evict everything evictable while the schedulable nodes have room left for every resource."""
    return nu.spare_left(available)


def why_not(pod: Pod, args: Args, handle: Handle, nodes: Sequence[Node]) -> types.Refusal | None:
    """Why this run would never move ``pod`` (for explain), or None."""
    plugin = HighNodeUtilization(args, handle)
    plan = plugin.plan(nodes)
    if isinstance(plan, types.Refusal):
        return plan
    if plugin.only_thresholding and not requests_any(pod, args.thresholds):
        return types.Refusal(
            "evictionModes", f"{ONLY_THRESHOLDING_RESOURCES}: the pod requests no thresholded resource"
        )
    not_under = types.Refusal("thresholds", f"{pod.node_name or 'no node'} is not under thresholds")
    return nu.pod_refusal(pod, plan, not_a_source=not_under)


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=HighNodeUtilization,
    why_not=why_not,
    extension_points=frozenset({"balance"}),
    validate=validate,
    description="Evicts pods from nodes under thresholds so they pack onto the other nodes.",
)
