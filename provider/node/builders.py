"""Pure builders for the virtual Node, its conditions and its Lease (DESIGN.md §3).

The reconcile loop's heartbeat calls these with the current capacity and the lower API
server's reachability, then writes the results; nothing here reads a clock or the network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from descheduler import keys
from provider import config

Raw = dict[str, Any]


OPERATING_SYSTEM = "linux"
ARCHITECTURE = "amd64"
LEASE_NAMESPACE = "kube-node-lease"

_READY = "Ready"
# (type, reason, message) of the conditions that are always False: the lower cluster's
# nodes report their own pressure; a virtual node has none of its own.
_QUIET_CONDITIONS = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("NetworkUnavailable", "RouteCreated", "the lower cluster provides pod networking"),
)
_OWN_TYPES = frozenset({_READY, *(t for t, _, _ in _QUIET_CONDITIONS)})


DECLARED_FEATURES = ("ExtendWebSocketsToKubelet",)
"""What the virtual node's kubelet API can do beyond the base: kube-apiserver (1.36+) reads
``status.declaredFeatures`` and passes kubectl's exec/attach/port-forward WebSockets through
unchanged instead of translating them to SPDY (sorted, UpperCamel names, as the API validates)."""


def declared_features(cfg: config.ProviderConfig) -> list[str]:
    """What the node declares: nothing with ``--streaming spdy`` (the API server then always translates)."""
    return [] if cfg.streaming == "spdy" else list(DECLARED_FEATURES)


def build_node(
    cfg: config.ProviderConfig,
    *,
    allocatable: Mapping[str, str],
    kubelet_version: str,
    lower_reachable: bool,
    now: str,
    previous_conditions: list[Raw] | None = None,
) -> Raw:
    """The full v1 Node body the provider creates (or replaces) in the upper cluster."""
    spec: Raw = {}
    if cfg.taint_enabled:
        spec["taints"] = [
            {"key": keys.VIRTUAL_NODE_TAINT_KEY, "value": keys.VIRTUAL_NODE_TAINT_VALUE, "effect": "NoSchedule"}
        ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": cfg.node_name, "labels": _labels(cfg)},
        "spec": spec,
        "status": {
            "capacity": dict(allocatable),
            "allocatable": dict(allocatable),
            "conditions": node_conditions(lower_reachable=lower_reachable, now=now, previous=previous_conditions),
            # Only the InternalIP: the API server prefers a Hostname address when there is one,
            # and the virtual node's name resolves nowhere.
            "addresses": [{"type": "InternalIP", "address": cfg.kubelet_address}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.kubelet_port}},
            "declaredFeatures": declared_features(cfg),
            "nodeInfo": {
                "kubeletVersion": kubelet_version,
                "operatingSystem": OPERATING_SYSTEM,
                "architecture": ARCHITECTURE,
            },
        },
    }


def _labels(cfg: config.ProviderConfig) -> dict[str, str]:
    return {
        keys.VIRTUAL_NODE_TYPE_LABEL: keys.VIRTUAL_NODE_TYPE_VALUE,
        keys.ROLE_LABEL: keys.ROLE_VALUE,
        keys.HOSTNAME_LABEL: cfg.node_name,
        keys.OS_LABEL: OPERATING_SYSTEM,
        keys.ARCH_LABEL: ARCHITECTURE,
        keys.LOWER_CLUSTER_LABEL: cfg.lower_cluster,
    }


def node_conditions(*, lower_reachable: bool, now: str, previous: list[Raw] | None) -> list[Raw]:
    """Ready plus the pressure conditions; a transition time moves only when the status changes."""
    before = {c.get("type"): c for c in previous or ()}
    if lower_reachable:
        ready = (_READY, "True", "KubeletReady", "kubelet is posting ready status")
    else:
        # False rather than Unknown: the provider is alive and knows the lower API server is
        # unreachable, as a kubelet reports NotReady when its container runtime is down.
        ready = (_READY, "False", "LowerClusterUnreachable", "the lower cluster's API server is unreachable")
    wanted = [ready, *((t, "False", reason, message) for t, reason, message in _QUIET_CONDITIONS)]
    return [_condition(t, status, reason, text, now=now, before=before.get(t)) for t, status, reason, text in wanted]


def _condition(type_: str, status: str, reason: str, message: str, *, now: str, before: Raw | None) -> Raw:
    transition = now
    if before is not None and before.get("status") == status and before.get("lastTransitionTime"):
        transition = before["lastTransitionTime"]
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": transition,
    }


def node_status_patch(
    node: Mapping[str, Any],
    *,
    allocatable: Mapping[str, str],
    lower_reachable: bool,
    now: str,
    features: Sequence[str] = DECLARED_FEATURES,
) -> Raw:
    """Merge patch for the Node's status subresource: capacity, allocatable and conditions.

    A merge patch merges maps but replaces lists, so resources that disappeared are set to
    null explicitly, and conditions written by others (node-problem-detector and the like)
    are carried over instead of being dropped.
    """
    status = node.get("status") or {}
    previous: list[Raw] = list(status.get("conditions") or ())
    conditions = node_conditions(lower_reachable=lower_reachable, now=now, previous=previous)
    conditions += [c for c in previous if c.get("type") not in _OWN_TYPES]
    return {
        "status": {
            "capacity": _resources_patch(status.get("capacity"), allocatable),
            "allocatable": _resources_patch(status.get("allocatable"), allocatable),
            "conditions": conditions,
            "declaredFeatures": list(features),
        }
    }


def _resources_patch(current: Mapping[str, str] | None, wanted: Mapping[str, str]) -> dict[str, str | None]:
    patch: dict[str, str | None] = {name: None for name in current or () if name not in wanted}
    patch.update(wanted)
    return patch


def build_lease(node_name: str, *, node_uid: str, now_micro: str, duration_seconds: int) -> Raw:
    """The node's Lease in kube-node-lease, owned by the Node as a kubelet's is (so it goes with it)."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}],
        },
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": duration_seconds,
            "renewTime": now_micro,
        },
    }
