"""RemovePodsViolatingNodeAffinity: evict pods whose node no longer suits their node affinity.

Upstream semantics (descheduler v0.36): for ``requiredDuringSchedulingIgnoredDuringExecution``
a pod with required node affinity is evicted when its node no longer matches it (nor its
nodeSelector) and the pod fits some node; for ``preferredDuringSchedulingIgnoredDuringExecution``
when some node scores a higher preferred-affinity weight than the current one and the pod fits
some node (its current node counts, without a resource check). Like upstream, an unknown
``nodeAffinityType`` entry is accepted (validate() reports it as a warning) and skipped at run
time; only an unset or empty list is refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from descheduler import matching, placement
from descheduler.cluster.state import holds_resources
from descheduler.errors import Problem
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod
from descheduler.plugins import common
from descheduler.policy.argspec import LabelSelector, doc

logger = logging.getLogger(__name__)

NAME = "RemovePodsViolatingNodeAffinity"
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
ALLOWED_TYPES = (REQUIRED, PREFERRED)

Check = Callable[[Pod, Node, Sequence[Node]], str]
"""(pod, its node, all nodes) -> the reason to evict the pod, or "" to keep it."""


@dataclass(frozen=True)
class Args:
    """The plugin's arguments, with upstream's names and defaults (``RemovePodsViolatingNodeAffinityArgs``)."""

    node_affinity_type: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "Affinity types to enforce, in order: "
            + ", ".join(ALLOWED_TYPES)
            + ". Like upstream, other values are accepted with a warning and ignored."
        ),
    )
    namespaces: common.Namespaces | None = field(default=None, metadata=doc("Namespaces to include or exclude."))
    label_selector: LabelSelector | None = field(default=None, metadata=doc("Only pods matching this selector."))


def validate(args: Args) -> list[Problem]:
    problems: list[Problem] = []
    if not args.node_affinity_type:
        problems.append(Problem("nodeAffinityType", "needs to be set: one or more of " + ", ".join(ALLOWED_TYPES)))
    # Upstream's validation only asks for a non-empty list; Deschedule logs and skips unknown entries.
    for i, kind in enumerate(args.node_affinity_type):
        if kind not in ALLOWED_TYPES:
            message = f'unknown type "{kind}"; ignored as upstream does'
            problems.append(Problem(f"nodeAffinityType[{i}]", message, warning=True))
    return problems + common.validate_namespaces(args.namespaces)  # upstream's order


def _node_affinity(pod: Pod) -> Mapping[str, Any]:
    return (pod.affinity or {}).get("nodeAffinity") or {}


def has_required_affinity(pod: Pod) -> bool:
    return _node_affinity(pod).get(REQUIRED) is not None


def preferred_terms(pod: Pod) -> list[Mapping[str, Any]]:
    return list(_node_affinity(pod).get(PREFERRED) or ())


def preferred_weight(terms: Sequence[Mapping[str, Any]], node: Node) -> int:
    """Sum of the weights of the preferred terms the node matches, as the scheduler scores it."""
    preference = [(int(t.get("weight") or 0), t.get("preference") or {}) for t in terms]
    return sum(weight for weight, term in preference if matching.node_selector_terms_match([term], node))


class RemovePodsViolatingNodeAffinity:
    """Deschedule plugin: for each ``nodeAffinityType`` in order, evicts the pods whose node no longer
    matches their required node affinity (or scores below another node on their preferred one),
    when the pod fits some node.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self._best_weight: dict[str, int] = {}

    def deschedule(self, nodes: Sequence[Node]) -> None:
        self._best_weight.clear()
        checks: dict[str, Check] = {
            REQUIRED: self.required_violation,
            PREFERRED: self.preferred_violation,
        }
        for kind in self.args.node_affinity_type:
            check = checks.get(kind)
            if check is None:  # upstream logs "Invalid nodeAffinityType" and goes on with the next entry
                logger.error("invalid nodeAffinityType %r: ignored", kind)
                continue
            if not self._process(nodes, check):
                return

    def required_violation(self, pod: Pod, node: Node, nodes: Sequence[Node]) -> str:
        """Reason to evict, or "" when the required affinity still holds or nowhere else fits."""
        if not has_required_affinity(pod) or matching.pod_matches_node_selector(pod, node):
            return ""
        if not self._allowed(pod) or not self._fits_any(pod, nodes):
            return ""
        return "node no longer matches the pod's required node affinity"

    def preferred_violation(self, pod: Pod, node: Node, nodes: Sequence[Node]) -> str:
        """Reason to evict, or "" unless some node scores a higher preferred weight and the pod fits somewhere."""
        terms = preferred_terms(pod)
        if not terms:
            return ""
        current = preferred_weight(terms, node)
        best = self._best_weight_for(terms, nodes)
        if best <= current or not self._allowed(pod) or not self._fits_any(pod, nodes):
            return ""
        return f"another node has preferred node affinity weight {best} > {current} here"

    def _best_weight_for(self, terms: Sequence[Mapping[str, Any]], nodes: Sequence[Node]) -> int:
        """Best weight over all nodes (fit or not, as upstream), cached per distinct term list."""
        key = json.dumps(terms, sort_keys=True)
        if key not in self._best_weight:
            self._best_weight[key] = max((preferred_weight(terms, n) for n in nodes), default=0)
        return self._best_weight[key]

    def refusal(self, pod: Pod, nodes: Sequence[Node]) -> types.Refusal | None:
        """Why ``pod`` violates none of the enforced types (for explain), or None."""
        a = self.args
        node = self.handle.state.nodes.get(pod.node_name)
        if node is None or not holds_resources(pod):
            return types.Refusal("", "the pod is finished or bound to no known node")
        found = common.pod_refusal(pod, a.namespaces, a.label_selector)
        checks: dict[str, Check] = {REQUIRED: self.required_violation, PREFERRED: self.preferred_violation}
        if found is not None or any(k in checks and checks[k](pod, node, nodes) for k in a.node_affinity_type):
            return found
        if not any(
            (k == REQUIRED and has_required_affinity(pod)) or (k == PREFERRED and preferred_terms(pod))
            for k in a.node_affinity_type
        ):
            return types.Refusal("nodeAffinityType", "the pod has no node affinity of the enforced types")
        return types.Refusal("nodeAffinityType", f"{node.name} still suits the pod's node affinity, or no node fits it")

    def _allowed(self, pod: Pod) -> bool:
        a = self.args
        return (
            common.pod_allowed(pod, a.namespaces, a.label_selector)
            and self.handle.filter(pod)
            and self.handle.pre_eviction_filter(pod)
        )

    def _fits_any(self, pod: Pod, nodes: Sequence[Node]) -> bool:
        """Upstream PodFitsAnyNode: the pod's own node counts, without checking resources."""
        state = self.handle.state
        return any(placement.fits(state, pod, node) for node in nodes)

    def _process(self, nodes: Sequence[Node], check: Check) -> bool:
        """Evict every violating pod node by node; False once the total limit is reached (no node after it)."""
        return all(common.evict_from_node(self.handle, self._violations(node, nodes, check)) for node in nodes)

    def _violations(self, node: Node, nodes: Sequence[Node], check: Check) -> Iterator[tuple[Pod, str]]:
        """The node's violating pods with their reasons, checked one at a time as they are evicted."""
        for pod in self.handle.state.pods_on(node.name):
            # Finished pods are skipped, as upstream's ListPodsOnANode does.
            reason = check(pod, node, nodes) if pod.affinity and holds_resources(pod) else ""
            if reason:
                yield pod, reason


def why_not(pod: Pod, args: Args, handle: Handle, nodes: Sequence[Node]) -> types.Refusal | None:
    return RemovePodsViolatingNodeAffinity(args, handle).refusal(pod, nodes)


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=RemovePodsViolatingNodeAffinity,
    why_not=why_not,
    extension_points=frozenset({"deschedule"}),
    validate=validate,
    description="Evicts pods whose node no longer satisfies their required (or best preferred) node affinity.",
)
