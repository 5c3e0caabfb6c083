"""``placement.fits`` against upstream v0.36's own NodeFit tables.

pkg/descheduler/node/node_test.go: TestIsNodeUnschedulable, TestPodFitsCurrentNode,
TestPodFitsAnyOtherNode, TestPodFitsNodes and TestNodeFit (its inter-pod anti-affinity cases
included). Param ids are upstream's case descriptions verbatim. PodFitsAnyOtherNode is the
DefaultEvictor's nodeFit (``filters.fits_no_other_node``), PodFitsCurrentNode a plain ``fits``.
Cases read from node.go and predicates.go rather than from these tables are in
test_node_fit_source.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from descheduler import model, placement
from descheduler.evictor import filters
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

DESIRED = {"kubernetes.io/desiredNode": "yes"}
SELECT_DESIRED = {"nodeSelector": DESIRED}
GPU_TAINT = {"key": "hardware", "value": "gpu", "effect": "NoSchedule"}
ES = "ephemeral-storage"
CUSTOM = "example.com/custom-resource"
GB = 1000**3


def pod(name: str, millicpu: int, memory: int, node_name: str, *, overhead: Any = None, **kw: Any) -> model.Pod:
    """test.BuildTestPod; ``overhead`` is createResourceList's (millicpu, memory, ephemeral) as spec.overhead."""
    if overhead is not None:
        kw["spec"] = {"overhead": resource_list(*overhead), **kw.get("spec", {})}
    return up.build_pod(name, millicpu, memory, node_name, **kw)


def resource_list(millicpu: int, memory: int, ephemeral: int) -> dict[str, str]:
    """createResourceList."""
    return {"cpu": f"{millicpu}m", "memory": str(memory), ES: str(ephemeral)}


def anti(name: str, node_name: str, key: str, value: str, *, namespace: str = "default") -> model.Pod:
    """test.PodWithPodAntiAffinity(test.BuildTestPod(name, 1000, 1000, node, ...), key, value): labelled
    key=value, with one required term forbidding key In [value] per "region"."""
    term = {
        "labelSelector": {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]},
        "topologyKey": "region",
    }
    affinity = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return pod(name, 1000, 1000, node_name, namespace=namespace, labels={key: value}, spec={"affinity": affinity})


# -- TestIsNodeUnschedulable -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("unschedulable", "expected"),
    [
        pytest.param(False, False, id="Node is expected to be schedulable"),
        pytest.param(True, True, id="Node is not expected to be schedulable because of unschedulable field"),
    ],
)
def test_is_node_unschedulable(unschedulable: bool, expected: bool) -> None:
    bare = model.node_from_raw({"metadata": {"name": "n"}, "spec": {"unschedulable": unschedulable}})
    assert bare.unschedulable is expected


# -- TestPodFitsCurrentNode ------------------------------------------------------------------


def _affinity_pod() -> model.Pod:
    """A pod with only a required node affinity, no containers and no node (upstream's has no name either)."""
    term = {"matchExpressions": [{"key": "kubernetes.io/desiredNode", "operator": "In", "values": ["yes"]}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    return model.pod_from_raw({"metadata": {"name": "p"}, "spec": {"affinity": affinity}})


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        pytest.param("yes", True, id="Pod with nodeAffinity set, expected to fit the node"),
        pytest.param("no", False, id="Pod with nodeAffinity set, not expected to fit the node"),
    ],
)
def test_pod_fits_current_node(label: str, expected: bool) -> None:
    target = up.build_node(
        "node1", 64000, 128 * GB, 200, labels={"kubernetes.io/desiredNode": label}, extended={ES: 1000 * GB}
    )
    p = _affinity_pod()
    assert placement.fits(f.state([target], [p]), p, target) is expected


# -- TestPodFitsAnyOtherNode -----------------------------------------------------------------

N1, N2, STAGING, N4 = "node1", "node2", "stagingNode", "node4"


def big(name: str, labels: Mapping[str, str] | None = DESIRED, **kw: Any) -> model.Node:
    """A 64-core, 128 GB, 200-pod node with 1 TB ephemeral storage, labelled desiredNode=yes unless told."""
    allocatable = {ES: 1000 * GB, **kw.pop("allocatable", {})}
    return up.build_node(name, 64000, 128 * GB, 200, labels=labels, extended=allocatable, **kw)


def tainted(name: str = N1, **kw: Any) -> model.Node:
    return big(name, taints=[GPU_TAINT], **kw)


def staging() -> model.Node:
    return up.build_node(STAGING, 0, 0, 0)


def small(
    name: str, millicpu: int, memory: int, storage: int | None, *, labelled: bool = True, **kw: Any
) -> model.Node:
    """A 12-pod node with ``storage`` GB of ephemeral storage (none when None)."""
    allocatable = {**({ES: storage * GB} if storage is not None else {}), **kw.pop("allocatable", {})}
    return up.build_node(name, millicpu, memory, 12, labels=DESIRED if labelled else None, extended=allocatable, **kw)


def selecting(millicpu: int, memory: int, storage: int = 10, on: str = STAGING, **extra: int) -> model.Pod:
    """p1 on ``on`` with nodeSelector desiredNode=yes, requesting ``storage`` GB of ephemeral storage."""
    requests = {**({ES: storage * GB} if storage else {}), **extra}
    return pod("p1", millicpu, memory, on, spec=SELECT_DESIRED, extended=requests)


def resident(name: str, millicpu: int, memory: int, storage: int = 10, **kw: Any) -> model.Pod:
    """A pod already on node2, in namespace test labelled test=true, requesting ``storage`` GB of
    ephemeral storage (upstream's also loses its name to the ObjectMeta it is given; no case reads it)."""
    requests = {**({ES: storage * GB} if storage else {}), **kw.pop("requests", {})}
    return pod(name, millicpu, memory, N2, namespace="test", labels={"test": "true"}, extended=requests, **kw)


def other_case(description: str, p: Any, nodes: Any, on_nodes: Any, expected: bool) -> Any:
    return pytest.param(p, nodes, on_nodes, expected, id=description)


OVERHEAD_1 = (1000, GB, GB)
THREE_CORE = {"overhead": OVERHEAD_1}

ANY_OTHER_NODE_CASES = [
    other_case(
        "Pod fits another node matching node affinity",
        lambda: selecting(0, 0, 0),
        lambda: [big(N1), big(N2, labels={"kubernetes.io/desiredNode": "no"}), staging()],
        list,
        True,
    ),
    other_case(
        "Pod expected to fit one of the nodes",
        lambda: selecting(0, 0, 0),
        lambda: [big(N1, labels={"kubernetes.io/desiredNode": "no"}), big(N2), staging()],
        list,
        True,
    ),
    other_case(
        "Pod expected to fit none of the nodes",
        lambda: selecting(0, 0, 0),
        lambda: [
            big(N1, labels={"kubernetes.io/desiredNode": "unfit1"}),
            big(N2, labels={"kubernetes.io/desiredNode": "unfit2"}),
            staging(),
        ],
        list,
        False,
    ),
    other_case(
        "Nodes are unschedulable but labels match, should fail",
        lambda: selecting(0, 0, 0),
        lambda: [big(N1, unschedulable=True), big(N2, labels={"kubernetes.io/desiredNode": "no"}), staging()],
        list,
        False,
    ),
    other_case(
        "Both nodes are tained, should fail",
        lambda: selecting(2000, 2 * GB),
        lambda: [tainted(N1), tainted(N2), staging()],
        list,
        False,
    ),
    other_case(
        "Two nodes matches node selector, one of them is tained, there is a pod on the available node, and requests "
        "are low, should pass",
        lambda: selecting(2000, 2 * GB),
        lambda: [tainted(), big(N2), staging()],
        lambda: [resident("test-pod", 12000, 20 * GB, 40)],
        True,
    ),
    other_case(
        "Two nodes matches node selector, one of them is tained, but CPU requests are too big, should fail",
        lambda: selecting(2000, 2 * GB),
        lambda: [tainted(), small(N2, 4000, 8 * GB, 200), staging()],
        lambda: [resident("3-core-pod", 3000, 4 * GB)],
        False,
    ),
    other_case(
        "Two nodes matches node selector, one of them is tained, but memory requests are too big, should fail",
        lambda: selecting(2000, 5 * GB),
        lambda: [tainted(), small(N2, 10000, 8 * GB, 200), staging()],
        lambda: [resident("4GB-mem-pod", 2000, 4 * GB)],
        False,
    ),
    other_case(
        "Two nodes matches node selector, one of them is tained, but ephemeral storage requests are too big, "
        "should fail",
        lambda: selecting(2000, 4 * GB),
        lambda: [tainted(), small(N2, 10000, 8 * GB, 20), staging()],
        lambda: [resident("11GB-storage-pod", 2000, 4 * GB, 11)],
        False,
    ),
    other_case(
        "Two nodes matches node selector, one of them is tained, but custom resource requests are too big, should fail",
        lambda: selecting(2000, 2 * GB, **{CUSTOM: 10}),
        lambda: [
            tainted(allocatable={CUSTOM: 15}),
            small(N2, 10000, 8 * GB, 200, allocatable={CUSTOM: 15}),
            staging(),
        ],
        lambda: [resident("10-custom-resource-pod", 0, 0, 0, requests={CUSTOM: 10})],
        False,
    ),
    other_case(
        "Two nodes matches node selector, one of them is tained, CPU requests will fit, and pod Overhead is low "
        "enough, should pass",
        lambda: selecting(1000, 2 * GB),
        lambda: [tainted(), small(N2, 5000, 8 * GB, 200), staging()],
        lambda: [resident("3-core-pod", 2000, 4 * GB, overhead=OVERHEAD_1)],
        True,
    ),
    other_case(
        "Two nodes matches node selector, one of them is tained, CPU requests will fit, but pod Overhead is too "
        "high, should fail",
        lambda: selecting(2000, 2 * GB),
        lambda: [tainted(), small(N2, 5000, 8 * GB, 200), staging()],
        lambda: [resident("3-core-pod", 2000, 4 * GB, overhead=(2000, GB, GB))],
        False,
    ),
    other_case(
        "There are four nodes. One node has a taint, and the other three nodes do not meet the resource "
        "requirements, should fail",
        lambda: selecting(1000, 2 * GB),
        lambda: [
            tainted(),
            small(N2, 3000, 8 * GB, 200),
            small(STAGING, 3000, 8 * GB, None, labelled=False),
            up.build_node(N4, 0, 0, 0),
        ],
        lambda: [resident("3-core-pod", 2000, 4 * GB, overhead=OVERHEAD_1)],
        False,
    ),
    other_case(
        "There are four nodes. First node has a taint, second node has no label, third node do not meet the "
        "resource requirements, just fourth node meets the requirements, should success",
        lambda: selecting(1000, 2 * GB),
        lambda: [
            tainted(),
            small(N2, 8000, 8 * GB, 200, labelled=False),
            small(STAGING, 1000, 8 * GB, None, labelled=False),
            small(N4, 8000, 8 * GB, 1000),
        ],
        lambda: [resident("3-core-pod", 2000, 4 * GB, overhead=OVERHEAD_1)],
        True,
    ),
    other_case(
        "There are four nodes. First node has a taint, second node has no label, third node do not meet the "
        "resource requirements, fourth node is the one where the pod is located, should fail",
        lambda: selecting(1000, 2 * GB, on=N4),
        lambda: [
            tainted(),
            small(N2, 8000, 8 * GB, 200, labelled=False),
            small(STAGING, 1000, 8 * GB, None, labelled=False),
            small(N4, 8000, 8 * GB, 1000),
        ],
        lambda: [resident("3-core-pod", 2000, 4 * GB, overhead=OVERHEAD_1)],
        False,
    ),
]


@pytest.mark.parametrize(("make_pod", "make_nodes", "make_on_nodes", "expected"), ANY_OTHER_NODE_CASES)
def test_pod_fits_any_other_node(make_pod: Any, make_nodes: Any, make_on_nodes: Any, expected: bool) -> None:
    p, nodes = make_pod(), make_nodes()
    cluster = f.state(nodes, [*make_on_nodes(), p])
    assert (filters.fits_no_other_node(p, state=cluster, nodes=nodes) is None) is expected


# -- TestPodFitsNodes ------------------------------------------------------------------------


def test_pod_fits_nodes_considers_every_node() -> None:
    # Upstream checks that its parallel search visits every node its exclude filter is asked about.
    # tensile's search is sequential: every node is judged, and an exclusion of all leaves none.
    nodes = [
        up.build_node("node1", 1000, 8 * GB, 12),
        *(up.build_node(f"node{i}", m, 8 * GB, 12) for i, m in ((2, 200), (3, 300), (4, 400))),
    ]
    p = pod("p1", 950, 2 * GB, "node1")
    cluster = f.state(nodes, [p])
    assert [n.name for n in placement.fitting_nodes(cluster, p, nodes)] == ["node1"]
    assert placement.fitting_nodes(cluster, p, nodes, exclude=[n.name for n in nodes]) == []


# -- TestNodeFit -----------------------------------------------------------------------------


def region_node() -> model.Node:
    return up.build_node("node", 64000, 128 * GB, 2, labels={"region": "main-region"})


def sidecar(millicpu: int, memory: int) -> dict[str, Any]:
    """A native sidecar (restartPolicy Always init container) requesting createResourceList(cpu, mem, 0)."""
    return {
        "initContainers": [
            {"name": "", "restartPolicy": "Always", "resources": {"requests": resource_list(millicpu, memory, 0)}}
        ]
    }


def fit_case(description: str, p: Any, target: Any, on_node: Any, error: str | None) -> Any:
    return pytest.param(p, target, on_node, error, id=description)


NODE_FIT_CASES = [
    fit_case(
        "Insufficient cpu",
        lambda: pod("p1", 10000, 2 * GB, ""),
        region_node,
        lambda: [pod("p2", 60000, 60 * GB, "node")],
        "insufficient cpu",
    ),
    fit_case(
        "Insufficient pod num",
        lambda: pod("p1", 1000, 2 * GB, ""),
        region_node,
        lambda: [pod("p2", 1000, 2 * GB, "node"), pod("p3", 1000, 2 * GB, "node")],
        "insufficient pods",
    ),
    fit_case(
        "Pod matches inter-pod anti-affinity rule of other pod on node",
        lambda: anti("p1", "node", "foo", "bar"),
        region_node,
        lambda: [anti("p2", "node", "foo", "bar")],
        "pod matches inter-pod anti-affinity rule of other pod on node",
    ),
    fit_case(
        "Pod doesn't match inter-pod anti-affinity rule of other pod on node, because pod and other pod is not same "
        "namespace",
        lambda: anti("p1", "node", "foo", "bar"),
        region_node,
        lambda: [anti("p2", "node", "foo", "bar", namespace="test")],
        None,
    ),
    fit_case(
        "Pod doesn't match inter-pod anti-affinity rule of other pod on node, because other pod not match labels of "
        "pod",
        lambda: anti("p1", "node", "foo", "bar"),
        region_node,
        lambda: [anti("p2", "node", "foo1", "bar1")],
        None,
    ),
    fit_case(
        "Pod doesn't match inter-pod anti-affinity rule of other pod on node, because node have no topologyKey",
        lambda: anti("p1", "node1", "foo", "bar"),
        lambda: up.build_node("node", 64000, 128 * GB, 2),
        lambda: [anti("p2", "node", "foo", "bar")],
        None,
    ),
    fit_case("Pod fits on node", lambda: pod("p1", 1000, 1000, ""), region_node, list, None),
    fit_case(
        "Pod with native sidecars with too much cpu does not fit on node",
        lambda: pod("p1", 1, 100, "", spec=sidecar(100000, 100 * 1000**2)),
        region_node,
        list,
        "insufficient cpu",
    ),
    fit_case(
        "Pod with native sidecars with too much memory does not fit on node",
        lambda: pod("p1", 1, 100, "", spec=sidecar(100, 1000 * GB)),
        region_node,
        list,
        "insufficient memory",
    ),
    fit_case(
        "Pod with small native sidecars fits on node",
        lambda: pod("p1", 1, 100, "", spec=sidecar(100, 100 * 1000**2)),
        region_node,
        list,
        None,
    ),
    fit_case(
        "Pod with large overhead does not fit on node",
        lambda: pod("p1", 1, 100, "", overhead=(100000, 100 * 1000**2, 0)),
        region_node,
        list,
        "insufficient cpu",
    ),
    fit_case(
        "Pod with small overhead fits on node",
        lambda: pod("p1", 1, 100, "", overhead=(1, 1000**2, 0)),
        region_node,
        list,
        None,
    ),
]


@pytest.mark.parametrize(("make_pod", "make_node", "make_on_node", "error"), NODE_FIT_CASES)
def test_node_fit(make_pod: Any, make_node: Any, make_on_node: Any, error: str | None) -> None:
    p, target = make_pod(), make_node()
    cluster = f.state([target], [p, *make_on_node()])
    assert placement.fits(cluster, p, target) is (error is None)
    assert placement.unfit_reasons(cluster, p, target) == ([error] if error else [])


# -- deliberate differences ------------------------------------------------------------------


def test_deliberate_difference_a_node_that_is_not_ready_never_fits() -> None:
    # DELIBERATE DIFFERENCE: NodeFit itself never reads readiness, but every upstream caller hands
    # it ReadyNodes only; tensile's callers pass whole node lists, so fits() is where that filter sits.
    target = model.node_from_raw(f.raw_node("node", ready=False))
    p = pod("p1", 1000, 1000, "")
    assert not placement.fits(f.state([target], [p]), p, target)
    assert placement.unfit_reasons(f.state([target], [p]), p, target) == ["node is not ready"]


def test_deliberate_difference_a_pod_evicted_this_cycle_no_longer_blocks_or_takes_room() -> None:
    # DELIBERATE DIFFERENCE: upstream's informer lists an evicted pod until it is gone, so NodeFit
    # still counts it later in the same cycle; tensile's state forgets it at once (a dry run then
    # plans exactly what a real run would), for room and for anti-affinity alike.
    target = region_node()
    p = anti("p1", "", "foo", "bar")
    blocker = anti("p2", "node", "foo", "bar")
    filler = pod("p3", 1000, 1000, "node")
    cluster = f.state([target], [p, blocker, filler])
    assert placement.unfit_reasons(cluster, p, target) == [placement.ANTI_AFFINITY_REASON, "insufficient pods"]
    cluster.mark_evicted(blocker)
    assert placement.fits(cluster, p, target)
