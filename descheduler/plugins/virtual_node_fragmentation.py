"""VirtualNodeFragmentation: make room on one virtual node for a pod that fits nowhere (tensile's own plugin).

Free capacity scattered over virtual nodes can leave a pod unschedulable in the upper
cluster although the cluster as a whole has room. For each such pending pod (unbound,
``PodScheduled=False reason=Unschedulable`` for ``minTimeSinceLastTransitionSeconds``, and
fitting no node right now) this plugin looks for the cheapest set of pods on one virtual node
whose eviction lets the pending pod fit there, such that

- every pod of the set is evictable (evictor filters and pre-eviction filters), has a
  controller that will replace it, and has a priority lower than or equal to the pending pod's;
- every pod of the set still fits on some other node, all of them together, after the
  pending pod took its place (so nothing is made pending in exchange);
- PodDisruptionBudgets' ``disruptionsAllowed`` and the eviction limits allow the whole set.

Cheapest means fewest pods, then the lowest highest-priority, then the least requested
(relative to the virtual node's allocatable), then names, so ties are decided the same way
every run. The set's owners get an avoidance of the virtual node for ``avoidanceSeconds`` so
that their replacements do not take the room back before the pending pod is scheduled.

The plugin works on the upper cluster's view: a virtual node's room is the sum over its
lower cluster, so the freed room may still be split across real nodes below; a pod stuck
that way is what PendingOnVirtualNode handles.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from descheduler import matching, placement
from descheduler.cluster.state import ClusterState, holds_resources
from descheduler.errors import Problem
from descheduler.evictor import limits
from descheduler.framework import types
from descheduler.framework.registry import PluginSpec
from descheduler.framework.types import Handle
from descheduler.model import Node, Pod, Resources
from descheduler.plugins import common
from descheduler.policy.argspec import LabelSelector, doc

logger = logging.getLogger(__name__)

NAME = "VirtualNodeFragmentation"
# Sets tried per pending pod and virtual node: keeps a cycle bounded when a node holds many
# differently shaped pods (pods of one controller share a shape and count once).
MAX_SETS_PER_NODE = 20_000


@dataclass(frozen=True)
class Args:
    """VirtualNodeFragmentation's arguments (tensile's own plugin, so tensile's defaults), in the upstream shape."""

    node_selector: str = field(
        default="type=virtual-kubelet", metadata=doc("Label selector (string form) of the virtual nodes.")
    )
    min_time_since_last_transition_seconds: int = field(
        default=60, metadata=doc("How long a pending pod must have been PodScheduled=False/Unschedulable.")
    )
    max_pods_to_evict_per_pending_pod: int = field(
        default=3, metadata=doc("Largest set of pods evicted to make room for one pending pod (1-10).")
    )
    max_pods_to_evict_per_cycle: int = field(default=10, metadata=doc("Most pods this plugin evicts in one run."))
    avoidance_seconds: int = field(
        default=300,
        metadata=doc("How long the evicted pods' owners avoid the virtual node, keeping the room; 0 records none."),
    )
    namespaces: common.Namespaces | None = field(
        default=None, metadata=doc("Namespaces whose pods may be evicted (include or exclude).")
    )
    label_selector: LabelSelector | None = field(default=None, metadata=doc("Only pods matching this may be evicted."))
    pending_namespaces: common.Namespaces | None = field(
        default=None, metadata=doc("Namespaces whose pending pods are helped (include or exclude).")
    )
    pending_label_selector: LabelSelector | None = field(
        default=None, metadata=doc("Only pending pods matching this are helped.")
    )


def validate(args: Args) -> list[Problem]:
    problems = common.validate_namespaces(args.namespaces)
    problems += common.validate_namespaces(args.pending_namespaces, "pendingNamespaces")
    problems += common.validate_virtual_node_selector(args.node_selector)
    if args.min_time_since_last_transition_seconds < 0:
        problems.append(Problem("minTimeSinceLastTransitionSeconds", "must be >= 0"))
    if not 1 <= args.max_pods_to_evict_per_pending_pod <= 10:
        got = args.max_pods_to_evict_per_pending_pod
        problems.append(Problem("maxPodsToEvictPerPendingPod", f"must be between 1 and 10, got {got}"))
    if args.max_pods_to_evict_per_cycle < 1:
        problems.append(Problem("maxPodsToEvictPerCycle", f"must be >= 1, got {args.max_pods_to_evict_per_cycle}"))
    if args.avoidance_seconds < 0:
        problems.append(Problem("avoidanceSeconds", "must be >= 0"))
    return problems


def unschedulable_for(pod: Pod, *, now: float) -> float | None:
    """Seconds the unbound pod has been PodScheduled=False/Unschedulable, or None."""
    if pod.node_name or pod.phase != "Pending" or pod.deleting:
        return None
    scheduled = pod.condition("PodScheduled")
    if scheduled is None or scheduled.status != "False" or scheduled.reason != "Unschedulable":
        return None
    since = scheduled.last_transition
    return None if since is None else now - since


@dataclass(frozen=True)
class Group:
    """Pods on one node that are interchangeable as eviction victims (same owner, size, priority, PDBs)."""

    pods: tuple[Pod, ...]
    priority: int
    requests: Resources
    pdbs: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """A set of victims on one virtual node that makes room for a pending pod, and its cost (lower is better)."""

    node: Node
    victims: tuple[Pod, ...]
    cost: tuple[object, ...]


class VirtualNodeFragmentation:
    """Balance plugin: for each pending pod that fits nowhere, evicts the cheapest set of pods on one
    virtual node that makes room for it there, the set's owners avoiding that node for a while.
    """

    def __init__(self, args: Args, handle: Handle) -> None:
        self.args = args
        self.handle = handle
        self._selector = matching.parse_selector_string(args.node_selector)

    @property
    def state(self) -> ClusterState:
        return self.handle.state

    def balance(self, nodes: Sequence[Node]) -> None:
        virtual = [n for n in nodes if matching.selector_matches(self._selector, n.labels)]
        if not virtual:
            return
        budget = self.args.max_pods_to_evict_per_cycle
        hopeless: set[tuple[object, ...]] = set()
        for pending in self.pending_pods():
            shape = _shape(pending, self.state)
            if shape in hopeless:
                continue  # a replica of a pod already found impossible to help this cycle
            if any(placement.fits(self.state, pending, n) for n in self.state.nodes.values()):
                continue  # room exists already (or was freed earlier in this cycle): the scheduler will place it
            plan = self.cheapest_plan(pending, virtual, min(budget, self.args.max_pods_to_evict_per_pending_pod))
            if plan is None:
                hopeless.add(shape)
                continue
            evicted, stop = self._carry_out(pending, plan)
            budget -= evicted
            if stop or budget <= 0:
                return

    def pending_pods(self) -> list[Pod]:
        """Long-unschedulable pods in the order they are helped: highest priority, then oldest."""
        now = self.state.now
        minimum = self.args.min_time_since_last_transition_seconds
        found = []
        for pod in self.state.unbound_pods():
            waited = unschedulable_for(pod, now=now)
            if waited is None or waited < minimum:
                continue
            if common.pod_allowed(pod, self.args.pending_namespaces, self.args.pending_label_selector):
                found.append(pod)
        return sorted(found, key=lambda p: (-self.state.priority_of(p), p.created, p.key))

    # -- planning ------------------------------------------------------------------------

    def cheapest_plan(self, pending: Pod, virtual: Sequence[Node], max_victims: int) -> Plan | None:
        best: Plan | None = None
        for node in virtual:
            if placement.unfit_reasons(self.state, pending, node, check_resources=False):
                continue
            plan = self._plan_on(pending, node, max_victims if best is None else len(best.victims))
            if plan is not None and (best is None or plan.cost < best.cost):
                best = plan
        return best

    def _plan_on(self, pending: Pod, node: Node, max_victims: int) -> Plan | None:
        shortfall = _shortfall(pending.requests, self.state.free(node.name))
        groups = self._victim_groups(pending, node, shortfall)
        if not groups:
            return None
        elsewhere = [n for n in placement.most_free_first(self.state) if n.name != node.name]
        tried = 0
        for size in range(1, max_victims + 1):
            best: Plan | None = None
            for combo in itertools.combinations_with_replacement(range(len(groups)), size):
                tried += 1
                if tried > MAX_SETS_PER_NODE:
                    logger.info("%s: stopped searching %s after %d sets", pending.key, node.name, MAX_SETS_PER_NODE)
                    return best
                plan = self._try(node, shortfall, [groups[i] for i in combo], elsewhere)
                if plan is not None and (best is None or plan.cost < best.cost):
                    best = plan
            if best is not None:
                return best  # fewest pods first: a larger set is never cheaper
        return None

    def _victim_groups(self, pending: Pod, node: Node, shortfall: Resources) -> list[Group]:
        ceiling = self.state.priority_of(pending)
        members: dict[tuple[object, ...], tuple[tuple[str, ...], list[Pod]]] = {}
        for pod in self.state.pods_on(node.name):
            if not self._may_evict(pod, ceiling) or not any(pod.requests.get(r, 0) > 0 for r in shortfall):
                continue
            pdbs = self.handle.budgets.covering(pod)
            members.setdefault((*_shape(pod, self.state), pdbs), (pdbs, []))[1].append(pod)
        groups = []
        for pdbs, pods in members.values():
            pods.sort(key=lambda p: (-p.created, p.key))  # the youngest go first
            groups.append(Group(tuple(pods), self.state.priority_of(pods[0]), pods[0].requests, pdbs))
        return groups

    def refusal(self, pod: Pod) -> types.Refusal | None:
        """Why ``pod`` can be no victim (for explain), or None when some pending pod might need its room."""
        node = self.state.nodes.get(pod.node_name)
        if node is None or not matching.selector_matches(self._selector, node.labels):
            return types.Refusal(
                "nodeSelector", f"{pod.node_name or 'no node'} does not match {self.args.node_selector}"
            )
        found = common.pod_refusal(pod, self.args.namespaces, self.args.label_selector)
        if found is None and not self._may_evict(pod, ceiling=self.state.priority_of(pod)):
            found = types.Refusal("", "the pod has no controller to replace it, is a DaemonSet's or is finished")
        if found is None and not self.pending_pods():
            minimum = self.args.min_time_since_last_transition_seconds
            words = f"no pod has been Unschedulable for {minimum}s (or matches pendingNamespaces/pendingLabelSelector)"
            found = types.Refusal("minTimeSinceLastTransitionSeconds", words)
        return found

    def _may_evict(self, pod: Pod, ceiling: int) -> bool:
        controller = pod.controller
        return (
            controller is not None
            and controller.kind != "DaemonSet"
            and holds_resources(pod)
            and not pod.deleting
            and self.state.priority_of(pod) <= ceiling
            and common.pod_allowed(pod, self.args.namespaces, self.args.label_selector)
            and self.handle.filter(pod)
            and self.handle.pre_eviction_filter(pod)
        )

    def _try(self, node: Node, shortfall: Resources, chosen: list[Group], elsewhere: Sequence[Node]) -> Plan | None:
        """The plan evicting one pod of each chosen group (a group may repeat), or None if it fails a rule.

        ``elsewhere``: the other nodes, most free first, where the evicted pods' replacements may go.
        """
        use = Counter(id(g) for g in chosen)
        if any(use[id(g)] > len(g.pods) for g in chosen):
            return None
        for name, short in shortfall.items():
            if sum(g.requests.get(name, 0) for g in chosen) < short:
                return None
        pdb_use = Counter(pdb for g in chosen for pdb in g.pdbs)
        if any(self.handle.budgets.room(pdb) < n for pdb, n in pdb_use.items()):
            return None
        taken: Counter[int] = Counter()
        victims = []
        for group in chosen:
            victims.append(group.pods[taken[id(group)]])
            taken[id(group)] += 1
        if not self.handle.limits_allow(victims) or not self._all_fit(victims, elsewhere):
            return None
        allocatable = node.allocatable
        requested = sum(
            sum(v.requests.get(r, 0) for v in victims) / allocatable[r] for r in ("cpu", "memory") if allocatable.get(r)
        )
        priorities = tuple(sorted((self.state.priority_of(v) for v in victims), reverse=True))
        return Plan(node, tuple(victims), (len(victims), priorities, requested, tuple(sorted(v.key for v in victims))))

    def _all_fit(self, victims: Sequence[Pod], candidates: Sequence[Node]) -> bool:
        """Whether the victims' replacements all fit on ``candidates`` together, placed largest first."""
        extra: dict[str, Resources] = {}
        for victim in sorted(victims, key=lambda v: (-v.requests.get("cpu", 0), -v.requests.get("memory", 0))):
            target = next((n for n in candidates if self._fits_with(victim, n, extra.get(n.name))), None)
            if target is None:
                return False
            added = extra.setdefault(target.name, {})
            for name, amount in victim.requests.items():
                added[name] = added.get(name, 0) + amount
        return True

    def _fits_with(self, pod: Pod, node: Node, added: Resources | None) -> bool:
        if placement.unfit_reasons(self.state, pod, node, check_resources=False):
            return False
        free = self.state.free(node.name)
        return all(amount <= free.get(r, 0) - (added or {}).get(r, 0) for r, amount in pod.requests.items() if amount)

    # -- acting --------------------------------------------------------------------------

    def _carry_out(self, pending: Pod, plan: Plan) -> tuple[int, bool]:
        """Evict the plan's pods; (how many were evicted, whether the plugin must stop)."""
        reason = f"makes room on {plan.node.name}"  # the report adds which pod it is for (unblocks)
        evicted = 0
        for victim in plan.victims:
            try:
                done = self.handle.evict(
                    victim,
                    reason=reason,
                    avoid_node=plan.node.name,
                    avoid_seconds=self.args.avoidance_seconds,
                    unblocks=pending.key,
                )
            except limits.TotalLimitError:
                return evicted, True
            except limits.LimitError:
                return evicted, False
            if not done:
                logger.info("%s: eviction of %s did not happen; the rest of its set is kept", pending.key, victim.key)
                return evicted, False
            evicted += 1
        self.state.reserve(pending.requests, plan.node.name)  # the room is the pending pod's now
        return evicted, False


def _shortfall(requests: Resources, free: Resources) -> Resources:
    return {name: amount - free.get(name, 0) for name, amount in requests.items() if amount > free.get(name, 0)}


def _shape(pod: Pod, state: ClusterState) -> tuple[object, ...]:
    """Pods with one controller, one size and one priority are interchangeable for planning."""
    controller = pod.controller
    owner = controller.uid if controller is not None else pod.uid
    return (owner, state.priority_of(pod), tuple(sorted(pod.requests.items())))


def why_not(pod: Pod, args: Args, handle: Handle, _nodes: Sequence[Node]) -> types.Refusal | None:
    return VirtualNodeFragmentation(args, handle).refusal(pod)


SPEC = PluginSpec(
    name=NAME,
    args_type=Args,
    factory=VirtualNodeFragmentation,
    why_not=why_not,
    extension_points=frozenset({"balance"}),
    validate=validate,
    description="Evicts the fewest, lowest-priority pods from one virtual node so a pod that fits nowhere fits there.",
)
