from __future__ import annotations

from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import high_node_utilization as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f
from tests.descheduler.plugins import utilization as u


def args(**wire: Any) -> plugin.Args:
    wire.setdefault("thresholds", {"cpu": 20})
    decoded = f.decode_args(plugin.Args, **wire)
    assert plugin.validate(decoded) == []
    return decoded


def harness(nodes: list[model.Node], all_pods: list[model.Pod], **kw: Any) -> f.Harness:
    limit = kw.pop("limit", None)
    evictor_filter = kw.pop("evictor_filter", None)
    return f.harness(plugin.SPEC, args(**kw), f.state(nodes, all_pods), limit=limit, evictor_filter=evictor_filter)


def cluster(sparse: int = 2, full: int = 5) -> tuple[list[model.Node], list[model.Pod]]:
    nodes = [u.node("sparse"), u.node("full")]
    return nodes, [*u.pods("sparse", sparse), *u.pods("full", full)]


# -- the algorithm -------------------------------------------------------------------------


def test_underutilized_node_is_emptied() -> None:
    h = harness(*cluster(sparse=2))
    assert h.run() == ["sparse-0", "sparse-1"]
    assert {d.reason for d in h.evictor.decisions} == {"node underutilized: cpu 20% <= 20%"}


def test_emptiest_underutilized_node_goes_first() -> None:
    nodes = [u.node("two"), u.node("one"), u.node("full")]
    # full has room for exactly one more 1-cpu pod.
    all_pods = [*u.pods("two", 2), *u.pods("one", 1), *u.pods("full", 9)]
    h = harness(nodes, all_pods)
    assert h.run() == ["one-0"]


def test_no_room_left_on_schedulable_nodes_stops_the_run() -> None:
    nodes = [u.node("sparse"), u.node("full")]
    h = harness(nodes, [*u.pods("sparse", 2), *u.pods("full", 10)])
    assert h.run() == []


def test_room_counts_every_tracked_resource() -> None:
    # Plenty of cpu, but the schedulable node has a single free pod slot.
    nodes = [u.node("sparse"), f.node("full", cpu="10", memory="100Gi", pods="6")]
    h = harness(nodes, [*u.pods("sparse", 2), *u.pods("full", 5)])
    assert h.run() == ["sparse-0"]


@pytest.mark.parametrize(
    ("sparse", "wire", "expected"),
    [
        (3, {}, 0),
        (2, {"numberOfNodes": 1}, 0),
        (2, {"numberOfNodes": 0}, 2),
    ],
    ids=[
        "no node underutilized -> nothing",
        "underutilized nodes not above numberOfNodes -> nothing",
        "numberOfNodes default 0 -> evictions",
    ],
)
def test_underutilized_nodes_gate_the_run(sparse: int, wire: dict[str, Any], expected: int) -> None:
    h = harness(*cluster(sparse=sparse), **wire)
    assert len(h.run()) == expected


def test_all_nodes_underutilized_means_nothing_to_do() -> None:
    h = harness(*cluster(sparse=1, full=2))
    assert h.run() == []


def test_unschedulable_node_is_drained_but_never_a_destination() -> None:
    nodes = [u.node("sparse", unschedulable=True), u.node("full"), u.node("cordoned", unschedulable=True)]
    h = harness(nodes, [*u.pods("sparse", 1), *u.pods("full", 5), *u.pods("cordoned", 5)])
    assert h.run() == ["sparse-0"]


def test_no_schedulable_node_means_nothing_to_do() -> None:
    nodes = [u.node("sparse"), u.node("cordoned", unschedulable=True)]
    h = harness(nodes, [*u.pods("sparse", 1), *u.pods("cordoned", 5)])
    assert h.run() == []


def test_only_the_thresholded_resources_decide_underutilization() -> None:
    # sparse uses 90% of its memory, but only cpu is thresholded.
    nodes = [u.node("sparse"), u.node("full")]
    heavy = f.pod("heavy", node="sparse", cpu="1", memory="90Gi")
    h = harness(nodes, [heavy, *u.pods("full", 5)])
    assert h.run() == ["heavy"]


# -- which pods ----------------------------------------------------------------------------


def test_pods_leave_by_priority() -> None:
    nodes = [u.node("sparse"), f.node("full", cpu="10", memory="100Gi", pods="7")]  # two free slots
    sparse = [
        f.pod("high", node="sparse", cpu="1", memory=None, priority=100),
        f.pod("low", node="sparse", cpu="1", memory=None, priority=1),
        f.pod("none", node="sparse", cpu="0", memory=None),
    ]
    h = harness(nodes, [*sparse, *u.pods("full", 5)])
    assert h.run() == ["none", "low"]


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        ([], ["no-request-0", "cpu-0"]),
        (["OnlyThresholdingResources"], ["cpu-0"]),
    ],
    ids=["default mode -> every evictable pod", "OnlyThresholdingResources -> only pods requesting cpu"],
)
def test_eviction_modes(modes: list[str], expected: list[str]) -> None:
    nodes = [u.node("sparse"), u.node("full")]
    sparse = [*u.pods("sparse", 1, prefix="no-request", cpu=None), *u.pods("sparse", 1, prefix="cpu")]
    h = harness(nodes, [*sparse, *u.pods("full", 5)], evictionModes=modes)
    assert h.run() == expected


def test_only_thresholding_resources_ignores_the_implicit_pods_resource() -> None:
    nodes = [u.node("sparse"), u.node("full")]
    h = harness(
        nodes,
        [*u.pods("sparse", 1), *u.pods("full", 50)],
        thresholds={"pods": 10},
        evictionModes=["OnlyThresholdingResources"],
    )
    assert h.run() == []


def test_excluded_namespaces_are_skipped() -> None:
    nodes = [u.node("sparse"), u.node("full")]
    sparse = [*u.pods("sparse", 1, prefix="sys", namespace="kube-system"), *u.pods("sparse", 1)]
    h = harness(nodes, [*sparse, *u.pods("full", 5)], evictableNamespaces={"exclude": ["kube-system"]})
    assert h.run() == ["sparse-0"]


def test_pods_the_evictor_filters_out_stay() -> None:
    h = harness(*cluster(sparse=2), evictor_filter=lambda p: p.name != "sparse-0")
    assert h.run() == ["sparse-1"]


def test_pods_that_tolerate_no_destination_taint_stay() -> None:
    taint = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
    toleration = {"key": "dedicated", "operator": "Exists"}
    nodes = [u.node("sparse"), u.node("full", taints=[taint])]
    sparse = [*u.pods("sparse", 1), *u.pods("sparse", 1, prefix="tolerant", spec={"tolerations": [toleration]})]
    h = harness(nodes, [*sparse, *u.pods("full", 5)])
    assert h.run() == ["tolerant-0"]


# -- limits --------------------------------------------------------------------------------


def two_sparse_nodes() -> tuple[list[model.Node], list[model.Pod]]:
    nodes = [u.node("a"), u.node("b"), u.node("full")]
    return nodes, [*u.pods("a", 1), *u.pods("b", 2), *u.pods("full", 5)]


def test_node_limit_moves_to_next_node() -> None:
    h = harness(*two_sparse_nodes(), limit=Limits(per_node=1))
    assert h.run() == ["a-0", "b-0"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "planned", "limit"]


def test_total_limit_stops_the_run() -> None:
    h = harness(*two_sparse_nodes(), limit=Limits(total=1))
    assert h.run() == ["a-0"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit"]


def test_namespace_limit_skips_that_namespace_only() -> None:
    nodes = [u.node("sparse"), u.node("full")]
    sparse = [*u.pods("sparse", 2, prefix="x", namespace="x"), *u.pods("sparse", 1, prefix="y", namespace="y")]
    h = harness(nodes, [*sparse, *u.pods("full", 5)], thresholds={"cpu": 30}, limit=Limits(per_namespace=1))
    assert h.run() == ["x-0", "y-0"]


# -- arguments -----------------------------------------------------------------------------


def test_defaults_match_upstream() -> None:
    a = plugin.Args()
    assert (a.thresholds, a.number_of_nodes, a.eviction_modes, a.evictable_namespaces) == ({}, 0, (), None)


def test_wire_names_are_upstream_names() -> None:
    names = {row.path for row in argspec.describe(plugin.Args)}
    assert names >= {"thresholds", "numberOfNodes", "evictionModes", "evictableNamespaces"}


@pytest.mark.parametrize(
    ("wire", "paths"),
    [
        ({}, ["thresholds"]),
        ({"thresholds": {"cpu": 120}}, ["thresholds.cpu"]),
        ({"thresholds": {"cpu": 20}, "evictableNamespaces": {"include": ["a"]}}, ["evictableNamespaces.include"]),
        ({"thresholds": {"cpu": 20}, "evictionModes": ["Everything"]}, ["evictionModes[0]"]),
    ],
    ids=[
        "no thresholds -> rejected",
        "threshold over 100 -> rejected",
        "evictableNamespaces.include -> rejected (exclude only)",
        "unknown eviction mode -> rejected",
    ],
)
def test_validation_names_the_path(wire: dict[str, Any], paths: list[str]) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert not problems and decoded is not None
    assert [p.path for p in plugin.validate(decoded)] == paths
