from __future__ import annotations

from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import low_node_utilization as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f
from tests.descheduler.plugins import utilization as u


def args(**wire: Any) -> plugin.Args:
    wire.setdefault("thresholds", {"cpu": 20})
    wire.setdefault("targetThresholds", {"cpu": 50})
    decoded = f.decode_args(plugin.Args, **wire)
    assert plugin.validate(decoded) == []
    return decoded


def harness(nodes: list[model.Node], all_pods: list[model.Pod], **kw: Any) -> f.Harness:
    limit = kw.pop("limit", None)
    evictor_filter = kw.pop("evictor_filter", None)
    return f.harness(plugin.SPEC, args(**kw), f.state(nodes, all_pods), limit=limit, evictor_filter=evictor_filter)


def cluster(busy: int = 8, idle: int = 1, middle: int = 4) -> tuple[list[model.Node], list[model.Pod]]:
    """busy at busy*10% cpu, idle at idle*10%, middle in between."""
    nodes = [u.node("busy"), u.node("idle"), u.node("middle")]
    return nodes, [*u.pods("busy", busy), *u.pods("idle", idle), *u.pods("middle", middle)]


# -- the algorithm -------------------------------------------------------------------------


def test_pods_leave_the_overutilized_node_until_it_is_at_target() -> None:
    h = harness(*cluster(busy=8))
    evicted = h.run()
    assert len(evicted) == 3  # 80% -> 50%: at target is no longer over it
    assert all(name.startswith("busy-") for name in evicted)
    assert {d.reason for d in h.evictor.decisions} == {"node over targetThresholds: cpu 80% > 50%"}


def test_room_on_underutilized_nodes_up_to_target_caps_the_evictions() -> None:
    # idle is at 20% (still underutilized at the threshold) with target 30%: room for one 1-cpu pod.
    h = harness(*cluster(busy=8, idle=2), targetThresholds={"cpu": 30})
    assert len(h.run()) == 1


def test_evicted_pods_use_up_room_across_overutilized_nodes() -> None:
    nodes = [u.node("a"), u.node("b"), u.node("idle")]
    all_pods = [*u.pods("a", 9), *u.pods("b", 9), *u.pods("idle", 2)]
    # target 40%: idle has room for 2 pods, a and b would each shed 5.
    h = harness(nodes, all_pods, targetThresholds={"cpu": 40})
    assert len(h.run()) == 2


def test_busiest_overutilized_node_is_drained_first() -> None:
    nodes = [u.node("less"), u.node("more"), u.node("idle")]
    all_pods = [*u.pods("less", 7), *u.pods("more", 9), *u.pods("idle", 2)]
    h = harness(nodes, all_pods, targetThresholds={"cpu": 30})  # room for exactly one pod
    assert h.run() == ["more-0"]


@pytest.mark.parametrize(
    ("idle_pods", "wire", "expected"),
    [
        (3, {}, 0),
        (1, {"numberOfNodes": 1}, 0),
        (1, {"numberOfNodes": 0}, 3),
        (2, {}, 3),
    ],
    ids=[
        "no node underutilized -> nothing",
        "underutilized nodes not above numberOfNodes -> nothing",
        "numberOfNodes default 0 -> evictions",
        "usage equal to thresholds is underutilized -> evictions",
    ],
)
def test_underutilized_nodes_gate_the_run(idle_pods: int, wire: dict[str, Any], expected: int) -> None:
    h = harness(*cluster(busy=8, idle=idle_pods), **wire)
    assert len(h.run()) == expected


def test_no_overutilized_node_means_nothing_to_do() -> None:
    h = harness(*cluster(busy=5))  # 50% is at target, not over it
    assert h.run() == []


def test_all_nodes_underutilized_means_nothing_to_do() -> None:
    nodes = [u.node("a"), u.node("b")]
    h = harness(nodes, [*u.pods("a", 1), *u.pods("b", 2)], thresholds={"cpu": 20}, targetThresholds={"cpu": 20})
    assert h.run() == []


def test_unschedulable_node_is_never_a_destination() -> None:
    nodes = [u.node("busy"), u.node("idle", unschedulable=True)]
    h = harness(nodes, [*u.pods("busy", 8), *u.pods("idle", 1)])
    assert h.run() == []


def test_node_is_underutilized_only_when_all_resources_are_under_thresholds() -> None:
    nodes = [u.node("busy"), u.node("idle")]
    # idle: cpu 10% but memory 50% of 100Gi -> not underutilized with a memory threshold of 20%.
    idle_pod = f.pod("idle-0", node="idle", cpu="1", memory="50Gi")
    h = harness(
        nodes,
        [*u.pods("busy", 8), idle_pod],
        thresholds={"cpu": 20, "memory": 20},
        targetThresholds={"cpu": 50, "memory": 60},
    )
    assert h.run() == []


def test_unthresholded_resources_still_limit_the_room() -> None:
    # Only memory is thresholded; the idle node has 1 free pod slot, so only one pod can move.
    nodes = [f.node("busy", cpu="10", memory="10Gi", pods="100"), f.node("idle", cpu="10", memory="10Gi", pods="2")]
    all_pods = [
        *[f.pod(f"busy-{i}", node="busy", cpu=None, memory="1Gi") for i in range(9)],
        f.pod("idle-0", node="idle", cpu=None, memory="1Gi"),
    ]
    h = harness(nodes, all_pods, thresholds={"memory": 20}, targetThresholds={"memory": 50})
    assert len(h.run()) == 1


def test_extended_resources_are_thresholded_like_the_basic_ones() -> None:
    gpu = {"extra_allocatable": {"example.com/gpu": "4"}}

    def gpu_pod(name: str, node_name: str) -> model.Pod:
        container = {"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "1"}}}
        return f.pod(name, node=node_name, cpu=None, memory=None, spec={"containers": [container]})

    nodes = [u.node("busy", **gpu), u.node("idle", **gpu)]
    all_pods = [gpu_pod(f"busy-{i}", "busy") for i in range(4)]
    h = harness(nodes, all_pods, thresholds={"example.com/gpu": 25}, targetThresholds={"example.com/gpu": 50})
    assert len(h.run()) == 2  # 100% -> 50%


def test_terminal_pods_neither_count_nor_move() -> None:
    nodes, all_pods = cluster(busy=5)
    done = u.pods("busy", 3, prefix="done", phase="Succeeded")
    h = harness(nodes, [*all_pods, *done])
    assert h.run() == []


def test_evictions_earlier_in_the_cycle_are_accounted() -> None:
    h = harness(*cluster(busy=8))
    for pod in h.state.pods_on("busy")[:3]:
        h.state.mark_evicted(pod)  # e.g. by a Deschedule plugin that ran before
    assert h.run() == []  # busy is at 50% now


# -- which pods ----------------------------------------------------------------------------


def guaranteed(name: str, node_name: str, **kw: Any) -> model.Pod:
    resources = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    container = {"name": "c", "image": "x", "resources": resources}
    return f.pod(name, node=node_name, spec={"containers": [container]}, **kw)


def best_effort(name: str, node_name: str, **kw: Any) -> model.Pod:
    # BestEffort requests nothing; an init container holding 1 cpu keeps the node's usage honest.
    init = {"name": "i", "image": "x", "resources": {"requests": {"cpu": "1"}}}
    spec = {"containers": [{"name": "c", "image": "x"}], "initContainers": [init]}
    return f.pod(name, node=node_name, spec=spec, status={"qosClass": "BestEffort"}, **kw)


def test_pods_leave_by_priority_then_qos() -> None:
    busy = [
        f.pod("high", node="busy", cpu="1", memory=None, priority=1000),
        guaranteed("guaranteed", "busy", priority=10),
        f.pod("burstable", node="busy", cpu="1", memory=None, priority=10),
        best_effort("besteffort", "busy", priority=10),
        f.pod("no-priority", node="busy", cpu="1", memory=None),
        *u.pods("busy", 4, prefix="keep", priority=2000),
    ]
    nodes = [u.node("busy"), u.node("idle"), u.node("empty"), u.node("middle")]
    h = harness(nodes, [*busy, *u.pods("idle", 1), *u.pods("middle", 4)], targetThresholds={"cpu": 40})
    # 90% -> 40%: five pods leave, lowest priority first.
    assert h.run() == ["no-priority", "besteffort", "burstable", "guaranteed", "high"]


def test_pods_the_evictor_filters_out_stay_and_do_not_count() -> None:
    h = harness(*cluster(busy=8), evictor_filter=lambda p: p.name != "busy-0")
    assert h.run() == ["busy-1", "busy-2", "busy-3"]


def test_excluded_namespaces_are_skipped() -> None:
    nodes = [u.node("busy"), u.node("idle"), u.node("middle")]
    system = u.pods("busy", 2, prefix="sys", namespace="kube-system")
    all_pods = [*system, *u.pods("busy", 6), *u.pods("idle", 1), *u.pods("middle", 4)]
    h = harness(nodes, all_pods, evictableNamespaces={"exclude": ["kube-system"]})
    evicted = h.run()
    assert evicted == ["busy-0", "busy-1", "busy-2"]


def test_pods_that_tolerate_no_destination_taint_stay() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    toleration = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    nodes = [u.node("busy"), u.node("idle", taints=[taint]), u.node("middle")]
    busy = [*u.pods("busy", 6), *u.pods("busy", 2, prefix="tolerant", spec={"tolerations": [toleration]})]
    h = harness(nodes, [*busy, *u.pods("idle", 1), *u.pods("middle", 4)])
    assert h.run() == ["tolerant-0", "tolerant-1"]


def test_prefer_no_schedule_taints_also_count_as_upstream() -> None:
    taint = {"key": "soft", "value": "", "effect": "PreferNoSchedule"}
    nodes = [u.node("busy"), u.node("idle", taints=[taint]), u.node("middle")]
    h = harness(nodes, [*u.pods("busy", 8), *u.pods("idle", 1), *u.pods("middle", 4)])
    assert h.run() == []


# -- deviation thresholds ------------------------------------------------------------------


def test_deviation_thresholds_are_relative_to_the_mean() -> None:
    # Mean cpu 50%: underutilized <= 40%, overutilized > 60%.
    nodes = [u.node("low"), u.node("mean"), u.node("high")]
    all_pods = [*u.pods("low", 1), *u.pods("mean", 5), *u.pods("high", 9)]
    h = harness(nodes, all_pods, useDeviationThresholds=True, targetThresholds={"cpu": 10}, thresholds={"cpu": 10})
    assert len(h.run()) == 3  # 90% -> 60%


def test_deviation_thresholds_may_exceed_targets() -> None:
    decoded, _ = argspec.decode(
        plugin.Args, {"useDeviationThresholds": True, "thresholds": {"cpu": 30}, "targetThresholds": {"cpu": 10}}, ""
    )
    assert decoded is not None
    assert plugin.validate(decoded) == []


# -- limits --------------------------------------------------------------------------------


def two_busy_nodes() -> tuple[list[model.Node], list[model.Pod]]:
    """a at 90% and b at 80% shed 4 and 3 pods into two idle nodes with room for 8."""
    nodes = [u.node("a"), u.node("b"), u.node("idle"), u.node("empty")]
    return nodes, [*u.pods("a", 9), *u.pods("b", 8), *u.pods("idle", 1)]


def test_each_overutilized_node_sheds_down_to_target() -> None:
    h = harness(*two_busy_nodes())
    assert h.run() == ["a-0", "a-1", "a-2", "a-3", "b-0", "b-1", "b-2"]


def test_eviction_limits_node_caps_each_node() -> None:
    h = harness(*two_busy_nodes(), evictionLimits={"node": 1})
    assert h.run() == ["a-0", "b-0"]


def test_eviction_limits_node_zero_evicts_nothing() -> None:
    h = harness(*two_busy_nodes(), evictionLimits={"node": 0})
    assert h.run() == []


def test_node_limit_moves_to_next_node() -> None:
    h = harness(*two_busy_nodes(), limit=Limits(per_node=2))
    assert h.run() == ["a-0", "a-1", "b-0", "b-1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "planned", "limit"] * 2


def test_total_limit_stops_the_run() -> None:
    h = harness(*two_busy_nodes(), limit=Limits(total=2))
    assert h.run() == ["a-0", "a-1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "planned", "limit"]


def test_namespace_limit_skips_that_namespace_only() -> None:
    nodes = [u.node("busy"), u.node("idle"), u.node("middle")]
    busy = [*u.pods("busy", 4, prefix="x", namespace="x"), *u.pods("busy", 4, prefix="y", namespace="y")]
    h = harness(nodes, [*busy, *u.pods("idle", 1), *u.pods("middle", 4)], limit=Limits(per_namespace=1))
    assert h.run() == ["x-0", "y-0"]


# -- arguments -----------------------------------------------------------------------------


def test_defaults_match_upstream() -> None:
    a = plugin.Args()
    assert (a.use_deviation_thresholds, a.thresholds, a.target_thresholds, a.number_of_nodes) == (False, {}, {}, 0)
    assert (a.evictable_namespaces, a.eviction_limits, a.metrics_utilization) == (None, None, None)


def test_wire_names_are_upstream_names() -> None:
    names = {row.path for row in argspec.describe(plugin.Args)}
    assert {
        "useDeviationThresholds",
        "thresholds",
        "targetThresholds",
        "numberOfNodes",
        "metricsUtilization",
        "evictableNamespaces",
        "evictionLimits",
        "evictionLimits.node",
    } <= names


@pytest.mark.parametrize(
    ("wire", "paths"),
    [
        ({}, ["thresholds", "targetThresholds"]),
        ({"thresholds": {"cpu": 20}, "targetThresholds": {"cpu": 101}}, ["targetThresholds.cpu"]),
        ({"thresholds": {"cpu": -1}, "targetThresholds": {"cpu": 50}}, ["thresholds.cpu"]),
        (
            {"thresholds": {"cpu": 20}, "targetThresholds": {"memory": 50}},
            ["targetThresholds.cpu", "thresholds.memory"],
        ),
        ({"thresholds": {"cpu": 60}, "targetThresholds": {"cpu": 50}}, ["thresholds.cpu"]),
        (
            {"thresholds": {"cpu": 20}, "targetThresholds": {"cpu": 50}, "evictableNamespaces": {"include": ["a"]}},
            ["evictableNamespaces.include"],
        ),
        (
            {"thresholds": {"cpu": 20}, "targetThresholds": {"cpu": 50}, "metricsUtilization": {"metricsServer": True}},
            ["metricsUtilization"],
        ),
        (
            {"thresholds": {"cpu": 20}, "targetThresholds": {"cpu": 50}, "evictionLimits": {"node": -1}},
            ["evictionLimits.node"],
        ),
    ],
    ids=[
        "no thresholds at all -> both rejected",
        "target over 100 -> rejected",
        "threshold under 0 -> rejected",
        "different resources -> each missing side named",
        "threshold over its target -> rejected",
        "evictableNamespaces.include -> rejected (exclude only)",
        "metricsUtilization -> rejected (requests only)",
        "negative per-node limit -> rejected",
    ],
)
def test_validation_names_the_path(wire: dict[str, Any], paths: list[str]) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert not problems and decoded is not None
    assert [p.path for p in plugin.validate(decoded)] == paths


def test_boundary_percentages_are_valid() -> None:
    decoded, _ = argspec.decode(plugin.Args, {"thresholds": {"cpu": 0}, "targetThresholds": {"cpu": 100}}, "")
    assert decoded is not None
    assert plugin.validate(decoded) == []
