from __future__ import annotations

import pytest

from descheduler.plugins import node_utilization as nu
from tests.descheduler import factories as f


def test_resource_names_add_the_basic_resources_once() -> None:
    assert nu.resource_names({"example.com/gpu": 10, "cpu": 20}) == ("example.com/gpu", "cpu", "memory", "pods")


@pytest.mark.parametrize(
    ("usage", "allocatable", "expected"),
    [
        ({"cpu": 500}, {"cpu": 2000}, {"cpu": 25.0}),
        ({"cpu": 500}, {"cpu": 0}, {"cpu": 0.0}),
        ({"cpu": 500}, {}, {}),
        ({}, {"cpu": 2000}, {"cpu": 0.0}),
    ],
    ids=[
        "requests over allocatable in percent",
        "zero allocatable -> 0%",
        "resource the node lacks -> left out",
        "nothing requested -> 0%",
    ],
)
def test_percentages(usage: dict[str, int], allocatable: dict[str, int], expected: dict[str, float]) -> None:
    assert nu.percentages(usage, allocatable, ["cpu"]) == expected


@pytest.mark.parametrize(
    ("usage", "below", "over"),
    [
        ({"cpu": 20.0, "memory": 10.0}, True, False),
        ({"cpu": 20.1, "memory": 10.0}, False, True),
        ({}, True, False),
    ],
    ids=["at the threshold -> below, not over", "any resource over -> over, not below", "missing usage -> 0%"],
)
def test_threshold_comparisons(usage: dict[str, float], below: bool, over: bool) -> None:
    thresholds = {"cpu": 20.0, "memory": 20.0}
    assert nu.at_or_below(usage, thresholds) is below
    assert nu.above(usage, thresholds) is over


def test_deviation_thresholds_shift_the_mean_and_clamp() -> None:
    low, high = nu.deviation_thresholds([{"cpu": 10.0}, {"cpu": 30.0}, {}], {"cpu": 50.0}, {"cpu": 90.0})
    assert (low, high) == ({"cpu": 0.0}, {"cpu": 100.0})  # mean over nodes that have cpu: 20


def test_capped_capacity_truncates_and_keeps_unthresholded_whole() -> None:
    capped = nu.capped_capacity({"cpu": 3333, "memory": 1000}, {"cpu": 50.0}, ["cpu", "memory", "pods"])
    assert capped == {"cpu": 1666, "memory": 1000, "pods": 0}


def test_eviction_order_is_no_priority_then_priority_then_qos() -> None:
    pods = [
        f.pod("p10-guaranteed", priority=10, status={"qosClass": "Guaranteed"}),
        f.pod("p10-besteffort", priority=10, status={"qosClass": "BestEffort"}),
        f.pod("p5", priority=5),
        f.pod("none"),
    ]
    assert [p.name for p in nu.eviction_order(pods)] == ["none", "p5", "p10-besteffort", "p10-guaranteed"]


def test_taint_tolerance_needs_one_destination_fully_tolerated() -> None:
    a = {"key": "a", "value": "", "effect": "NoSchedule"}
    b = {"key": "b", "value": "", "effect": "NoExecute"}
    tolerance = nu.TaintTolerance([f.node("n1", taints=[a, b]), f.node("n2", taints=[b])])
    assert not tolerance.allows(f.pod("plain"))
    assert tolerance.allows(f.pod("tolerates-b", spec={"tolerations": [{"key": "b", "operator": "Exists"}]}))
    assert nu.TaintTolerance([f.node("n1", taints=[a]), f.node("n2")]).allows(f.pod("plain"))


def test_reasons_name_the_resources_that_matter() -> None:
    load = nu.NodeLoad(f.node("n"), usage={}, percent={"cpu": 85.0, "memory": 20.0})
    assert nu.describe_over(load, {"cpu": 50.0, "memory": 50.0}) == "cpu 85% > 50%"
    assert nu.describe_under(load, {"cpu": 90.0, "memory": 22.5}) == "cpu 85% <= 90%, memory 20% <= 22.5%"


@pytest.mark.parametrize(
    ("underutilized", "number_of_nodes", "total", "says"),
    [
        (0, 0, 3, "no node is underutilized; you might tune thresholds"),
        (2, 2, 3, "2 underutilized nodes <= numberOfNodes 2"),
        (3, 0, 3, "all nodes are underutilized"),
        (2, 1, 3, ""),
    ],
    ids=["none underutilized -> skip", "not more than numberOfNodes -> skip", "all underutilized -> skip", "go on"],
)
def test_skip_reason_follows_upstreams_early_exits(
    underutilized: int, number_of_nodes: int, total: int, says: str
) -> None:
    assert nu.skip_reason(underutilized, number_of_nodes=number_of_nodes, total=total) == says
