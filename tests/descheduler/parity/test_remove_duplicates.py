"""RemoveDuplicates against upstream v0.36's tables: ``removeduplicates_test.go``
(TestFindDuplicatePods, TestRemoveDuplicatesUniformly), ``validation_test.go`` and ``defaults_test.go``.

Upstream's pods (``buildTestPodForNode``) request 100m CPU and no memory and have one container
without an image; its nodes (``buildTestNode``) have 2000m, 3000 bytes and 10 pods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import remove_duplicates as plugin
from descheduler.policy import argspec
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

RS2_OWNER = {"kind": "ReplicaSet", "apiVersion": "v1", "name": "replicaset-2"}
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
WORKER = "node-role.kubernetes.io/worker"


def pod(name: str, node: str, *, owners: Any = (up.RS_OWNER,), namespace: str = "default", **kw: Any) -> model.Pod:
    """``buildTestPodForNode`` (and, with the default owner, ``buildTestPodWithRSOwnerRefForNode1``)."""
    return up.build_pod(name, 100, 0, node, owners=owners, namespace=namespace, **kw)


def rs_pod(name: str, namespace: str, **kw: Any) -> model.Pod:
    """``buildTestPodWithRSOwnerRefWithNamespaceForNode1``."""
    return pod(name, "n1", namespace=namespace, **kw)


def pod_with_image(name: str, image: str) -> model.Pod:
    """``buildTestPodWithImage``: a second container running ``image``."""
    return pod(name, "n1", images=("", image))


def protected_pods() -> list[model.Pod]:
    """p4 .. p7: a DaemonSet pod, local storage, a mirror pod and a system-critical bare pod."""
    return [
        pod("p4", "n1", owners=[up.DS_OWNER]),
        pod("p5", "n1", owners=[up.NORMAL_OWNER], spec=up.HOST_PATH_EMPTY_DIR),
        pod("p6", "n1", owners=(), annotations=up.MIRROR_ANNOTATIONS),
        pod("p7", "n1", owners=(), namespace="kube-system", priority=up.SYSTEM_CRITICAL_PRIORITY),
    ]


def three(namespace: str, names: tuple[str, str, str] = ("p1", "p2", "p3")) -> list[model.Pod]:
    return [rs_pod(name, namespace) for name in names]


def node(name: str, millicpu: int = 2000, memory: int = 3000, **kw: Any) -> model.Node:
    """``buildTestNode``: ``test.BuildTestNode(name, 2000, 3000, 10, apply)``."""
    return up.build_node(name, millicpu, memory, 10, **kw)


def two_nodes() -> list[model.Node]:
    return [node("n1"), node("n2")]


GPU_TAINT = {"key": "hardware", "value": "gpu", "effect": "NoSchedule"}
WEST = {"nodeSelector": {"datacenter": "west"}}

PodsMaker = Callable[[], list[model.Pod]]
NodesMaker = Callable[[], list[model.Node]]

# (upstream description, pods, nodes, excludeOwnerKinds, nodeFit, evictions); built per test.
FIND_DUPLICATES: list[tuple[str, PodsMaker, NodesMaker, list[str], bool, int]] = [
    ("Three pods in the `dev` Namespace, bound to same ReplicaSet. 1 should be evicted.",
     lambda: three("dev"), two_nodes, [], False, 1),
    ("Three pods in the `dev` Namespace, bound to same ReplicaSet, but ReplicaSet kind is excluded. 0 should be "
     "evicted.",
     lambda: three("dev"), two_nodes, ["ReplicaSet"], False, 0),
    ("Three Pods in the `test` Namespace, bound to same ReplicaSet. 1 should be evicted.",
     lambda: three("test", ("p8", "p9", "p10")), two_nodes, [], False, 1),
    ("Three Pods in the `dev` Namespace, three Pods in the `test` Namespace. Bound to ReplicaSet with same name. "
     "4 should be evicted.",
     lambda: [*three("dev"), *three("test", ("p8", "p9", "p10"))], two_nodes, [], False, 2),
    ("Pods are: part of DaemonSet, with local storage, mirror pod annotation, critical pod annotation - none should "
     "be evicted.",
     protected_pods, two_nodes, [], False, 0),
    ("Test all Pods: 4 should be evicted.",
     lambda: [*three("dev"), *protected_pods(), *three("test", ("p8", "p9", "p10"))], two_nodes, [], False, 2),
    ("Pods with the same owner but different images should not be evicted",
     lambda: [rs_pod("p11", "different-images", images=("foo",)), rs_pod("p12", "different-images", images=("bar",))],
     two_nodes, [], False, 0),
    ("Pods with multiple containers should not match themselves",
     lambda: [rs_pod("p13", "different-images", images=("", "foo"))], two_nodes, [], False, 0),
    ("Pods with matching ownerrefs and at not all matching image should not trigger an eviction",
     lambda: [rs_pod("p11", "different-images", images=("foo",)),
              rs_pod("p13", "different-images", images=("", "foo"))],
     two_nodes, [], False, 0),
    ("Three pods in the `dev` Namespace, bound to same ReplicaSet. Only node available has a taint, and nodeFit set "
     "to true. 0 should be evicted.",
     lambda: three("dev"), lambda: [node("n1"), node("n3", taints=[GPU_TAINT])], [], True, 0),
    ("Three pods in the `node-fit` Namespace, bound to same ReplicaSet, all with a nodeSelector. Only node available "
     "has an incorrect node label, and nodeFit set to true. 0 should be evicted.",
     lambda: [rs_pod(name, "node-fit", spec=WEST) for name in ("p15", "NOT1", "NOT2")],
     lambda: [node("n1"), node("n4", labels={"datacenter": "east"})], [], True, 0),
    ("Three pods in the `node-fit` Namespace, bound to same ReplicaSet. Only node available is not schedulable, and "
     "nodeFit set to true. 0 should be evicted.",
     lambda: three("dev"), lambda: [node("n1"), node("n5", unschedulable=True)], [], True, 0),
    ("Three pods in the `node-fit` Namespace, bound to same ReplicaSet. Only node available does not have enough CPU, "
     "and nodeFit set to true. 0 should be evicted.",
     lambda: [*three("dev"), up.build_pod("CPU-eater", 150, 150, "n6", namespace="test")],
     lambda: [node("n1"), node("n6", 200, 200)], [], True, 0),
    ("Three pods in the `node-fit` Namespace, bound to same ReplicaSet. Only node available has enough CPU, and "
     "nodeFit set to true. 1 should be evicted.",
     lambda: [*three("dev"), up.build_pod("CPU-saver", 100, 150, "n6", namespace="test")],
     lambda: [node("n1"), node("n6", 200, 200)], [], True, 1),
]  # fmt: skip


def harness_for(
    pods: list[model.Pod], nodes: list[model.Node], *, exclude_kinds: Sequence[str] = (), node_fit: bool = False
) -> f.Harness:
    args = f.decode_args(plugin.Args, excludeOwnerKinds=list(exclude_kinds))
    assert plugin.validate(args) == []
    return up.harness(plugin.SPEC, args, nodes, pods, evictor_args={"nodeFit": node_fit})


@pytest.mark.parametrize(
    ("make_pods", "make_nodes", "exclude_kinds", "node_fit", "expected"),
    [case[1:] for case in FIND_DUPLICATES],
    ids=[f"upstream TestFindDuplicatePods: {case[0]} (expects {case[5]})" for case in FIND_DUPLICATES],
)
def test_find_duplicates_evicts_as_many_pods_as_upstream(
    make_pods: Callable[[], list[model.Pod]],
    make_nodes: Callable[[], list[model.Node]],
    exclude_kinds: list[str],
    node_fit: bool,
    expected: int,
) -> None:
    nodes = make_nodes()
    h = harness_for(make_pods(), nodes, exclude_kinds=exclude_kinds, node_fit=node_fit)
    assert len(h.run(nodes)) == expected


# -- TestRemoveDuplicatesUniformly ------------------------------------------------------------


def spread(counts: tuple[int, ...], nodes: tuple[str, ...], *, start: int = 1, **kw: Any) -> list[model.Pod]:
    """``counts[i]`` pods on ``nodes[i]``, named p<start>, p<start+1>, ... in order."""
    names = iter(range(start, start + sum(counts)))
    return [pod(f"p{next(names)}", name, **kw) for count, name in zip(counts, nodes, strict=True) for _ in range(count)]


def alternating(make_kw: Callable[[str], dict[str, Any]]) -> list[model.Pod]:
    """(5,3,1) pods on worker1..3, alternately configured with k1 and k2 (p1 k1, p2 k2, ...)."""
    placement = ["worker1"] * 5 + ["worker2"] * 3 + ["worker3"]
    return [pod(f"p{i}", on, **make_kw("k1" if i % 2 else "k2")) for i, on in enumerate(placement, start=1)]


def tolerating(key: str) -> dict[str, Any]:
    """``setNoScheduleTolerations(key, "v"+N)``."""
    value = {"k1": "v1", "k2": "v2"}[key]
    return {"spec": {"tolerations": [{"key": key, "value": value, "operator": "Equal", "effect": "NoSchedule"}]}}


def not_master(key: str) -> dict[str, Any]:
    """``setNotMasterNodeSelector(key)``: required affinity DoesNotExist on control-plane and ``key``."""
    expressions = [{"key": CONTROL_PLANE, "operator": "DoesNotExist"}, {"key": key, "operator": "DoesNotExist"}]
    terms = {"nodeSelectorTerms": [{"matchExpressions": expressions}]}
    return {"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}}}}


def worker_selector(value: str) -> dict[str, Any]:
    """``setWorkerLabelSelector(value)``."""
    return {"spec": {"nodeSelector": {WORKER: value}}}


def cluster(workers: dict[str, Any], masters: dict[str, Any]) -> list[model.Node]:
    return [
        *(node(f"worker{i}", **workers) for i in (1, 2, 3)),
        *(node(f"master{i}", **masters) for i in (1, 2, 3)),
    ]


N123 = ("n1", "n2", "n3")

UNIFORMLY: list[tuple[str, PodsMaker, NodesMaker, int]] = [
    ("Evict pods uniformly",  # (5,3,1) -> (3,3,3) -> 2 evictions
     lambda: spread((5, 3, 1), N123), lambda: [node(n) for n in N123], 2),
    ("Evict pods uniformly with one node left out",  # (5,3,1) -> (4,4,1) -> 1 eviction
     lambda: spread((5, 3, 1), N123), lambda: [node("n1"), node("n2")], 1),
    ("Evict pods uniformly with two owner references",
     lambda: [*spread((5, 3, 1), N123, start=11), *spread((1, 3, 5), N123, start=21, owners=[RS2_OWNER])],
     lambda: [node(n) for n in N123], 4),
    ("Evict pods with number of pods less than nodes",  # (2,0,0) -> (1,1,0) -> 1 eviction
     lambda: spread((2,), ("n1",)), lambda: [node(n) for n in N123], 1),
    ("Evict pods with number of pods less than nodes, but ignore different pods with the same ownerref",
     lambda: [pod_with_image("p1", "foo"), pod_with_image("p2", "bar"), pod_with_image("p3", "baz"),
              pod_with_image("p4", "foo")],
     lambda: [node(n) for n in N123], 1),
    ("Evict pods with a single pod with three nodes",
     lambda: spread((1,), ("n1",)), lambda: [node(n) for n in N123], 0),
    ("Evict pods uniformly respecting taints",
     lambda: alternating(tolerating),
     lambda: cluster({}, {"taints": [{"key": CONTROL_PLANE, "effect": "NoSchedule"}]}), 2),
    ("Evict pods uniformly respecting RequiredDuringSchedulingIgnoredDuringExecution node affinity",
     lambda: alternating(not_master), lambda: cluster({}, {"labels": {CONTROL_PLANE: ""}}), 2),
    # setWorkerLabel sets the worker label to k1, then to k2: only the k2 pods select the workers.
    ("Evict pods uniformly respecting node selector",
     lambda: alternating(worker_selector), lambda: cluster({"labels": {WORKER: "k2"}}, {}), 2),
    ("Evict pods uniformly respecting node selector with zero target nodes",
     lambda: alternating(worker_selector), lambda: cluster({}, {}), 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make_pods", "make_nodes", "expected"),
    [case[1:] for case in UNIFORMLY],
    ids=[f"upstream TestRemoveDuplicatesUniformly: {case[0]} -> {case[3]} evicted" for case in UNIFORMLY],
)
def test_uniform_spread_evicts_as_many_pods_as_upstream(
    make_pods: Callable[[], list[model.Pod]], make_nodes: Callable[[], list[model.Node]], expected: int
) -> None:
    nodes = make_nodes()
    h = harness_for(make_pods(), nodes)
    assert len(h.run(nodes)) == expected


def test_two_owner_references_evict_each_surplus_pod_once() -> None:
    # upstream TestRemoveDuplicatesUniformly: "Evict pods uniformly with two replica sets" expects 4.
    # DELIBERATE DIFFERENCE: the (5,3,1) pods each carry both owner references, so upstream finds
    # the same two surplus pods on n1 once per owner and calls Evict on each twice; its fake
    # clientset counts 4. tensile evicts each pod once (a real API server would not evict a pod
    # twice either): p14 and p15.
    pods = spread((5, 3, 1), N123, start=11, owners=[up.RS_OWNER, RS2_OWNER])
    h = harness_for(pods, [node(n) for n in N123])
    assert h.run() == ["p14", "p15"]
    assert [d.pod for d in h.evictor.decisions] == ["p14", "p15"]


# -- validation_test.go ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "paths"),
    [
        ({"excludeOwnerKinds": ["Job"], "namespaces": {"include": ["default"]}}, []),
        ({"excludeOwnerKinds": ["Job"], "namespaces": {"include": ["default"], "exclude": ["kube-system"]}},
         ["namespaces"]),
    ],
    ids=[
        'upstream TestValidateRemovePodsViolatingNodeTaintsArgs (in removeduplicates): "valid namespace args, no '
        'errors" -> no problem',
        'upstream TestValidateRemovePodsViolatingNodeTaintsArgs (in removeduplicates): "invalid namespaces args, '
        'expects error" -> namespaces',
    ],
)  # fmt: skip
def test_validation_reports_what_upstream_rejects(wire: dict[str, Any], paths: list[str]) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert problems == [] and decoded is not None
    reported = plugin.validate(decoded)
    assert [p.path for p in reported] == paths
    assert not any(p.warning for p in reported)


# -- defaults_test.go ------------------------------------------------------------------------


def test_empty_args_default_as_upstream() -> None:
    # upstream TestSetDefaults_RemoveDuplicatesArgs: "RemoveDuplicatesArgs empty"
    args = f.decode_args(plugin.Args)
    assert args == plugin.Args()
    assert (args.namespaces, args.exclude_owner_kinds) == (None, ())


def test_given_args_are_kept_by_defaulting() -> None:
    # upstream TestSetDefaults_RemoveDuplicatesArgs: "RemoveDuplicatesArgs with value"
    args = f.decode_args(plugin.Args, namespaces={}, excludeOwnerKinds=["ReplicaSet"])
    assert args.namespaces is not None and (args.namespaces.include, args.namespaces.exclude) == ((), ())
    assert args.exclude_owner_kinds == ("ReplicaSet",)
