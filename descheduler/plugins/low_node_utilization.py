"""LowNodeUtilization: move pods from overutilized nodes towards underutilized ones.

Upstream semantics (descheduler v0.36): utilization is requests over allocatable. A
schedulable node with every resource at or under ``thresholds`` is underutilized; a node with
any resource over ``targetThresholds`` is overutilized. Pods leave the busiest overutilized
nodes while they stay over target and the underutilized nodes' room (up to target) lasts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from descheduler.errors import Problem
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod, Resources
from descheduler.plugins import node_utilization as nu
from descheduler.policy.argspec import doc

logger = logging.getLogger(__name__)

NAME = "LowNodeUtilization"


@dataclass(frozen=True)
class EvictionLimits:
    """``evictionLimits``: this plugin's own cap on evictions per node, beside the policy's limits."""

    node: int | None = field(default=None, metadata=doc("Most pods this plugin evicts from one node per run."))


@dataclass(frozen=True)
class Prometheus:
    """``metricsUtilization.prometheus``: decoded only to be refused (see :class:`MetricsUtilization`)."""

    query: str = field(default="", metadata=doc("Upstream only; not supported by tensile."))


@dataclass(frozen=True)
class MetricsUtilization:
    """Decoded only to say clearly that tensile measures requests, never metrics."""

    metrics_server: bool = field(default=False, metadata=doc("Upstream only; not supported by tensile."))
    source: str = field(default="", metadata=doc("Upstream only; not supported by tensile."))
    prometheus: Prometheus | None = field(default=None, metadata=doc("Upstream only; not supported by tensile."))


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``LowNodeUtilizationArgs``)."""

    use_deviation_thresholds: bool = field(
        default=False, metadata=doc("Thresholds are deviations (in points) from the mean node utilization.")
    )
    thresholds: dict[str, float] = field(
        default_factory=dict, metadata=doc("Resource -> percent; a node at or under all of them is underutilized.")
    )
    target_thresholds: dict[str, float] = field(
        default_factory=dict, metadata=doc("Resource -> percent; a node over any of them is overutilized.")
    )
    number_of_nodes: int = field(default=0, metadata=doc("Act only when more nodes than this are underutilized."))
    metrics_utilization: MetricsUtilization | None = field(
        default=None, metadata=doc("Upstream's actual-usage source; rejected, tensile uses requests.")
    )
    evictable_namespaces: nu.EvictableNamespaces | None = field(
        default=None, metadata=doc("Namespaces whose pods are never evicted: set exclude.")
    )
    eviction_limits: EvictionLimits | None = field(
        default=None, metadata=doc("Per-node eviction limit of this plugin.")
    )


def validate(args: Args) -> list[Problem]:
    problems = nu.validate_evictable_namespaces(args.evictable_namespaces)
    problems += nu.validate_thresholds(args.thresholds, "thresholds")
    problems += nu.validate_thresholds(args.target_thresholds, "targetThresholds")
    problems += _validate_threshold_pairs(args)
    problems += nu.unknown_resource_warnings(args.thresholds, "thresholds")
    if args.metrics_utilization is not None:
        problems.append(
            Problem("metricsUtilization", "is not supported: tensile measures utilization from pod requests only")
        )
    if args.eviction_limits is not None and args.eviction_limits.node is not None and args.eviction_limits.node < 0:
        problems.append(Problem("evictionLimits.node", f"must be >= 0, got {args.eviction_limits.node}"))
    return problems


def _validate_threshold_pairs(args: Args) -> list[Problem]:
    """Same resources on both sides, and (unless deviations) each threshold <= its target."""
    problems = [
        Problem(f"targetThresholds.{name}", "must be set: thresholds and targetThresholds need the same resources")
        for name in args.thresholds
        if name not in args.target_thresholds
    ]
    problems += [
        Problem(f"thresholds.{name}", "must be set: thresholds and targetThresholds need the same resources")
        for name in args.target_thresholds
        if name not in args.thresholds
    ]
    if not args.use_deviation_thresholds:
        problems += [
            Problem(f"thresholds.{name}", f"must not be greater than targetThresholds.{name} ({target:g}), got {low:g}")
            for name, low in args.thresholds.items()
            if (target := args.target_thresholds.get(name)) is not None and low > target
        ]
    return problems


class LowNodeUtilization:
    """Balance plugin: evicts pods from the busiest overutilized nodes while they stay over
    ``targetThresholds`` and the underutilized nodes still have room for them up to that target.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self.names = nu.resource_names(args.thresholds)

    def balance(self, nodes: Sequence[Node]) -> None:
        plan = self.plan(nodes)
        if isinstance(plan, nu.EvictionPlan):
            nu.evict_from_sources(self.handle, plan)

    def plan(self, nodes: Sequence[Node]) -> nu.EvictionPlan | types.Refusal:
        """Sources and destinations of this run, or why upstream's early exits skip it."""
        loads = nu.measure(self.handle.state, nodes, self.names, self.args.thresholds)
        low, high = self._thresholds(loads)
        underutilized, overutilized = nu.classify(
            loads,
            # An unschedulable node cannot take the evicted pods, so it is never a destination.
            lambda n: not n.node.unschedulable and nu.at_or_below(n.percent, low),
            lambda n: nu.above(n.percent, high),
        )
        skip = nu.early_exit(
            NAME,
            len(underutilized),
            len(overutilized),
            len(nodes),
            number_of_nodes=self.args.number_of_nodes,
            no_others=types.Refusal("targetThresholds", "no node is over targetThresholds"),
        )
        if skip is not None:
            return skip
        for load in (*underutilized, *overutilized):
            load.capacity = nu.capped_capacity(load.node.allocatable, high, self.names)
        return nu.EvictionPlan(
            sources=nu.sort_by_usage(overutilized, ascending=False),
            destinations=underutilized,
            names=self.names,
            keep_going=_keep_going,
            reason=lambda n: "node over targetThresholds: " + nu.describe_over(n, high),
            pod_filter=self.handle.filter,
            excluded_namespaces=nu.excluded_namespaces(self.args.evictable_namespaces),
            node_limit=self.args.eviction_limits.node if self.args.eviction_limits else None,
        )

    def _thresholds(self, loads: Sequence[nu.NodeLoad]) -> tuple[nu.Percentages, nu.Percentages]:
        """The static percentages, or the mean usage shifted by them with useDeviationThresholds."""
        if self.args.use_deviation_thresholds:
            return nu.deviation_thresholds(
                (n.percent for n in loads), self.args.thresholds, self.args.target_thresholds
            )
        return dict(self.args.thresholds), dict(self.args.target_thresholds)


def _keep_going(source: nu.NodeLoad, available: Resources) -> bool:
    """Stop when the node is back under target or the underutilized nodes are full."""
    return source.above_capacity() and nu.spare_left(available)


def why_not(pod: Pod, args: Args, handle: Handle, nodes: Sequence[Node]) -> types.Refusal | None:
    """Why this run would never move ``pod`` (for explain), or None."""
    plan = LowNodeUtilization(args, handle).plan(nodes)
    if isinstance(plan, types.Refusal):
        return plan
    not_over = types.Refusal("targetThresholds", f"{pod.node_name or 'no node'} is not over targetThresholds")
    return nu.pod_refusal(pod, plan, not_a_source=not_over)


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=LowNodeUtilization,
    why_not=why_not,
    extension_points=frozenset({"balance"}),
    validate=validate,
    description="Evicts pods from nodes over targetThresholds while nodes under thresholds have room for them.",
)
