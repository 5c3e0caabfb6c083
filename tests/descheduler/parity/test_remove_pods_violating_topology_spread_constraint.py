"""RemovePodsViolatingTopologySpreadConstraint against upstream v0.36's tables:
``topologyspreadconstraint_test.go`` (TestTopologySpreadConstraint, TestSortDomains,
TestCheckIdenticalConstraints), ``validation_test.go``
(TestValidateRemovePodsViolatingTopologySpreadConstraintArgs) and ``defaults_test.go``
(TestSetDefaults_RemovePodsViolatingTopologySpreadConstraintArgs), plus parity cases for
what upstream's source decides without a test.

Upstream's table lists pods through a sorted-by-name pod lister so that expected names are
stable; these cases list them in the same (string) order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import common
from descheduler.plugins import remove_pods_violating_topology_spread_constraint as plugin
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

FOO_BAR = {"foo": "bar"}
HASH_KEY = "pod-template-hash"  # appsv1.DefaultDeploymentUniqueLabelKey
ARCH = "kubernetes.io/arch"  # v1.LabelArchStable


def constraint(max_skew: int = 1, key: str = "zone", when: str = "DoNotSchedule", **edits: Any) -> list[dict[str, Any]]:
    """getDefaultTopologyConstraints: one constraint selecting foo=bar, with ``edits`` applied."""
    raw = {
        "maxSkew": max_skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": FOO_BAR},
    }
    return [{**raw, **edits}]


@dataclass(frozen=True)
class Group:
    """One ``testPodList`` entry of createTestPods."""

    count: int
    node: str
    labels: Mapping[str, str] = field(default_factory=lambda: dict(FOO_BAR))
    constraints: Sequence[Mapping[str, Any]] = ()
    node_selector: Mapping[str, str] | None = None
    affinity: Mapping[str, Any] | None = None
    no_owners: bool = False
    tolerations: Sequence[Mapping[str, str]] = ()
    deleting: bool = False


def create_pods(*groups: Group) -> list[model.Pod]:
    """createTestPods: pod-0, pod-1, ... in namespace ns1, 100m and 0 bytes each, ReplicaSet-owned."""
    made = []
    for group in groups:
        for _ in range(group.count):
            spec: dict[str, Any] = {"topologySpreadConstraints": [dict(c) for c in group.constraints]}
            if group.node_selector is not None:
                spec["nodeSelector"] = dict(group.node_selector)
            if group.affinity is not None:
                spec["affinity"] = dict(group.affinity)
            if group.tolerations:
                spec["tolerations"] = [dict(t) for t in group.tolerations]
            made.append(
                up.build_pod(
                    f"pod-{len(made)}",
                    100,
                    0,
                    group.node,
                    namespace="ns1",
                    owners=() if group.no_owners else [up.RS_OWNER],
                    labels=group.labels,
                    deleting=group.deleting,
                    spec=spec,
                )
            )
    return made


def zones(
    *specs: tuple[str, str], millicpu: int = 2000, memory: int = 3000, pods: int = 10, **kw: Any
) -> list[model.Node]:
    """Nodes (name, zone) labelled ``zone``."""
    return [up.build_node(name, millicpu, memory, pods, labels={"zone": zone}, **kw) for name, zone in specs]


def two_zones() -> list[model.Node]:
    return zones(("n1", "zoneA"), ("n2", "zoneB"))


def os_nodes(*extra: str) -> list[model.Node]:
    """n1-n3 linux, n4-n6 (and ``extra``) windows, each its own ``node`` domain."""
    names = [("n1", "linNodeA", "linux"), ("n2", "linNodeB", "linux"), ("n3", "linNodeC", "linux")]
    names += [("n4", "winNodeA", "windows"), ("n5", "winNodeB", "windows"), ("n6", "winNodeC", "windows")]
    names += [(f"n{7 + i}", value, "windows") for i, value in enumerate(extra)]
    return [up.build_node(name, 2000, 3000, 10, labels={"node": value, "os": os}) for name, value, os in names]


def node_affinity(key: str, operator: str, values: Sequence[str] = ()) -> dict[str, Any]:
    expression: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        expression["values"] = list(values)
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [expression]}]
            }
        }
    }


def selector(key: str, values: Sequence[str], operator: str) -> dict[str, Any]:
    """getLabelSelector."""
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


@dataclass(frozen=True)
class Case:
    """One upstream TestTopologySpreadConstraint row."""

    name: str
    nodes: Callable[[], list[model.Node]]
    pods: Callable[[], list[model.Pod]]
    expected: int
    evicted: tuple[str, ...] = ()
    args: plugin.Args = field(default_factory=plugin.Args)
    node_fit: bool = False


BOTH = plugin.Args(constraints=("DoNotSchedule", "ScheduleAnyway"))
NODE_KEY = constraint(key="node")
WINDOWS = {"os": "windows"}
TAINT_TEST = {"key": "taint-test", "value": "test", "effect": "NoSchedule"}
ZONE_A_SELECTOR = {"zone": "zoneA"}
WHOAMI = [
    {
        "labelSelector": {"matchLabels": {"app": "whoami"}},
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
    },
    {
        "labelSelector": {"matchLabels": {"app": "whoami"}},
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
    },
]
SERVICE = [
    {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "service"}},
    }
]
IGNORE_AFFINITY = constraint(nodeAffinityPolicy="Ignore")


def whoami_nodes() -> list[model.Node]:
    zone_of = {"n1": "zoneA", "n2": "zoneA", "n3": "zoneA", "n4": "zoneB", "n5": "zoneB", "n6": "zoneB"}
    return [
        up.build_node(n, 2000, 3000, 10, labels={"topology.kubernetes.io/zone": z, "kubernetes.io/hostname": n})
        for n, z in zone_of.items()
    ]


def issue_839_nodes() -> list[model.Node]:
    both = [
        {"effect": "NoSchedule", "key": "node-role.kubernetes.io/controlplane", "value": "true"},
        {"effect": "NoSchedule", "key": "node-role.kubernetes.io/etcd", "value": "true"},
    ]
    return [
        up.build_node(
            "controlplane1", 2000, 3000, 10, labels={"zone": "zoneA", "kubernetes.io/hostname": "cp-1"}, taints=both
        ),
        up.build_node(
            "infraservices1",
            2000,
            3000,
            10,
            labels={"zone": "zoneA", "infra_service": "true", "kubernetes.io/hostname": "infra-1"},
            taints=[{"effect": "NoSchedule", "key": "infra_service", "value": ""}],
        ),
        up.build_node(
            "app1", 2000, 3000, 10, labels={"zone": "zoneA", "app_service": "true", "kubernetes.io/hostname": "app-1"}
        ),
        up.build_node(
            "app2", 2000, 3000, 10, labels={"zone": "zoneB", "app_service": "true", "kubernetes.io/hostname": "app-2"}
        ),
    ]


def arm_nodes() -> list[model.Node]:
    return [
        up.build_node(n, 1000, 2000, 9, labels={"zone": z, ARCH: "arm64"})
        for n, z in (("A1", "zoneA"), ("B1", "zoneB"), ("C1", "zoneC"))
    ]


CASES = [
    Case(
        "2 domains, sizes [2,1], maxSkew=1, move 0 pods",
        two_zones,
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(1, "n1"), Group(1, "n2")),
        0,
    ),
    Case(
        "2 domains, sizes [3,1], maxSkew=1, move 1 pod to achieve [2,2]",
        two_zones,
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(2, "n1"), Group(1, "n2")),
        1,
    ),
    Case(
        "2 domains, sizes [3,1], maxSkew=1, move 1 pod to achieve [2,2] (both constraints)",
        two_zones,
        lambda: create_pods(
            Group(1, "n1", constraints=constraint(when="ScheduleAnyway")), Group(2, "n1"), Group(1, "n2")
        ),
        1,
        args=BOTH,
    ),
    Case(
        "2 domains, sizes [3,1], maxSkew=1, move 1 pod to achieve [2,2] (soft constraints)",
        two_zones,
        lambda: create_pods(
            Group(1, "n1", constraints=constraint(when="ScheduleAnyway")), Group(2, "n1"), Group(1, "n2")
        ),
        1,
        args=BOTH,
    ),
    Case(
        "2 domains, sizes [3,1], maxSkew=1, no pods eligible, move 0 pods",
        two_zones,
        lambda: create_pods(
            Group(1, "n1", constraints=constraint(), no_owners=True),
            Group(2, "n1", no_owners=True),
            Group(1, "n2", no_owners=True),
        ),
        0,
    ),
    Case(
        "2 domains, sizes [3,1], maxSkew=1, move 1 pod to achieve [2,2], exclude kube-system namespace",
        two_zones,
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(2, "n1"), Group(1, "n2")),
        1,
        args=plugin.Args(namespaces=common.Namespaces(exclude=("kube-system",))),
        node_fit=True,
    ),
    Case(
        "2 domains, sizes [5,2], maxSkew=1, move 1 pod to achieve [4,3]",
        two_zones,
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(4, "n1"), Group(2, "n2")),
        1,
    ),
    Case(
        "2 domains, sizes [4,0], maxSkew=1, move 2 pods to achieve [2,2]",
        two_zones,
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(3, "n1")),
        2,
    ),
    Case(
        "2 domains, sizes [4,0], maxSkew=1, only move 1 pod since pods with nodeSelector and nodeAffinity "
        "aren't evicted",
        two_zones,
        lambda: create_pods(
            Group(1, "n1", constraints=constraint(), node_selector=ZONE_A_SELECTOR),
            Group(1, "n1", constraints=constraint(), node_selector=ZONE_A_SELECTOR),
            Group(1, "n1", constraints=constraint(), affinity=node_affinity("foo", "In", ["bar"])),
            Group(1, "n1", constraints=constraint()),
        ),
        1,
        node_fit=True,
    ),
    Case(
        "6 domains, sizes [0,0,0,3,3,2], maxSkew=1, No pod is evicted since topology is balanced",
        os_nodes,
        lambda: create_pods(
            Group(3, "n4", constraints=NODE_KEY, node_selector=WINDOWS),
            Group(3, "n5", constraints=NODE_KEY, node_selector=WINDOWS),
            Group(2, "n6", constraints=NODE_KEY, node_selector=WINDOWS),
        ),
        0,
    ),
    Case(
        "7 domains, sizes [0,0,0,3,3,2], maxSkew=1, two pods are evicted and moved to new node added",
        lambda: os_nodes("winNodeD"),
        lambda: create_pods(
            Group(3, "n4", constraints=NODE_KEY, node_selector=WINDOWS),
            Group(3, "n5", constraints=NODE_KEY, node_selector=WINDOWS),
            Group(2, "n6", constraints=NODE_KEY, node_selector=WINDOWS),
        ),
        2,
    ),
    Case(
        "6 domains, sizes [0,0,0,4,3,1], maxSkew=1, 1 pod is evicted from node 4",
        os_nodes,
        lambda: create_pods(
            Group(4, "n4", constraints=NODE_KEY, node_selector=WINDOWS),
            Group(3, "n5", constraints=NODE_KEY, node_selector=WINDOWS),
            Group(1, "n6", constraints=NODE_KEY, node_selector=WINDOWS),
        ),
        1,
    ),
    Case(
        "6 domains, sizes [0,0,0,4,3,1], maxSkew=1, 0 pod is evicted as pods of node:winNodeA can only be "
        "scheduled on this node and nodeFit is true ",
        os_nodes,
        lambda: create_pods(
            Group(4, "n4", constraints=NODE_KEY, node_selector={"node": "winNodeA"}),
            Group(3, "n5", constraints=NODE_KEY, node_selector=WINDOWS),
            Group(1, "n6", constraints=NODE_KEY, node_selector=WINDOWS),
        ),
        0,
        node_fit=True,
    ),
    Case(
        "2 domains, sizes [4,0], maxSkew=1, move 2 pods since selector matches multiple nodes",
        lambda: [
            up.build_node("n1", 2000, 3000, 10, labels={"zone": "zoneA", "region": "boston"}),
            up.build_node("n2", 2000, 3000, 10, labels={"zone": "zoneB", "region": "boston"}),
        ],
        lambda: create_pods(
            Group(1, "n1", constraints=constraint(), node_selector={"region": "boston"}),
            *[Group(1, "n1", node_selector={"region": "boston"}) for _ in range(3)],
        ),
        2,
    ),
    Case(
        "3 domains, sizes [0, 1, 100], maxSkew=1, move 66 pods to get [34, 33, 34]",
        lambda: zones(("n1", "zoneA"), ("n2", "zoneB"), ("n3", "zoneC")),
        lambda: create_pods(Group(1, "n2", constraints=constraint()), Group(100, "n3")),
        66,
    ),
    Case(
        "4 domains, sizes [0, 1, 3, 5], should move 3 to get [2, 2, 3, 2]",
        lambda: zones(("n1", "zoneA"), ("n2", "zoneB"), ("n3", "zoneC"), ("n4", "zoneD")),
        lambda: create_pods(Group(1, "n2", constraints=constraint()), Group(3, "n3"), Group(5, "n4")),
        3,
    ),
    Case(
        "2 domains size [2 6], maxSkew=2, should move 1 to get [3 5]",
        two_zones,
        lambda: create_pods(Group(1, "n1", constraints=constraint(2)), Group(1, "n1"), Group(6, "n2")),
        1,
    ),
    Case(
        "2 domains size [2 6], maxSkew=2, can't move any because of node taints",
        lambda: [
            up.build_node(
                "n1",
                2000,
                3000,
                10,
                labels={"zone": "zoneA"},
                taints=[{"key": "hardware", "value": "gpu", "effect": "NoSchedule"}],
            ),
            up.build_node("n2", 2000, 3000, 10, labels={"zone": "zoneB"}),
        ],
        lambda: create_pods(Group(1, "n1", constraints=constraint(2)), Group(1, "n1"), Group(6, "n2")),
        0,
        node_fit=True,
    ),
    Case(
        "2 domains size [2 6], maxSkew=2, can't move any because node1 does not have enough CPU",
        lambda: [
            up.build_node("n1", 200, 3000, 10, labels={"zone": "zoneA"}),
            up.build_node("n2", 2000, 3000, 10, labels={"zone": "zoneB"}),
        ],
        lambda: create_pods(Group(1, "n1", constraints=constraint(2)), Group(1, "n1"), Group(6, "n2")),
        0,
        node_fit=True,
    ),
    Case(
        "Multiple constraints (6 nodes/2 zones, 4 pods)",
        whoami_nodes,
        lambda: create_pods(
            *[Group(1, n, labels={"app": "whoami"}, constraints=WHOAMI) for n in ("n1", "n2", "n3", "n4")]
        ),
        1,
        args=BOTH,
    ),
    Case(
        "3 domains size [8 7 0], maxSkew=1, should move 5 to get [5 5 5]",
        lambda: zones(("n1", "zoneA"), ("n2", "zoneB"), ("n3", "zoneC")),
        lambda: create_pods(Group(8, "n1", constraints=constraint()), Group(7, "n2", constraints=constraint())),
        5,
        evicted=("pod-5", "pod-6", "pod-7", "pod-8", "pod-9"),
    ),
    Case(
        "3 domains size [5 5 5], maxSkew=1, should move 0 to retain [5 5 5]",
        lambda: zones(("n1", "zoneA"), ("n2", "zoneB"), ("n3", "zoneC")),
        lambda: create_pods(*[Group(5, n, constraints=constraint()) for n in ("n1", "n2", "n3")]),
        0,
    ),
    Case(
        "2 domains, sizes [2,0], maxSkew=1, move 1 pod since pod tolerates the node with taint",
        lambda: [
            up.build_node("n1", 2000, 3000, 10, labels={"zone": "zoneA"}),
            up.build_node("n2", 2000, 3000, 10, labels={"zone": "zoneB"}, taints=[TAINT_TEST]),
        ],
        lambda: create_pods(
            Group(
                1,
                "n1",
                constraints=constraint(),
                tolerations=[{"key": "taint-test", "value": "test", "operator": "Equal", "effect": "NoSchedule"}],
            ),
            Group(1, "n1", node_selector=ZONE_A_SELECTOR),
        ),
        1,
        evicted=("pod-0",),
    ),
    Case(
        "2 domains, sizes [2,0], maxSkew=1, move 0 pods since pod does not tolerate the tainted node",
        lambda: [
            up.build_node("n1", 2000, 3000, 10, labels={"zone": "zoneA"}),
            up.build_node("n2", 2000, 3000, 10, labels={"zone": "zoneB"}, taints=[TAINT_TEST]),
        ],
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(1, "n1", node_selector=ZONE_A_SELECTOR)),
        0,
    ),
    Case(
        "2 domains, sizes [2,0], maxSkew=1, move 0 pods since pod does not tolerate the tainted node, "
        "and NodeFit is enabled",
        lambda: [
            up.build_node("n1", 2000, 3000, 10, labels={"zone": "zoneA"}),
            up.build_node("n2", 2000, 3000, 10, labels={"zone": "zoneB"}, taints=[TAINT_TEST]),
        ],
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(1, "n1", node_selector=ZONE_A_SELECTOR)),
        0,
        node_fit=True,
    ),
    Case(
        "2 domains, sizes [2,0], maxSkew=1, move 1 pod for node with PreferNoSchedule Taint",
        lambda: [
            up.build_node("n1", 2000, 3000, 10, labels={"zone": "zoneA"}),
            up.build_node(
                "n2", 2000, 3000, 10, labels={"zone": "zoneB"}, taints=[{**TAINT_TEST, "effect": "PreferNoSchedule"}]
            ),
        ],
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(1, "n1", node_selector=ZONE_A_SELECTOR)),
        1,
        evicted=("pod-0",),
    ),
    Case(
        "2 domains, sizes [2,0], maxSkew=1, move 0 pod for node with unmatched label filtering",
        two_zones,
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(1, "n1")),
        0,
        args=plugin.Args(label_selector=selector("foo", ["baz"], "In")),
    ),
    Case(
        "2 domains, sizes [2,0], maxSkew=1, move 1 pod for node with matched label filtering",
        two_zones,
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(1, "n1")),
        1,
        evicted=("pod-1",),
        args=plugin.Args(label_selector=selector("foo", ["bar"], "In")),
    ),
    Case(
        "2 domains, sizes [2,0], maxSkew=1, move 1 pod for node with matched label filtering (NotIn op)",
        two_zones,
        lambda: create_pods(Group(1, "n1", constraints=constraint()), Group(1, "n1")),
        1,
        evicted=("pod-1",),
        args=plugin.Args(label_selector=selector("foo", ["baz"], "NotIn")),
    ),
    Case(
        "2 domains, sizes [2,0], maxSkew=1, move 1 pods given matchLabelKeys on same replicaset",
        two_zones,
        lambda: create_pods(
            *[
                Group(1, "n1", labels={**FOO_BAR, HASH_KEY: "foo"}, constraints=constraint(matchLabelKeys=[HASH_KEY]))
                for _ in range(2)
            ]
        ),
        1,
        evicted=("pod-1",),
        args=plugin.Args(label_selector=selector("foo", ["baz"], "NotIn")),
    ),
    Case(
        "2 domains, sizes [2,0], maxSkew=1, move 0 pods given matchLabelKeys on two different replicasets",
        two_zones,
        lambda: create_pods(
            *[
                Group(1, "n1", labels={**FOO_BAR, HASH_KEY: h}, constraints=constraint(matchLabelKeys=[HASH_KEY]))
                for h in ("foo", "bar")
            ]
        ),
        0,
        args=plugin.Args(label_selector=selector("foo", ["baz"], "NotIn")),
    ),
    Case(
        "2 domains, sizes [4,2], maxSkew=1, 2 pods in termination; nothing should be moved",
        two_zones,
        lambda: create_pods(
            Group(2, "n1", constraints=constraint()),
            Group(2, "n1", constraints=constraint(), deleting=True),
            Group(2, "n2", constraints=constraint()),
        ),
        0,
        args=plugin.Args(label_selector=selector("foo", ["bar"], "In")),
    ),
    Case(
        "3 domains, sizes [2,3,4], maxSkew=1, NodeFit is enabled, and not enough cpu on zoneA; nothing should be moved",
        lambda: [
            up.build_node("n1", 250, 2000, 9, labels={"zone": "zoneA"}),
            up.build_node("n2", 1000, 2000, 9, labels={"zone": "zoneB"}),
            up.build_node("n3", 1000, 2000, 9, labels={"zone": "zoneC"}),
        ],
        lambda: create_pods(*[Group(k, n, constraints=constraint()) for k, n in ((2, "n1"), (3, "n2"), (4, "n3"))]),
        0,
        node_fit=True,
    ),
    Case(
        "3 domains, sizes [2,3,4], maxSkew=1, args.NodeFit is false, and not enough cpu on zoneA; "
        "1 should be moved to force scale-up",
        lambda: [
            up.build_node("n1", 250, 2000, 9, labels={"zone": "zoneA"}),
            up.build_node("n2", 1000, 2000, 9, labels={"zone": "zoneB"}),
            up.build_node("n3", 1000, 2000, 9, labels={"zone": "zoneC"}),
        ],
        lambda: create_pods(*[Group(k, n, constraints=constraint()) for k, n in ((2, "n1"), (3, "n2"), (4, "n3"))]),
        1,
        args=plugin.Args(topology_balance_node_fit=False),
        node_fit=True,
    ),
    Case(
        "3 domains, sizes [[1,0], [1,1], [2,1]], maxSkew=1, NodeFit is enabled, and not enough cpu on ZoneA; "
        "nothing should be moved",
        lambda: [
            up.build_node(name, cpu, 2000, 9, labels={"zone": f"zone{name[0]}"})
            for name, cpu in (("A1", 150), ("B1", 1000), ("C1", 1000), ("A2", 50), ("B2", 1000), ("C2", 1000))
        ],
        lambda: create_pods(
            *[Group(k, n, constraints=constraint()) for k, n in ((1, "A1"), (1, "B1"), (1, "B2"), (2, "C1"), (1, "C2"))]
        ),
        0,
        node_fit=True,
    ),
    Case(
        "2 domains, sizes [[1,4], [2,1]], maxSkew=1, NodeFit is enabled; should move 1",
        lambda: [
            up.build_node(name, 1000, 2000, 9, labels={"zone": f"zone{name[0]}"}) for name in ("A1", "A2", "B1", "B2")
        ],
        lambda: create_pods(
            *[Group(k, n, constraints=constraint()) for k, n in ((1, "A1"), (4, "A2"), (2, "B1"), (1, "B2"))]
        ),
        1,
        evicted=("pod-4",),
        node_fit=True,
    ),
    Case(
        "2 domains, sizes [3, 1], maxSkew=1, Tainted nodes; nothing should be moved",
        issue_839_nodes,
        lambda: create_pods(
            *[
                Group(
                    2,
                    n,
                    labels={"app.kubernetes.io/name": "service"},
                    constraints=SERVICE,
                    affinity=node_affinity("app_service", "Exists"),
                )
                for n in ("app1", "app2")
            ]
        ),
        0,
        node_fit=True,
    ),
    Case(
        "3 domains, sizes [2, 1, 0] with selectors, maxSkew=1, nodeTaintsPolicy=Ignore, should move 1 for [1, 1, 1]",
        arm_nodes,
        lambda: create_pods(
            Group(1, "A1", constraints=IGNORE_AFFINITY, node_selector={ARCH: "arm64"}),
            Group(1, "A1", constraints=IGNORE_AFFINITY, node_selector={"zone": "zoneA", ARCH: "arm64"}),
            Group(1, "B1", constraints=IGNORE_AFFINITY, node_selector={ARCH: "arm64"}),
        ),
        1,
        evicted=("pod-0",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.name} -> {c.expected} evicted" for c in CASES])
def test_upstream_topology_spread_constraint_table(case: Case) -> None:
    # upstream TestTopologySpreadConstraint: DefaultEvictorArgs{NodeFit: nodeFit}, pods listed by name.
    pods = sorted(case.pods(), key=lambda p: p.name)
    h = up.harness(plugin.SPEC, case.args, case.nodes(), pods, evictor_args={"nodeFit": case.node_fit})
    evicted = h.run()
    assert len(evicted) == case.expected
    if case.evicted:
        assert set(case.evicted) <= set(evicted)


# -- TestSortDomains ---------------------------------------------------------------------------


def domain_pod(name: str, priority: int | None = None, *, affinity: dict[str, Any] | None = None) -> model.Pod:
    return up.build_pod(
        name, 0, 0, "", priority=priority, spec={"affinity": affinity} if affinity is not None else None
    )


SORT_CASES: list[tuple[str, dict[str, list[model.Pod]], dict[str, list[str]]]] = [
    ("empty input", {}, {}),
    (
        # Upstream's non-evictable pods (a mock filter) sort first; tensile never sees them in a
        # domain (upstream's Balance neither: its pod filter is the evictor's), and here they
        # still come first, having no priority.
        "single domain with mixed pods",
        {
            "a": [
                domain_pod("non-evictable-pod"),
                domain_pod("evictable-with-affinity", 10),
                domain_pod("evictable-high-priority", 15),
            ]
        },
        {"a": ["non-evictable-pod", "evictable-with-affinity", "evictable-high-priority"]},
    ),
    (
        "multiple domains with different priorities and selectors",
        {
            "a": [domain_pod("high-priority-affinity", 20), domain_pod("low-priority-no-affinity", 5)],
            "b": [domain_pod("medium-priority-affinity", 15), domain_pod("non-evictable-pod")],
        },
        {
            "a": ["low-priority-no-affinity", "high-priority-affinity"],
            "b": ["non-evictable-pod", "medium-priority-affinity"],
        },
    ),
    (
        "domain with pods having different selector/affinity",
        {"a": [domain_pod("pod-with-affinity", 10, affinity={"nodeAffinity": {}}), domain_pod("pod-no-affinity", 15)]},
        {"a": ["pod-with-affinity", "pod-no-affinity"]},
    ),
]


@pytest.mark.parametrize(
    ("domains", "expected"), [c[1:] for c in SORT_CASES], ids=[f"TestSortDomains {c[0]}" for c in SORT_CASES]
)
def test_upstream_sort_domains(domains: dict[str, list[model.Pod]], expected: dict[str, list[str]]) -> None:
    # Pods are evicted from the back: pods with a nodeSelector or node affinity stay longest,
    # then the others by ascending priority (no priority first).
    ordered = plugin.sort_domains([plugin.Domain(value, list(pods)) for value, pods in domains.items()])
    assert {d.value: [p.name for p in d.pods] for d in ordered} == expected


def test_an_empty_node_affinity_still_counts_as_affinity() -> None:
    # upstream hasSelectorOrAffinity: Affinity.NodeAffinity != nil, even when empty, so such a
    # pod sorts to the front (kept) whatever its priority.
    pods = [domain_pod("with-empty-affinity", 20, affinity={"nodeAffinity": {}}), domain_pod("plain", 10)]
    (domain,) = plugin.sort_domains([plugin.Domain("a", pods)])
    assert [p.name for p in domain.pods] == ["with-empty-affinity", "plain"]


# -- TestCheckIdenticalConstraints -------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "identical"),
    [
        ({"maxSkew": 2, "topologyKey": "zone"}, True),
        ({"maxSkew": 3, "topologyKey": "node"}, False),
    ],
    ids=["new constraint is identical -> deduplicated", "new constraint is different -> kept"],
)
def test_upstream_check_identical_constraints(new: dict[str, Any], identical: bool) -> None:
    # upstream TestCheckIdenticalConstraints: existing {maxSkew 2, zone, foo=bar}.
    owner = up.build_pod("p", 100, 0, "n1", labels=FOO_BAR)
    base = {"whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": FOO_BAR}}
    existing = plugin.resolve_constraint({**base, "maxSkew": 2, "topologyKey": "zone"}, owner)
    assert (plugin.resolve_constraint({**base, **new}, owner).identity == existing.identity) is identical


# -- validation_test.go ------------------------------------------------------------------------

VALIDATION: list[tuple[str, dict[str, Any], bool]] = [
    ("valid namespace args, no errors", {"namespaces": {"include": ["default"]}}, False),
    (
        "invalid namespaces args, expects error",
        {"namespaces": {"include": ["default"], "exclude": ["kube-system"]}},
        True,
    ),
    (
        "valid label selector args, no errors",
        {"labelSelector": {"matchLabels": {"role.kubernetes.io/node": ""}}},
        False,
    ),
    (
        "invalid label selector args, expects errors",
        {"labelSelector": {"matchExpressions": [{"operator": "In"}]}},
        True,
    ),
    ("valid constraints args, no errors", {"constraints": ["DoNotSchedule", "ScheduleAnyway"]}, False),
    ("invalid constraints args, expects errors", {"constraints": ["foo"]}, True),
]


@pytest.mark.parametrize(
    ("wire", "refused"),
    [c[1:] for c in VALIDATION],
    ids=[f"{c[0]} -> {'error' if c[2] else 'valid'}" for c in VALIDATION],
)
def test_upstream_validation_table(wire: dict[str, Any], refused: bool) -> None:
    # upstream TestValidateRemovePodsViolatingTopologySpreadConstraintArgs
    assert bool(up.errors(f.args_problems(plugin.SPEC, **wire))) is refused


# -- defaults_test.go --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "namespaces", "label_selector", "constraints", "node_fit"),
    [
        ({}, None, None, ("DoNotSchedule",), True),
        (
            {"namespaces": {}, "labelSelector": {}, "constraints": ["DoNotSchedule", "ScheduleAnyway"]},
            common.Namespaces(),
            {},
            ("DoNotSchedule", "ScheduleAnyway"),
            True,
        ),
        ({}, None, None, ("DoNotSchedule",), True),
        ({"topologyBalanceNodeFit": False}, None, None, ("DoNotSchedule",), False),
        ({}, None, None, ("DoNotSchedule",), True),
    ],
    ids=[
        "RemovePodsViolatingTopologySpreadConstraintArgs empty -> DoNotSchedule, node fit",
        "RemovePodsViolatingTopologySpreadConstraintArgs with value -> kept, node fit",
        "RemovePodsViolatingTopologySpreadConstraintArgs without TopologyBalanceNodeFit -> node fit",
        "RemovePodsViolatingTopologySpreadConstraintArgs with TopologyBalanceNodeFit=false -> kept",
        "RemovePodsViolatingTopologySpreadConstraintArgs with nil constraints (Go nil: field absent) -> DoNotSchedule",
    ],
)
def test_upstream_defaults_table(
    wire: dict[str, Any],
    namespaces: common.Namespaces | None,
    label_selector: dict[str, Any] | None,
    constraints: tuple[str, ...],
    node_fit: bool,
) -> None:
    # upstream TestSetDefaults_RemovePodsViolatingTopologySpreadConstraintArgs
    decoded = f.decode_args(plugin.Args, **wire)
    assert (decoded.namespaces, decoded.label_selector) == (namespaces, label_selector)
    assert (plugin.effective_constraints(decoded), decoded.topology_balance_node_fit) == (constraints, node_fit)


def test_an_empty_constraints_list_defaults_to_do_not_schedule() -> None:
    # upstream SetDefaults: `len(args.Constraints) == 0` -> [DoNotSchedule], so `constraints: []`
    # balances the hard constraints, as omitting the field does.
    decoded = f.decode_args(plugin.Args, constraints=[])
    assert plugin.effective_constraints(decoded) == ("DoNotSchedule",)
    pods = create_pods(Group(1, "n1", constraints=constraint()), Group(2, "n1"), Group(1, "n2"))
    assert len(up.harness(plugin.SPEC, decoded, two_zones(), pods).run()) == 1
