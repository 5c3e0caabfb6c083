"""HighNodeUtilization against upstream v0.36's tables: ``highnodeutilization_test.go``
(TestHighNodeUtilization, TestHighNodeUtilizationWithTaints), ``validation_test.go``
(TestValidateHighNodeUtilizationPluginConfig) and ``defaults_test.go``
(TestSetDefaults_HighNodeUtilizationArgs), plus parity cases for what upstream's source
decides without a test: which nodes give and take, and when the room runs out.

The shared maths (node sort, percentages, candidate order) is pinned in
``test_low_node_utilization.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import high_node_utilization as plugin
from descheduler.policy.types import Limits
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

CPU_PODS_20 = {"cpu": 20.0, "pods": 20.0}
CPU_PODS_30 = {"cpu": 30.0, "pods": 30.0}


def rs(name: str, millicpu: int, node_name: str, memory: int = 0, **kw: Any) -> model.Pod:
    return up.build_pod(name, millicpu, memory, node_name, owners=[up.RS_OWNER], **kw)


def nodes_of(
    *specs: tuple[str, int, int, int], unschedulable: str = "", **labelled: dict[str, str]
) -> list[model.Node]:
    """(name, millicpu, memory, pods) per node; ``unschedulable`` names one; ``labelled`` gives labels."""
    return [
        up.build_node(name, cpu, memory, pods, unschedulable=name == unschedulable, labels=labelled.get(name))
        for name, cpu, memory, pods in specs
    ]


def ext_nodes(amounts: dict[str, int], unschedulable: str = "") -> list[model.Node]:
    return [
        up.build_node(
            name,
            4000,
            3000,
            10,
            unschedulable=name == unschedulable,
            extended={up.EXTENDED: amounts[name]} if name in amounts else None,
        )
        for name in ("n1", "n2", "n3")
    ]


@dataclass(frozen=True)
class Case:
    """One upstream TestHighNodeUtilization row."""

    name: str
    thresholds: dict[str, float]
    nodes: Callable[[], list[model.Node]]
    pods: Callable[[], list[model.Pod]]
    expected: int
    evicted: tuple[str, ...] = ()
    eviction_modes: tuple[str, ...] = ()


STANDARD = (("n1", 4000, 3000, 10), ("n2", 4000, 3000, 10), ("n3", 4000, 3000, 10))
SELECTOR_WEST = {"nodeSelector": {"datacenter": "west"}}

CASES = [
    Case(
        "no node below threshold usage",
        CPU_PODS_20,
        lambda: nodes_of(*STANDARD),
        lambda: [rs(f"p{i}", 400, f"n{(i - 1) // 3 + 1}") for i in range(1, 10)],
        0,
    ),
    Case(
        "no evictable pods",
        {"cpu": 40.0, "pods": 40.0},
        lambda: nodes_of(("n1", 4000, 3000, 9), ("n2", 4000, 3000, 10), ("n3", 4000, 3000, 10)),
        lambda: [
            up.build_mirror_pod("p1", 400, 0, "n1"),
            up.build_critical_pod("p2", 400, 0, "n1", owners=[up.NORMAL_OWNER]),
            up.build_pod("p3", 400, 0, "n2", owners=[up.DS_OWNER]),
            up.build_pod("p4", 400, 0, "n2", owners=[up.DS_OWNER]),
            *[rs(f"p{i}", 400, "n3") for i in range(5, 9)],
        ],
        0,
    ),
    Case(
        "no node to schedule evicted pods",
        CPU_PODS_20,
        lambda: nodes_of(*STANDARD, unschedulable="n3"),
        lambda: [rs("p1", 400, "n1"), rs("p2", 400, "n2"), *[rs(f"p{i}", 400, "n3") for i in (3, 4, 5)]],
        0,
    ),
    Case(
        "without priorities",
        CPU_PODS_30,
        lambda: nodes_of(*STANDARD, unschedulable="n3"),
        lambda: [
            rs("p1", 400, "n1"),
            up.build_critical_pod("p2", 400, 0, "n1", owners=[up.NORMAL_OWNER]),
            *[rs(f"p{i}", 400, "n2") for i in (3, 4, 5, 6)],
            rs("p7", 400, "n3"),
        ],
        2,
        evicted=("p1", "p7"),
    ),
    Case(
        "without priorities stop when resource capacity is depleted",
        CPU_PODS_30,
        lambda: nodes_of(("n1", 2000, 3000, 10), ("n2", 2000, 3000, 10), ("n3", 2000, 3000, 10), unschedulable="n3"),
        lambda: [rs("p1", 400, "n1"), *[rs(f"p{i}", 400, "n2") for i in (2, 3, 4, 5)], rs("p6", 400, "n3")],
        1,
    ),
    Case(
        "with priorities",
        {"cpu": 30.0},
        lambda: nodes_of(("n1", 4000, 3000, 10), ("n2", 2000, 3000, 10), ("n3", 2000, 3000, 10), unschedulable="n3"),
        lambda: [
            rs("p1", 400, "n1", priority=up.LOW_PRIORITY),
            rs("p2", 400, "n1", priority=up.HIGH_PRIORITY),
            *[rs(f"p{i}", 400, "n2") for i in (5, 6, 7, 8)],
            up.build_pod("p9", 400, 0, "n3", owners=[up.DS_OWNER]),
        ],
        1,
        evicted=("p1",),
    ),
    Case(
        "without priorities evicting best-effort pods only",
        {"cpu": 30.0},
        lambda: nodes_of(("n1", 3000, 3000, 10), ("n2", 3000, 3000, 5), ("n3", 3000, 3000, 10), unschedulable="n3"),
        lambda: [
            rs("p1", 0, "n1", qos="BestEffort"),
            rs("p2", 400, "n1"),
            *[rs(f"p{i}", 400, "n2") for i in (3, 4, 5, 6)],
        ],
        1,
        evicted=("p1",),
    ),
    Case(
        "with extended resource",
        {"cpu": 20.0, up.EXTENDED: 40.0},
        lambda: ext_nodes({"n1": 8, "n2": 8}, unschedulable="n3"),
        lambda: [
            *[rs(n, 100, "n1", extended={up.EXTENDED: 1}) for n in ("p1", "p2")],
            *[rs(f"p{i}", 500, "n2", extended={up.EXTENDED: 1}) for i in (3, 4, 5, 6)],
        ],
        2,
        evicted=("p1", "p2"),
    ),
    Case(
        # n2 lacks the extended resource: no room for it, so nothing moves.
        "with extended resource in some of nodes",
        {"cpu": 40.0, up.EXTENDED: 40.0},
        lambda: ext_nodes({"n1": 8}, unschedulable="n3"),
        lambda: [
            *[rs(n, 100, "n1", extended={up.EXTENDED: 1}) for n in ("p1", "p2")],
            *[rs(f"p{i}", 500, "n2") for i in (3, 4, 5, 6)],
        ],
        0,
    ),
    Case(
        "Other node match pod node selector",
        CPU_PODS_30,
        lambda: nodes_of(("n1", 4000, 3000, 9), ("n2", 4000, 3000, 10), n1={"datacenter": "west"}),
        lambda: [
            *[rs(n, 400, "n1") for n in ("p1", "p2", "p3")],
            up.build_pod("p4", 400, 0, "n1", owners=[up.DS_OWNER]),
            rs("p5", 400, "n2", spec=SELECTOR_WEST),
        ],
        1,
    ),
    Case(
        "Other node does not match pod node selector",
        CPU_PODS_30,
        lambda: nodes_of(("n1", 4000, 3000, 9), ("n2", 4000, 3000, 10)),
        lambda: [
            *[rs(n, 400, "n1") for n in ("p1", "p2", "p3")],
            up.build_pod("p4", 400, 0, "n1", owners=[up.DS_OWNER]),
            rs("p5", 400, "n2", spec=SELECTOR_WEST),
        ],
        0,
    ),
    *[
        # upstream lists this case twice, identically.
        Case(
            "Other node does not have enough Memory",
            CPU_PODS_30,
            lambda: nodes_of(("n1", 4000, 200, 9), ("n2", 4000, 3000, 10)),
            lambda: [
                *[rs(n, 400, "n1", memory=50) for n in ("p1", "p2", "p3")],
                up.build_pod("p4", 400, 50, "n1", owners=[up.DS_OWNER]),
                rs("p5", 400, "n2", memory=100),
            ],
            0,
        )
        for _ in range(2)
    ],
    Case(
        "with extended resource threshold and no extended resource pods",
        {up.EXTENDED: 40.0},
        lambda: ext_nodes({"n1": 10, "n2": 10, "n3": 10}),
        lambda: [
            *[rs(n, 100, "n1", extended={up.EXTENDED: 3}) for n in ("p1", "p2")],
            *[rs(f"p{i}", 500, "n2") for i in (3, 4, 5, 6)],
        ],
        0,
        eviction_modes=(plugin.ONLY_THRESHOLDING_RESOURCES,),
    ),
]


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{c.name} -> {c.expected} evicted" + (" (again)" if i == 12 else "") for i, c in enumerate(CASES)],
)
def test_upstream_highnodeutilization_table(case: Case) -> None:
    # upstream TestHighNodeUtilization, DefaultEvictorArgs{NodeFit: true}
    args = plugin.Args(thresholds=case.thresholds, eviction_modes=case.eviction_modes)
    h = up.harness(plugin.SPEC, args, case.nodes(), case.pods(), evictor_args={"nodeFit": True})
    evicted = h.run()
    assert len(evicted) == case.expected
    if case.evicted:
        assert sorted(evicted) == sorted(case.evicted)


# -- TestHighNodeUtilizationWithTaints ---------------------------------------------------------

TAINT = {"key": "key", "value": "value", "effect": "NoSchedule"}
TOLERATION = {"tolerations": [{"key": "key", "value": "value"}]}
TAINT_CASES: list[tuple[str, list[str], Callable[[], list[model.Pod]], int]] = [
    (
        "No taints",
        ["n1", "n2", "n3"],
        lambda: [*[rs(f"pod_{i}_n1", 200, "n1") for i in (1, 2, 3)], rs("pod_4_n2", 200, "n2")],
        1,
    ),
    ("No pod tolerates node taint", ["n1", "n3"], lambda: [rs("pod_1_n1", 200, "n1"), rs("pod_2_n3", 200, "n3")], 0),
    (
        "Pod which tolerates node taint",
        ["n1", "n3"],
        lambda: [rs("pod_1_n1", 100, "n1"), rs("tolerate_pod", 200, "n1", spec=TOLERATION), rs("pod_9_n3", 500, "n3")],
        1,
    ),
]


@pytest.mark.parametrize(
    ("names", "pods", "expected"),
    [case[1:] for case in TAINT_CASES],
    ids=[f"{c[0]} -> {c[3]} evicted" for c in TAINT_CASES],
)
def test_upstream_taints_table(names: list[str], pods: Callable[[], list[model.Pod]], expected: int) -> None:
    # upstream TestHighNodeUtilizationWithTaints: cpu 40%, no nodeFit, and (as upstream wires it)
    # maxPodsToEvictPerNode = the expected count. n3 is tainted whenever n2 is left out.
    tainted = "n2" not in names
    nodes = [up.build_node(n, 1000, 3000, 10, taints=[TAINT] if tainted and n == "n3" else ()) for n in names]
    args = plugin.Args(thresholds={"cpu": 40.0})
    h = up.harness(plugin.SPEC, args, nodes, pods(), limit=Limits(per_node=expected))
    assert len(h.run()) == expected


# -- validation_test.go ------------------------------------------------------------------------

VALIDATION: list[tuple[str, dict[str, Any], bool]] = [
    (
        "valid configuration with CPU and memory",
        {"thresholds": {"cpu": 80, "memory": 90}, "evictionModes": ["OnlyThresholdingResources"]},
        False,
    ),
    (
        "valid configuration with extended resource",
        {"thresholds": {"cpu": 85, up.EXTENDED: 95}, "evictionModes": ["OnlyThresholdingResources"]},
        False,
    ),
    ("empty thresholds", {"thresholds": {}}, True),
    ("threshold below minimum (0%)", {"thresholds": {"cpu": -1}}, True),
    ("threshold above maximum (100%)", {"thresholds": {"memory": 101}}, True),
    ("multiple thresholds with one out of range", {"thresholds": {"cpu": 50, "memory": 150}}, True),
    (
        "evictableNamespaces with Exclude (allowed)",
        {"thresholds": {"cpu": 80}, "evictableNamespaces": {"exclude": ["ns1", "ns2"]}},
        False,
    ),
    ("invalid eviction mode", {"thresholds": {"cpu": 80}, "evictionModes": ["InvalidMode"]}, True),
    ("missing eviction modes (nil) - should be allowed (treated as empty)", {"thresholds": {"cpu": 80}}, False),
    ("empty eviction modes slice - should be allowed", {"thresholds": {"cpu": 80}, "evictionModes": []}, False),
]


@pytest.mark.parametrize(
    ("wire", "refused"),
    [case[1:] for case in VALIDATION],
    ids=[f"{c[0]} -> {'error' if c[2] else 'valid'}" for c in VALIDATION],
)
def test_upstream_validation_table(wire: dict[str, Any], refused: bool) -> None:
    # upstream TestValidateHighNodeUtilizationPluginConfig
    assert bool(up.errors(f.args_problems(plugin.SPEC, **wire))) is refused


def test_upstream_validation_names_the_out_of_range_resource() -> None:
    # upstream "multiple thresholds with one out of range": "memory threshold not in [0, 100] range"
    assert up.errors(f.args_problems(plugin.SPEC, thresholds={"cpu": 50, "memory": 150})) == ["thresholds.memory"]


# -- defaults_test.go --------------------------------------------------------------------------


def test_upstream_defaults_empty_args() -> None:
    # upstream TestSetDefaults_HighNodeUtilizationArgs "HighNodeUtilizationArgs empty"
    decoded = f.decode_args(plugin.Args)
    assert decoded == plugin.Args()
    assert (decoded.thresholds, decoded.number_of_nodes) == ({}, 0)


def test_upstream_defaults_keep_given_values() -> None:
    # upstream TestSetDefaults_HighNodeUtilizationArgs "HighNodeUtilizationArgs with value"
    decoded = f.decode_args(plugin.Args, thresholds={"cpu": 20, "memory": 120}, numberOfNodes=10)
    assert (decoded.thresholds, decoded.number_of_nodes) == ({"cpu": 20, "memory": 120}, 10)


# -- what upstream's source decides ------------------------------------------------------------


def cpu_pods(node_name: str, count: int, **kw: Any) -> list[model.Pod]:
    return [up.build_pod(f"{node_name}-{i}", 1000, 0, node_name, owners=[up.RS_OWNER], **kw) for i in range(count)]


CPU_20 = plugin.Args(thresholds={"cpu": 20.0})


def test_room_is_the_schedulable_nodes_room_up_to_full_summed() -> None:
    # upstream: the destinations are every schedulable node not underutilized, capped at 100%
    # (highThresholds); evictions stop once any tracked resource's summed room is <= 0.
    nodes = [
        up.build_node("sparse", 10_000, 10**9, 100),
        up.build_node("full1", 10_000, 10**9, 100),
        up.build_node("full2", 10_000, 10**9, 100),
    ]
    pods = [*cpu_pods("sparse", 2), *cpu_pods("full1", 9), *cpu_pods("full2", 10)]
    assert up.harness(plugin.SPEC, CPU_20, nodes, pods).run() == ["sparse-0"]  # room for 1 cpu only


def test_unschedulable_underutilized_nodes_give_but_never_take() -> None:
    # upstream Balance: an unschedulable node can be underutilized (a source) but is never schedulable.
    nodes = [
        up.build_node("cordoned", 10_000, 10**9, 100, unschedulable=True),
        up.build_node("busy", 10_000, 10**9, 100),
    ]
    pods = [*cpu_pods("cordoned", 1), *cpu_pods("busy", 5)]
    assert up.harness(plugin.SPEC, CPU_20, nodes, pods).run() == ["cordoned-0"]


def test_tainted_destinations_take_only_pods_tolerating_them() -> None:
    # upstream: a tainted schedulable node's room counts, and a pod moves only when it tolerates
    # every taint of at least one destination (utils.PodToleratesTaints, all effects).
    taint = {"key": "soft", "value": "", "effect": "PreferNoSchedule"}
    nodes = [up.build_node("sparse", 10_000, 10**9, 100), up.build_node("tainted", 10_000, 10**9, 100, taints=[taint])]
    tolerant = {"tolerations": [{"key": "soft", "operator": "Exists"}]}
    tolerating = up.build_pod("sparse-tolerant", 1000, 0, "sparse", owners=[up.RS_OWNER], spec=tolerant)
    pods = [*cpu_pods("sparse", 1), tolerating, *cpu_pods("tainted", 5)]
    assert up.harness(plugin.SPEC, CPU_20, nodes, pods).run() == ["sparse-tolerant"]


def test_unknown_resource_names_are_accepted_with_a_warning_and_evict_nothing() -> None:
    # upstream validateThresholds checks only percentages: `cpux` is accepted and, since no node
    # has it, the destinations' room for it is 0 and nothing is evicted.
    found = f.args_problems(plugin.SPEC, thresholds={"cpu": 20, "cpux": 20})
    assert [(p.path, p.warning) for p in found] == [("thresholds.cpux", True)]
    decoded = f.decode_args(plugin.Args, thresholds={"cpu": 20, "cpux": 20})
    nodes = [up.build_node("sparse", 10_000, 10**9, 100), up.build_node("busy", 10_000, 10**9, 100)]
    assert up.harness(plugin.SPEC, decoded, nodes, [*cpu_pods("sparse", 1), *cpu_pods("busy", 5)]).run() == []
