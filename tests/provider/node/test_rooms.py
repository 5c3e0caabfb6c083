"""NodeRooms: the room left on each lower node, every pod counted (mirrors included)."""

from __future__ import annotations

from typing import Any

from provider.node.rooms import NodeRooms


def node(name: str, *, cpu: str = "4", ready: bool = True, unschedulable: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "zone": "z1"}},
        "spec": {"unschedulable": unschedulable, "taints": [{"key": "gpu", "effect": "NoSchedule"}]},
        "status": {
            "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(name: str, node_name: str | None, cpu: str, *, phase: str = "Running", mirror: bool = False) -> dict[str, Any]:
    labels = {"tensile.io/virtual-node": "vk-a"} if mirror else {}
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}
    if node_name:
        spec["nodeName"] = node_name
    return {"metadata": {"name": name, "namespace": "shop", "labels": labels}, "spec": spec, "status": {"phase": phase}}


def free_cpu(rooms: NodeRooms) -> dict[str, int]:
    return {room.labels["kubernetes.io/hostname"]: room.free["cpu"] for room in rooms.rooms()}


def test_every_bound_live_pod_takes_room_mirrors_included() -> None:
    rooms = NodeRooms()
    rooms.upsert_node(node("n1"))
    rooms.upsert_node(node("n2"))
    rooms.upsert_pod(pod("a", "n1", "1"))
    rooms.upsert_pod(pod("mirror", "n1", "500m", mirror=True))
    rooms.upsert_pod(pod("pending", None, "2"))
    rooms.upsert_pod(pod("done", "n2", "3", phase="Succeeded"))
    assert free_cpu(rooms) == {"n1": 2500, "n2": 4000}
    (first, _second) = rooms.rooms()
    assert first.free["pods"] == 108 and first.labels["zone"] == "z1" and first.taints[0].key == "gpu"


def test_a_pod_moved_resized_or_deleted_gives_its_room_back() -> None:
    rooms = NodeRooms()
    rooms.upsert_node(node("n1"))
    rooms.upsert_pod(pod("a", "n1", "1"))
    rooms.upsert_pod(pod("a", "n1", "2"))
    assert free_cpu(rooms) == {"n1": 2000}
    rooms.delete_pod("shop", "a")
    assert free_cpu(rooms) == {"n1": 4000}
    rooms.delete_pod("shop", "never-seen")
    assert free_cpu(rooms) == {"n1": 4000}


def test_only_ready_schedulable_nodes_have_rooms_and_their_pods_wait_for_them() -> None:
    rooms = NodeRooms()
    rooms.upsert_node(node("n1", ready=False))
    rooms.upsert_node(node("n2", unschedulable=True))
    rooms.upsert_pod(pod("a", "n1", "1"))
    assert free_cpu(rooms) == {}
    rooms.upsert_node(node("n1"))
    assert free_cpu(rooms) == {"n1": 3000}, "a node that turns Ready brings its pods along"
    rooms.delete_node("n1")
    assert free_cpu(rooms) == {}


def test_usage_above_allocatable_reads_as_no_room() -> None:
    rooms = NodeRooms()
    rooms.upsert_node(node("n1", cpu="1"))
    rooms.upsert_pod(pod("a", "n1", "2"))
    assert free_cpu(rooms) == {"n1": 0}
