"""RemovePodsHavingTooManyRestarts against upstream v0.36's tables: ``toomanyrestarts_test.go``
(TestRemovePodsHavingTooManyRestarts), ``validation_test.go`` and ``defaults_test.go``.

Upstream's fixture (``initPods``): on node1, pod-0 .. pod-9, pod-i with one init container of
5*i restarts and two containers of 10*i each; pod-6 is a DaemonSet pod, pod-7 has local storage
and pod-8 is a mirror pod, so the DefaultEvictor keeps those three. Two CPU consumers sit on
node4 and node5, which only some cases list as nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import remove_pods_having_too_many_restarts as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

Status = dict[str, Any]
Apply = Callable[[Status], Status]


def restart_status(base: int) -> Status:
    """``setPodContainerStatusRestartCount``: 5*base init restarts, 10*base in each of two containers."""
    return {
        "initContainerStatuses": [{"restartCount": 5 * base}],
        "containerStatuses": [{"restartCount": 10 * base}, {"restartCount": 10 * base}],
    }


def crash_looping(status: Status) -> Status:
    status["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    return status


def init_crash_looping(status: Status) -> Status:
    status["initContainerStatuses"] = [{"restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
    return status


def in_phase(phase: str) -> Apply:
    def apply(status: Status) -> Status:
        status["phase"] = phase
        return status

    return apply


def init_pods(apply: Apply | None = None) -> list[model.Pod]:
    """Upstream's ``initPods(apply)``; ``apply`` edits each of the ten pods' status."""
    pods = []
    for i in range(10):
        status = restart_status(i)
        if apply is not None:
            status = apply(status)
        owners: list[dict[str, str]] = [up.NORMAL_OWNER]
        extra: dict[str, Any] = {}
        if i == 6:
            owners = [up.DS_OWNER]
        elif i == 7:
            extra["spec"] = up.HOST_PATH_EMPTY_DIR
        elif i == 8:
            extra["annotations"] = up.MIRROR_ANNOTATIONS
        pods.append(
            up.build_pod(
                f"pod-{i}",
                100,
                0,
                "node1",
                owners=owners,
                phase=status.pop("phase", ""),
                status=status,
                **extra,
            )
        )
    pods.append(up.build_pod("CPU-consumer-1", 150, 100, "node4", owners=[up.NORMAL_OWNER]))
    pods.append(up.build_pod("CPU-consumer-2", 150, 100, "node5", owners=[up.NORMAL_OWNER]))
    return pods


GPU_TAINT = {"key": "hardware", "value": "gpu", "effect": "NoSchedule"}


def build_test_node(name: str, millicpu: int = 2000, **kw: Any) -> model.Node:
    """``buildTestNode``: ``test.BuildTestNode(name, 2000, 3000, 10, apply)``."""
    return up.build_node(name, millicpu, 3000, 10, **kw)


def node1() -> model.Node:
    return build_test_node("node1")


def tainted_node2() -> model.Node:
    return build_test_node("node2", taints=[GPU_TAINT])


def unschedulable_node3() -> model.Node:
    return build_test_node("node3", unschedulable=True)


def small_node4() -> model.Node:
    return build_test_node("node4", 200)


def node5() -> model.Node:
    return build_test_node("node5")


def restarts_args(threshold: int, including_init: bool) -> dict[str, Any]:
    """Upstream's ``createRemovePodsHavingTooManyRestartsAgrs``."""
    return {"podRestartThreshold": threshold, "includingInitContainers": including_init}


PodsMaker = Callable[[], list[model.Pod]]
NodeMaker = Callable[[], model.Node]

# (upstream description, args, pods, nodes, per-node limit, per-namespace limit, nodeFit, evictions)
CASES: list[tuple[str, dict[str, Any], PodsMaker, list[NodeMaker], int | None, int | None, bool, int]] = [
    ("All pods have total restarts under threshold, no pod evictions",
     restarts_args(10000, True), init_pods, [node1], None, None, False, 0),
    ("Some pods have total restarts bigger than threshold",
     restarts_args(1, True), init_pods, [node1], None, None, False, 6),
    ("Nine pods have total restarts equals threshold(includingInitContainers=true), 6 pod evictions",
     restarts_args(1 * 25, True), init_pods, [node1], None, None, False, 6),
    ("Nine pods have total restarts equals threshold(includingInitContainers=false), 5 pod evictions",
     restarts_args(1 * 25, False), init_pods, [node1], None, None, False, 5),
    ("All pods have total restarts equals threshold(includingInitContainers=true), 6 pod evictions",
     restarts_args(1 * 20, True), init_pods, [node1], None, None, False, 6),
    ("Nine pods have total restarts equals threshold(includingInitContainers=false), 6 pod evictions",
     restarts_args(1 * 20, False), init_pods, [node1], None, None, False, 6),
    ("Five pods have total restarts bigger than threshold(includingInitContainers=true), but only 1 pod eviction",
     restarts_args(5 * 25 + 1, True), init_pods, [node1], None, None, False, 1),
    ("Five pods have total restarts bigger than threshold(includingInitContainers=false), but only 1 pod eviction",
     restarts_args(5 * 20 + 1, False), init_pods, [node1], None, None, False, 1),
    ("All pods have total restarts equals threshold(maxPodsToEvictPerNode=3), 3 pod evictions",
     restarts_args(1, True), init_pods, [node1], 3, None, False, 3),
    ("All pods have total restarts equals threshold(maxNoOfPodsToEvictPerNamespace=3), 3 pod evictions",
     restarts_args(1, True), init_pods, [node1], None, 3, False, 3),
    ("All pods have total restarts equals threshold(maxPodsToEvictPerNode=3) but the only other node is tainted, "
     "0 pod evictions",
     restarts_args(1, True), init_pods, [node1, tainted_node2], 3, None, True, 0),
    ("All pods have total restarts equals threshold(maxPodsToEvictPerNode=3) but the only other node is not "
     "schedulable, 0 pod evictions",
     restarts_args(1, True), init_pods, [node1, unschedulable_node3], 3, None, True, 0),
    ("All pods have total restarts equals threshold(maxPodsToEvictPerNode=3) but the only other node does not have "
     "enough CPU, 0 pod evictions",
     restarts_args(1, True), init_pods, [node1, small_node4], 3, None, True, 0),
    ("All pods have total restarts equals threshold(maxPodsToEvictPerNode=3) but the only other node has enough CPU, "
     "3 pod evictions",
     restarts_args(1, True), init_pods, [node1, node5], 3, None, True, 3),
    ("pods are in CrashLoopBackOff with states=CrashLoopBackOff, 3 pod evictions",
     {"podRestartThreshold": 1, "states": ["CrashLoopBackOff"]}, lambda: init_pods(crash_looping),
     [node1, node5], 3, None, True, 3),
    ("pods without CrashLoopBackOff with states=CrashLoopBackOff, 0 pod evictions",
     {"podRestartThreshold": 1, "states": ["CrashLoopBackOff"]}, init_pods, [node1, node5], 3, None, True, 0),
    ("pods running with state=Running, 3 pod evictions",
     {"podRestartThreshold": 1, "states": ["Running"]}, lambda: init_pods(in_phase("Running")),
     [node1], 3, None, False, 3),
    ("pods pending with state=Running, 0 pod evictions",
     {"podRestartThreshold": 1, "states": ["Running"]}, lambda: init_pods(in_phase("Pending")),
     [node1], 3, None, False, 0),
    ("pods pending with initContainer with states=CrashLoopBackOff threshold(includingInitContainers=true), "
     "3 pod evictions",
     {"podRestartThreshold": 1, "states": ["CrashLoopBackOff"], "includingInitContainers": True},
     lambda: init_pods(init_crash_looping), [node1], 3, None, False, 3),
    ("pods pending with initContainer with states=CrashLoopBackOff threshold(includingInitContainers=false), "
     "0 pod evictions",
     {"podRestartThreshold": 1, "states": ["CrashLoopBackOff"], "includingInitContainers": False},
     lambda: init_pods(init_crash_looping), [node1], 3, None, False, 0),
]  # fmt: skip


def harness_for(wire: dict[str, Any], pods: list[model.Pod], nodes: list[model.Node], **kw: Any) -> f.Harness:
    args = f.decode_args(plugin.Args, **wire)
    assert plugin.validate(args) == []
    return up.harness(plugin.SPEC, args, nodes, pods, **kw)


@pytest.mark.parametrize(
    ("wire", "make_pods", "make_nodes", "per_node", "per_namespace", "node_fit", "expected"),
    [case[1:] for case in CASES],
    ids=[f"upstream TestRemovePodsHavingTooManyRestarts: {case[0]}" for case in CASES],
)
def test_evicts_as_many_pods_as_upstream(
    wire: dict[str, Any],
    make_pods: Callable[[], list[model.Pod]],
    make_nodes: list[Callable[[], model.Node]],
    per_node: int | None,
    per_namespace: int | None,
    node_fit: bool,
    expected: int,
) -> None:
    nodes = [make() for make in make_nodes]
    h = harness_for(
        wire,
        make_pods(),
        nodes,
        evictor_args={"nodeFit": node_fit},
        limit=Limits(per_node=per_node, per_namespace=per_namespace),
    )
    # Upstream's Deschedule is given the case's nodes; the evictor counts successful evictions.
    assert len(h.run(nodes)) == expected


# Upstream asserts only counts; which pods go follows from its sort by restarts, descending
# (toomanyrestarts.go Deschedule): under a limit of 3 the most-restarted evictable pods go first.


@pytest.mark.parametrize(
    ("wire", "limit", "expected"),
    [
        (restarts_args(1, True), Limits(per_node=3), ["pod-9", "pod-5", "pod-4"]),
        (restarts_args(1, True), Limits(per_namespace=3), ["pod-9", "pod-5", "pod-4"]),
        (restarts_args(1, True), Limits(total=1), ["pod-9"]),
    ],
    ids=[
        "maxPodsToEvictPerNode=3 -> the 3 most-restarted evictable pods",
        "maxNoOfPodsToEvictPerNamespace=3 -> the 3 most-restarted evictable pods",
        "maxNoOfPodsToEvictTotal=1 -> the most-restarted evictable pod",
    ],
)
def test_most_restarted_pods_are_evicted_first(wire: dict[str, Any], limit: Limits, expected: list[str]) -> None:
    # Listed in upstream's fixture order, fewest restarts first.
    h = harness_for(wire, init_pods(), [node1()], limit=limit)
    assert h.run() == expected


def test_equal_restart_counts_keep_the_listing_order() -> None:
    # Upstream's sort.Slice is not stable over an informer listing in no fixed order, so ties are
    # open there; tensile keeps its listing order for them, which makes its plans repeatable.
    pods = [
        up.build_pod(name, 100, 0, "node1", owners=[up.RS_OWNER], status=restart_status(base))
        for name, base in (("b", 1), ("a", 2), ("c", 1), ("d", 2))
    ]
    h = harness_for(restarts_args(1, False), pods, [node1()])
    assert h.run() == ["a", "d", "b", "c"]


def test_init_container_restarts_order_pods_only_when_included() -> None:
    # 20 container restarts each; "init-heavy" has 50 more in its init container.
    init_heavy = {"initContainerStatuses": [{"restartCount": 50}], "containerStatuses": [{"restartCount": 20}]}
    plain = {"containerStatuses": [{"restartCount": 21}]}
    pods = [
        up.build_pod("init-heavy", 100, 0, "node1", owners=[up.RS_OWNER], status=init_heavy),
        up.build_pod("plain", 100, 0, "node1", owners=[up.RS_OWNER], status=plain),
    ]
    for including, first in ((False, "plain"), (True, "init-heavy")):
        h = harness_for(restarts_args(1, including), pods, [node1()], limit=Limits(per_node=1))
        assert h.run() == [first], including


# -- validation_test.go ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "paths"),
    [
        ({"podRestartThreshold": 1, "states": ["Running"]}, []),
        ({"podRestartThreshold": 0}, ["podRestartThreshold"]),
        ({"podRestartThreshold": 1, "states": ["Failed"]}, ["states[0]"]),
        ({"podRestartThreshold": 1, "states": ["CrashLoopBackOff"]}, []),
        ({"podRestartThreshold": 0, "states": ["Failed"]}, ["podRestartThreshold", "states[0]"]),
    ],
    ids=[
        'upstream TestValidateRemovePodsHavingTooManyRestartsArgs: "valid arg, no errors" -> no problem',
        'upstream TestValidateRemovePodsHavingTooManyRestartsArgs: "invalid PodRestartThreshold arg, expects errors" '
        "-> podRestartThreshold",
        'upstream TestValidateRemovePodsHavingTooManyRestartsArgs: "invalid States arg, expects errors" -> states[0]',
        'upstream TestValidateRemovePodsHavingTooManyRestartsArgs: "allows CrashLoopBackOff state" -> no problem',
        'upstream TestValidateRemovePodsHavingTooManyRestartsArgs: "invalid PodRestartThreshold arg and invalid States '
        'arg, expects errors" -> both',
    ],
)
def test_validation_reports_what_upstream_rejects(wire: dict[str, Any], paths: list[str]) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert problems == [] and decoded is not None
    reported = plugin.validate(decoded)
    assert [p.path for p in reported] == paths
    assert not any(p.warning for p in reported)


@pytest.mark.parametrize(
    ("threshold", "paths"),
    [(2**31 - 1, []), (2**31, ["podRestartThreshold"])],
    ids=[
        "largest int32 threshold -> no problem",
        "threshold beyond int32 -> podRestartThreshold (upstream: decode error)",
    ],
)
def test_threshold_must_fit_upstreams_int32(threshold: int, paths: list[str]) -> None:
    # types.go: PodRestartThreshold int32, so upstream's decoding refuses a larger number.
    assert [p.path for p in f.args_problems(plugin.SPEC, podRestartThreshold=threshold)] == paths


def test_states_problem_names_the_allowed_states() -> None:
    # upstream: "states must be one of [CrashLoopBackOff Running]"
    (problem,) = plugin.validate(f.decode_args(plugin.Args, podRestartThreshold=1, states=["Failed"]))
    assert "CrashLoopBackOff" in problem.message and "Running" in problem.message


# -- defaults_test.go ------------------------------------------------------------------------


def test_empty_args_default_as_upstream() -> None:
    # upstream TestSetDefaults_RemovePodsHavingTooManyRestartsArgs: "RemovePodsHavingTooManyRestartsArgs empty"
    args = f.decode_args(plugin.Args)
    assert args == plugin.Args()
    assert (args.namespaces, args.label_selector, args.pod_restart_threshold) == (None, None, 0)
    assert (args.including_init_containers, args.states) == (False, ())


def test_given_args_are_kept_by_defaulting() -> None:
    # upstream TestSetDefaults_RemovePodsHavingTooManyRestartsArgs: "RemovePodsHavingTooManyRestartsArgs with value"
    wire = {
        "namespaces": {},
        "labelSelector": {},
        "podRestartThreshold": 10,
        "includingInitContainers": True,
        "states": ["Running"],
    }
    args = f.decode_args(plugin.Args, **wire)
    assert (args.pod_restart_threshold, args.including_init_containers, args.states) == (10, True, ("Running",))
    assert args.namespaces is not None and (args.namespaces.include, args.namespaces.exclude) == ((), ())
    assert args.label_selector == {}
