from __future__ import annotations

from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import pod_lifetime as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f


def args(**wire: object) -> plugin.Args:
    return f.decode_args(plugin.Args, **wire)


def run(wire: dict[str, Any], pods: list[model.Pod], **kw: Any) -> list[str]:
    return f.run_plugin(plugin.SPEC, args(**wire), pods, **kw)


def containers(*states: dict[str, Any], key: str = "containerStatuses") -> dict[str, Any]:
    return {key: [{"name": f"c{i}", "restartCount": 0, "state": s} for i, s in enumerate(states)]}


def with_condition(name: str, *, seconds_ago: float | None = 7200, **cond: str) -> model.Pod:
    raw = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", **cond}
    if seconds_ago is not None:
        raw["lastTransitionTime"] = f.ts(seconds_ago)
    return f.pod(name, node="n1", status={"conditions": [raw]})


# -- maxPodLifeTimeSeconds and ordering ---------------------------------------------------


@pytest.mark.parametrize(
    ("age", "evicted"),
    [(7200, True), (3601, True), (3600, False), (60, False)],
    ids=["twice the limit -> evicted", "one second over -> evicted", "exactly the limit -> kept", "young -> kept"],
)
def test_only_pods_strictly_older_than_the_limit_are_evicted(age: int, evicted: bool) -> None:
    pod = f.pod("p", node="n1", age_seconds=age)
    assert run({"maxPodLifeTimeSeconds": 3600}, [pod]) == (["p"] if evicted else [])


def test_pod_created_in_the_future_is_not_old() -> None:
    assert run({"maxPodLifeTimeSeconds": 0}, [f.pod("future", node="n1", age_seconds=-60)]) == []


def test_oldest_pods_are_evicted_first_across_nodes() -> None:
    pods = [
        f.pod("a-young", node="a", age_seconds=4000),
        f.pod("a-oldest", node="a", age_seconds=9000),
        f.pod("b-middle", node="b", age_seconds=6000),
    ]
    assert run({"maxPodLifeTimeSeconds": 3600}, pods) == ["a-oldest", "b-middle", "a-young"]


def test_without_max_lifetime_any_age_matches_other_criteria() -> None:
    pods = [f.pod("new-pending", node="n1", phase="Pending", age_seconds=1), f.pod("running", node="n1")]
    assert run({"states": ["Pending"]}, pods) == ["new-pending"]


# -- states -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "phase", "status", "evicted"),
    [
        (["Pending"], "Pending", {}, True),
        (["Running"], "Pending", {}, False),
        (["NodeLost"], "Unknown", {"reason": "NodeLost"}, True),
        (["CrashLoopBackOff"], "Running", containers({"waiting": {"reason": "CrashLoopBackOff"}}), True),
        (["OOMKilled"], "Running", containers({"terminated": {"reason": "OOMKilled", "exitCode": 137}}), True),
        (["ImagePullBackOff"], "Running", containers({"waiting": {"reason": "ErrImagePull"}}), False),
    ],
    ids=[
        "phase listed -> evicted",
        "phase not listed -> kept",
        "pod status reason -> evicted",
        "container waiting reason -> evicted",
        "container terminated reason -> evicted",
        "other waiting reason -> kept",
    ],
)
def test_states_match_phase_pod_reason_and_container_reasons(
    states: list[str], phase: str, status: dict[str, Any], evicted: bool
) -> None:
    pod = f.pod("p", node="n1", phase=phase, status=status)
    assert run({"states": states}, [pod]) == (["p"] if evicted else [])


@pytest.mark.parametrize(
    ("including", "expected"),
    [(False, []), (True, ["p"])],
    ids=["init containers ignored by default", "includingInitContainers -> evicted"],
)
def test_init_container_states_count_only_when_included(including: bool, expected: list[str]) -> None:
    status = containers({"waiting": {"reason": "CreateContainerConfigError"}}, key="initContainerStatuses")
    pod = f.pod("p", node="n1", phase="Pending", status=status)
    wire = {"states": ["CreateContainerConfigError"], "includingInitContainers": including}
    assert run(wire, [pod]) == expected


@pytest.mark.parametrize(
    ("including", "expected"),
    [(False, []), (True, ["p"])],
    ids=["ephemeral containers ignored by default", "includingEphemeralContainers -> evicted"],
)
def test_ephemeral_container_states_count_only_when_included(including: bool, expected: list[str]) -> None:
    status = {"ephemeralContainerStatuses": [{"name": "debug", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
    pod = f.pod("p", node="n1", status=status)
    wire = {"states": ["CrashLoopBackOff"], "includingEphemeralContainers": including}
    assert run(wire, [pod]) == expected


# -- conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "pod", "evicted"),
    [
        ({"type": "PodScheduled", "status": "False"}, with_condition("p"), True),
        ({"reason": "Unschedulable"}, with_condition("p"), True),
        ({"type": "PodScheduled", "status": "True"}, with_condition("p"), False),
        ({"reason": "Unschedulable", "minTimeSinceLastTransitionSeconds": 3600}, with_condition("p"), True),
        ({"minTimeSinceLastTransitionSeconds": 7200}, with_condition("p", seconds_ago=7200), True),
        (
            {"reason": "Unschedulable", "minTimeSinceLastTransitionSeconds": 3600},
            with_condition("p", seconds_ago=60),
            False,
        ),
        (
            {"reason": "Unschedulable", "minTimeSinceLastTransitionSeconds": 1},
            with_condition("p", seconds_ago=None),
            False,
        ),
        ({"minTimeSinceLastTransitionSeconds": 0}, with_condition("p", seconds_ago=-60), False),
    ],
    ids=[
        "type and status match -> evicted",
        "reason alone matches -> evicted",
        "status differs -> kept",
        "transition old enough -> evicted",
        "transition exactly the minimum -> evicted",
        "transition too recent -> kept",
        "no lastTransitionTime with minimum -> kept",
        "transition in the future -> kept",
    ],
)
def test_condition_filters_match_fields_and_transition_age(
    condition: dict[str, Any], pod: model.Pod, evicted: bool
) -> None:
    assert run({"conditions": [condition]}, [pod]) == (["p"] if evicted else [])


def test_transition_a_fraction_of_a_second_in_the_future_is_not_old() -> None:
    pod = with_condition("p", seconds_ago=0)
    h = f.harness(
        plugin.SPEC,
        args(conditions=[{"minTimeSinceLastTransitionSeconds": 0}]),
        f.state([f.node("n1")], [pod], now=f.NOW - 0.5),
    )
    assert h.run() == []


def test_condition_filters_are_ored() -> None:
    ready = f.pod("ready", node="n1", status={"conditions": [{"type": "Ready", "status": "False"}]})
    unscheduled = with_condition("unscheduled")
    healthy = f.pod("healthy", node="n1", status={"conditions": [{"type": "Ready", "status": "True"}]})
    wire = {"conditions": [{"type": "Ready", "status": "False"}, {"reason": "Unschedulable"}]}
    assert sorted(run(wire, [ready, unscheduled, healthy])) == ["ready", "unscheduled"]


# -- exitCodes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "including", "evicted"),
    [
        (containers({"terminated": {"reason": "Error", "exitCode": 1}}), False, True),
        (containers({"terminated": {"reason": "Error", "exitCode": 2}}), False, False),
        (containers({"waiting": {"reason": "CrashLoopBackOff"}}), False, False),
        (containers({"terminated": {"exitCode": 1}}, key="initContainerStatuses"), False, False),
        (containers({"terminated": {"exitCode": 1}}, key="initContainerStatuses"), True, True),
    ],
    ids=[
        "terminated with listed code -> evicted",
        "terminated with other code -> kept",
        "not terminated -> kept",
        "init container code ignored by default",
        "init container code with includingInitContainers -> evicted",
    ],
)
def test_exit_codes_match_terminated_containers(status: dict[str, Any], including: bool, evicted: bool) -> None:
    pod = f.pod("p", node="n1", phase="Failed", status=status)
    wire = {"exitCodes": [1, 137], "includingInitContainers": including}
    assert run(wire, [pod]) == (["p"] if evicted else [])


# -- ownerKinds, namespaces, labelSelector, AND of criteria --------------------------------


@pytest.mark.parametrize(
    ("owner_kinds", "expected"),
    [
        ({"include": ["Job"]}, ["job-pod"]),
        ({"exclude": ["Job"]}, ["rs-pod", "bare-pod"]),
        ({}, ["job-pod", "rs-pod", "bare-pod"]),
    ],
    ids=["include keeps only listed kinds and skips ownerless", "exclude skips listed kinds", "empty -> all"],
)
def test_owner_kinds_include_or_exclude(owner_kinds: dict[str, list[str]], expected: list[str]) -> None:
    pods = [
        f.pod("job-pod", node="n1", owner=("Job", "j"), age_seconds=9000),
        f.pod("rs-pod", node="n1", owner=("ReplicaSet", "r"), age_seconds=8000),
        f.pod("bare-pod", node="n1", owner=None, age_seconds=7000),
    ]
    assert run({"maxPodLifeTimeSeconds": 60, "ownerKinds": owner_kinds}, pods) == expected


@pytest.mark.parametrize(
    ("namespaces", "expected"),
    [({"include": ["a"]}, ["in-a"]), ({"exclude": ["a"]}, ["in-b"])],
    ids=["include -> only a", "exclude -> all but a"],
)
def test_namespaces_limit_the_candidates(namespaces: dict[str, list[str]], expected: list[str]) -> None:
    pods = [f.pod("in-a", node="n1", namespace="a"), f.pod("in-b", node="n1", namespace="b")]
    assert run({"maxPodLifeTimeSeconds": 60, "namespaces": namespaces}, pods) == expected


def test_label_selector_limits_the_candidates() -> None:
    pods = [f.pod("tagged", node="n1", labels={"rotate": "yes"}), f.pod("plain", node="n1")]
    assert run({"maxPodLifeTimeSeconds": 60, "labelSelector": {"matchLabels": {"rotate": "yes"}}}, pods) == ["tagged"]


def test_all_criteria_must_hold() -> None:
    pods = [
        f.pod("old-pending", node="n1", phase="Pending", age_seconds=7200),
        f.pod("young-pending", node="n1", phase="Pending", age_seconds=60),
        f.pod("old-running", node="n1", age_seconds=7200),
    ]
    assert run({"maxPodLifeTimeSeconds": 3600, "states": ["Pending"]}, pods) == ["old-pending"]


def test_evictor_filter_protects_pods() -> None:
    pods = [f.pod("protected", node="n1"), f.pod("free", node="n1")]
    assert run({"maxPodLifeTimeSeconds": 60}, pods, evictor_filter=lambda p: p.name != "protected") == ["free"]


def test_reason_names_age_and_matched_state() -> None:
    pod = f.pod("p", node="n1", phase="Pending", age_seconds=7200)
    h = f.harness(plugin.SPEC, args(maxPodLifeTimeSeconds=3600, states=["Pending"]), f.state([f.node("n1")], [pod]))
    h.run()
    assert h.evictor.decisions[0].reason == "age 2h > maxPodLifeTimeSeconds 3600; state Pending"


# -- limits -------------------------------------------------------------------------------


def test_node_limit_skips_that_nodes_pods_but_continues_in_age_order() -> None:
    pods = [
        f.pod("a1", node="a", age_seconds=9000),
        f.pod("a2", node="a", age_seconds=8000),
        f.pod("b1", node="b", age_seconds=7000),
    ]
    h = f.harness(
        plugin.SPEC,
        args(maxPodLifeTimeSeconds=60),
        f.state([f.node("a"), f.node("b")], pods),
        limit=Limits(per_node=1),
    )
    assert h.run() == ["a1", "b1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit", "planned"]


def test_namespace_limit_skips_only_that_namespace() -> None:
    pods = [
        f.pod("x1", node="n1", namespace="x", age_seconds=9000),
        f.pod("x2", node="n1", namespace="x", age_seconds=8000),
        f.pod("y1", node="n1", namespace="y", age_seconds=7000),
    ]
    h = f.harness(
        plugin.SPEC, args(maxPodLifeTimeSeconds=60), f.state([f.node("n1")], pods), limit=Limits(per_namespace=1)
    )
    assert h.run() == ["x1", "y1"]


def test_total_limit_stops_the_plugin() -> None:
    pods = [f.pod(f"p{i}", node="n1", age_seconds=9000 - i) for i in range(4)]
    h = f.harness(plugin.SPEC, args(maxPodLifeTimeSeconds=60), f.state([f.node("n1")], pods), limit=Limits(total=2))
    assert h.run() == ["p0", "p1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "planned", "limit"]


# -- arguments ----------------------------------------------------------------------------


def test_defaults_match_upstream() -> None:
    a = plugin.Args()
    assert a.max_pod_life_time_seconds is None
    assert (a.states, a.conditions, a.exit_codes) == ((), (), ())
    assert (a.namespaces, a.label_selector, a.owner_kinds) == (None, None, None)
    assert not a.including_init_containers
    assert not a.including_ephemeral_containers


def test_spec_is_a_deschedule_plugin() -> None:
    assert plugin.SPEC.name == "PodLifeTime"
    assert plugin.SPEC.extension_points == frozenset({"deschedule"})


@pytest.mark.parametrize(
    ("wire", "paths"),
    [
        ({}, [""]),
        ({"maxPodLifeTimeSeconds": -1}, ["maxPodLifeTimeSeconds"]),
        ({"states": ["Running", "Sleeping"]}, ["states[1]"]),
        ({"conditions": [{}]}, ["conditions[0]"]),
        (
            {"conditions": [{"minTimeSinceLastTransitionSeconds": -5}]},
            ["conditions[0].minTimeSinceLastTransitionSeconds"],
        ),
        ({"exitCodes": [2**31]}, ["exitCodes[0]"]),
        ({"maxPodLifeTimeSeconds": 1, "namespaces": {"include": ["a"], "exclude": ["b"]}}, ["namespaces"]),
        ({"maxPodLifeTimeSeconds": 1, "ownerKinds": {"include": ["Job"], "exclude": ["DaemonSet"]}}, ["ownerKinds"]),
    ],
    ids=[
        "no criterion rejected",
        "negative lifetime rejected",
        "unknown state rejected",
        "empty condition filter rejected",
        "negative transition age rejected",
        "exit code beyond int32 rejected",
        "namespaces include and exclude rejected",
        "ownerKinds include and exclude rejected",
    ],
)
def test_validation_names_the_path(wire: dict[str, object], paths: list[str]) -> None:
    assert [p.path for p in f.args_problems(plugin.SPEC, **wire)] == paths


@pytest.mark.parametrize(
    "wire",
    [
        {"maxPodLifeTimeSeconds": 0},
        {"states": list(plugin.ALLOWED_STATES)},
        {"conditions": [{"type": "Ready"}]},
        {"exitCodes": [0]},
    ],
    ids=["lifetime alone", "every allowed state", "one condition filter", "exit codes alone"],
)
def test_any_single_criterion_is_valid(wire: dict[str, object]) -> None:
    assert plugin.validate(args(**wire)) == []


def test_unknown_argument_is_rejected_by_decoding() -> None:
    _decoded, problems = argspec.decode(plugin.Args, {"maxPodLifeTime": 1}, "args")
    assert [p.path for p in problems] == ["args.maxPodLifeTime"]
