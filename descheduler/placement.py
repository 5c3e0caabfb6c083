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
        short = matching.insufficient_resources(pod.requests, state.free(node.name))
        if short:
            reasons.append("insufficient " + ", ".join(short))
    return reasons


def fits(state: ClusterState, pod: Pod, node: Node) -> bool:
    return not unfit_reasons(state, pod, node)


def fitting_nodes(state: ClusterState, pod: Pod, nodes: Iterable[Node], *, exclude: Iterable[str] = ()) -> list[Node]:
    skip = set(exclude)
    return [n for n in nodes if n.name not in skip and fits(state, pod, n)]


def best_node(state: ClusterState, pod: Pod, *, exclude: Iterable[str] = ()) -> Node | None:
    """The fitting node with the most free CPU, as the default LeastAllocated scoring prefers."""
    candidates = fitting_nodes(state, pod, state.nodes.values(), exclude=exclude)
    if not candidates:
        return None
    return max(candidates, key=lambda n: (state.free(n.name).get(quantity.CPU, 0), n.name))
