from __future__ import annotations

from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import remove_failed_pods as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f


def args(**wire: object) -> plugin.Args:
    return f.decode_args(plugin.Args, **wire)


def run(wire: dict[str, Any], pods: list[model.Pod], **kw: Any) -> list[str]:
    return f.run_plugin(plugin.SPEC, args(**wire), pods, **kw)


def failed(name: str, *, node: str = "n1", reason: str = "", statuses: Any = None, **kw: Any) -> model.Pod:
    status: dict[str, Any] = {"reason": reason} if reason else {}
    status.update(statuses or {})
    return f.pod(name, node=node, phase="Failed", status=status, **kw)


def terminated(reason: str = "Error", code: int = 1, *, key: str = "containerStatuses") -> dict[str, Any]:
    return {key: [{"name": "c0", "restartCount": 0, "state": {"terminated": {"reason": reason, "exitCode": code}}}]}


def waiting(reason: str, *, key: str = "containerStatuses") -> dict[str, Any]:
    return {key: [{"name": "c0", "restartCount": 0, "state": {"waiting": {"reason": reason}}}]}


@pytest.mark.parametrize(
    ("phase", "evicted"),
    [("Failed", True), ("Running", False), ("Succeeded", False), ("Pending", False)],
    ids=["failed -> evicted", "running -> kept", "succeeded -> kept", "pending -> kept"],
)
def test_only_failed_pods_are_evicted(phase: str, evicted: bool) -> None:
    assert run({}, [f.pod("p", node="n1", phase=phase)]) == (["p"] if evicted else [])


@pytest.mark.parametrize(
    ("age", "evicted"),
    [(7200, True), (3600, True), (3599, False)],
    ids=["older -> evicted", "exactly the minimum -> evicted", "younger -> kept"],
)
def test_min_pod_lifetime_is_an_inclusive_minimum_age(age: int, evicted: bool) -> None:
    assert run({"minPodLifetimeSeconds": 3600}, [failed("p", age_seconds=age)]) == (["p"] if evicted else [])


def test_exclude_owner_kinds_skips_pods_with_such_an_owner() -> None:
    pods = [failed("job-pod", owner=("Job", "j")), failed("rs-pod"), failed("bare", owner=None)]
    assert run({"excludeOwnerKinds": ["Job"]}, pods) == ["rs-pod", "bare"]


@pytest.mark.parametrize(
    ("pod", "evicted"),
    [
        (failed("p", reason="NodeAffinity"), True),
        (failed("p", statuses=terminated("OOMKilled")), True),
        (failed("p", statuses=waiting("CreateContainerConfigError")), True),
        (failed("p", reason="Evicted", statuses=terminated("Error")), False),
        (failed("p"), False),
    ],
    ids=[
        "pod status reason -> evicted",
        "container terminated reason -> evicted",
        "container waiting reason -> evicted",
        "other reasons -> kept",
        "no reason at all -> kept",
    ],
)
def test_reasons_match_pod_and_container_reasons(pod: model.Pod, evicted: bool) -> None:
    wire = {"reasons": ["NodeAffinity", "OOMKilled", "CreateContainerConfigError"]}
    assert run(wire, [pod]) == (["p"] if evicted else [])


@pytest.mark.parametrize(
    ("including", "expected"),
    [(False, []), (True, ["p"])],
    ids=["init container reasons ignored by default", "includingInitContainers -> evicted"],
)
def test_init_container_reasons_count_only_when_included(including: bool, expected: list[str]) -> None:
    pod = failed("p", statuses=terminated("StartError", key="initContainerStatuses"))
    assert run({"reasons": ["StartError"], "includingInitContainers": including}, [pod]) == expected


@pytest.mark.parametrize(
    ("pod", "including", "evicted"),
    [
        (failed("p", statuses=terminated(code=137)), False, True),
        (failed("p", statuses=terminated(code=1)), False, False),
        (failed("p", statuses=waiting("CrashLoopBackOff")), False, False),
        (failed("p", statuses=terminated(code=137, key="initContainerStatuses")), False, False),
        (failed("p", statuses=terminated(code=137, key="initContainerStatuses")), True, True),
    ],
    ids=[
        "listed exit code -> evicted",
        "other exit code -> kept",
        "no terminated container -> kept",
        "init container code ignored by default",
        "init container code with includingInitContainers -> evicted",
    ],
)
def test_exit_codes_match_terminated_containers(pod: model.Pod, including: bool, evicted: bool) -> None:
    assert run({"exitCodes": [137], "includingInitContainers": including}, [pod]) == (["p"] if evicted else [])


def test_all_filters_must_hold() -> None:
    pods = [
        failed("both", reason="Shutdown", statuses=terminated(code=137)),
        failed("reason-only", reason="Shutdown", statuses=terminated(code=1)),
        failed("code-only", reason="Evicted", statuses=terminated(code=137)),
    ]
    assert run({"reasons": ["Shutdown"], "exitCodes": [137]}, pods) == ["both"]


@pytest.mark.parametrize(
    ("namespaces", "expected"),
    [({"include": ["a"]}, ["in-a"]), ({"exclude": ["a"]}, ["in-b"])],
    ids=["include -> only a", "exclude -> all but a"],
)
def test_namespaces_limit_the_candidates(namespaces: dict[str, list[str]], expected: list[str]) -> None:
    pods = [failed("in-a", namespace="a"), failed("in-b", namespace="b")]
    assert run({"namespaces": namespaces}, pods) == expected


def test_label_selector_limits_the_candidates() -> None:
    pods = [failed("tagged", labels={"cleanup": "yes"}), failed("plain")]
    assert run({"labelSelector": {"matchLabels": {"cleanup": "yes"}}}, pods) == ["tagged"]


def test_evictor_filter_protects_pods() -> None:
    pods = [failed("protected"), failed("free")]
    assert run({}, pods, evictor_filter=lambda p: p.name != "protected") == ["free"]


def test_reason_lists_the_failure_reasons() -> None:
    pod = failed("p", reason="Evicted", statuses=terminated("Error"))
    h = f.harness(plugin.SPEC, args(), f.state([f.node("n1")], [pod]))
    h.run()
    assert h.evictor.decisions[0].reason == "failed pod (Evicted, Error)"


def test_node_limit_moves_to_next_node() -> None:
    pods = [failed("a1", node="a"), failed("a2", node="a"), failed("a3", node="a"), failed("b1", node="b")]
    h = f.harness(plugin.SPEC, args(), f.state([f.node("a"), f.node("b")], pods), limit=Limits(per_node=1))
    assert h.run() == ["a1", "b1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit", "planned"]


def test_namespace_limit_skips_only_that_namespace() -> None:
    pods = [failed("x1", namespace="x"), failed("x2", namespace="x"), failed("y1", namespace="y")]
    h = f.harness(plugin.SPEC, args(), f.state([f.node("n1")], pods), limit=Limits(per_namespace=1))
    assert h.run() == ["x1", "y1"]


def test_total_limit_stops_the_plugin() -> None:
    pods = [failed("a1", node="a"), failed("a2", node="a"), failed("b1", node="b")]
    h = f.harness(plugin.SPEC, args(), f.state([f.node("a"), f.node("b")], pods), limit=Limits(total=1))
    assert h.run() == ["a1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit"]


def test_defaults_match_upstream() -> None:
    a = plugin.Args()
    # Upstream's policy loader runs SetDefaults_RemoveFailedPodsArgs, which sets an unset minimum age to 3600.
    assert (a.namespaces, a.label_selector, a.min_pod_lifetime_seconds) == (None, None, 3600)
    assert (a.exclude_owner_kinds, a.reasons, a.exit_codes) == ((), (), ())
    assert not a.including_init_containers
    assert plugin.validate(a) == []


def test_spec_is_a_deschedule_plugin() -> None:
    assert plugin.SPEC.name == "RemoveFailedPods"
    assert plugin.SPEC.extension_points == frozenset({"deschedule"})


@pytest.mark.parametrize(
    ("wire", "path"),
    [
        ({"namespaces": {"include": ["a"], "exclude": ["b"]}}, "namespaces"),
        ({"minPodLifetimeSeconds": -1}, "minPodLifetimeSeconds"),
        ({"exitCodes": [0, -(2**31) - 1]}, "exitCodes[1]"),
    ],
    ids=["include and exclude rejected", "negative minimum age rejected", "exit code beyond int32 rejected"],
)
def test_validation_names_the_path(wire: dict[str, object], path: str) -> None:
    assert [p.path for p in f.args_problems(plugin.SPEC, **wire)] == [path]


def test_wire_names_are_upstreams() -> None:
    names = [row.path for row in argspec.describe(plugin.Args) if "." not in row.path]
    assert names == [
        "namespaces",
        "labelSelector",
        "excludeOwnerKinds",
        "minPodLifetimeSeconds",
        "reasons",
        "exitCodes",
        "includingInitContainers",
    ]
