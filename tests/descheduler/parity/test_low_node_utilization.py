"""LowNodeUtilization against upstream v0.36's tables: ``lownodeutilization_test.go``
(TestLowNodeUtilization, TestLowNodeUtilizationWithTaints, the Prometheus tests),
``validation_test.go`` (TestValidateLowNodeUtilizationPluginConfig), ``defaults_test.go``
(TestSetDefaults_LowNodeUtilizationArgs), the parts of ``nodeutilization_test.go``,
``normalizer/`` and ``usageclients_test.go`` tensile has an equivalent of, and parity cases
for what upstream's source decides without a test: candidate order, the room on the
underutilized nodes, tainted and unschedulable receivers, unknown resource names.

Upstream runs every TestLowNodeUtilization case twice, on requests and on metrics-server
usage; tensile measures requests only and refuses ``metricsUtilization`` (a deliberate
difference), so the metrics runs are pinned as refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from descheduler import model, plugins
from descheduler.plugins import common
from descheduler.plugins import low_node_utilization as plugin
from descheduler.plugins import node_utilization as nu
from descheduler.policy import loading
from descheduler.policy.types import Limits
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

CPU_PODS_30 = {"cpu": 30.0, "pods": 30.0}
CPU_PODS_50 = {"cpu": 50.0, "pods": 50.0}
DATACENTER_WEST_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "datacenter", "operator": "In", "values": ["west"]}]}]
        }
    }
}


def three_nodes(n1_pods: int = 9, **n1: Any) -> list[model.Node]:
    """n1 (the busy one), n2, and n3 unschedulable: 4 cpus and 3000 bytes each."""
    return [
        up.build_node("n1", 4000, 3000, n1_pods, **n1),
        up.build_node("n2", 4000, 3000, 10),
        up.build_node("n3", 4000, 3000, 10, unschedulable=True),
    ]


def protected(critical_owners: Sequence[Mapping[str, str]] = (up.NORMAL_OWNER,)) -> list[model.Pod]:
    """The cases' "These won't be evicted" trio on n1: DaemonSet, mirror with local storage, critical."""
    return [
        up.build_pod("p6", 400, 0, "n1", owners=[up.DS_OWNER]),
        up.build_mirror_pod("p7", 400, 0, "n1"),
        up.build_critical_pod("p8", 400, 0, "n1", owners=critical_owners),
    ]


def rs_pods(names: Sequence[str], node_name: str = "n1", **kw: Any) -> list[model.Pod]:
    return [up.build_pod(name, 400, 0, node_name, owners=[up.RS_OWNER], **kw) for name in names]


@dataclass(frozen=True)
class Case:
    """One upstream TestLowNodeUtilization row (requests-based run)."""

    name: str
    nodes: Callable[[], list[model.Node]]
    pods: Callable[[], list[model.Pod]]
    expected: int
    thresholds: dict[str, float] = field(default_factory=lambda: dict(CPU_PODS_30))
    targets: dict[str, float] = field(default_factory=lambda: dict(CPU_PODS_50))
    evicted: tuple[str, ...] = ()
    deviation: bool = False
    evictable_namespaces: common.Namespaces | None = None
    node_limit: int | None = None


def ext_pods(
    names: Sequence[str], node_name: str, amount: int = 1, owners: Sequence[Mapping[str, str]] = (up.RS_OWNER,)
) -> list[model.Pod]:
    return [up.build_pod(name, 0, 0, node_name, owners=owners, extended={up.EXTENDED: amount}) for name in names]


CASES = [
    Case(
        "no evictable pods",
        three_nodes,
        lambda: [
            *[up.build_pod(f"p{i}", 400, 0, "n1", owners=[up.DS_OWNER]) for i in range(1, 5)],
            up.build_mirror_pod("p5", 400, 0, "n1"),
            up.build_critical_pod("p6", 400, 0, "n1"),
            *rs_pods(["p9"], "n2"),
        ],
        0,
    ),
    Case(
        "without priorities",
        three_nodes,
        lambda: [*rs_pods(["p1", "p2", "p3", "p4", "p5"]), *protected(()), *rs_pods(["p9"], "n2")],
        4,
    ),
    Case(
        "without priorities, but excluding namespaces",
        three_nodes,
        lambda: [
            *[
                up.build_pod(f"p{i}", 400, 0, "n1", owners=[up.NORMAL_OWNER], namespace="namespace1")
                for i in range(1, 6)
            ],
            *protected(()),
            *rs_pods(["p9"], "n2"),
        ],
        0,
        evictable_namespaces=common.Namespaces(exclude=("namespace1",)),
    ),
    Case(
        # Upstream's validation refuses `include` (as tensile's does); the plugin, built without
        # validation, ignores it: p3-p5 are bare pods, so p1 and p2 go.
        "without priorities, but include only default namespace",
        three_nodes,
        lambda: [
            *rs_pods(["p1", "p2"]),
            *[up.build_pod(f"p{i}", 400, 0, "n1", namespace=f"namespace{i}") for i in (3, 4, 5)],
            *protected(),
            *rs_pods(["p9"], "n2"),
        ],
        2,
        evictable_namespaces=common.Namespaces(include=("default",)),
    ),
    Case(
        "without priorities stop when cpu capacity is depleted",
        three_nodes,
        lambda: [*rs_pods(["p1", "p2", "p3", "p4", "p5"]), *protected(), *rs_pods(["p9"], "n2")],
        4,
    ),
    Case(
        "with priorities",
        three_nodes,
        lambda: [
            *rs_pods(["p1", "p2", "p3", "p4"], priority=up.HIGH_PRIORITY),
            *rs_pods(["p5"], priority=up.LOW_PRIORITY),
            up.build_pod("p6", 400, 0, "n1", owners=[up.DS_OWNER], priority=up.HIGH_PRIORITY),
            up.build_mirror_pod("p7", 400, 0, "n1", priority=up.LOW_PRIORITY),
            up.build_critical_pod("p8", 400, 0, "n1", owners=[up.NORMAL_OWNER]),
            *rs_pods(["p9"], "n2"),
        ],
        4,
    ),
    Case(
        "without priorities evicting best-effort pods only",
        three_nodes,
        lambda: [
            *rs_pods(["p1", "p2"], qos="BestEffort"),
            *rs_pods(["p3"]),
            *rs_pods(["p4", "p5"], qos="BestEffort"),
            *protected(),
            *rs_pods(["p9"], "n2"),
        ],
        4,
        evicted=("p1", "p2", "p4", "p5"),
    ),
    Case(
        # 4 pods could go by the pods resource; the extended resource runs out after 3.
        "with extended resource",
        lambda: [
            up.build_node("n1", 4000, 3000, 9, extended={up.EXTENDED: 8}),
            up.build_node("n2", 4000, 3000, 10, extended={up.EXTENDED: 8}),
            up.build_node("n3", 4000, 3000, 10, unschedulable=True),
        ],
        lambda: [
            *ext_pods(["p1", "p2", "p3", "p4", "p5"], "n1"),
            *ext_pods(["p6"], "n1", owners=[up.NORMAL_OWNER]),
            up.build_mirror_pod("p7", 0, 0, "n1", extended={up.EXTENDED: 1}),
            up.build_critical_pod("p8", 0, 0, "n1", owners=[up.NORMAL_OWNER], extended={up.EXTENDED: 1}),
            *ext_pods(["p9"], "n2"),
        ],
        3,
        thresholds={"pods": 30.0, up.EXTENDED: 30.0},
        targets={"pods": 50.0, up.EXTENDED: 50.0},
    ),
    Case(
        # n2 has none of the extended resource: no room for it anywhere.
        "with extended resource in some of nodes",
        lambda: [
            up.build_node("n1", 4000, 3000, 9, extended={up.EXTENDED: 8}),
            up.build_node("n2", 4000, 3000, 10),
            up.build_node("n3", 4000, 3000, 10, unschedulable=True),
        ],
        lambda: [*ext_pods(["p1"], "n1"), up.build_pod("p9", 0, 0, "n2", owners=[up.RS_OWNER])],
        0,
        thresholds={"pods": 30.0, up.EXTENDED: 30.0},
        targets={"pods": 50.0, up.EXTENDED: 50.0},
    ),
    Case(
        "with extended resource in some of nodes with deviation",
        lambda: [
            up.build_node("n1", 4000, 3000, 10, extended={up.EXTENDED: 8}),
            up.build_node("n2", 4000, 3000, 10, extended={up.EXTENDED: 8}),
            up.build_node("n3", 4000, 3000, 10, unschedulable=True),
        ],
        lambda: [
            *ext_pods(["p1"], "n1"),
            *ext_pods(["p2"], "n2", amount=7),
            up.build_pod("p3", 0, 0, "n2", owners=[up.RS_OWNER]),
            up.build_pod("p8", 0, 0, "n3", owners=[up.RS_OWNER]),
            up.build_pod("p9", 0, 0, "n3", owners=[up.RS_OWNER]),
        ],
        1,
        thresholds={"pods": 5.0, up.EXTENDED: 10.0},
        targets={"pods": 5.0, up.EXTENDED: 10.0},
        deviation=True,
    ),
    Case(
        "without priorities, but only other node is unschedulable",
        lambda: [up.build_node("n1", 4000, 3000, 9), up.build_node("n2", 4000, 3000, 10, unschedulable=True)],
        lambda: [*rs_pods(["p1", "p2", "p3", "p4", "p5"]), *protected()],
        0,
    ),
    Case(
        # nodeFit: p4 and p5 select the west datacenter, which no other node is in.
        "without priorities, but only other node doesn't match pod node selector for p4 and p5",
        lambda: [
            up.build_node("n1", 4000, 3000, 9),
            up.build_node("n2", 4000, 3000, 10, labels={"datacenter": "east"}),
        ],
        lambda: [
            *rs_pods(["p1", "p2", "p3"]),
            *[
                up.build_pod(n, 400, 0, "n1", owners=[up.NORMAL_OWNER], spec={"nodeSelector": {"datacenter": "west"}})
                for n in ("p4", "p5")
            ],
            *protected(),
        ],
        3,
    ),
    Case(
        "without priorities, but only other node doesn't match pod node affinity for p4 and p5",
        lambda: [
            up.build_node("n1", 4000, 3000, 9),
            up.build_node("n2", 4000, 3000, 10, labels={"datacenter": "east"}),
        ],
        lambda: [
            *rs_pods(["p1", "p2", "p3"]),
            *[
                up.build_pod(n, 400, 0, "n1", owners=[up.NORMAL_OWNER], spec={"affinity": DATACENTER_WEST_AFFINITY})
                for n in ("p4", "p5")
            ],
            *protected(),
            up.build_pod("p9", 0, 0, "n2", owners=[up.RS_OWNER]),
        ],
        3,
    ),
    Case(
        # Mean cpu 30%, pods ~33%: n2 under 25%/28%, n1 over 35%/38%; room on n2 for 2 pods.
        "deviation thresholds",
        three_nodes,
        lambda: [*rs_pods(["p1", "p2", "p3", "p4", "p5"]), *protected(), *rs_pods(["p9"], "n2")],
        2,
        thresholds={"cpu": 5.0, "pods": 5.0},
        targets={"cpu": 5.0, "pods": 5.0},
        deviation=True,
    ),
    Case(
        # n2's memory is full: no room for memory, so nothing moves (memory is tracked, not thresholded).
        "deviation thresholds and overevicting memory",
        lambda: [
            up.build_node("n1", 4000, 3000, 10),
            up.build_node("n2", 4000, 3000, 10),
            up.build_node("n3", 4000, 3000, 10, unschedulable=True),
        ],
        lambda: [
            *[up.build_pod(f"p{i}", 400, 375, "n1", owners=[up.RS_OWNER]) for i in range(1, 6)],
            up.build_pod("p6", 400, 375, "n1", owners=[up.DS_OWNER]),
            up.build_mirror_pod("p7", 400, 375, "n1"),
            up.build_critical_pod("p8", 400, 375, "n1", owners=[up.NORMAL_OWNER]),
            up.build_pod("p9", 400, 3000, "n2", owners=[up.RS_OWNER]),
        ],
        0,
        thresholds={"cpu": 5.0, "pods": 5.0},
        targets={"cpu": 5.0, "pods": 5.0},
        deviation=True,
    ),
    Case(
        "without priorities different evictions for requested and actual resources",
        lambda: [
            up.build_node("n1", 4000, 3000, 9),
            up.build_node("n2", 4000, 3000, 10, labels={"datacenter": "east"}),
        ],
        lambda: [
            *rs_pods(["p1", "p2", "p3"]),
            *[
                up.build_pod(n, 400, 0, "n1", owners=[up.NORMAL_OWNER], spec={"affinity": DATACENTER_WEST_AFFINITY})
                for n in ("p4", "p5")
            ],
            *protected(),
            up.build_pod("p9", 0, 0, "n2", owners=[up.RS_OWNER]),
        ],
        3,
    ),
    Case(
        "without priorities with node eviction limit",
        three_nodes,
        lambda: [*rs_pods(["p1", "p2", "p3", "p4", "p5"]), *protected(()), *rs_pods(["p9"], "n2")],
        2,
        node_limit=2,
    ),
]


def args_of(case: Case) -> plugin.Args:
    """Built directly, as upstream's test builds LowNodeUtilizationArgs (no validation)."""
    return plugin.Args(
        use_deviation_thresholds=case.deviation,
        thresholds=case.thresholds,
        target_thresholds=case.targets,
        evictable_namespaces=case.evictable_namespaces,
        eviction_limits=plugin.EvictionLimits(node=case.node_limit) if case.node_limit is not None else None,
    )


@pytest.mark.parametrize("case", CASES, ids=[f"{c.name} -> {c.expected} evicted" for c in CASES])
def test_upstream_lownodeutilization_table(case: Case) -> None:
    # upstream TestLowNodeUtilization (requests run), DefaultEvictorArgs{NodeFit: true}
    h = up.harness(plugin.SPEC, args_of(case), case.nodes(), case.pods(), evictor_args={"nodeFit": True})
    evicted = h.run()
    assert len(evicted) == case.expected
    if case.evicted:
        assert sorted(evicted) == sorted(case.evicted)


@pytest.mark.parametrize("case", CASES, ids=[f"DELIBERATE DIFFERENCE: {c.name} with metrics enabled" for c in CASES])
def test_upstream_metrics_runs_are_refused(case: Case) -> None:
    # upstream TestLowNodeUtilization "<name> with metrics enabled": MetricsUtilization{Source: KubernetesMetrics}.
    # tensile measures requests only and refuses metricsUtilization before anything runs.
    wire = {"thresholds": case.thresholds, "targetThresholds": case.targets, "useDeviationThresholds": case.deviation}
    found = f.args_problems(plugin.SPEC, **wire, metricsUtilization={"source": "KubernetesMetrics"})
    assert up.errors(found) == ["metricsUtilization"]


# -- TestLowNodeUtilizationWithTaints ---------------------------------------------------------

TAINT = {"key": "key", "value": "value", "effect": "NoSchedule"}


def taint_case_pods(busy: int, other: str, *, tolerating: bool = False) -> Callable[[], list[model.Pod]]:
    def build() -> list[model.Pod]:
        pods = [up.build_pod(f"pod_{i}_n1", 200, 0, "n1", owners=[up.RS_OWNER]) for i in range(1, busy + 1)]
        if tolerating:
            toleration = {"tolerations": [{"key": "key", "value": "value"}]}
            pods.append(up.build_pod("tolerate_pod", 200, 0, "n1", owners=[up.RS_OWNER], spec=toleration))
        return [*pods, up.build_pod(f"pod_9_{other}", 200, 0, other, owners=[up.RS_OWNER])]

    return build


TAINT_CASES = [
    ("No taints", False, taint_case_pods(8, "n2"), 1),
    ("No pod tolerates node taint", True, taint_case_pods(8, "n3"), 0),
    ("Pod which tolerates node taint", True, taint_case_pods(7, "n3", tolerating=True), 1),
    (
        "Pod which tolerates node taint, set maxPodsToEvictTotal(0), should not be expelled",
        True,
        taint_case_pods(7, "n3", tolerating=True),
        0,
    ),
]


@pytest.mark.parametrize(
    ("tainted", "pods", "expected"),
    [case[1:] for case in TAINT_CASES],
    ids=[f"{c[0]} -> {c[3]} evicted" for c in TAINT_CASES],
)
def test_upstream_taints_table(tainted: bool, pods: Callable[[], list[model.Pod]], expected: int) -> None:
    # upstream TestLowNodeUtilizationWithTaints: pods 20%/70%, nodeFit, and (as upstream wires it)
    # maxPodsToEvictPerNode = the expected count; its maxPodsToEvictTotal field is never used.
    n3 = up.build_node("n3", 1000, 3000, 10, taints=[TAINT] if tainted else ())
    nodes = (
        [up.build_node("n1", 2000, 3000, 10), n3]
        if tainted
        else [up.build_node("n1", 2000, 3000, 10), up.build_node("n2", 1000, 3000, 10), n3]
    )
    args = plugin.Args(thresholds={"pods": 20.0}, target_thresholds={"pods": 70.0})
    h = up.harness(plugin.SPEC, args, nodes, pods(), evictor_args={"nodeFit": True}, limit=Limits(per_node=expected))
    assert len(h.run()) == expected


# -- Prometheus ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        {"source": "Prometheus", "prometheus": {"query": "instance:node_cpu:rate:sum"}},
        {"source": "Prometheus", "prometheus": {"query": "instance:node_cpu:rate:sum"}},
        {"source": "Prometheus", "prometheus": {"query": "instance:node_cpu:rate:sum"}},
        {"source": "Prometheus", "prometheus": {"query": "instance:node_cpu:rate:sum"}},
        {"source": "Prometheus", "prometheus": {"query": "instance:node_cpu:rate:sum"}},
    ],
    ids=[
        "DELIBERATE DIFFERENCE: with instance:node_cpu:rate:sum query -> refused",
        "DELIBERATE DIFFERENCE: with instance:node_cpu:rate:sum query with more evictions -> refused",
        "DELIBERATE DIFFERENCE: with instance:node_cpu:rate:sum query with deviation -> refused",
        "DELIBERATE DIFFERENCE: with instance:node_cpu:rate:sum query and deviation thresholds -> refused",
        "DELIBERATE DIFFERENCE: TestLowNodeUtilizationPrometheusClientNilAtCreation -> refused",
    ],
)
def test_upstream_prometheus_cases_are_refused(source: dict[str, Any]) -> None:
    # upstream TestLowNodeUtilizationWithPrometheusMetrics (4 cases) and
    # TestLowNodeUtilizationPrometheusClientNilAtCreation: thresholds on MetricResource from a query.
    wire = {"thresholds": {"MetricResource": 30}, "targetThresholds": {"MetricResource": 50}}
    found = f.args_problems(plugin.SPEC, **wire, metricsUtilization=source)
    assert up.errors(found) == ["metricsUtilization"]


@pytest.mark.parametrize(
    "metrics",
    [
        {"source": "KubernetesMetrics"},
        {"source": "Prometheus", "prometheus": {"query": "instance:node_cpu:rate:sum"}},
        {"source": "Prometheus", "prometheus": {"query": "instance:node_cpu:rate:sum"}},
        {"source": "Prometheus", "prometheus": {"query": "instance:node_cpu:rate:sum"}},
        {"source": "Prometheus", "prometheus": {"query": "instance:node_cpu:rate:sum"}},
    ],
    ids=[
        "DELIBERATE DIFFERENCE: TestActualUsageClient -> refused",
        "DELIBERATE DIFFERENCE: TestPrometheusUsageClient valid data -> refused",
        "DELIBERATE DIFFERENCE: TestPrometheusUsageClient invalid data missing instance label -> refused",
        "DELIBERATE DIFFERENCE: TestPrometheusUsageClient invalid data value out of range -> refused",
        "DELIBERATE DIFFERENCE: TestPrometheusUsageClient invalid data not a vector -> refused",
    ],
)
def test_upstream_usage_clients_have_no_tensile_source(metrics: dict[str, Any]) -> None:
    # upstream usageclients_test.go tests the metrics-server and Prometheus usage clients; tensile
    # has only the requested-resources one and refuses any metricsUtilization that would pick another.
    found = f.args_problems(
        plugin.SPEC, thresholds={"cpu": 20}, targetThresholds={"cpu": 50}, metricsUtilization=metrics
    )
    assert up.errors(found) == ["metricsUtilization"]


# -- validation_test.go ------------------------------------------------------------------------

EXT = "example.com/foo"
VALIDATION = [
    ("passing invalid thresholds", {"cpu": 20, "memory": 120}, {"cpu": 80, "memory": 80}, None, True),
    (
        "thresholds and targetThresholds configured different num of resources",
        {"cpu": 20, "memory": 20},
        {"cpu": 80, "memory": 80, "pods": 80},
        None,
        True,
    ),
    (
        "thresholds and targetThresholds configured different resources",
        {"cpu": 20, "memory": 20},
        {"cpu": 80, "pods": 80},
        None,
        True,
    ),
    (
        "thresholds' CPU config value is greater than targetThresholds'",
        {"cpu": 90, "memory": 20},
        {"cpu": 80, "memory": 80},
        None,
        True,
    ),
    (
        "only thresholds configured extended resource",
        {"cpu": 20, "memory": 20, EXT: 20},
        {"cpu": 80, "memory": 80},
        None,
        True,
    ),
    (
        "only targetThresholds configured extended resource",
        {"cpu": 20, "memory": 20},
        {"cpu": 80, "memory": 80, EXT: 80},
        None,
        True,
    ),
    (
        "thresholds and targetThresholds configured different extended resources",
        {"cpu": 20, "memory": 20, EXT: 20},
        {"cpu": 80, "memory": 80, "example.com/bar": 80},
        None,
        True,
    ),
    (
        "thresholds' extended resource config value is greater than targetThresholds'",
        {"cpu": 20, "memory": 20, EXT: 90},
        {"cpu": 80, "memory": 80, EXT: 20},
        None,
        True,
    ),
    ("passing valid plugin config", {"cpu": 20, "memory": 20}, {"cpu": 80, "memory": 80}, None, False),
    (
        "passing valid plugin config with extended resource",
        {"cpu": 20, "memory": 20, EXT: 20},
        {"cpu": 80, "memory": 80, EXT: 80},
        None,
        False,
    ),
    # The three metrics cases are errors upstream too; tensile refuses any metricsUtilization.
    (
        "setting both kubernetes metrics source and metricsserver",
        {"cpu": 20, "memory": 20, EXT: 20},
        {"cpu": 80, "memory": 80, EXT: 80},
        {"metricsServer": True, "source": "KubernetesMetrics"},
        True,
    ),
    (
        "missing prometheus query",
        {"cpu": 20, "memory": 20, EXT: 20},
        {"cpu": 80, "memory": 80, EXT: 80},
        {"source": "Prometheus"},
        True,
    ),
    (
        "prometheus set when source set to kubernetes metrics",
        {"cpu": 20, "memory": 20, EXT: 20},
        {"cpu": 80, "memory": 80, EXT: 80},
        {"source": "KubernetesMetrics", "prometheus": {}},
        True,
    ),
]


@pytest.mark.parametrize(
    ("thresholds", "targets", "metrics", "refused"),
    [case[1:] for case in VALIDATION],
    ids=[f"{c[0]} -> {'error' if c[4] else 'valid'}" for c in VALIDATION],
)
def test_upstream_validation_table(
    thresholds: dict[str, float], targets: dict[str, float], metrics: dict[str, Any] | None, refused: bool
) -> None:
    # upstream TestValidateLowNodeUtilizationPluginConfig
    wire: dict[str, Any] = {"thresholds": thresholds, "targetThresholds": targets}
    if metrics is not None:
        wire["metricsUtilization"] = metrics
    assert bool(up.errors(f.args_problems(plugin.SPEC, **wire))) is refused


# -- defaults_test.go --------------------------------------------------------------------------


def test_upstream_defaults_empty_args() -> None:
    # upstream TestSetDefaults_LowNodeUtilizationArgs "LowNodeUtilizationArgs empty"
    decoded = f.decode_args(plugin.Args)
    assert decoded == plugin.Args()
    assert (decoded.use_deviation_thresholds, decoded.thresholds, decoded.target_thresholds) == (False, {}, {})
    assert decoded.number_of_nodes == 0


def test_upstream_defaults_keep_given_values() -> None:
    # upstream TestSetDefaults_LowNodeUtilizationArgs "LowNodeUtilizationArgs with value"
    decoded = f.decode_args(
        plugin.Args,
        useDeviationThresholds=True,
        thresholds={"cpu": 20, "memory": 120},
        targetThresholds={"cpu": 80, "memory": 80},
        numberOfNodes=10,
    )
    assert decoded.use_deviation_thresholds is True
    assert (decoded.thresholds, decoded.target_thresholds) == ({"cpu": 20, "memory": 120}, {"cpu": 80, "memory": 80})
    assert decoded.number_of_nodes == 10


# -- nodeutilization_test.go -------------------------------------------------------------------


def load(name: str, usage: dict[str, int]) -> nu.NodeLoad:
    """BuildTestNodeInfo: allocatable 1930m cpu, 3287692Ki memory, 29 pods."""
    node = up.build_node(name, 1930, 3287692 * 1024, 29)
    return nu.NodeLoad(node, usage, {})


SORT_CASES = {
    "cpu memory pods": [
        load("node1", {"cpu": 1730, "memory": 3038982964, "pods": 25}),
        load("node2", {"cpu": 1220, "memory": 3038982964, "pods": 11}),
        load("node3", {"cpu": 1530, "memory": 5038982964, "pods": 20}),
    ],
    "memory": [
        load("node1", {"memory": 3038982964}),
        load("node2", {"memory": 2038982964}),
        load("node3", {"memory": 5038982964}),
    ],
}


@pytest.mark.parametrize(
    ("case", "ascending"),
    [("cpu memory pods", False), ("cpu memory pods", True), ("memory", False), ("memory", True)],
    ids=[
        "cpu memory pods descending -> node3, node1, node2",
        "cpu memory pods ascending -> node2, node1, node3",
        "memory descending -> node3, node1, node2",
        "memory ascending -> node2, node1, node3",
    ],
)
def test_upstream_sort_nodes_by_usage(case: str, ascending: bool) -> None:
    # upstream TestSortNodesByUsage: LowNodeUtilization sorts descending, HighNodeUtilization ascending.
    order = [n.node.name for n in nu.sort_by_usage(SORT_CASES[case], ascending=ascending)]
    expected = ["node3", "node1", "node2"]
    assert order == (expected[::-1] if ascending else expected)


@pytest.mark.parametrize(
    ("usage", "capacity", "expected"),
    [
        ({"cpu": 100}, {"cpu": 1000}, {"cpu": 10.0}),
        ({"cpu": 100}, {"cpu": 0}, {"cpu": 0.0}),
        ({"does-not-exist": 100}, {"cpu": 100, "memory": 100}, {}),
        ({"does-not-exist": 100, "cpu": 200}, {"cpu": 1000, "memory": 1000}, {"cpu": 20.0}),
        ({"cpu": 100}, {}, {}),
    ],
    ids=[
        "10 percent",
        "zeroed out capacity -> 0",
        "non existing usage -> nothing",
        "existing and non existing usage -> only cpu",
        "nil capacity (tensile: capacity without the resource) -> nothing",
    ],
)
def test_upstream_resource_usage_to_resource_threshold(
    usage: dict[str, int], capacity: dict[str, int], expected: dict[str, float]
) -> None:
    # upstream TestResourceUsageToResourceThreshold. Its "nil usage" case (a nil *Quantity) has no
    # tensile equivalent: usage is a plain int, 0 when nothing requests the resource.
    assert nu.percentages(usage, capacity, usage) == expected


DEVIATION_USAGE = {"node1": 100, "node2": 480, "node3": 520, "node4": 500, "node5": 900}


def test_upstream_classification_using_deviation_thresholds() -> None:
    # upstream TestClassificationUsingDeviationThresholds and TestUsingDeviationThresholdsWithPointers
    # (the same data through Go's generic pointer types): mean 50%, spans of 5 points, so
    # underutilized <= 45% and overutilized > 55%; node2-4 (48%, 52%, 50%) are neither.
    loads = [
        nu.NodeLoad(up.build_node(name, 1000 * 1000, 1000, 10), {}, {"cpu": used / 10, "memory": used / 10})
        for name, used in DEVIATION_USAGE.items()
    ]
    low, high = nu.deviation_thresholds((n.percent for n in loads), {"cpu": 5, "memory": 5}, {"cpu": 5, "memory": 5})
    under, over = nu.classify(loads, lambda n: nu.at_or_below(n.percent, low), lambda n: nu.above(n.percent, high))
    assert ([n.node.name for n in under], [n.node.name for n in over]) == (["node1"], ["node5"])


# -- normalizer_test.go ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usages", "totals", "expected"),
    [
        ({"node1": {"cpu": 1000}}, {"node1": {"cpu": 2000}}, {"node1": {"cpu": 50.0}}),
        (
            {"node1": {"cpu": 1000, "memory": 6, "pods": 2}, "node2": {"cpu": 10000, "memory": 20, "pods": 30}},
            {"node1": {"cpu": 2000, "memory": 6, "pods": 100}, "node2": {"cpu": 100000, "memory": 100, "pods": 100}},
            {
                "node1": {"cpu": 50.0, "memory": 100.0, "pods": 2.0},
                "node2": {"cpu": 10.0, "memory": 20.0, "pods": 30.0},
            },
        ),
    ],
    ids=["TestNormalize single normalization", "TestNormalize multiple normalization"],
)
def test_upstream_normalize(
    usages: dict[str, dict[str, int]], totals: dict[str, dict[str, int]], expected: dict[str, dict[str, float]]
) -> None:
    # Its two "over 100% usage" cases use a test-only normalizer that clamps at 100%; the
    # plugins' ResourceUsageToResourceThreshold (tensile's percentages) does not: not applicable.
    assert {name: nu.percentages(u, totals[name], u) for name, u in usages.items()} == expected


AVERAGE_CASES = [
    ("empty usage", {}, {}, {}),
    (
        "fifty percent usage",
        {"node1": {"cpu": 1000, "memory": 6}, "node2": {"cpu": 2000, "memory": 6}},
        {"node1": {"cpu": 2000, "memory": 12}, "node2": {"cpu": 4000, "memory": 12}},
        {"cpu": 50.0, "memory": 50.0},
    ),
    (
        "mixed percent usage",
        {"node1": {"cpu": 10000, "memory": 80, "pods": 20}, "node2": {"cpu": 20000, "memory": 60, "pods": 20}},
        {
            "node1": {"cpu": 100000, "memory": 100, "pods": 10000},
            "node2": {"cpu": 100000, "memory": 100, "pods": 10000},
        },
        {"cpu": 15.0, "memory": 70.0, "pods": 0.2},
    ),
    (
        "some nodes missing some resources",
        {
            **{
                n: {
                    "limit-exists-in-all": 10,
                    "limit-exists-in-two": 11,
                    "limit-does-not-exist": 12,
                    "usage-exists-in-all": 13,
                    "usage-exists-in-two": 20,
                }
                for n in ("node1", "node2")
            },
            **{
                n: {
                    "limit-exists-in-all": 10,
                    "limit-exists-in-two": 11,
                    "limit-does-not-exist": 12,
                    "usage-exists-in-all": 13,
                }
                for n in ("node3", "node4")
            },
            "node5": {"random-usage-without-limit": 10},
        },
        {
            **{
                n: {
                    "limit-exists-in-all": 100,
                    "limit-exists-in-two": 100,
                    "usage-exists-in-all": 100,
                    "usage-exists-in-two": 100,
                    "usage-does-not-exist": 100,
                }
                for n in ("node1", "node2")
            },
            **{
                n: {
                    "limit-exists-in-all": 100,
                    "usage-exists-in-all": 100,
                    "usage-exists-in-two": 100,
                    "usage-does-not-exist": 100,
                }
                for n in ("node3", "node4")
            },
            "node5": {"random-limit-without-usage": 100},
        },
        {
            "limit-exists-in-all": 10.0,
            "limit-exists-in-two": 11.0,
            "usage-exists-in-all": 13.0,
            "usage-exists-in-two": 20.0,
        },
    ),
]


@pytest.mark.parametrize(
    ("usages", "totals", "expected"),
    [case[1:] for case in AVERAGE_CASES],
    ids=[f"TestAverage {c[0]}" for c in AVERAGE_CASES],
)
def test_upstream_average(
    usages: dict[str, dict[str, int]], totals: dict[str, dict[str, int]], expected: dict[str, float]
) -> None:
    # The mean over the nodes that have each resource: deviation_thresholds with no span.
    # "mixed limits" relies on the test normalizer's 100% clamp (pods at 2000%): not applicable.
    percents = [nu.percentages(u, totals[name], u) for name, u in usages.items()]
    low, high = nu.deviation_thresholds(percents, {}, {})
    assert low == high == pytest.approx(expected)


@pytest.mark.parametrize(
    ("deviation", "expected"),
    [(1, 51.0), (2, 52.0), (3, 53.0), (-2, 48.0), (-1, 49.0), (0, 50.0)],
    ids=[
        "TestSum single deviation +1 -> 51",
        "TestSum single deviation +2 -> 52",
        "TestSum single deviation +3 -> 53",
        "TestSum deviate with negative values -2 -> 48",
        "TestSum deviate with negative values -1 -> 49",
        "TestSum deviate with negative values 0 -> 50",
    ],
)
def test_upstream_sum(deviation: float, expected: float) -> None:
    # A mean of 50% shifted by the high span (the low span is subtracted, tested by its sign).
    usage = {"cpu": 50.0, "memory": 50.0, "pods": 50.0}
    low, high = nu.deviation_thresholds([usage], dict.fromkeys(usage, -deviation), dict.fromkeys(usage, deviation))
    assert high == low == dict.fromkeys(usage, expected)


# -- not applicable ----------------------------------------------------------------------------
# These upstream tests exercise Go internals with no tensile counterpart:
# - classifier/classifier_test.go TestClassifySimple (3), TestClassify_pointers (3), TestClassify (8):
#   the generic Classify over test-defined comparers (n-way, "all resources above"); the plugins'
#   two predicates (isNodeBelowThreshold / isNodeAboveThreshold = nu.at_or_below / nu.above) are
#   pinned by the plugin tables above.
# - nodeutilization_test.go TestNormalizeAndClassify (2): the same generic Classify, 3-way and
#   with an "all resources above" comparer.
# - normalizer/normalizer_test.go TestNormalizeSimple (3): generic float normalization;
#   TestNormalize "multiple normalization with over 100% usage" and "... and different totals",
#   TestAverage "mixed limits": a test-only normalizer that clamps at 100%, which the plugins'
#   ResourceUsageToResourceThreshold does not; TestClamp (3): bounds other than [0, 100].
# - nodeutilization_test.go TestResourceUsageToResourceThreshold "nil usage": a nil *Quantity.


# -- what upstream's source decides ------------------------------------------------------------


def test_candidates_leave_in_sort_pods_based_on_priority_low_to_high_order() -> None:
    # upstream pkg/descheduler/pod TestSortPodsBasedOnPriorityLowToHigh, the order
    # evictPodsFromSourceNodes sorts a node's removable pods in: no priority first, then lowest
    # priority; BestEffort, Burstable, Guaranteed; prefer-no-eviction last within a class.
    prefer = {"descheduler.alpha.kubernetes.io/prefer-no-eviction": ""}
    low, high = 0, 10_000

    def listed(**kw: Any) -> list[model.Pod]:
        return [
            up.build_pod("p1", 400, 0, "n1", priority=low, **kw),
            up.build_pod("p8", 400, 0, "n1", priority=high, qos="BestEffort", annotations=prefer, **kw),
            up.build_pod("p9", 400, 0, "n1", priority=high, annotations=prefer, **kw),
            up.build_pod("p10", 400, 100, "n1", priority=high, qos="Guaranteed", annotations=prefer, **kw),
            up.build_pod("p2", 400, 0, "n1", priority=high, qos="BestEffort", **kw),
            up.build_pod("p3", 400, 0, "n1", priority=high, **kw),
            up.build_pod("p4", 400, 100, "n1", priority=high, qos="Guaranteed", **kw),
            up.build_pod("p5", 400, 100, "n1", qos="BestEffort", **kw),
            up.build_pod("p6", 400, 100, "n1", qos="Guaranteed", **kw),
            up.build_pod("p7", 400, 0, "n1", priority=low, annotations=prefer, **kw),
            up.build_pod("p11", 400, 0, "n1", **kw),
            up.build_pod("p12", 400, 0, "n1", annotations=prefer, **kw),
        ]

    expected = ["p5", "p11", "p12", "p6", "p1", "p7", "p2", "p8", "p3", "p9", "p4", "p10"]
    assert [p.name for p in nu.eviction_order(listed())] == expected
    # The same order through a run: n1 (12 pods of 12) sheds down to 50% on pods, 6 pods.
    nodes = [up.build_node("n1", 40_000, 3000, 12), up.build_node("n2", 40_000, 3000, 100)]
    args = plugin.Args(thresholds={"pods": 10.0}, target_thresholds={"pods": 50.0})
    assert up.harness(plugin.SPEC, args, nodes, listed(owners=[up.RS_OWNER])).run() == expected[:6]


def test_qos_class_follows_get_pod_qos_when_status_has_none() -> None:
    # upstream utils.GetPodQOS: only cpu and memory above zero count, so a pod requesting
    # 0 cpu, 0 memory and an extended resource is BestEffort, and limits of 0 memory do not
    # make a pod Guaranteed.
    assert up.build_pod("zero", 0, 0, "n1", extended={up.EXTENDED: 1}).qos_class == "BestEffort"
    assert up.build_pod("no-memory-limit", 400, 0, "n1", qos="Guaranteed").qos_class == "Burstable"
    assert up.build_pod("guaranteed", 400, 100, "n1", qos="Guaranteed").qos_class == "Guaranteed"
    one_cpu = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1000m", "memory": "1024Mi"}}
    spelled = up.build_pod("spelled", 0, 0, "n1", spec={"containers": [{"name": "c", "resources": one_cpu}]})
    assert spelled.qos_class == "Guaranteed"  # quantities compare by value, not by spelling


def cpu_cluster(receivers: Sequence[model.Node]) -> list[model.Node]:
    return [up.build_node("busy", 10_000, 10**9, 100), *receivers]


def cpu_pods(node_name: str, count: int, prefix: str = "", **kw: Any) -> list[model.Pod]:
    return [
        up.build_pod(f"{prefix or node_name}-{i}", 1000, 0, node_name, owners=[up.RS_OWNER], **kw) for i in range(count)
    ]


CPU_20_50 = plugin.Args(thresholds={"cpu": 20.0}, target_thresholds={"cpu": 50.0})


def test_room_is_the_underutilized_nodes_room_up_to_target_summed() -> None:
    # upstream assessAvailableResourceInNodes: sum over the underutilized nodes of (allocatable
    # capped at targetThresholds) - usage; continueEvictionCond stops once any resource is <= 0.
    # busy at 90% wants to shed 4; two receivers at 20% and 10% have room for 3 + 4 = 7.
    receivers = [up.build_node("low1", 10_000, 10**9, 100), up.build_node("low2", 10_000, 10**9, 100)]
    pods = [*cpu_pods("busy", 9), *cpu_pods("low1", 2), *cpu_pods("low2", 1)]
    assert len(up.harness(plugin.SPEC, CPU_20_50, cpu_cluster(receivers), pods).run()) == 4
    # With target 30%: room for 1 + 2 = 3 < 6 wanted: the room, not the source, stops it.
    tight = dataclasses.replace(CPU_20_50, target_thresholds={"cpu": 30.0})
    assert len(up.harness(plugin.SPEC, tight, cpu_cluster(receivers), pods).run()) == 3


def test_room_of_an_unthresholded_resource_counts_too() -> None:
    # continueEvictionCond checks every tracked resource (thresholds + cpu, memory, pods): a
    # receiver with its pods resource nearly full stops evictions although cpu has room.
    receivers = [up.build_node("low", 10_000, 10**9, 2)]
    pods = [*cpu_pods("busy", 9), *cpu_pods("low", 1)]
    assert len(up.harness(plugin.SPEC, CPU_20_50, cpu_cluster(receivers), pods).run()) == 1


def test_tainted_receivers_count_their_room_and_pods_need_one_tolerable_receiver() -> None:
    # upstream: tainted nodes are underutilized like any other (only unschedulable ones are not),
    # their room counts in the total, and a pod moves when it tolerates every taint of at
    # least one receiver (utils.PodToleratesTaints, all effects).
    taint = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
    receivers = [
        up.build_node("tainted", 10_000, 10**9, 100, taints=[taint]),
        up.build_node("plain", 10_000, 10**9, 100),
    ]
    pods = [*cpu_pods("busy", 9), *cpu_pods("plain", 4)]
    # plain (40%) is not underutilized; tainted (0%) is, and offers 5 cpus of room: none tolerates it.
    assert up.harness(plugin.SPEC, CPU_20_50, cpu_cluster(receivers), pods).run() == []
    toleration = {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}
    tolerant = [*cpu_pods("busy", 7), *cpu_pods("busy", 2, prefix="tolerant", spec=toleration), *cpu_pods("plain", 4)]
    assert up.harness(plugin.SPEC, CPU_20_50, cpu_cluster(receivers), tolerant).run() == ["tolerant-0", "tolerant-1"]


def test_a_receiver_with_more_taints_than_the_pod_has_tolerations_is_never_tolerated() -> None:
    # utils.PodToleratesTaints compares the counts first: one wildcard toleration does not
    # tolerate a node with two taints there, although the scheduler would place the pod.
    taints = [{"key": "a", "value": "", "effect": "NoSchedule"}, {"key": "b", "value": "", "effect": "NoSchedule"}]
    wildcard = {"tolerations": [{"operator": "Exists"}]}
    receivers = [up.build_node("tainted", 10_000, 10**9, 100, taints=taints)]
    pods = cpu_pods("busy", 9, spec=wildcard)
    assert up.harness(plugin.SPEC, CPU_20_50, cpu_cluster(receivers), pods).run() == []
    two = {"tolerations": [{"operator": "Exists"}, {"key": "b", "operator": "Exists"}]}
    assert len(up.harness(plugin.SPEC, CPU_20_50, cpu_cluster(receivers), cpu_pods("busy", 9, spec=two)).run()) == 4


def test_unschedulable_nodes_are_never_receivers_and_node_fit_looks_at_all_other_nodes() -> None:
    # upstream Balance: an unschedulable node is not underutilized. nodeFit (DefaultEvictor's
    # PreEvictionFilter) asks whether the pod fits ANY other ready node, not an underutilized one.
    receivers = [
        up.build_node("cordoned", 10_000, 10**9, 100, unschedulable=True),
        up.build_node("low", 10_000, 10**9, 100),
    ]
    pods = [*cpu_pods("busy", 9), *cpu_pods("low", 1)]
    assert (
        len(up.harness(plugin.SPEC, CPU_20_50, cpu_cluster(receivers), pods, evictor_args={"nodeFit": True}).run()) == 4
    )
    only_cordoned = [
        up.build_node("cordoned", 10_000, 10**9, 100, unschedulable=True),
        up.build_node("mid", 10_000, 10**9, 100),
    ]
    pods = [*cpu_pods("busy", 9), *cpu_pods("mid", 4)]
    assert up.harness(plugin.SPEC, CPU_20_50, cpu_cluster(only_cordoned), pods).run() == []


def controlled(node_name: str, count: int) -> list[model.Pod]:
    """1-cpu pods with a controlling ReplicaSet: tensile's evictor reserves room for their replacements."""
    return [f.pod(f"{node_name}-{i}", node=node_name, cpu="1", memory=None) for i in range(count)]


def test_the_plan_uses_one_snapshot_so_its_own_replacements_do_not_shrink_the_room() -> None:
    # upstream takes one usage snapshot per Balance (getNodeUsageSnapshot) and subtracts each
    # evicted pod from the total room (subtractPodUsageFromNodeAvailability). tensile's evictor
    # reserves room for each replacement in the cluster state, but the plugin measured before,
    # so controller-owned pods move exactly as upstream's.
    pods = [*controlled("busy", 9), *cpu_pods("low", 1)]
    h = up.harness(plugin.SPEC, CPU_20_50, cpu_cluster([up.build_node("low", 10_000, 10**9, 100)]), pods)
    assert len(h.run()) == 4
    assert h.state.usage("low")["cpu"] == 5000  # the 4 replacements were reserved there meanwhile


def test_deliberate_difference_replacements_of_earlier_evictions_take_room() -> None:
    # DELIBERATE DIFFERENCE (evictor, see the report): upstream's dry run deletes an evicted pod
    # from its fake client and nothing replaces it, so a Balance plugin after it sees the room
    # free. tensile's evictor reserves the replacement's requests on the node it predicts (the
    # emptiest), so here "low" (20%) is at 30% when LowNodeUtilization measures: no longer
    # underutilized. Upstream: busy at 80% sheds 3 into low's room up to 50%; tensile: nothing.
    pods = [*controlled("busy", 9), *cpu_pods("low", 2)]
    h = up.harness(plugin.SPEC, CPU_20_50, cpu_cluster([up.build_node("low", 10_000, 10**9, 100)]), pods)
    assert h.evictor.evict(h.state.pods_on("busy")[0], plugin="Earlier", profile="p", reason="an earlier plugin")
    assert h.state.usage("low")["cpu"] == 3000
    assert h.run() == ["busy-0"]  # only the earlier plugin's eviction


def test_unknown_resource_names_are_accepted_with_a_warning_and_evict_nothing() -> None:
    # upstream validateThresholds checks only the percentages, so `cpux` is accepted; at run time
    # no node has it, so its room is 0 everywhere and continueEvictionCond never lets a pod go.
    found = f.args_problems(plugin.SPEC, thresholds={"cpu": 20, "cpux": 20}, targetThresholds={"cpu": 50, "cpux": 50})
    assert [(p.path, p.warning) for p in found] == [("thresholds.cpux", True)]
    decoded = f.decode_args(plugin.Args, thresholds={"cpu": 20, "cpux": 20}, targetThresholds={"cpu": 50, "cpux": 50})
    pods = [*cpu_pods("busy", 9), *cpu_pods("low", 1)]
    assert up.harness(plugin.SPEC, decoded, cpu_cluster([up.build_node("low", 10_000, 10**9, 100)]), pods).run() == []


def test_a_policy_with_an_unknown_threshold_resource_loads_with_its_warning() -> None:
    text = """
apiVersion: descheduler/v1alpha2
kind: DeschedulerPolicy
profiles:
  - name: p
    pluginConfig:
      - name: LowNodeUtilization
        args:
          thresholds: {cpu: 20, cpux: 20}
          targetThresholds: {cpu: 50, cpux: 50}
    plugins:
      balance:
        enabled: [LowNodeUtilization]
"""
    policy = loading.parse_policy(text, registry=plugins.default_registry())
    assert [(p.path.endswith("args.thresholds.cpux"), p.warning) for p in policy.warnings] == [(True, True)]


@pytest.mark.parametrize(
    "name",
    ["cpu", "memory", "pods", "ephemeral-storage", "hugepages-2Mi", "nvidia.com/gpu", EXT],
    ids=lambda n: f"{n} -> no warning",
)
def test_known_and_extended_resource_names_get_no_warning(name: str) -> None:
    assert f.args_problems(plugin.SPEC, thresholds={name: 20}, targetThresholds={name: 50}) == []
