"""PendingOnVirtualNode: evict pods stuck Pending behind a virtual node (tensile's own plugin).

A virtual node advertises the sum of its lower cluster's free capacity, so a pod can be
bound to it and then fit no real node below. The provider copies the lower status up, so
such a pod shows ``PodScheduled=False`` (reason Unschedulable or SchedulerError) on the
virtual node. After ``minTimeSinceLastTransitionSeconds`` in that state, or after
``maxPendingSeconds`` Pending for any reason, the pod is evicted through the evictor (every
evictor rule and limit applies) and an avoidance record keeps its replacement away from
that virtual node for ``avoidanceSeconds`` (DESIGN.md §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from descheduler import matching, report
from descheduler.errors import Problem
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod
from descheduler.plugins import common
from descheduler.policy.argspec import LabelSelector, doc

NAME = "PendingOnVirtualNode"
STUCK_REASONS = ("Unschedulable", "SchedulerError")


@dataclass(frozen=True)
class Args:
    """PendingOnVirtualNode's arguments (tensile's own plugin, so tensile's defaults), in the upstream shape."""

    node_selector: str = field(
        default="type=virtual-kubelet", metadata=doc("Label selector (string form) of the virtual nodes.")
    )
    min_time_since_last_transition_seconds: int = field(
        default=60, metadata=doc("How long PodScheduled=False (Unschedulable/SchedulerError) must hold.")
    )
    max_pending_seconds: int = field(
        default=300, metadata=doc("Evict a pod Pending this long behind a virtual node, whatever the reason.")
    )
    avoidance_seconds: int = field(
        default=600, metadata=doc("How long the pod's owner avoids the virtual node afterwards; 0 records none.")
    )
    namespaces: common.Namespaces | None = field(default=None, metadata=doc("Namespaces to include or exclude."))
    label_selector: LabelSelector | None = field(default=None, metadata=doc("Only pods matching this selector."))


def validate(args: Args) -> list[Problem]:
    problems = common.validate_namespaces(args.namespaces)
    problems += common.validate_virtual_node_selector(args.node_selector)
    if args.min_time_since_last_transition_seconds < 0:
        problems.append(Problem("minTimeSinceLastTransitionSeconds", "must be >= 0"))
    if args.max_pending_seconds <= 0:
        problems.append(Problem("maxPendingSeconds", f"must be > 0, got {args.max_pending_seconds}"))
    if args.avoidance_seconds < 0:
        problems.append(Problem("avoidanceSeconds", "must be >= 0"))
    return problems


def stuck_reason(pod: Pod, args: Args, *, now: float) -> str | None:
    """Why ``pod`` counts as stuck behind its node, or None."""
    if pod.phase != "Pending" or pod.deleting:
        return None
    scheduled = pod.condition("PodScheduled")
    if scheduled is not None and scheduled.status == "False" and scheduled.reason in STUCK_REASONS:
        since = scheduled.last_transition
        if since is not None and now - since >= args.min_time_since_last_transition_seconds:
            return f"{scheduled.reason} behind the virtual node for {report.human_duration(now - since)}"
    pending_since = pod.start_time or pod.created
    if pending_since and now - pending_since >= args.max_pending_seconds:
        return f"Pending behind the virtual node for {report.human_duration(now - pending_since)}"
    return None


def due_at(pod: Pod, args: Args) -> float | None:
    """When ``pod`` turns stuck by :func:`stuck_reason`'s rules if nothing changes (epoch seconds), or None.

    The long-lived mode sets a timer per pod at this moment instead of waiting for the next cycle.
    """
    if pod.phase != "Pending" or pod.deleting or not pod.node_name:
        return None
    moments = []
    scheduled = pod.condition("PodScheduled")
    stuck_since = scheduled.last_transition if scheduled is not None else None
    if scheduled is not None and scheduled.status == "False" and scheduled.reason in STUCK_REASONS and stuck_since:
        moments.append(stuck_since + args.min_time_since_last_transition_seconds)
    pending_since = pod.start_time or pod.created
    if pending_since:
        moments.append(pending_since + args.max_pending_seconds)
    return min(moments) if moments else None


def why_not(pod: Pod, args: Args, handle: Handle, _nodes: Sequence[Node]) -> types.Refusal | None:
    """Why ``pod`` is not stuck behind a virtual node (for explain), or None."""
    node = handle.state.nodes.get(pod.node_name)
    if node is None or not matching.selector_matches(matching.parse_selector_string(args.node_selector), node.labels):
        return types.Refusal("nodeSelector", f"{pod.node_name or 'no node'} does not match {args.node_selector}")
    found = common.pod_refusal(pod, args.namespaces, args.label_selector)
    if found is None and (pod.phase != "Pending" or pod.deleting):
        found = types.Refusal("", f"the pod is {'terminating' if pod.deleting else pod.phase}, not Pending")
    if found is None and stuck_reason(pod, args, now=handle.state.now) is None:
        since = pod.start_time or pod.created
        waited = report.human_duration(max(handle.state.now - since, 0))
        found = types.Refusal("maxPendingSeconds", f"Pending for {waited} < {args.max_pending_seconds}s")
    return found


class PendingOnVirtualNode:
    """Deschedule plugin: on each virtual node (``nodeSelector``), evicts the pods stuck Pending
    behind it, and has each pod's owner avoid that node for ``avoidanceSeconds``.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self._selector: dict[str, Any] = matching.parse_selector_string(args.node_selector)

    def virtual_nodes(self, nodes: Sequence[Node]) -> list[Node]:
        return [n for n in nodes if matching.selector_matches(self._selector, n.labels)]

    def candidates(self, node: Node) -> list[tuple[Pod, str]]:
        now = self.handle.state.now
        found = []
        for pod in self.handle.state.pods_on(node.name):
            reason = stuck_reason(pod, self.args, now=now)
            if reason and common.pod_allowed(pod, self.args.namespaces, self.args.label_selector):
                found.append((pod, reason))
        return found

    def deschedule(self, nodes: Sequence[Node]) -> None:
        for node in self.virtual_nodes(nodes):
            if not self._evict_from(node):
                return

    def _evict_from(self, node: Node) -> bool:
        """False once the total limit says stop."""
        evictable = ((pod, reason) for pod, reason in self.candidates(node) if self.handle.filter(pod))
        return common.evict_from_node(
            self.handle, evictable, avoid_node=node.name, avoid_seconds=self.args.avoidance_seconds
        )


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=PendingOnVirtualNode,
    why_not=why_not,
    extension_points=frozenset({"deschedule"}),
    validate=validate,
    description="Evicts pods stuck Pending behind a virtual node and keeps their owner away from it for a while.",
)
