from __future__ import annotations

from typing import Any

import pytest

from descheduler import keys
from provider import config
from provider.node import builders as node

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:00:10Z"
ALLOCATABLE = {"cpu": "11500m", "memory": "8589934592", "pods": "300"}


def cfg(**overrides: Any) -> config.ProviderConfig:
    settings: dict[str, Any] = {"lower_kubeconfig": "lower.yaml", "node_name": "vk-a", **overrides}
    return config.ProviderConfig(**settings)


def build(settings: config.ProviderConfig | None = None, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "allocatable": ALLOCATABLE,
        "kubelet_version": "v1.31.0",
        "lower_reachable": True,
        "now": T0,
    }
    args.update(kw)
    return node.build_node(settings or cfg(), **args)


def by_type(conditions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in conditions}


def test_node_carries_the_contract_labels() -> None:
    body = build(cfg(lower_cluster="dc-2"))
    assert body["apiVersion"] == "v1" and body["kind"] == "Node"
    assert body["metadata"]["name"] == "vk-a"
    assert body["metadata"]["labels"] == {
        "type": "virtual-kubelet",
        "kubernetes.io/role": "agent",
        "kubernetes.io/hostname": "vk-a",
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        keys.LOWER_CLUSTER_LABEL: "dc-2",
    }


@pytest.mark.parametrize(
    ("enabled", "taints"),
    [
        (True, [{"key": "virtual-kubelet.io/provider", "value": "tensile", "effect": "NoSchedule"}]),
        (False, None),
    ],
    ids=["taint enabled -> NoSchedule provider taint", "taint disabled -> no taints"],
)
def test_taint_is_switchable(enabled: bool, taints: list[dict[str, str]] | None) -> None:
    assert build(cfg(taint_enabled=enabled))["spec"].get("taints") == taints


def test_status_advertises_capacity_addresses_endpoint_and_version() -> None:
    status = build(cfg(kubelet_address="10.0.0.7", kubelet_port=10443))["status"]
    assert status["capacity"] == ALLOCATABLE and status["allocatable"] == ALLOCATABLE
    assert status["capacity"] is not ALLOCATABLE  # a copy, so later patches cannot alias the caller's dict
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.0.0.7"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10443}}
    assert status["nodeInfo"] == {"kubeletVersion": "v1.31.0", "operatingSystem": "linux", "architecture": "amd64"}


def test_built_node_reports_ready_when_lower_is_reachable() -> None:
    ready = by_type(build()["status"]["conditions"])["Ready"]
    assert (ready["status"], ready["reason"], ready["lastHeartbeatTime"]) == ("True", "KubeletReady", T0)


@pytest.mark.parametrize(
    ("reachable", "status", "reason"),
    [(True, "True", "KubeletReady"), (False, "False", "LowerClusterUnreachable")],
    ids=["lower reachable -> Ready True", "lower unreachable -> Ready False LowerClusterUnreachable"],
)
def test_ready_tells_whether_the_lower_cluster_is_reachable(reachable: bool, status: str, reason: str) -> None:
    ready = by_type(node.node_conditions(lower_reachable=reachable, now=T0, previous=None))["Ready"]
    assert (ready["status"], ready["reason"]) == (status, reason)
    if not reachable:
        assert "unreachable" in ready["message"]


def test_pressure_conditions_are_false_either_way() -> None:
    for reachable in (True, False):
        conditions = by_type(node.node_conditions(lower_reachable=reachable, now=T0, previous=None))
        assert set(conditions) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"}
        assert all(c["status"] == "False" for t, c in conditions.items() if t != "Ready")


def test_transition_time_is_kept_while_the_status_holds() -> None:
    first = node.node_conditions(lower_reachable=True, now=T0, previous=None)
    second = by_type(node.node_conditions(lower_reachable=True, now=T1, previous=first))
    assert second["Ready"]["lastTransitionTime"] == T0
    assert second["Ready"]["lastHeartbeatTime"] == T1
    assert second["DiskPressure"]["lastTransitionTime"] == T0


def test_transition_time_moves_when_ready_flips() -> None:
    first = node.node_conditions(lower_reachable=True, now=T0, previous=None)
    second = by_type(node.node_conditions(lower_reachable=False, now=T1, previous=first))
    assert second["Ready"]["lastTransitionTime"] == T1
    assert second["MemoryPressure"]["lastTransitionTime"] == T0


def test_ready_after_unknown_set_by_the_node_controller_is_a_transition() -> None:
    previous = [{"type": "Ready", "status": "Unknown", "lastTransitionTime": T0, "reason": "NodeStatusUnknown"}]
    ready = by_type(node.node_conditions(lower_reachable=True, now=T1, previous=previous))["Ready"]
    assert ready["lastTransitionTime"] == T1


def test_build_node_uses_previous_conditions() -> None:
    previous = node.node_conditions(lower_reachable=False, now=T0, previous=None)
    ready = by_type(build(lower_reachable=False, now=T1, previous_conditions=previous)["status"]["conditions"])["Ready"]
    assert ready["lastTransitionTime"] == T0


def test_status_patch_sets_capacity_conditions_and_nulls_vanished_resources() -> None:
    current = build(allocatable={"cpu": "4000m", "memory": "100", "pods": "10", "nvidia.com/gpu": "2"})
    patch = node.node_status_patch(current, allocatable=ALLOCATABLE, lower_reachable=True, now=T1)
    assert set(patch) == {"status"}
    assert patch["status"]["capacity"] == {**ALLOCATABLE, "nvidia.com/gpu": None}
    assert patch["status"]["allocatable"] == {**ALLOCATABLE, "nvidia.com/gpu": None}
    ready = by_type(patch["status"]["conditions"])["Ready"]
    assert (ready["lastHeartbeatTime"], ready["lastTransitionTime"]) == (T1, T0)


def test_status_patch_keeps_conditions_written_by_others() -> None:
    current = build()
    foreign = {"type": "KernelDeadlock", "status": "False", "lastTransitionTime": T0}
    current["status"]["conditions"].append(foreign)
    patch = node.node_status_patch(current, allocatable=ALLOCATABLE, lower_reachable=False, now=T1)
    conditions = patch["status"]["conditions"]
    assert foreign in conditions
    assert [c["type"] for c in conditions].count("Ready") == 1


def test_status_patch_of_a_node_without_status_has_no_nulls() -> None:
    patch = node.node_status_patch(
        {"metadata": {"name": "vk-a"}}, allocatable=ALLOCATABLE, lower_reachable=True, now=T0
    )
    assert patch["status"]["allocatable"] == ALLOCATABLE


def test_lease_is_held_by_the_node_and_owned_by_it() -> None:
    lease = node.build_lease("vk-a", node_uid="uid-1", now_micro="2024-05-01T10:00:00.123456Z", duration_seconds=40)
    assert lease["apiVersion"] == "coordination.k8s.io/v1" and lease["kind"] == "Lease"
    assert lease["metadata"]["name"] == "vk-a"
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "vk-a", "uid": "uid-1"}
    ]
    assert lease["spec"] == {
        "holderIdentity": "vk-a",
        "leaseDurationSeconds": 40,
        "renewTime": "2024-05-01T10:00:00.123456Z",
    }
