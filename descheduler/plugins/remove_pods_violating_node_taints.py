"""RemovePodsViolatingNodeTaints: evict pods that no longer tolerate their node's taints.

Upstream semantics (descheduler v0.36): a pod is evicted when its node carries a
``NoSchedule`` taint (and ``PreferNoSchedule`` with ``includePreferNoSchedule``) that none
of its tolerations tolerates; ``excludedTaints`` / ``includedTaints`` match a taint by key or
``key=value``. Taints added to a running pod's node are otherwise ignored by Kubernetes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from descheduler import matching
from descheduler.cluster.state import holds_resources
from descheduler.errors import Problem
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod, Taint
from descheduler.plugins import common
from descheduler.policy.argspec import LabelSelector, doc

logger = logging.getLogger(__name__)

NAME = "RemovePodsViolatingNodeTaints"


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``RemovePodsViolatingNodeTaintsArgs``)."""

    namespaces: common.Namespaces | None = field(default=None, metadata=doc("Namespaces to include or exclude."))
    label_selector: LabelSelector | None = field(default=None, metadata=doc("Only pods matching this selector."))
    include_prefer_no_schedule: bool = field(
        default=False, metadata=doc("Also evict pods not tolerating PreferNoSchedule taints.")
    )
    excluded_taints: tuple[str, ...] = field(
        default=(), metadata=doc("Ignore taints whose key or key=value is listed.")
    )
    included_taints: tuple[str, ...] | None = field(
        default=None,
        metadata=doc("Consider only taints whose key or key=value is listed; unset means all, [] means none."),
    )


def validate(args: Args) -> list[Problem]:
    problems = common.validate_namespaces(args.namespaces)
    if args.excluded_taints and args.included_taints:
        problems.append(Problem("includedTaints", "either includedTaints or excludedTaints can be set, but not both"))
    return problems


def _listed(taint: Taint, names: frozenset[str]) -> bool:
    """Upstream matches a taint by its key, or by ``key=value`` when the value is non-empty."""
    return taint.key in names or (taint.value != "" and f"{taint.key}={taint.value}" in names)


class RemovePodsViolatingNodeTaints:
    """Deschedule plugin: evicts each node's pods that tolerate none of a considered taint of that node."""

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self.effects = ("NoSchedule", "PreferNoSchedule") if args.include_prefer_no_schedule else ("NoSchedule",)
        self.excluded = frozenset(args.excluded_taints)
        self.included = None if args.included_taints is None else frozenset(args.included_taints)

    def considered(self, taint: Taint) -> bool:
        """Is this taint one the plugin reacts to (effect, exclusion and inclusion lists)?"""
        if taint.effect not in self.effects or _listed(taint, self.excluded):
            return False
        return self.included is None or _listed(taint, self.included)

    def violated_taint(self, pod: Pod, taints: Sequence[Taint]) -> Taint | None:
        for taint in taints:
            if not matching.tolerates(pod, taint):
                return taint
        return None

    def refusal(self, pod: Pod) -> types.Refusal | None:
        """Why ``pod`` is no violation (for explain): the argument that set a taint aside, or the plain fact."""
        a = self.args
        node = self.handle.state.nodes.get(pod.node_name)
        if node is None or not holds_resources(pod):
            return types.Refusal("", "the pod is finished or bound to no known node")
        found = common.pod_refusal(pod, a.namespaces, a.label_selector)
        untolerated = [t for t in node.taints if t.effect != "NoExecute" and not matching.tolerates(pod, t)]
        if found is not None or any(self.considered(t) for t in untolerated):
            return found
        if not untolerated:
            return types.Refusal("", f"the pod tolerates every NoSchedule taint of {node.name}")
        taint = untolerated[0]
        shown = f"taint {taint.key}={taint.value}:{taint.effect}"
        if taint.effect not in self.effects:
            return types.Refusal("includePreferNoSchedule", f"false, so {shown} is not considered")
        if _listed(taint, self.excluded):
            return types.Refusal("excludedTaints", f"{shown} is excluded")
        return types.Refusal("includedTaints", f"{shown} is not included")

    def deschedule(self, nodes: Sequence[Node]) -> None:
        for node in nodes:
            taints = [t for t in node.taints if self.considered(t)]
            if taints and not common.evict_from_node(self.handle, self._violations(node, taints)):
                return

    def _violations(self, node: Node, taints: Sequence[Taint]) -> Iterator[tuple[Pod, str]]:
        """The node's evictable pods that do not tolerate one of ``taints``, with their reasons."""
        a = self.args
        for pod in self.handle.state.pods_on(node.name):
            # Like upstream's ListPodsOnANode: finished pods hold nothing and are left alone.
            if not holds_resources(pod) or not common.pod_allowed(pod, a.namespaces, a.label_selector):
                continue
            taint = self.violated_taint(pod, taints)
            if taint is None or not (self.handle.filter(pod) and self.handle.pre_eviction_filter(pod)):
                continue
            logger.debug("pod %s does not tolerate taint %s on %s", pod.key, taint.key, node.name)
            yield pod, f"untolerated taint {taint.key}={taint.value}:{taint.effect}"


def why_not(pod: Pod, args: Args, handle: Handle, _nodes: Sequence[Node]) -> types.Refusal | None:
    return RemovePodsViolatingNodeTaints(args, handle).refusal(pod)


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=RemovePodsViolatingNodeTaints,
    why_not=why_not,
    extension_points=frozenset({"deschedule"}),
    validate=validate,
    description="Evicts pods that do not tolerate a NoSchedule (optionally PreferNoSchedule) taint of their node.",
)
