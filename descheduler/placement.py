"""Would a pod fit on a node? The scheduler's main filters, evaluated on ClusterState.

Used by the evictor's nodeFit check, by the dry-run accounting of replacement pods and by
strategies that plan where evicted or pending pods can go.
"""

from __future__ import annotations

from collections.abc import Iterable

from descheduler import matching, quantity
from descheduler.cluster.state import ClusterState
from descheduler.model import Node, Pod, Taint

_UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")


def unfit_reasons(state: ClusterState, pod: Pod, node: Node, *, check_resources: bool = True) -> list[str]:
    """Why ``pod`` cannot be scheduled on ``node`` (empty when it fits)."""
    reasons: list[str] = []
    if not node.ready:
        reasons.append("node is not ready")
    if node.unschedulable and not any(matching.toleration_tolerates(t, _UNSCHEDULABLE_TAINT) for t in pod.tolerations):
        reasons.append("node is unschedulable")
    if not matching.pod_matches_node_selector(pod, node):
        reasons.append("node does not match the pod's node selector or required affinity")
    taints = matching.untolerated_taints(pod, node, ("NoSchedule", "NoExecute"))
    if taints:
        reasons.append("untolerated taint " + ", ".join(f"{t.key}={t.value}:{t.effect}" for t in taints))
    if check_resources:
        short = state.insufficient(node.name, pod.requests)
        if short:
            reasons.append("insufficient " + ", ".join(short))
    return reasons


def fits(state: ClusterState, pod: Pod, node: Node) -> bool:
    """Same verdict as ``not unfit_reasons(...)``, cheapest checks first and no reason strings."""
    if not node.ready:
        return False
    if node.unschedulable and not any(matching.toleration_tolerates(t, _UNSCHEDULABLE_TAINT) for t in pod.tolerations):
        return False
    if node.taints and matching.untolerated_taints(pod, node, ("NoSchedule", "NoExecute")):
        return False
    if (pod.node_selector or pod.affinity) and not matching.pod_matches_node_selector(pod, node):
        return False
    return not state.insufficient(node.name, pod.requests)


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
    """The first node of ``order`` the pod fits on, checking at most ``max_checks`` nodes.

    Used to predict where a replacement pod lands: an approximation of the scheduler that
    stays cheap when thousands of evictions are planned over thousands of nodes.
    """
    skip = set(exclude)
    checked = 0
    for node in order:
        if node.name in skip:
            continue
        if fits(state, pod, node):
            return node
        checked += 1
        if checked >= max_checks:
            return None
    return None
