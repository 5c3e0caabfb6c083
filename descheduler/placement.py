"""Would a pod fit on a node? Upstream's ``nodeutil.NodeFit`` (v0.36 pkg/descheduler/node/node.go) on ClusterState.

NodeFit's checks, in its order: the node is not cordoned (``spec.unschedulable``, whatever the
pod tolerates); nodeSelector and required node affinity; NoSchedule and NoExecute taints; the
pod's own required anti-affinity terms against the pods on that one node; and resource requests,
a free pod slot included, except on the node the pod is bound to. Upstream's callers give NodeFit
only ready nodes (``ReadyNodes``); tensile's pass whole node lists, so readiness is checked here.

Used by the evictor's nodeFit check, by the dry-run accounting of replacement pods and by
strategies that plan where evicted or pending pods can go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from descheduler import matching, quantity
from descheduler.cluster.state import ClusterState
from descheduler.model import Node, Pod

ANTI_AFFINITY_REASON = "pod matches inter-pod anti-affinity rule of other pod on node"


def required_anti_affinity_terms(pod: Pod) -> Sequence[Mapping[str, Any]]:
    """``utils.GetPodAntiAffinityTerms``: the required terms only (preferred ones never block)."""
    anti = (pod.affinity or {}).get("podAntiAffinity")
    return (anti or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or ()


def anti_affinity_conflict(state: ClusterState, pod: Pod, node: Node, terms: Sequence[Mapping[str, Any]]) -> bool:
    """``podMatchesInterPodAntiAffinity``, plus the error NodeFit fails on.

    Only the candidate's terms count, only against the pods on this node (not the rest of the
    topology domain: the key just has to be on the node), in the term's namespaces or else the
    pod's own (namespaceSelector is not read), skipping any pod with the candidate's name. A term
    whose selector does not convert makes NodeFit return an error, so the pod fits nowhere.
    """
    if not all(matching.label_selector_valid(term.get("labelSelector")) for term in terms):
        return True
    for term in terms:
        selector = term.get("labelSelector")
        if selector is None or term.get("topologyKey") not in node.labels:
            continue
        for namespace in dict.fromkeys(term.get("namespaces") or (pod.namespace,)):
            for other in state.resident_pods(node.name, namespace):
                if other.name != pod.name and matching.selector_matches(selector, other.labels):
                    return True
    return False


def _checks_resources(pod: Pod, node: Node, as_replacement: bool) -> bool:
    """NodeFit leaves out requests on the pod's own node; a replacement is a new pod, bound nowhere."""
    return as_replacement or pod.node_name != node.name


def unfit_reasons(
    state: ClusterState, pod: Pod, node: Node, *, check_resources: bool = True, as_replacement: bool = False
) -> list[str]:
    """Why ``pod`` cannot be scheduled on ``node`` (empty when it fits), in NodeFit's order.

    ``check_resources=False`` asks about everything but room; ``as_replacement`` judges the pod as
    a new one (bound nowhere), so requests are checked on its current node too.
    """
    reasons: list[str] = []
    if not node.ready:
        reasons.append("node is not ready")
    if node.unschedulable:
        reasons.append("node is unschedulable")
    if not matching.pod_matches_node_selector(pod, node):
        reasons.append("node does not match the pod's node selector or required affinity")
    taints = matching.untolerated_taints(pod, node, ("NoSchedule", "NoExecute"))
    if taints:
        reasons.append("untolerated taint " + ", ".join(f"{t.key}={t.value}:{t.effect}" for t in taints))
    terms = required_anti_affinity_terms(pod)
    if terms and anti_affinity_conflict(state, pod, node, terms):
        reasons.append(ANTI_AFFINITY_REASON)
    if check_resources and _checks_resources(pod, node, as_replacement):
        short = state.insufficient(node.name, pod.requests)
        if short:
            reasons.append("insufficient " + ", ".join(short))
    return reasons


def fits(state: ClusterState, pod: Pod, node: Node, *, as_replacement: bool = False) -> bool:
    """Same verdict as ``not unfit_reasons(...)``, cheapest checks first and no reason strings.

    Pods without required anti-affinity terms pay one dict lookup for that check.
    """
    if not node.ready or node.unschedulable:
        return False
    if node.taints and matching.untolerated_taints(pod, node, ("NoSchedule", "NoExecute")):
        return False
    if pod.node_selector or pod.affinity:
        if not matching.pod_matches_node_selector(pod, node):
            return False
        terms = required_anti_affinity_terms(pod)
        if terms and anti_affinity_conflict(state, pod, node, terms):
            return False
    return not _checks_resources(pod, node, as_replacement) or state.has_room(node.name, pod.requests)


def fitting_nodes(state: ClusterState, pod: Pod, nodes: Iterable[Node], *, exclude: Iterable[str] = ()) -> list[Node]:
    skip = set(exclude)
    return [n for n in nodes if n.name not in skip and fits(state, pod, n)]


def most_free_first(state: ClusterState) -> list[Node]:
    """Ready nodes ordered by free CPU, most first: the order LeastAllocated scoring prefers."""
    nodes = [n for n in state.nodes.values() if n.ready and not n.unschedulable]
    return sorted(nodes, key=lambda n: (-state.free(n.name).get(quantity.CPU, 0), n.name))


def first_fit(
    state: ClusterState, pod: Pod, order: Iterable[Node], *, exclude: Iterable[str] = (), max_checks: int = 64
) -> Node | None:
    """The first node of ``order`` a replacement of ``pod`` fits on, checking at most ``max_checks`` nodes.

    Used to predict where a replacement pod lands: an approximation of the scheduler that
    stays cheap when thousands of evictions are planned over thousands of nodes. The
    replacement is a new pod, so room is checked on the evicted pod's old node as well.
    """
    skip = set(exclude)
    checked = 0
    for node in order:
        if node.name in skip:
            continue
        if fits(state, pod, node, as_replacement=True):
            return node
        checked += 1
        if checked >= max_checks:
            return None
    return None
