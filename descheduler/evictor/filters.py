"""The DefaultEvictor's protections as named, pure predicates: each returns why a pod must
not be evicted, or None. :mod:`descheduler.plugins.default_evictor` picks and orders them
from its arguments; upstream semantics are kubernetes-sigs/descheduler v0.36 ``defaultevictor``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import NamedTuple

from descheduler import keys, matching, placement
from descheduler.cluster.state import ClusterState
from descheduler.model import Namespace, Node, PersistentVolumeClaim, Pod, PodDisruptionBudget

SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
"""kube's system-cluster-critical value; pods at or above it are system critical."""

Check = Callable[[Pod], str | None]
PriorityOf = Callable[[Pod], int]


class Rule(NamedTuple):
    """One check and what put it there, for explain: ``path`` the argument relative to ``args`` ("" for a
    built-in protection) and ``setting`` its value in words (``false``, ``does not list DaemonSetPods``)."""

    path: str
    setting: str
    check: Check


# -- overrides -----------------------------------------------------------------------------


def evict_requested(pod: Pod) -> bool:
    """The ``descheduler.alpha.kubernetes.io/evict`` annotation lifts every filter() protection.

    Upstream checks it first, so it beats mirror, static, terminating and prefer-no-eviction
    too; the preEvictionFilter checks (nodeFit, namespaceLabelSelector) still apply.
    """
    return keys.EVICT_ANNOTATION in pod.annotations


def prefers_no_eviction(pod: Pod) -> str | None:
    """Used only with ``noEvictionPolicy: Mandatory``, where the annotation is binding."""
    if keys.PREFER_NO_EVICTION_ANNOTATION in pod.annotations:
        return f"pod has the {keys.PREFER_NO_EVICTION_ANNOTATION} annotation and noEvictionPolicy is Mandatory"
    return None


# -- always checked, the evict annotation still lifts them ---------------------------------


def mirror_pod(pod: Pod) -> str | None:
    return "pod is a mirror pod" if pod.is_mirror else None


def static_pod(pod: Pod) -> str | None:
    return "pod is a static pod" if pod.is_static else None


def terminating_pod(pod: Pod) -> str | None:
    return "pod is terminating" if pod.deleting else None


# -- default protections -------------------------------------------------------------------


def bare_pod(pod: Pod) -> str | None:
    """FailedBarePods protection on: nothing would recreate a pod without owners."""
    return "pod does not have any ownerReferences" if not pod.owners else None


def non_failed_bare_pod(pod: Pod) -> str | None:
    """FailedBarePods protection off: only bare pods that already failed may go."""
    if not pod.owners and pod.phase != "Failed":
        return "pod does not have any ownerReferences and is not in the Failed phase"
    return None


def daemonset_pod(pod: Pod) -> str | None:
    return "pod is owned by a DaemonSet" if pod.is_daemonset else None


def local_storage_pod(pod: Pod) -> str | None:
    return "pod has local storage (emptyDir or hostPath)" if pod.has_local_storage else None


def system_critical_pod(pod: Pod, *, priority_of: PriorityOf) -> str | None:
    priority = priority_of(pod)
    if priority >= SYSTEM_CRITICAL_PRIORITY:
        return f"pod has system critical priority {priority}"
    return None


def priority_at_or_above(pod: Pod, *, threshold: int, priority_of: PriorityOf) -> str | None:
    priority = priority_of(pod)
    if priority >= threshold:
        return f"pod priority {priority} is not below the priorityThreshold {threshold}"
    return None


# -- extra protections ---------------------------------------------------------------------


def pvc_pod(pod: Pod) -> str | None:
    return "pod uses a PersistentVolumeClaim" if pod.pvc_names else None


def storage_class_of(claim: PersistentVolumeClaim | None) -> str:
    """The claim's storage class, or "" when the claim is missing or names none."""
    return claim.storage_class if claim is not None else ""


def protected_storage_class_pod(
    pod: Pod, *, protected: Collection[str], pvcs: Mapping[str, PersistentVolumeClaim]
) -> str | None:
    """Like upstream, a claim that is missing or has no storage class protects the pod."""
    for claim_name in pod.pvc_names:
        storage_class = storage_class_of(pvcs.get(f"{pod.namespace}/{claim_name}"))
        if not storage_class:
            return f"storage class of PersistentVolumeClaim {claim_name!r} cannot be resolved"
        if storage_class in protected:
            return f"pod uses protected storage class {storage_class!r}"
    return None


def resource_claims_pod(pod: Pod) -> str | None:
    return "pod has ResourceClaims" if pod.resource_claims else None


def pod_without_pdb(pod: Pod, *, pdbs_by_namespace: Mapping[str, Sequence[PodDisruptionBudget]]) -> str | None:
    for pdb in pdbs_by_namespace.get(pod.namespace, ()):
        if matching.selector_matches(pdb.selector, pod.labels):
            return None
    return "pod is not covered by any PodDisruptionBudget"


# -- argument constraints ------------------------------------------------------------------


def labels_not_selected(pod: Pod, *, selector: matching.LabelSelector) -> str | None:
    if matching.selector_matches(selector, pod.labels):
        return None
    return "pod labels do not match the labelSelector"


def too_young(pod: Pod, *, min_age_seconds: float, now: float) -> str | None:
    """Age counts from status.startTime, as upstream; a pod that never started is too young."""
    if pod.start_time is None or now - pod.start_time < min_age_seconds:
        return f"pod is younger than minPodAge ({min_age_seconds:g}s)"
    return None


def too_few_replicas(pod: Pod, *, min_replicas: int, count_pods_of_owner: Callable[[str, int], int]) -> str | None:
    """``count_pods_of_owner(uid, cap)`` may stop counting at ``cap``.

    Like upstream, pods with no owner or with several owners are not checked.
    """
    if len(pod.owners) != 1:
        return None
    count = count_pods_of_owner(pod.owners[0].uid, min_replicas)
    if count < min_replicas:
        return f"owner has {count} pods, fewer than minReplicas {min_replicas}"
    return None


def namespace_not_selected(
    pod: Pod, *, selector: matching.LabelSelector, namespaces: Mapping[str, Namespace]
) -> str | None:
    """An unknown namespace does not match, so its pods stay."""
    namespace = namespaces.get(pod.namespace)
    if namespace is not None and matching.selector_matches(selector, namespace.labels):
        return None
    return f"namespace {pod.namespace!r} does not match the namespaceLabelSelector"


def fits_no_other_node(
    pod: Pod, *, state: ClusterState, nodes: Sequence[Node], last_fit: dict[str, str] | None = None
) -> str | None:
    """nodeFit: some other node must pass the scheduler's filters (see :mod:`descheduler.placement`).

    ``last_fit`` remembers, per controlling owner, the node that fitted last time: replicas
    share their spec, so that node is tried first and the scan over all nodes is rare.
    """
    owner = pod.controller
    key = owner.uid if owner is not None else ""
    if last_fit is not None and key:
        hint = state.nodes.get(last_fit.get(key, ""))
        if hint is not None and hint.name != pod.node_name and placement.fits(state, pod, hint):
            return None
    for node in nodes:
        if node.name != pod.node_name and placement.fits(state, pod, node):
            if last_fit is not None and key:
                last_fit[key] = node.name
            return None
    return f"pod does not fit on any other of {len(nodes)} ready nodes"


def first_reason(pod: Pod, checks: Sequence[Check]) -> str | None:
    for check in checks:
        reason = check(pod)
        if reason is not None:
            return reason
    return None
