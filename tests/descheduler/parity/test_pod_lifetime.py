"""PodLifeTime against upstream v0.36 ``pkg/framework/plugins/podlifetime``: the tables of
pod_lifetime_test.go (run behind a real DefaultEvictor, as upstream's InitFrameworkHandle
does), validation_test.go and defaults_test.go, transcribed case by case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import pod_lifetime as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

MAX_LIFE_TIME = {"maxPodLifeTimeSeconds": 600}
OLD_TRANSITION = f.ts(2 * 3600)  # upstream oldTransitionTime
NEW_TRANSITION = f.ts(60)  # upstream newTransitionTime
OLDER = "2009-11-10T23:00:00Z"
"""Upstream's ``olderPodCreationTime``."""
NEWER = f.T0
"""Upstream's ``newerPodCreationTime`` (time.Now(), i.e. tensile's fixed NOW)."""
JOB_OWNER = {"kind": "Job", "name": "job1", "apiVersion": "batch/v1"}


def node1(name: str = "n1") -> model.Node:
    """``buildTestNode1`` / ``test.BuildTestNode("node1", 2000, 3000, 10, nil)``."""
    return up.build_node(name, 2000, 3000, 10)


def for_node1(name: str, created: str, **kw: Any) -> model.Pod:
    """``buildTestPodForNode1``: 100m CPU on n1, no owner."""
    return up.build_pod(name, 100, 0, "n1", created=created, **kw)


def rs_for_node1(name: str, created: str, **kw: Any) -> model.Pod:
    """``buildTestPodWithRSOwnerRefForNode1``."""
    return for_node1(name, created, owners=[up.RS_OWNER], **kw)


def pending_rs_for_node1(name: str, created: str, **kw: Any) -> model.Pod:
    """``buildTestPodWithRSOwnerRefWithPendingPhaseForNode1``."""
    return rs_for_node1(name, created, phase="Pending", **kw)


def build_pod(name: str, **kw: Any) -> model.Pod:
    """``buildPod(name, "node1", ...)``: 1m CPU, 1 byte, ReplicaSet owner, no creationTimestamp."""
    kw.setdefault("owners", [up.RS_OWNER])
    return up.build_pod(name, 1, 1, "node1", **kw)


def containers(key: str = "containerStatuses", **state: dict[str, Any]) -> dict[str, Any]:
    """One container status in ``key`` with the given state (``waiting=...`` or ``terminated=...``)."""
    return {key: [{"name": "", "state": state}]}


def waiting(reason: str, key: str = "containerStatuses") -> dict[str, Any]:
    return containers(key, waiting={"reason": reason})


def condition(type_: str, status: str = "", reason: str = "", transition: str = "") -> dict[str, str]:
    raw = {"type": type_, "status": status, "reason": reason, "lastTransitionTime": transition}
    return {k: v for k, v in raw.items() if v}


@dataclass
class Case:
    """One row of upstream's ``podLifeTimeTestCase``."""

    wire: dict[str, Any]
    pods: Sequence[model.Pod]
    count: int
    names: Sequence[str] | None = None
    nodes: Sequence[model.Node] = field(default_factory=lambda: [node1()])
    ignore_pvc_pods: bool = False
    limit: Limits = field(default_factory=Limits)

    def run(self) -> list[str]:
        args = f.decode_args(plugin.Args, **self.wire)
        assert plugin.validate(args) == []
        evictor_args = {"ignorePvcPods": True} if self.ignore_pvc_pods else {}
        return up.harness(plugin.SPEC, args, self.nodes, self.pods, evictor_args=evictor_args, limit=self.limit).run()


def case(function: str, description: str, *args: Any, **kw: Any) -> Any:
    c = Case(*args, **kw)
    return pytest.param(c, id=f'{function}: "{description}" -> {c.count} evicted')


ON_NODE1 = [node1("node1")]

CASES = [
    # -- upstream TestPodLifeTime
    case(
        "TestPodLifeTime",
        "No pod should be evicted since pod terminating",
        {**MAX_LIFE_TIME, "labelSelector": {"matchLabels": {"foo": "bar"}}},
        [rs_for_node1("p14", OLDER, deleting=True), rs_for_node1("p15", OLDER, deleting=True)],
        0,
    ),
    # -- upstream TestPodLifeTime_EvictorConfiguration
    case(
        "TestPodLifeTime_EvictorConfiguration",
        "Does not evict pvc pods with ignorePvcPods set to true",
        MAX_LIFE_TIME,
        [
            rs_for_node1(
                "p11", OLDER, spec={"volumes": [{"name": "pvc", "persistentVolumeClaim": {"claimName": "foo"}}]}
            )
        ],
        0,
        ignore_pvc_pods=True,
    ),
    case(
        "TestPodLifeTime_EvictorConfiguration",
        "Evicts pvc pods with ignorePvcPods set to false (or unset)",
        MAX_LIFE_TIME,
        [
            rs_for_node1(
                "p11", OLDER, spec={"volumes": [{"name": "pvc", "persistentVolumeClaim": {"claimName": "foo"}}]}
            )
        ],
        1,
    ),
    # -- upstream TestPodLifeTime_GenericFiltering
    case(
        "TestPodLifeTime_GenericFiltering",
        "1 pod matching label selector should be evicted",
        {**MAX_LIFE_TIME, "labelSelector": {"matchLabels": {"foo": "bar"}}},
        [rs_for_node1("p12", OLDER, labels={"foo": "bar"}), rs_for_node1("p13", OLDER, labels={"foo": "bar1"})],
        1,
        ["p12"],
    ),
    # -- upstream TestPodLifeTime_EvictionLimits
    case(
        "TestPodLifeTime_EvictionLimits",
        "2 Oldest pods should be evicted when maxPodsToEvictPerNode and maxPodsToEvictPerNamespace are not set",
        MAX_LIFE_TIME,
        [rs_for_node1("p1", NEWER), rs_for_node1("p2", OLDER), pending_rs_for_node1("p9", OLDER)],
        2,
        ["p2", "p9"],
    ),
    case(
        "TestPodLifeTime_EvictionLimits",
        "1 Oldest pod should be evicted when maxPodsToEvictPerNamespace is set to 1",
        MAX_LIFE_TIME,
        [rs_for_node1("p1", NEWER), rs_for_node1("p2", OLDER)],
        1,
        ["p2"],
        limit=Limits(per_namespace=1),
    ),
    case(
        "TestPodLifeTime_EvictionLimits",
        "1 Oldest pod should be evicted when maxPodsToEvictTotal is set to 1",
        MAX_LIFE_TIME,
        [rs_for_node1("p1", NEWER), rs_for_node1("p2", OLDER)],
        1,
        ["p2"],
        limit=Limits(per_namespace=2, total=1),
    ),
    case(
        "TestPodLifeTime_EvictionLimits",
        "1 Oldest pod should be evicted when maxPodsToEvictPerNode is set to 1",
        MAX_LIFE_TIME,
        [rs_for_node1("p1", NEWER), rs_for_node1("p2", OLDER)],
        1,
        ["p2"],
        limit=Limits(per_node=1),
    ),
    # -- upstream TestPodLifeTime_ContainerWaitingReasons
    case(
        "TestPodLifeTime_ContainerWaitingReasons",
        "Two pods, one with ContainerCreating state. 1 should be evicted.",
        {**MAX_LIFE_TIME, "states": ["ContainerCreating"]},
        [
            pending_rs_for_node1("p9", OLDER),
            up.build_pod(
                "container-creating-stuck",
                0,
                0,
                "n1",
                owners=[up.RS_OWNER],
                created=OLDER,
                status=waiting("ContainerCreating"),
            ),
        ],
        1,
    ),
    case(
        "TestPodLifeTime_ContainerWaitingReasons",
        "Two pods, one with PodInitializing state. 1 should be evicted.",
        {**MAX_LIFE_TIME, "states": ["PodInitializing"]},
        [
            pending_rs_for_node1("p9", OLDER),
            up.build_pod(
                "pod-initializing-stuck",
                0,
                0,
                "n1",
                owners=[up.RS_OWNER],
                created=OLDER,
                status=waiting("PodInitializing"),
            ),
        ],
        1,
    ),
    *(
        case(
            "TestPodLifeTime_ContainerWaitingReasons",
            f"1 pod with container status {reason} should be evicted",
            {**MAX_LIFE_TIME, "states": [reason]},
            [pending_rs_for_node1("p9", OLDER, status=waiting(reason))],
            1,
        )
        for reason in ("ImagePullBackOff", "CrashLoopBackOff", "CreateContainerConfigError", "ErrImagePull")
    ),
    case(
        "TestPodLifeTime_ContainerWaitingReasons",
        "1 pod with init container status CreateContainerError should not be evicted without includingInitContainers",
        {**MAX_LIFE_TIME, "states": ["CreateContainerError"]},
        [pending_rs_for_node1("p9", OLDER, status=waiting("CreateContainerError", "initContainerStatuses"))],
        0,
    ),
    case(
        "TestPodLifeTime_ContainerWaitingReasons",
        "1 pod with init container status CreateContainerError should be evicted with includingInitContainers",
        {**MAX_LIFE_TIME, "states": ["CreateContainerError"], "includingInitContainers": True},
        [pending_rs_for_node1("p9", OLDER, status=waiting("CreateContainerError", "initContainerStatuses"))],
        1,
    ),
    case(
        "TestPodLifeTime_ContainerWaitingReasons",
        "1 pod with ephemeral container status CreateContainerError should not be evicted without "
        "includingEphemeralContainers",
        {**MAX_LIFE_TIME, "states": ["CreateContainerError"]},
        [pending_rs_for_node1("p9", OLDER, status=waiting("CreateContainerError", "ephemeralContainerStatuses"))],
        0,
    ),
    case(
        "TestPodLifeTime_ContainerWaitingReasons",
        "1 pod with ephemeral container status CreateContainerError should be evicted with "
        "includingEphemeralContainers",
        {**MAX_LIFE_TIME, "states": ["CreateContainerError"], "includingEphemeralContainers": True},
        [pending_rs_for_node1("p9", OLDER, status=waiting("CreateContainerError", "ephemeralContainerStatuses"))],
        1,
    ),
    *(
        case(
            "TestPodLifeTime_ContainerWaitingReasons",
            f"1 pod with container status {reason} should be evicted",
            {**MAX_LIFE_TIME, "states": [reason]},
            [pending_rs_for_node1("p9", OLDER, status=waiting(reason))],
            1,
        )
        for reason in ("CreateContainerError", "InvalidImageName")
    ),
    case(
        "TestPodLifeTime_ContainerWaitingReasons",
        "1 pod with ImagePullBackOff status should be ignored when States filter is ContainerCreating",
        {**MAX_LIFE_TIME, "states": ["ContainerCreating"]},
        [pending_rs_for_node1("p9", OLDER, status=waiting("ImagePullBackOff"))],
        0,
    ),
    # -- upstream TestPodLifeTime_PodStatusReasons
    *(
        case(
            "TestPodLifeTime_PodStatusReasons",
            f"1 pod with pod status reason {reason} should be evicted",
            {**MAX_LIFE_TIME, "states": [reason]},
            [pending_rs_for_node1("p9", OLDER, status={"reason": reason})],
            1,
        )
        for reason in ("NodeLost", "NodeAffinity", "Shutdown", "UnexpectedAdmissionError")
    ),
    # -- upstream TestPodLifeTime_AgeThreshold
    case(
        "TestPodLifeTime_AgeThreshold",
        "Two pods in the default namespace, 1 is new and 1 very is old. 1 should be evicted.",
        MAX_LIFE_TIME,
        [rs_for_node1("p1", NEWER), rs_for_node1("p2", OLDER)],
        1,
        ["p2"],
    ),
    case(
        "TestPodLifeTime_AgeThreshold",
        "Two pods in the default namespace, 2 are new and 0 are old. 0 should be evicted.",
        MAX_LIFE_TIME,
        [rs_for_node1("p3", NEWER), rs_for_node1("p4", NEWER)],
        0,
    ),
    case(
        "TestPodLifeTime_AgeThreshold",
        "Two pods in the default namespace, 1 created 605 seconds ago. 1 should be evicted.",
        MAX_LIFE_TIME,
        [rs_for_node1("p5", NEWER), rs_for_node1("p6", f.ts(605))],
        1,
        ["p6"],
    ),
    case(
        "TestPodLifeTime_AgeThreshold",
        "Two pods in the default namespace, 1 created 595 seconds ago. 0 should be evicted.",
        MAX_LIFE_TIME,
        [for_node1("p7", NEWER), for_node1("p8", f.ts(595))],
        0,
    ),
    # -- upstream TestPodLifeTime_PodPhaseStates
    case(
        "TestPodLifeTime_PodPhaseStates",
        "Two old pods with different states. 1 should be evicted.",
        {**MAX_LIFE_TIME, "states": ["Pending"]},
        [pending_rs_for_node1("p9", OLDER), rs_for_node1("p10", OLDER, phase="Running")],
        1,
        ["p9"],
    ),
    *(
        case(
            "TestPodLifeTime_PodPhaseStates",
            f"1 pod with pod status phase v1.Pod{phase} should be evicted",
            {**MAX_LIFE_TIME, "states": [phase]},
            [rs_for_node1("p16", OLDER, phase=phase)],
            1,
        )
        for phase in ("Succeeded", "Failed", "Unknown")
    ),
    # -- upstream TestStatesWithTerminatedReasons
    case(
        "TestStatesWithTerminatedReasons",
        "evict pod with matching terminated reason via states",
        {"states": ["NodeAffinity"]},
        [build_pod("p1", phase="Failed", status=containers(terminated={"reason": "NodeAffinity"}))],
        1,
        nodes=ON_NODE1,
    ),
    case(
        "TestStatesWithTerminatedReasons",
        "evict pod with matching pod status reason via states",
        {"states": ["Shutdown"]},
        [build_pod("p1", phase="Failed", status={"reason": "Shutdown"})],
        1,
        nodes=ON_NODE1,
    ),
    case(
        "TestStatesWithTerminatedReasons",
        "states matches terminated reason on init container",
        {"states": ["CreateContainerConfigError"], "includingInitContainers": True},
        [
            build_pod(
                "p1", status=containers("initContainerStatuses", terminated={"reason": "CreateContainerConfigError"})
            )
        ],
        1,
        nodes=ON_NODE1,
    ),
    case(
        "TestStatesWithTerminatedReasons",
        "states does not match terminated reason on init container without flag",
        {"states": ["CreateContainerConfigError"]},
        [
            build_pod(
                "p1", status=containers("initContainerStatuses", terminated={"reason": "CreateContainerConfigError"})
            )
        ],
        0,
        nodes=ON_NODE1,
    ),
    # -- upstream TestConditionFiltering
    case(
        "TestConditionFiltering",
        "evict pod with matching condition reason",
        {"conditions": [{"reason": "PodCompleted", "status": "True"}]},
        [
            build_pod("p1", status={"conditions": [condition("Initialized", "True", "PodCompleted", OLD_TRANSITION)]}),
            build_pod("p2", status={"conditions": [condition("Initialized", "True", "OtherReason", OLD_TRANSITION)]}),
        ],
        1,
        ["p1"],
        nodes=ON_NODE1,
    ),
    case(
        "TestConditionFiltering",
        "evict pod matching condition type only",
        {"conditions": [{"type": "Ready"}]},
        [build_pod("p1", status={"conditions": [condition("Ready", "False", transition=OLD_TRANSITION)]})],
        1,
        nodes=ON_NODE1,
    ),
    case(
        "TestConditionFiltering",
        "no matching conditions, 0 evictions",
        {"conditions": [{"reason": "PodCompleted"}]},
        [build_pod("p1", status={"conditions": [condition("Ready", "True", "SomethingElse")]})],
        0,
        nodes=ON_NODE1,
    ),
    # -- upstream TestTransitionTimeFiltering
    case(
        "TestTransitionTimeFiltering",
        "evict pod with old transition time",
        {
            "states": ["Succeeded"],
            "conditions": [{"reason": "PodCompleted", "status": "True", "minTimeSinceLastTransitionSeconds": 300}],
        },
        [
            build_pod(
                "p1",
                phase="Succeeded",
                status={
                    "conditions": [
                        condition("Initialized", "True", "PodCompleted", OLD_TRANSITION),
                        condition("Ready", "False", "PodCompleted", OLD_TRANSITION),
                    ]
                },
            )
        ],
        1,
        ["p1"],
        nodes=ON_NODE1,
    ),
    case(
        "TestTransitionTimeFiltering",
        "do not evict pod with recent transition time",
        {"states": ["Succeeded"], "conditions": [{"minTimeSinceLastTransitionSeconds": 14400}]},
        [
            build_pod(
                "p1", phase="Succeeded", status={"conditions": [condition("Ready", "False", transition=NEW_TRANSITION)]}
            )
        ],
        0,
        nodes=ON_NODE1,
    ),
    case(
        "TestTransitionTimeFiltering",
        "transition time scoped to matching conditions only",
        {"conditions": [{"reason": "PodCompleted", "minTimeSinceLastTransitionSeconds": 300}]},
        [
            build_pod(
                "p1",
                status={
                    "conditions": [
                        condition("Initialized", reason="PodCompleted", transition=OLD_TRANSITION),
                        condition("Ready", reason="OtherReason", transition=NEW_TRANSITION),
                    ]
                },
            )
        ],
        1,
        ["p1"],
        nodes=ON_NODE1,
    ),
    case(
        "TestTransitionTimeFiltering",
        "no conditions on pod, transition time filter returns false",
        {"states": ["Running"], "conditions": [{"minTimeSinceLastTransitionSeconds": 300}]},
        [build_pod("p1", phase="Running")],
        0,
        nodes=ON_NODE1,
    ),
    # -- upstream TestOwnerKindsFiltering
    case(
        "TestOwnerKindsFiltering",
        "exclude Job owner kind: Job-owned pod not evicted",
        {"states": ["Failed"], "ownerKinds": {"exclude": ["Job"]}},
        [build_pod("p1", phase="Failed", owners=[JOB_OWNER])],
        0,
        nodes=ON_NODE1,
    ),
    case(
        "TestOwnerKindsFiltering",
        "exclude Job owner kind: non-Job pod still evicted",
        {"states": ["Failed"], "ownerKinds": {"exclude": ["Job"]}},
        [build_pod("p1", phase="Failed", owners=[JOB_OWNER]), build_pod("p2", phase="Failed")],
        1,
        ["p2"],
        nodes=ON_NODE1,
    ),
    case(
        "TestOwnerKindsFiltering",
        "include only Job owner kind",
        {"states": ["Failed"], "ownerKinds": {"include": ["Job"]}},
        [build_pod("p1", phase="Failed", owners=[JOB_OWNER]), build_pod("p2", phase="Failed")],
        1,
        ["p1"],
        nodes=ON_NODE1,
    ),
    # -- upstream TestStatesWithEphemeralContainers
    case(
        "TestStatesWithEphemeralContainers",
        "states matches terminated reason on ephemeral container",
        {"states": ["OOMKilled"], "includingEphemeralContainers": True},
        [build_pod("p1", status=containers("ephemeralContainerStatuses", terminated={"reason": "OOMKilled"}))],
        1,
        nodes=ON_NODE1,
    ),
    case(
        "TestStatesWithEphemeralContainers",
        "states does not match ephemeral container without flag",
        {"states": ["OOMKilled"]},
        [build_pod("p1", status=containers("ephemeralContainerStatuses", terminated={"reason": "OOMKilled"}))],
        0,
        nodes=ON_NODE1,
    ),
    # -- upstream TestExitCodesFiltering
    case(
        "TestExitCodesFiltering",
        "evict pod with matching exit code",
        {"states": ["Failed"], "exitCodes": [1]},
        [build_pod("p1", phase="Failed", status=containers(terminated={"exitCode": 1}))],
        1,
        nodes=ON_NODE1,
    ),
    case(
        "TestExitCodesFiltering",
        "exit code not matched, 0 evictions",
        {"states": ["Failed"], "exitCodes": [2]},
        [build_pod("p1", phase="Failed", status=containers(terminated={"exitCode": 1}))],
        0,
        nodes=ON_NODE1,
    ),
    # -- upstream TestCombinedFilters
    case(
        "TestCombinedFilters",
        "user scenario: Succeeded + PodCompleted condition + transition time threshold",
        {
            "states": ["Succeeded"],
            "conditions": [{"reason": "PodCompleted", "status": "True", "minTimeSinceLastTransitionSeconds": 300}],
        },
        [
            build_pod(
                "stale-completed",
                phase="Succeeded",
                status={
                    "conditions": [
                        condition("Initialized", "True", "PodCompleted", OLD_TRANSITION),
                        condition("Ready", "False", "PodCompleted", OLD_TRANSITION),
                    ]
                },
            ),
            build_pod(
                "recent-completed",
                phase="Succeeded",
                status={"conditions": [condition("Initialized", "True", "PodCompleted", NEW_TRANSITION)]},
            ),
            build_pod("running-pod", phase="Running"),
        ],
        1,
        ["stale-completed"],
        nodes=ON_NODE1,
    ),
    case(
        "TestCombinedFilters",
        "failed pod removal compat: Failed + min age + exclude Job",
        {"states": ["Failed"], "maxPodLifeTimeSeconds": 0, "ownerKinds": {"exclude": ["Job"]}},
        [
            build_pod("failed-rs", phase="Failed", status=containers(terminated={"reason": "Error"})),
            build_pod("failed-job", phase="Failed", owners=[JOB_OWNER]),
        ],
        1,
        ["failed-rs"],
        nodes=ON_NODE1,
    ),
]


@pytest.mark.parametrize("c", CASES)
def test_evicts_what_upstream_evicts(c: Case) -> None:
    evicted = c.run()
    assert len(evicted) == c.count
    if c.names is not None:
        assert sorted(evicted) == sorted(c.names)


def test_limits_keep_the_oldest_evictions_across_nodes() -> None:
    """Deschedule sorts the candidates of all nodes by creation time (SortPodsBasedOnAge), then
    evicts: a node limit moves on (EvictionNodeLimitError), the total limit stops."""
    pods = [
        rs_for_node1("n1-young", f.ts(1000)),
        up.build_pod("n2-oldest", 400, 0, "n2", owners=[up.RS_OWNER], created=f.ts(9000)),
        rs_for_node1("n1-old", f.ts(5000)),
        up.build_pod("n2-middle", 400, 0, "n2", owners=[up.RS_OWNER], created=f.ts(3000)),
    ]
    per_node = Case(MAX_LIFE_TIME, pods, 2, nodes=[node1("n1"), node1("n2")], limit=Limits(per_node=1))
    assert per_node.run() == ["n2-oldest", "n1-old"]
    total = Case(MAX_LIFE_TIME, pods, 3, nodes=[node1("n1"), node1("n2")], limit=Limits(total=3))
    assert total.run() == ["n2-oldest", "n1-old", "n2-middle"]


# -- upstream TestValidation (pod_lifetime_test.go) and TestValidateRemovePodLifeTimeArgs ----

STATE_LIST = [
    "Completed",
    "ContainerCannotRun",
    "ContainerCreating",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "DeadlineExceeded",
    "ErrImagePull",
    "Error",
    "Evicted",
    "Failed",
    "ImagePullBackOff",
    "InvalidImageName",
    "NodeAffinity",
    "NodeLost",
    "OOMKilled",
    "Pending",
    "PodInitializing",
    "Running",
    "Shutdown",
    "StartError",
    "Succeeded",
    "UnexpectedAdmissionError",
    "Unknown",
]


@pytest.mark.parametrize(
    ("wire", "errors"),
    [
        pytest.param({"states": ["Running"]}, [], id='TestValidation: "valid: states set" -> no error'),
        pytest.param(
            {"conditions": [{"reason": "PodCompleted"}]}, [], id='TestValidation: "valid: conditions set" -> no error'
        ),
        pytest.param(
            {"maxPodLifeTimeSeconds": 600}, [], id='TestValidation: "valid: maxPodLifeTimeSeconds set" -> no error'
        ),
        pytest.param(
            {"states": ["Running"], "maxPodLifeTimeSeconds": 600},
            [],
            id='TestValidation: "valid: states with maxPodLifeTimeSeconds" -> no error',
        ),
        pytest.param(
            {"states": ["Succeeded"], "conditions": [{"reason": "PodCompleted"}]},
            [],
            id='TestValidation: "valid: states with conditions" -> no error',
        ),
        pytest.param({"exitCodes": [1]}, [], id='TestValidation: "valid: exitCodes only" -> no error'),
        pytest.param(
            {"conditions": [{"reason": "PodCompleted", "minTimeSinceLastTransitionSeconds": 300}]},
            [],
            id='TestValidation: "valid: condition with minTimeSinceLastTransitionSeconds" -> no error',
        ),
        pytest.param(
            {"conditions": [{"minTimeSinceLastTransitionSeconds": 300}]},
            [],
            id='TestValidation: "valid: condition with only minTimeSinceLastTransitionSeconds" -> no error',
        ),
        pytest.param({}, [""], id='TestValidation: "invalid: no filter criteria" -> error'),
        pytest.param(
            {"states": ["Running"], "namespaces": {"include": ["a"], "exclude": ["b"]}},
            ["namespaces"],
            id='TestValidation: "invalid: both include and exclude namespaces" -> error',
        ),
        pytest.param(
            {"states": ["Running"], "ownerKinds": {"include": ["Job"], "exclude": ["ReplicaSet"]}},
            ["ownerKinds"],
            id='TestValidation: "invalid: both include and exclude ownerKinds" -> error',
        ),
        pytest.param({"states": ["NotAState"]}, ["states[0]"], id='TestValidation: "invalid: bad state name" -> error'),
        pytest.param(
            {"conditions": [{}]}, ["conditions[0]"], id='TestValidation: "invalid: empty condition filter" -> error'
        ),
        pytest.param(
            {"maxPodLifeTimeSeconds": 1, "states": ["Running"]},
            [],
            id='TestValidateRemovePodLifeTimeArgs: "valid arg, no errors" -> no error',
        ),
        pytest.param(
            {"maxPodLifeTimeSeconds": 1, "states": ["Succeeded", "Failed"]},
            [],
            id='TestValidateRemovePodLifeTimeArgs: "Pod Status Reasons Succeeded or Failed" -> no error',
        ),
        pytest.param(
            {"maxPodLifeTimeSeconds": 1, "states": ["CrashLoopBackOff"]},
            [],
            id='TestValidateRemovePodLifeTimeArgs: "Pod Status Reasons CrashLoopBackOff " -> no error',
        ),
        pytest.param(
            {},
            [""],
            id='TestValidateRemovePodLifeTimeArgs: "nil MaxPodLifeTimeSeconds arg, expects errors" -> error',
        ),
        pytest.param(
            {"maxPodLifeTimeSeconds": 1, "states": ["InvalidState"]},
            ["states[0]"],
            id='TestValidateRemovePodLifeTimeArgs: "invalid pod state arg, expects errors" -> error',
        ),
        pytest.param(
            # upstream reports only the states error: a states list, even an invalid one, is a criterion
            {"states": ["InvalidState"]},
            ["states[0]"],
            id='TestValidateRemovePodLifeTimeArgs: "nil MaxPodLifeTimeSeconds arg and invalid pod state arg, '
            'expects errors" -> only the states error',
        ),
    ],
)
def test_validation_errors_match_upstream(wire: dict[str, Any], errors: list[str]) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert not problems and decoded is not None
    found = plugin.validate(decoded)
    assert [p.path for p in found] == errors
    assert not any(p.warning for p in found)


def test_allowed_states_are_upstreams() -> None:
    """The list upstream's "states must be one of [...]" message prints (podLifeTimeAllowedStates)."""
    assert list(plugin.ALLOWED_STATES) == STATE_LIST


@pytest.mark.parametrize(
    ("wire", "path"),
    [
        pytest.param({"maxPodLifeTimeSeconds": -1}, "args.maxPodLifeTimeSeconds", id="negative uint -> refused"),
        pytest.param({"exitCodes": [2**31]}, "args.exitCodes[0]", id="exit code beyond int32 -> refused"),
        pytest.param(
            {"conditions": [{"minTimeSinceLastTransitionSeconds": -5}]},
            "args.conditions[0].minTimeSinceLastTransitionSeconds",
            id="negative minTimeSinceLastTransitionSeconds -> refused",
        ),
        pytest.param(
            {"maxPodLifeTimeSeconds": 1, "labelSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}},
            "args.labelSelector.matchExpressions[0].operator",
            id="invalid labelSelector -> refused",
        ),
    ],
)
def test_values_upstream_cannot_decode_or_validate_are_refused(wire: dict[str, Any], path: str) -> None:
    """Upstream's strict decoding into uint/int32 fields and LabelSelectorAsSelector in
    ValidatePodLifeTimeArgs refuse these; tensile reports them at the same field."""
    decoded, problems = argspec.decode(plugin.Args, wire, "args")
    if decoded is not None:
        problems += [p for p in plugin.validate(decoded) if not p.warning]
    assert path in {p.path if p.path.startswith("args") else f"args.{p.path}" for p in problems}


# -- upstream TestSetDefaults_PodLifeTimeArgs ----------------------------------------------


def test_defaults_of_empty_args_are_upstreams() -> None:
    """upstream TestSetDefaults_PodLifeTimeArgs: "PodLifeTimeArgs empty"."""
    decoded, problems = argspec.decode(plugin.Args, {}, "args")
    assert problems == [] and decoded == plugin.Args()
    assert (decoded.namespaces, decoded.label_selector, decoded.max_pod_life_time_seconds) == (None, None, None)
    assert decoded.states == ()


def test_defaults_keep_given_values() -> None:
    """upstream TestSetDefaults_PodLifeTimeArgs: "PodLifeTimeArgs with value"."""
    decoded = f.decode_args(
        plugin.Args,
        namespaces={},
        labelSelector={"matchLabels": {"foo": "bar"}},
        maxPodLifeTimeSeconds=600,
        states=["Pending"],
    )
    assert decoded.label_selector == {"matchLabels": {"foo": "bar"}}
    assert (decoded.max_pod_life_time_seconds, decoded.states) == (600, ("Pending",))
    assert decoded.namespaces is not None
    assert (decoded.namespaces.include, decoded.namespaces.exclude) == ((), ())


def test_deliberate_difference_a_pod_without_phase_counts_as_pending() -> None:
    """DELIBERATE DIFFERENCE: upstream's test pods often have no status.phase, which never
    matches ``states: [Pending]``; tensile's model reads a missing phase as Pending, the value
    the API server defaults it to, so every real pod already has one. No upstream table case
    depends on it (their phase-less pods are matched through other states or none)."""
    pod = up.build_pod("no-phase", 400, 0, "n1", owners=[up.RS_OWNER], created=OLDER)
    assert pod.phase == "Pending"
    assert Case({"states": ["Pending"]}, [pod], 1).run() == ["no-phase"]
