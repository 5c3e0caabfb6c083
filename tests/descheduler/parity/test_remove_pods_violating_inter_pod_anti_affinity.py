"""RemovePodsViolatingInterPodAntiAffinity against upstream v0.36's tables:
``pod_antiaffinity_test.go`` (TestPodAntiAffinity), ``validation_test.go``
(TestValidateRemovePodsViolatingInterPodAntiAffinityArgs) and ``defaults_test.go``
(TestSetDefaults_RemovePodsViolatingInterPodAntiAffinityArgs), plus parity cases for what
upstream's source decides without a test (candidate order, the candidate skipped by name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import common
from descheduler.plugins import remove_pods_violating_inter_pod_anti_affinity as plugin
from descheduler.policy.types import Limits
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

MAIN_REGION = {"region": "main-region"}


def anti_affinity(key: str, value: str, *, namespaces: tuple[str, ...] = ()) -> dict[str, Any]:
    """test.SetPodAntiAffinity: required, ``key In [value]``, topologyKey ``region``."""
    term: dict[str, Any] = {
        "labelSelector": {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]},
        "topologyKey": "region",
    }
    if namespaces:
        term["namespaces"] = list(namespaces)
    return {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}


def build_node(name: str, **kw: Any) -> model.Node:
    """The test's buildTestNode: 2 cpus, 3000 bytes, 10 pods."""
    return up.build_node(name, 2000, 3000, 10, **kw)


def node1() -> model.Node:
    return build_node("n1", labels=MAIN_REGION)


def build_pod(name: str, node_name: str = "n1", **kw: Any) -> model.Pod:
    """The test's buildTestPod: 100m, 0 bytes."""
    return up.build_pod(name, 100, 0, node_name, **kw)


def with_anti_affinity(name: str) -> model.Pod:
    """buildTestPodWithAntiAffinityForNode1: forbids foo=bar in its region."""
    return build_pod(name, owners=[up.NORMAL_OWNER], spec=anti_affinity("foo", "bar"))


def p2() -> model.Pod:
    """buildTestPodP2ForNode1: labelled foo=bar."""
    return build_pod("p2", owners=[up.NORMAL_OWNER], labels={"foo": "bar"})


def non_evictable() -> model.Pod:
    """buildTestPodNonEvictableForNode1: system-critical, labelled foo=bar."""
    return build_pod("non-evict", priority=up.SYSTEM_CRITICAL_PRIORITY, labels={"foo": "bar"})


def four_pods() -> list[model.Pod]:
    return [with_anti_affinity("p1"), p2(), with_anti_affinity("p3"), with_anti_affinity("p4")]


def p8() -> model.Pod:
    return build_pod("p8", spec={"nodeSelector": {"datacenter": "west"}})


@dataclass(frozen=True)
class Case:
    """One upstream TestPodAntiAffinity row."""

    description: str
    pods: Callable[[], list[model.Pod]]
    nodes: Callable[[], list[model.Node]]
    expected: int
    limit: Limits = field(default_factory=Limits)
    node_fit: bool = False


CASES = [
    Case("Maximum pods to evict - 0", four_pods, lambda: [node1()], 3),
    Case("Maximum pods to evict - 3", four_pods, lambda: [node1()], 3, Limits(per_node=3)),
    Case(
        "Maximum pods to evict (maxPodsToEvictPerNamespace=3) - 3",
        four_pods,
        lambda: [node1()],
        3,
        Limits(per_namespace=3),
    ),
    Case(
        "Maximum pods to evict (maxNoOfPodsToEvictTotal)",
        four_pods,
        lambda: [node1()],
        1,
        Limits(per_namespace=3, total=1),
    ),
    Case(
        # p7 (priority 0) goes first; with it gone, p5 and p6 violate nothing.
        "Evict only 1 pod after sorting",
        lambda: [
            build_pod(
                "p5", owners=[up.NORMAL_OWNER], labels={"foo": "bar"}, priority=100, spec=anti_affinity("foo1", "bar1")
            ),
            build_pod(
                "p6", owners=[up.NORMAL_OWNER], labels={"foo": "bar"}, priority=50, spec=anti_affinity("foo1", "bar1")
            ),
            build_pod(
                "p7", owners=[up.NORMAL_OWNER], labels={"foo1": "bar1"}, priority=0, spec=anti_affinity("foo", "bar")
            ),
        ],
        lambda: [node1()],
        1,
    ),
    *[
        # upstream lists this case twice, identically.
        Case(
            "Evicts pod that conflicts with critical pod (but does not evict critical pod)",
            lambda: [with_anti_affinity("p1"), non_evictable()],
            lambda: [node1()],
            1,
            Limits(per_node=1),
        )
        for _ in range(2)
    ],
    Case(
        "Won't evict pods because node selectors don't match available nodes",
        lambda: [p8(), non_evictable()],
        lambda: [node1(), build_node("n2", labels={"datacenter": "east"})],
        0,
        Limits(per_node=1),
        node_fit=True,
    ),
    Case(
        "Won't evict pods because only other node is not schedulable",
        lambda: [p8(), non_evictable()],
        lambda: [node1(), build_node("n3", unschedulable=True)],
        0,
        Limits(per_node=1),
        node_fit=True,
    ),
    Case(
        "No pod to evicted since all pod terminating",
        lambda: [
            build_pod(name, owners=[up.NORMAL_OWNER], spec=anti_affinity("foo", "bar"), deleting=True)
            for name in ("p9", "p10")
        ],
        lambda: [node1()],
        0,
    ),
    Case(
        "Won't evict pods because only other node doesn't have enough resources",
        four_pods,
        lambda: [node1(), up.build_node("n4", 2, 2, 1)],
        0,
        Limits(per_node=3),
        node_fit=True,
    ),
    Case(
        "Evict pod violating anti-affinity among different node (all pods have anti-affinity)",
        lambda: [with_anti_affinity("p1"), build_pod("p11", "n5", owners=[up.NORMAL_OWNER], labels={"foo": "bar"})],
        lambda: [node1(), up.build_node("n5", 200, 3000, 10, labels=MAIN_REGION)],
        1,
    ),
]


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{c.description} -> {c.expected} evicted" + (" (again)" if i == 6 else "") for i, c in enumerate(CASES)],
)
def test_upstream_pod_anti_affinity_table(case: Case) -> None:
    # upstream TestPodAntiAffinity: empty args, DefaultEvictorArgs{NodeFit: nodeFit}
    h = up.harness(
        plugin.SPEC, plugin.Args(), case.nodes(), case.pods(), evictor_args={"nodeFit": case.node_fit}, limit=case.limit
    )
    assert len(h.run()) == case.expected


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
]


@pytest.mark.parametrize(
    ("wire", "refused"),
    [case[1:] for case in VALIDATION],
    ids=[f"{c[0]} -> {'error' if c[2] else 'valid'}" for c in VALIDATION],
)
def test_upstream_validation_table(wire: dict[str, Any], refused: bool) -> None:
    # upstream TestValidateRemovePodsViolatingInterPodAntiAffinityArgs
    assert bool(up.errors(f.args_problems(plugin.SPEC, **wire))) is refused


# -- defaults_test.go --------------------------------------------------------------------------


def test_upstream_defaults_empty_args() -> None:
    # upstream TestSetDefaults_RemovePodsViolatingInterPodAntiAffinityArgs "... empty"
    decoded = f.decode_args(plugin.Args)
    assert (decoded.namespaces, decoded.label_selector) == (None, None)


def test_upstream_defaults_keep_given_values() -> None:
    # upstream TestSetDefaults_RemovePodsViolatingInterPodAntiAffinityArgs "... with value"
    decoded = f.decode_args(plugin.Args, namespaces={}, labelSelector={})
    assert (decoded.namespaces, decoded.label_selector) == (common.Namespaces(), {})


# -- what upstream's source decides ------------------------------------------------------------


def test_prefer_no_eviction_pods_are_candidates_last_within_their_class() -> None:
    # upstream Deschedule sorts each node's pods with podutil.SortPodsBasedOnPriorityLowToHigh:
    # same priority and QoS, the pod with the prefer-no-eviction annotation comes last, so its
    # mutual-anti-affinity partner goes and it then violates nothing.
    prefer = {"descheduler.alpha.kubernetes.io/prefer-no-eviction": ""}
    mutual = anti_affinity("app", "x")
    pods = [
        build_pod("preferring", owners=[up.NORMAL_OWNER], labels={"app": "x"}, annotations=prefer, spec=mutual),
        build_pod("plain", owners=[up.NORMAL_OWNER], labels={"app": "x"}, spec=mutual),
    ]
    assert up.harness(plugin.SPEC, plugin.Args(), [node1()], pods).run() == ["plain"]


def test_the_candidate_is_skipped_by_name_so_a_namesake_elsewhere_is_no_conflict() -> None:
    # upstream CheckPodsWithAntiAffinityExist skips `assignedPod.Name == candidatePod.Name`:
    # a pod of the same name in another namespace the term covers does not count.
    term = anti_affinity("app", "x", namespaces=("a", "b"))
    pods = [
        build_pod("web", owners=[up.NORMAL_OWNER], namespace="a", labels={"app": "x"}, spec=term),
        build_pod("web", owners=[up.NORMAL_OWNER], namespace="b", labels={"app": "x"}),
    ]
    assert up.harness(plugin.SPEC, plugin.Args(), [node1()], pods).run() == []
    pods.append(build_pod("api", owners=[up.NORMAL_OWNER], namespace="b", labels={"app": "x"}))
    assert up.harness(plugin.SPEC, plugin.Args(), [node1()], pods).run() == ["web"]
