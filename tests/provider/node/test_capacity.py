from __future__ import annotations

import functools
import random
from typing import Any

import pytest

from descheduler import keys, model
from provider.node import capacity
from provider.pods import mirror

GI = 2**30
EMPTY = {"cpu": "0m", "ephemeral-storage": "0", "memory": "0", "pods": "0"}
is_own = functools.partial(mirror.is_own_mirror, upper_cluster="up", virtual_node="vk-a")


def lower_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    ready: str | None = "True",
    unschedulable: bool = False,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {
        "metadata": {"name": name},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})},
            "conditions": conditions,
        },
    }


def lower_pod(
    name: str,
    *,
    node: str | None = "n1",
    cpu: str = "1",
    memory: str = "1Gi",
    phase: str = "Running",
    owner: tuple[str, str] | None = None,
    extra: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    labels = {keys.UPPER_CLUSTER_LABEL: owner[0], keys.VIRTUAL_NODE_LABEL: owner[1]} if owner else {}
    container = {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory, **(extra or {})}}}
    body_spec: dict[str, Any] = {"containers": [container], **spec}
    if node:
        body_spec["nodeName"] = node
    return {
        "metadata": {"namespace": "default", "name": name, "labels": labels},
        "spec": body_spec,
        "status": {"phase": phase},
    }


def cap(*events: dict[str, Any]) -> capacity.Capacity:
    """A Capacity fed with nodes (no 'spec.containers') and pods, in order."""
    c = capacity.Capacity(is_own_mirror=is_own)
    for raw in events:
        if "containers" in raw.get("spec", {}):
            c.upsert_pod(raw)
        else:
            c.upsert_node(raw)
    return c


def free(c: capacity.Capacity, name: str) -> str:
    return c.allocatable()[name]


def test_no_nodes_advertises_zero_core_resources() -> None:
    assert cap().allocatable() == EMPTY


def test_ready_schedulable_nodes_are_summed_as_quantities() -> None:
    c = cap(lower_node("n1", cpu="4"), lower_node("n2", cpu="7500m", extra={"ephemeral-storage": "1Gi"}))
    assert c.allocatable() == {"cpu": "11500m", "ephemeral-storage": str(GI), "memory": str(16 * GI), "pods": "220"}


@pytest.mark.parametrize(
    ("node", "counted"),
    [
        (lower_node("n1"), True),
        (lower_node("n1", unschedulable=True), False),
        (lower_node("n1", ready="False"), False),
        (lower_node("n1", ready="Unknown"), False),
        (lower_node("n1", ready=None), False),
    ],
    ids=[
        "ready -> counted",
        "cordoned -> not counted",
        "NotReady -> not counted",
        "Unknown -> not counted",
        "no Ready condition -> not counted",
    ],
)
def test_only_ready_schedulable_nodes_count(node: dict[str, Any], counted: bool) -> None:
    assert free(cap(node), "cpu") == ("4000m" if counted else "0m")


def test_requests_of_bound_pods_are_subtracted_including_a_pod_slot() -> None:
    c = cap(lower_node("n1"), lower_pod("p1", cpu="1500m", memory="1Gi"))
    assert c.allocatable() == {"cpu": "2500m", "ephemeral-storage": "0", "memory": str(7 * GI), "pods": "109"}


def test_init_containers_and_overhead_count_as_the_scheduler_counts_them() -> None:
    init = [{"name": "init", "resources": {"requests": {"cpu": "3"}}}]
    c = cap(lower_node("n1"), lower_pod("p1", cpu="1", initContainers=init, overhead={"cpu": "250m"}))
    assert free(c, "cpu") == "750m"  # 4 - (max(3, 1) + 0.25)


def test_unbound_pods_take_nothing() -> None:
    assert free(cap(lower_node("n1"), lower_pod("p1", node=None)), "cpu") == "4000m"


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"], ids=["Succeeded -> freed", "Failed -> freed"])
def test_finished_pods_free_their_requests(phase: str) -> None:
    c = cap(lower_node("n1"), lower_pod("p1", cpu="2"))
    assert c.upsert_pod(lower_pod("p1", cpu="2", phase=phase)) is True
    assert free(c, "cpu") == "4000m"


@pytest.mark.parametrize(
    ("owner", "used"),
    [
        (("up", "vk-a"), False),
        (("up", "vk-b"), True),
        (("other-upper", "vk-a"), True),
        (None, True),
    ],
    ids=[
        "own mirror -> not subtracted (upper already counts it)",
        "mirror of another virtual node -> subtracted",
        "mirror of another upper cluster -> subtracted",
        "plain lower pod -> subtracted",
    ],
)
def test_only_this_virtual_nodes_own_mirrors_are_free(owner: tuple[str, str] | None, used: bool) -> None:
    c = cap(lower_node("n1"), lower_pod("p1", cpu="1", owner=owner))
    assert free(c, "cpu") == ("3000m" if used else "4000m")


def test_terminating_pods_still_take_capacity() -> None:
    pod = lower_pod("p1", cpu="1")
    pod["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    assert free(cap(lower_node("n1"), pod), "cpu") == "3000m"


def test_deleted_pod_frees_its_requests() -> None:
    c = cap(lower_node("n1"), lower_pod("p1", cpu="1"))
    assert c.delete_pod("default", "p1") is True
    assert free(c, "cpu") == "4000m"


def test_pod_moving_to_a_not_counted_node_frees_the_counted_one() -> None:
    c = cap(lower_node("n1"), lower_node("n2", ready="False"), lower_pod("p1", cpu="1", node="n1"))
    assert c.upsert_pod(lower_pod("p1", cpu="1", node="n2")) is True
    assert free(c, "cpu") == "4000m"
    assert c.upsert_node(lower_node("n2")) is True
    assert free(c, "cpu") == "7000m"


def test_pod_bound_to_a_not_counted_node_changes_nothing() -> None:
    c = cap(lower_node("n1"), lower_node("n2", unschedulable=True))
    assert c.upsert_pod(lower_pod("p1", node="n2", cpu="1")) is False
    assert free(c, "cpu") == "4000m"


def test_pod_seen_before_its_node_is_counted_when_the_node_arrives() -> None:
    c = cap(lower_pod("p1", node="n1", cpu="1"))
    assert c.allocatable() == EMPTY
    c.upsert_node(lower_node("n1"))
    assert free(c, "cpu") == "3000m"


def test_cordon_removes_node_and_its_pods_and_uncordon_restores_both() -> None:
    c = cap(lower_node("n1"), lower_node("n2"), lower_pod("p1", node="n2", cpu="1"))
    assert free(c, "cpu") == "7000m"
    assert c.upsert_node(lower_node("n2", unschedulable=True)) is True
    assert (free(c, "cpu"), free(c, "pods")) == ("4000m", "110")
    assert c.upsert_node(lower_node("n2")) is True
    assert (free(c, "cpu"), free(c, "pods")) == ("7000m", "219")


def test_node_leaving_takes_its_allocatable_and_its_pods_usage() -> None:
    c = cap(lower_node("n1"), lower_node("n2"), lower_pod("p1", node="n2", cpu="3"))
    assert c.delete_node("n2") is True
    assert free(c, "cpu") == "4000m"
    assert c.delete_pod("default", "p1") is False  # its node no longer counts
    assert free(c, "cpu") == "4000m"


def test_node_allocatable_change_is_applied() -> None:
    c = cap(lower_node("n1", cpu="4"))
    assert c.upsert_node(lower_node("n1", cpu="8")) is True
    assert free(c, "cpu") == "8000m"


def test_resize_changes_usage() -> None:
    c = cap(lower_node("n1"), lower_pod("p1", cpu="1"))
    assert c.upsert_pod(lower_pod("p1", cpu="2")) is True
    assert free(c, "cpu") == "2000m"


def test_free_capacity_never_goes_negative() -> None:
    c = cap(lower_node("n1", cpu="1"), lower_pod("p1", cpu="3"), lower_pod("p2", cpu="2"))
    assert free(c, "cpu") == "0m"
    c.delete_pod("default", "p1")
    assert free(c, "cpu") == "0m"  # still 1 - 2 < 0
    c.delete_pod("default", "p2")
    assert free(c, "cpu") == "1000m"


def test_extended_resources_appear_while_offered() -> None:
    c = cap(lower_node("n1", extra={"nvidia.com/gpu": "2"}), lower_pod("p1", extra={"nvidia.com/gpu": "1"}))
    assert free(c, "nvidia.com/gpu") == "1"
    c.delete_node("n1")
    assert "nvidia.com/gpu" not in c.allocatable()


@pytest.mark.parametrize(
    "event",
    [
        "same node again",
        "pod status-only update",
        "unknown pod deleted",
        "unknown node deleted",
        "not-counted node deleted",
    ],
    ids=lambda event: f"{event} -> no change",
)
def test_events_that_move_nothing_report_no_change(event: str) -> None:
    c = cap(lower_node("n1"), lower_node("n2", ready="False"), lower_pod("p1", cpu="1"))
    before = c.allocatable()
    changed = {
        "same node again": lambda: c.upsert_node(lower_node("n1")),
        "pod status-only update": lambda: c.upsert_pod(
            {**lower_pod("p1", cpu="1"), "status": {"phase": "Running", "podIP": "1.2.3.4"}}
        ),
        "unknown pod deleted": lambda: c.delete_pod("default", "nope"),
        "unknown node deleted": lambda: c.delete_node("nope"),
        "not-counted node deleted": lambda: c.delete_node("n2"),
    }[event]()
    assert changed is False
    assert c.allocatable() == before


def recompute(nodes: dict[str, dict[str, Any]], pods: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The rule from DESIGN.md §3, computed the slow way."""
    counted = {}
    for raw in nodes.values():
        parsed = model.node_from_raw(raw)
        if parsed.ready and not parsed.unschedulable:
            counted[parsed.name] = parsed.allocatable
    total: dict[str, int] = {}
    for allocatable in counted.values():
        for name, amount in allocatable.items():
            total[name] = total.get(name, 0) + amount
    for raw in pods.values():
        bound = raw["spec"].get("nodeName") in counted
        if bound and raw["status"]["phase"] not in ("Succeeded", "Failed") and not is_own(raw):
            for name, amount in model.pod_requests(raw["spec"]).items():
                total[name] = total.get(name, 0) - amount
    names = {"cpu", "memory", "pods", "ephemeral-storage"} | {
        n for n in total if sum(a.get(n, 0) for a in counted.values()) > 0
    }
    return {n: (f"{max(0, total.get(n, 0))}m" if n == "cpu" else str(max(0, total.get(n, 0)))) for n in sorted(names)}


def random_event(rng: random.Random, nodes: dict[str, Any], pods: dict[str, Any], c: capacity.Capacity) -> bool:
    roll = rng.random()
    node = f"n{rng.randrange(5)}"
    pod = f"p{rng.randrange(30)}"
    if roll < 0.2:
        raw = lower_node(
            node,
            cpu=rng.choice(["2", "4", "500m"]),
            ready=rng.choice(["True", "True", "False", None]),
            unschedulable=rng.random() < 0.2,
            extra={"nvidia.com/gpu": "1"} if rng.random() < 0.3 else None,
        )
        nodes[node] = raw
        return c.upsert_node(raw)
    elif roll < 0.3:
        nodes.pop(node, None)
        return c.delete_node(node)
    elif roll < 0.8:
        raw = lower_pod(
            pod,
            node=rng.choice([node, node, None]),
            cpu=rng.choice(["100m", "1", "3"]),
            phase=rng.choice(["Pending", "Running", "Running", "Succeeded", "Failed"]),
            owner=rng.choice([None, None, ("up", "vk-a"), ("up", "vk-b")]),
            extra={"nvidia.com/gpu": "1"} if rng.random() < 0.2 else None,
        )
        pods[pod] = raw
        return c.upsert_pod(raw)
    pods.pop(pod, None)
    return c.delete_pod("default", pod)


@pytest.mark.parametrize("seed", range(5), ids=lambda s: f"seed {s}: incremental == recomputed after every event")
def test_incremental_totals_equal_a_full_recompute(seed: int) -> None:
    rng = random.Random(seed)
    nodes: dict[str, Any] = {}
    pods: dict[str, Any] = {}
    c = capacity.Capacity(is_own_mirror=is_own)
    before = c.allocatable()
    for step in range(600):
        changed = random_event(rng, nodes, pods, c)
        after = c.allocatable()
        assert after == recompute(nodes, pods), f"step {step}"
        assert changed or after == before, f"step {step}: output moved but the event reported no change"
        before = after
