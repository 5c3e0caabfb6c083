"""What the lower pod cache keeps: mirrors of our upper cluster whole, the rest slim and still right."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from descheduler import keys, model
from provider.kube.lower_pods import SlimLowerPods
from provider.node import capacity, rooms
from provider.pods import mirror

MIRROR_LABELS = {keys.UPPER_CLUSTER_LABEL: "up", keys.VIRTUAL_NODE_LABEL: "vk-a", "app": "web"}


def pod(name: str, *, labels: dict[str, str] | None = None, node: str = "n1", phase: str = "Running") -> dict[str, Any]:
    sidecar = {"name": "proxy", "image": "p:1", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "resourceVersion": "7",
            "labels": labels or {"app": "web"},
            "annotations": {"note": "x" * 100},
            "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}],
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {"name": "app", "image": "a:1", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}
            ],
            "initContainers": [sidecar],
            "overhead": {"cpu": "10m"},
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
        "status": {"phase": phase, "podIP": "10.0.0.9", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_mirrors_of_our_upper_cluster_are_kept_whole() -> None:
    for labels in (MIRROR_LABELS, {**MIRROR_LABELS, keys.VIRTUAL_NODE_LABEL: "vk-b"}):
        whole = pod("m", labels=labels)
        assert SlimLowerPods("up").keep(copy.deepcopy(whole)) == whole


def test_other_pods_keep_what_capacity_and_rooms_read() -> None:
    whole = pod("p")
    slim = SlimLowerPods("up").from_item(memoryview(orjson.dumps(whole)))
    assert slim["metadata"] == {"name": "p", "namespace": "ns", "uid": "uid-p", "resourceVersion": "7"}
    assert slim["status"] == {"phase": "Running"}
    assert model.pod_requests(slim["spec"]) == model.pod_requests(whole["spec"])
    for source in (whole, slim):
        counted, fitted = capacity.Capacity(is_own_mirror=lambda _p: False), rooms.NodeRooms()
        counted.upsert_node({"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "1"}, "conditions": [
            {"type": "Ready", "status": "True"}]}})  # fmt: skip
        counted.upsert_pod(source)
        fitted.upsert_pod(source)
        assert counted.allocatable()["cpu"] == "840m"


def test_another_upper_clusters_mirror_stays_not_ours() -> None:
    theirs = pod("t", labels={**MIRROR_LABELS, keys.UPPER_CLUSTER_LABEL: "other"})
    slim = SlimLowerPods("up").keep(theirs)
    assert slim["metadata"]["labels"] == {keys.UPPER_CLUSTER_LABEL: "other", keys.VIRTUAL_NODE_LABEL: "vk-a"}
    assert not mirror.is_own_mirror(slim, upper_cluster="up", virtual_node="vk-a")
    assert isinstance(mirror.plan(None, slim, upper_cluster="up", virtual_node="vk-a"), mirror.Nothing)


def test_pods_requesting_the_same_share_one_resource_shape() -> None:
    pods = SlimLowerPods("up")
    first, second = pods.keep(pod("a", node="n1")), pods.keep(pod("b", node="n2", phase="Pending"))
    assert first["spec"]["containers"] is second["spec"]["containers"]
    assert (first["spec"]["nodeName"], second["spec"]["nodeName"]) == ("n1", "n2")
    assert second["status"] == {"phase": "Pending"}


def test_an_unbound_pod_has_no_node_and_a_pod_without_phase_no_status() -> None:
    unbound = pod("u")
    unbound["spec"].pop("nodeName")
    unbound.pop("status")
    slim = SlimLowerPods("up").keep(unbound)
    assert "nodeName" not in slim["spec"] and "status" not in slim
