"""RemoveFailedPods against upstream v0.36's tables: ``failedpods_test.go`` (TestRemoveFailedPods),
``validation_test.go`` and ``defaults_test.go``.

Upstream's unit tests build ``RemoveFailedPodsArgs`` structs directly and skip SetDefaults, so
their nil ``MinPodLifetimeSeconds`` means "no minimum age"; tensile's args are always defaulted
(3600 when absent, as upstream's policy loader does), so these transcriptions say
``minPodLifetimeSeconds: 0``, which upstream also treats as "any age". Upstream's pods
(``buildTestPod``) request 1m CPU and 1 byte, are owned by a ReplicaSet and were created now.
"""

from __future__ import annotations

from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import default_registry
from descheduler.plugins import remove_failed_pods as plugin
from descheduler.policy import argspec, loading
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up


def status(
    reason: str = "", phase: str = "", *, init: dict[str, Any] | None = None, container: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Upstream's ``newPodStatus``: a container state (init or not) makes the pod Failed.

    ``exitCode`` is always present on a terminated state, as the API serializes it (Go's zero is 0).
    """
    raw: dict[str, Any] = {"reason": reason} if reason else {}
    if init is not None:
        raw["initContainerStatuses"] = [{"state": init}]
        phase = "Failed"
    if container is not None:
        raw["containerStatuses"] = [{"state": container}]
        phase = "Failed"
    return {**raw, "phase": phase}


def terminated(reason: str = "", exit_code: int = 0) -> dict[str, Any]:
    return {"terminated": {"reason": reason, "exitCode": exit_code}}


def waiting(reason: str) -> dict[str, Any]:
    return {"waiting": {"reason": reason}}


def failed_pod(name: str, node: str, pod_status: dict[str, Any], *, deleting: bool = False) -> model.Pod:
    """Upstream's ``buildTestPod``."""
    raw_status = dict(pod_status)
    return up.build_pod(
        name,
        1,
        1,
        node,
        owners=[up.RS_OWNER],
        phase=raw_status.pop("phase"),
        created=f.T0,
        status=raw_status,
        deleting=deleting,
    )


def failed_args(
    including_init: bool = False,
    reasons: list[str] | None = None,
    exit_codes: list[int] | None = None,
    exclude_kinds: list[str] | None = None,
    min_age_seconds: int = 0,
) -> dict[str, Any]:
    """Upstream's ``createRemoveFailedPodsArgs``, nil minimum age as 0 (see the module docstring)."""
    wire: dict[str, Any] = {"includingInitContainers": including_init, "minPodLifetimeSeconds": min_age_seconds}
    for key, value in (("reasons", reasons), ("exitCodes", exit_codes), ("excludeOwnerKinds", exclude_kinds)):
        if value is not None:
            wire[key] = value
    return wire


def node(name: str, millicpu: int = 2000, memory: int = 3000, **kw: Any) -> model.Node:
    """``test.BuildTestNode(name, millicpu, memory, 10, apply)``."""
    return up.build_node(name, millicpu, memory, 10, **kw)


NODE1 = ("node1",)
ONE_HOUR = 3600

# (upstream description, args, nodes, pods, nodeFit, evictions); nodes and pods are built per test.
CASES: list[tuple[str, dict[str, Any], Any, Any, bool, int]] = [
    ("default empty args, 0 failures, 0 evictions", {"minPodLifetimeSeconds": 0},
     lambda: [node("node1")], lambda: [], False, 0),
    ("0 failures, 0 evictions", failed_args(),
     lambda: [node("node1")], lambda: [], False, 0),
    ("1 container terminated with reason NodeAffinity, 1 eviction", failed_args(),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated("NodeAffinity")))], False, 1),
    ("1 container terminated with exitCode 1, 1 eviction", failed_args(exit_codes=[1]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated(exit_code=1)))], False, 1),
    ("1 container terminated with exitCode 1, reason NodeAffinity, 1 eviction", failed_args(exit_codes=[1]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated("NodeAffinity", 1)))], False, 1),
    ("1 container terminated with exitCode 1, expected exitCode 2, 0 eviction", failed_args(exit_codes=[2]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated(exit_code=1)))], False, 0),
    ("2 containers terminated with exitCode 1 and 2 respectively, 2 evictions", failed_args(exit_codes=[1, 2, 3]),
     lambda: [node("node1")],
     lambda: [
         failed_pod("p1", "node1", status(container=terminated(exit_code=1))),
         failed_pod("p2", "node1", status(container=terminated(exit_code=2))),
     ], False, 2),
    ("2 containers terminated with exitCode 1 and 2 respectively, expected exitCode 1, 1 eviction",
     failed_args(exit_codes=[1]),
     lambda: [node("node1")],
     lambda: [
         failed_pod("p1", "node1", status(container=terminated(exit_code=1))),
         failed_pod("p2", "node1", status(container=terminated(exit_code=2))),
     ], False, 1),
    ("1 init container terminated with reason NodeAffinity, 1 eviction", failed_args(including_init=True),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(init=terminated("NodeAffinity")))], False, 1),
    # Upstream's case puts the exit code on a regular container despite its description.
    ("1 init container terminated with exitCode 1, 1 eviction", failed_args(True, exit_codes=[1]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated(exit_code=1)))], False, 1),
    ("1 init container terminated with exitCode 2, expected 1, 0 eviction", failed_args(True, exit_codes=[1]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated(exit_code=2)))], False, 0),
    ("1 init container waiting with reason CreateContainerConfigError, 1 eviction", failed_args(including_init=True),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(init=waiting("CreateContainerConfigError")))], False, 1),
    ("2 init container waiting with reason CreateContainerConfigError, 2 nodes, 2 evictions",
     failed_args(including_init=True),
     lambda: [node("node1"), node("node2")],
     lambda: [
         failed_pod("p1", "node1", status(init=terminated("CreateContainerConfigError"))),
         failed_pod("p2", "node2", status(init=terminated("CreateContainerConfigError"))),
     ], False, 2),
    ("include reason=CreateContainerConfigError, 1 container terminated with reason CreateContainerConfigError, "
     "1 eviction", failed_args(reasons=["CreateContainerConfigError"]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated("CreateContainerConfigError")))], False, 1),
    ("include reason=CreateContainerConfigError+NodeAffinity, 1 container terminated with reason "
     "CreateContainerConfigError, 1 eviction", failed_args(reasons=["CreateContainerConfigError", "NodeAffinity"]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated("CreateContainerConfigError")))], False, 1),
    ("include reason=CreateContainerConfigError, 1 container terminated with reason NodeAffinity, 0 eviction",
     failed_args(reasons=["CreateContainerConfigError"]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated("NodeAffinity")))], False, 0),
    ("include init container=false, 1 init container waiting with reason CreateContainerConfigError, 0 eviction",
     failed_args(reasons=["CreateContainerConfigError"]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(init=waiting("CreateContainerConfigError")))], False, 0),
    ("lifetime 1 hour, 1 container terminated with reason NodeAffinity, 0 eviction",
     failed_args(min_age_seconds=ONE_HOUR),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(container=terminated("NodeAffinity")))], False, 0),
    ("nodeFit=true, 1 unschedulable node, 1 container terminated with reason NodeAffinity, 0 eviction",
     failed_args(),
     lambda: [node("node1"), node("node2", memory=2000, unschedulable=True)],
     lambda: [failed_pod("p1", "node1", status(container=terminated("NodeAffinity")))], True, 0),
    ("nodeFit=true, only available node does not have enough resources, 1 container terminated with reason "
     "CreateContainerConfigError, 0 eviction", failed_args(reasons=["CreateContainerConfigError"]),
     lambda: [node("node1", 1, 1), node("node2", 0, 0)],
     lambda: [failed_pod("p1", "node1", status(container=terminated("CreateContainerConfigError")))], True, 0),
    ("excluded owner kind=ReplicaSet, 1 init container terminated with owner kind=ReplicaSet, 0 eviction",
     failed_args(True, exclude_kinds=["ReplicaSet"]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(init=terminated("NodeAffinity")))], False, 0),
    ("excluded owner kind=DaemonSet, 1 init container terminated with owner kind=ReplicaSet, 1 eviction",
     failed_args(True, exclude_kinds=["DaemonSet"]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(init=terminated("NodeAffinity")))], False, 1),
    ("excluded owner kind=DaemonSet, 1 init container terminated with owner kind=ReplicaSet, 1 pod in termination; "
     "nothing should be moved", failed_args(True, exclude_kinds=["DaemonSet"]),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status(init=terminated("NodeAffinity")), deleting=True)], False, 0),
    # The 0 comes from nodeFit: the only node is the pod's own.
    ("1 container terminated with reason ShutDown, 0 evictions", failed_args(),
     lambda: [node("node1")],
     lambda: [failed_pod("p1", "node1", status("Shutdown", "Failed"))], True, 0),
    ("include reason=Shutdown, 2 containers terminated with reason ShutDown, 2 evictions",
     failed_args(reasons=["Shutdown"]),
     lambda: [node("node1")],
     lambda: [
         failed_pod("p1", "node1", status("Shutdown", "Failed")),
         failed_pod("p2", "node1", status("Shutdown", "Failed")),
     ], False, 2),
]  # fmt: skip


def harness_for(wire: dict[str, Any], nodes: list[model.Node], pods: list[model.Pod], *, node_fit: bool) -> f.Harness:
    args = f.decode_args(plugin.Args, **wire)
    assert plugin.validate(args) == []
    return up.harness(plugin.SPEC, args, nodes, pods, evictor_args={"nodeFit": node_fit})


@pytest.mark.parametrize(
    ("wire", "make_nodes", "make_pods", "node_fit", "expected"),
    [case[1:] for case in CASES],
    ids=[f"upstream TestRemoveFailedPods: {case[0]}" for case in CASES],
)
def test_evicts_as_many_pods_as_upstream(
    wire: dict[str, Any], make_nodes: Any, make_pods: Any, node_fit: bool, expected: int
) -> None:
    nodes = make_nodes()
    h = harness_for(wire, nodes, make_pods(), node_fit=node_fit)
    assert len(h.run(nodes)) == expected


@pytest.mark.parametrize(
    ("age_seconds", "evicted"),
    [(0, False), (3599, False), (3600, True), (86400, True)],
    ids=[
        "policy without minPodLifetimeSeconds, failed pod just created -> kept (SetDefaults: 3600)",
        "policy without minPodLifetimeSeconds, failed pod 3599s old -> kept",
        "policy without minPodLifetimeSeconds, failed pod 1h old -> evicted",
        "policy without minPodLifetimeSeconds, failed pod 1d old -> evicted",
    ],
)
def test_a_policy_without_a_minimum_age_keeps_failed_pods_younger_than_an_hour(age_seconds: int, evicted: bool) -> None:
    # upstream LoadPolicyConfig -> setDefaults -> SetDefaults_RemoveFailedPodsArgs: nil -> 3600.
    pod = up.build_pod(
        "p1", 1, 1, "node1", owners=[up.RS_OWNER], phase="Failed",
        created=f.ts(age_seconds), status={"containerStatuses": [{"state": terminated("NodeAffinity")}]},
    )  # fmt: skip
    h = harness_for({}, [node("node1")], [pod], node_fit=False)
    assert h.run() == (["p1"] if evicted else [])


@pytest.mark.parametrize(
    "plugin_config",
    [
        "",
        "    pluginConfig:\n      - name: RemoveFailedPods\n",
        "    pluginConfig:\n      - name: RemoveFailedPods\n        args: {}\n",
    ],
    ids=[
        "policy enabling RemoveFailedPods without pluginConfig -> minPodLifetimeSeconds 3600",
        "policy with a pluginConfig entry without args -> minPodLifetimeSeconds 3600",
        "policy with empty args -> minPodLifetimeSeconds 3600",
    ],
)
def test_a_policy_file_defaults_the_minimum_age_to_an_hour(plugin_config: str) -> None:
    # upstream policyconfig.go setDefaults -> SetDefaults_RemoveFailedPodsArgs.
    text = (
        "apiVersion: descheduler/v1alpha2\nkind: DeschedulerPolicy\nprofiles:\n  - name: p\n"
        + plugin_config
        + "    plugins:\n      deschedule:\n        enabled: [RemoveFailedPods]\n"
    )
    policy = loading.parse_policy(text, registry=default_registry())
    args = policy.profiles[0].args[plugin.NAME]
    assert isinstance(args, plugin.Args) and args.min_pod_lifetime_seconds == 3600


def test_a_zero_minimum_age_admits_a_pod_created_after_our_clock() -> None:
    # Upstream's age is a uint, so "age < 0" never holds: 0 admits every pod, even under clock skew.
    pod = up.build_pod("p1", 1, 1, "node1", owners=[up.RS_OWNER], phase="Failed", created=f.ts(-30))
    h = harness_for({"minPodLifetimeSeconds": 0}, [node("node1")], [pod], node_fit=False)
    assert h.run() == ["p1"]


# -- validation_test.go ----------------------------------------------------------------------

VALIDATION = [
    ("valid namespace args, no errors",
     {"namespaces": {"include": ["default"]}, "excludeOwnerKinds": ["Job"], "reasons": ["ReasonDoesNotMatch"],
      "minPodLifetimeSeconds": 3600}, []),
    ("invalid namespaces args, expects error",
     {"namespaces": {"include": ["default"], "exclude": ["kube-system"]}}, ["namespaces"]),
    ("valid label selector args, no errors",
     {"labelSelector": {"matchLabels": {"role.kubernetes.io/node": ""}}}, []),
    ("invalid label selector args, expects errors",
     {"labelSelector": {"matchExpressions": [{"operator": "In"}]}}, ["labelSelector.matchExpressions[0]"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("wire", "paths"),
    [case[1:] for case in VALIDATION],
    ids=[f"upstream TestValidateRemoveFailedPodsArgs: {case[0]} -> {case[2] or 'no problem'}" for case in VALIDATION],
)
def test_validation_reports_what_upstream_rejects(wire: dict[str, Any], paths: list[str]) -> None:
    # tensile checks label selectors while decoding, the other arguments in validate().
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    if decoded is not None:
        problems = plugin.validate(decoded)
    assert [p.path for p in problems] == paths
    assert not any(p.warning for p in problems)


# -- defaults_test.go ------------------------------------------------------------------------


def test_empty_args_default_as_upstreams_policy_loader() -> None:
    # upstream TestSetDefaults_RemoveFailedPodsArgs: "RemoveFailedPodsArgs empty".
    # DELIBERATE DIFFERENCE from that test's expectation (MinPodLifetimeSeconds nil): it calls
    # scheme.Default, which in v0.36 runs no defaulter (zz_generated.defaults.go registers none),
    # while the policy loader calls SetDefaults_RemoveFailedPodsArgs directly and gets 3600.
    # tensile defaults as a policy file is loaded.
    args = f.decode_args(plugin.Args)
    assert args == plugin.Args()
    assert (args.namespaces, args.label_selector, args.exclude_owner_kinds) == (None, None, ())
    assert (args.min_pod_lifetime_seconds, args.reasons, args.including_init_containers) == (3600, (), False)


def test_given_args_are_kept_by_defaulting() -> None:
    # upstream TestSetDefaults_RemoveFailedPodsArgs: "RemoveFailedPodsArgs with value"
    wire = {
        "namespaces": {},
        "labelSelector": {},
        "excludeOwnerKinds": ["ReplicaSet"],
        "minPodLifetimeSeconds": 0,
        "reasons": ["reason"],
        "includingInitContainers": True,
    }
    args = f.decode_args(plugin.Args, **wire)
    assert (args.exclude_owner_kinds, args.min_pod_lifetime_seconds) == (("ReplicaSet",), 0)
    assert (args.reasons, args.including_init_containers) == (("reason",), True)
    assert args.namespaces is not None and args.label_selector == {}
