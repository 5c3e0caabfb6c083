"""DefaultEvictor against upstream v0.36 ``pkg/framework/plugins/defaultevictor``: the tables of
defaultevictor_test.go, validation_test.go and defaults_test.go, transcribed case by case, plus
the ordering and combination rules of ``DefaultEvictor.Filter`` read from defaultevictor.go."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from descheduler import keys, model
from descheduler.evictor import filters
from descheduler.plugins import default_evictor as plugin
from descheduler.plugins import pod_protections
from descheduler.policy import argspec
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

EVICT = {keys.EVICT_ANNOTATION: "true"}
PREFER_NO_EVICTION = {keys.PREFER_NO_EVICTION_ANNOTATION: ""}
PVC_FOO = {"volumes": [{"name": "pvc", "persistentVolumeClaim": {"claimName": "foo"}}]}
TWO_PVCS = {
    "volumes": [
        {"name": "protected-pvc", "persistentVolumeClaim": {"claimName": "protected"}},
        {"name": "unprotected-pvc", "persistentVolumeClaim": {"claimName": "unprotected"}},
    ]
}
RESOURCE_CLAIMS = {"resourceClaims": [{"name": "test-claim", "resourceClaimName": "test-resource-claim"}]}
GPU_TAINT = {"key": "hardware", "value": "gpu", "effect": "NoSchedule"}
EAST = {"datacenter": "east"}
OWNER_UUID = "owner-uuid"
NORMAL_WITH_UUID = {**up.NORMAL_OWNER, "uid": OWNER_UUID}


def priority(value: int) -> dict[str, Any]:
    return {"priority": value}


def pvc(name: str, storage_class: str) -> model.PersistentVolumeClaim:
    """``test.BuildTestPVC``."""
    return model.PersistentVolumeClaim("default", name, storage_class)


def namespace(name: str, **labels: str) -> model.Namespace:
    """``test.BuildTestNamespace``: labelled with its own name, as the API server does."""
    return model.Namespace(name, {"kubernetes.io/metadata.name": name, **labels})


def protected_classes(*names: str) -> dict[str, Any]:
    """``newProtectedStorageClassesConfig``."""
    return {"PodsWithPVC": {"protectedStorageClasses": [{"name": n} for n in names]}}


@dataclass
class Case:
    """One row of upstream's ``testCase``: the decision is asked for ``pods[0]``."""

    pods: Sequence[model.Pod]
    expected: bool
    wire: dict[str, Any] = field(default_factory=dict)
    nodes: Sequence[model.Node] = ()
    namespaces: Sequence[model.Namespace] = ()
    pdbs: Sequence[model.PodDisruptionBudget] = ()
    pvcs: Sequence[model.PersistentVolumeClaim] = ()

    def evictor(self) -> plugin.DefaultEvictor:
        cluster = f.state(self.nodes, self.pods, namespaces=self.namespaces, pdbs=self.pdbs, pvcs=self.pvcs)
        return up.build_evictor(cluster, **self.wire)


def case(description: str, pods: Sequence[model.Pod], expected: bool, *, note: str = "", **kw: Any) -> Any:
    """One upstream row; the id quotes upstream's description verbatim (``note`` tells duplicates apart)."""
    outcome = "evictable" if expected else "kept"
    return pytest.param(Case(pods, expected, **kw), id=f'"{description}"{note} -> {outcome}')


def named(function: str, params: list[Any]) -> list[Any]:
    """Prefix each id with the upstream test function the rows come from."""
    return [param._replace(id=f"{function}: {param.id}") for param in params]


def build_test_node(name: str, **kw: Any) -> model.Node:
    """``buildTestNode``: ``test.BuildTestNode(name, 1000, 2000, 13, apply)``."""
    return up.build_node(name, 1000, 2000, 13, **kw)


def build_test_pod(name: str, node: str, **kw: Any) -> model.Pod:
    """``buildTestPod``: ``test.BuildTestPod(name, 400, 0, nodeName, apply)``."""
    return up.build_pod(name, 400, 0, node, **kw)


def p1(node: str = "node1", *, millicpu: int = 400, memory: int = 0, **kw: Any) -> model.Pod:
    """p1 on node1 with ``test.SetNormalOwnerRef``."""
    return up.build_pod("p1", millicpu, memory, node, owners=[up.NORMAL_OWNER], **kw)


# -- upstream TestDefaultEvictorPreEvictionFilter ------------------------------------------

PRE_EVICTION_CASES = [
    case(
        "Pod with no tolerations running on normal node, all other nodes tainted",
        [p1()],
        False,
        wire={"nodeFit": True},
        nodes=[build_test_node("node2", taints=[GPU_TAINT]), build_test_node("node3", taints=[GPU_TAINT])],
    ),
    case(
        "Pod with correct tolerations running on normal node, all other nodes tainted",
        [p1(spec={"tolerations": [GPU_TAINT]})],
        True,
        wire={"nodeFit": True},
        nodes=[build_test_node("node2", taints=[GPU_TAINT]), build_test_node("node3", taints=[GPU_TAINT])],
    ),
    case(
        "Pod with incorrect node selector",
        [p1(spec={"nodeSelector": {"datacenter": "fail"}})],
        False,
        wire={"nodeFit": True},
        nodes=[build_test_node("node2", labels=EAST), build_test_node("node3", labels=EAST)],
    ),
    case(
        "Pod with correct node selector",
        [p1(spec={"nodeSelector": EAST})],
        True,
        wire={"nodeFit": True},
        nodes=[build_test_node("node2", labels=EAST), build_test_node("node3", labels=EAST)],
    ),
    case(
        "Pod with correct node selector, but only available node doesn't have enough CPU",
        [p1(millicpu=12, memory=8, spec={"nodeSelector": EAST})],
        False,
        wire={"nodeFit": True},
        nodes=[
            up.build_node("node2-TEST", 10, 16, 10, labels=EAST),
            up.build_node("node3-TEST", 10, 16, 10, labels=EAST),
        ],
    ),
    case(
        "Pod with correct node selector, and one node has enough memory",
        [
            p1(millicpu=12, memory=8, spec={"nodeSelector": EAST}),
            up.build_pod("node2-pod-10GB-mem", 20, 10, "node2", labels={"test": "true"}),
            up.build_pod("node3-pod-10GB-mem", 20, 10, "node3", labels={"test": "true"}),
        ],
        True,
        wire={"nodeFit": True},
        nodes=[
            up.build_node("node2", 100, 16, 10, labels=EAST),
            up.build_node("node3", 100, 20, 10, labels=EAST),
        ],
    ),
    case(
        "Pod with correct node selector, but both nodes don't have enough memory",
        [
            p1(millicpu=12, memory=8, spec={"nodeSelector": EAST}),
            up.build_pod("node2-pod-10GB-mem", 10, 10, "node2", labels={"test": "true"}),
            up.build_pod("node3-pod-10GB-mem", 10, 10, "node3", labels={"test": "true"}),
        ],
        False,
        wire={"nodeFit": True},
        nodes=[
            up.build_node("node2", 100, 16, 10, labels=EAST),
            up.build_node("node3", 100, 16, 10, labels=EAST),
        ],
    ),
    case(
        "Pod with incorrect node selector, but nodefit false, should still be evicted",
        [p1(spec={"nodeSelector": {"datacenter": "fail"}})],
        True,
        nodes=[build_test_node("node2", labels=EAST), build_test_node("node3", labels=EAST)],
    ),
    case(
        "Pod with namespace matched namespace selector, should be evicted",
        [p1(namespace="test", spec={"nodeSelector": EAST})],
        True,
        wire={"nodeFit": True, "namespaceLabelSelector": {"matchLabels": {"kubernetes.io/metadata.name": "test"}}},
        nodes=[build_test_node("node2", labels=EAST), build_test_node("node3", labels=EAST)],
        namespaces=[namespace("default"), namespace("test")],
    ),
    case(
        "Pod with namespace does not matched namespace selector, should not be evicted",
        [p1(spec={"nodeSelector": {"datacenter": "fail"}})],
        False,
        wire={"nodeFit": True, "namespaceLabelSelector": {"matchLabels": {"kubernetes.io/metadata.name": "test"}}},
        nodes=[build_test_node("node2", labels=EAST), build_test_node("node3", labels=EAST)],
        namespaces=[namespace("default"), namespace("test")],
    ),
]


@pytest.mark.parametrize("c", named("TestDefaultEvictorPreEvictionFilter", PRE_EVICTION_CASES))
def test_pre_eviction_filter_decides_as_upstream(c: Case) -> None:
    assert c.evictor().pre_eviction_filter(c.pods[0]) is c.expected


# -- upstream TestDefaultEvictorFilter -----------------------------------------------------

LOW_PRIORITY = 800
HIGH_PRIORITY = 900
THRESHOLD = {"priorityThreshold": {"value": LOW_PRIORITY}}
EVICT_CRITICAL = {"evictSystemCriticalPods": True}


def n1(name: str, **kw: Any) -> model.Pod:
    """``buildTestPod(name, n1.Name, ...)``: 400m CPU on node1."""
    return build_test_pod(name, "node1", **kw)


def owned(name: str, owner: dict[str, Any] = up.NORMAL_OWNER, **kw: Any) -> model.Pod:
    return n1(name, owners=[owner], **kw)


def tiny(name: str, owners: Sequence[dict[str, Any]] = (up.NORMAL_OWNER,), **kw: Any) -> model.Pod:
    """``test.BuildTestPod(name, 1, 1, n1.Name, ...)``."""
    return up.build_pod(name, 1, 1, "node1", owners=owners, **kw)


FILTER_CASES = [
    case("Failed pod eviction with no ownerRefs", [n1("bare_pod_failed", phase="Failed")], False),
    case(
        "Normal pod eviction with no ownerRefs and evictFailedBarePods enabled",
        [n1("bare_pod")],
        False,
        wire={"evictFailedBarePods": True},
    ),
    case(
        "Failed pod eviction with no ownerRefs",
        [n1("bare_pod_failed_but_can_be_evicted", phase="Failed")],
        True,
        note=" (2nd row of that name, evictFailedBarePods)",
        wire={"evictFailedBarePods": True},
    ),
    case("Normal pod eviction with normal ownerRefs", [owned("p1")], True),
    case(
        "Normal pod eviction with normal ownerRefs and descheduler.alpha.kubernetes.io/evict annotation",
        [owned("p2", annotations=EVICT)],
        True,
    ),
    case(
        "Normal pod eviction with normal ownerRefs and "
        "descheduler.alpha.kubernetes.io/prefer-no-eviction annotation (preference)",
        [owned("p2", annotations=PREFER_NO_EVICTION)],
        True,
    ),
    case(
        "Normal pod eviction with normal ownerRefs and "
        "descheduler.alpha.kubernetes.io/prefer-no-eviction annotation (mandatory)",
        [owned("p2", annotations=PREFER_NO_EVICTION)],
        False,
        wire={"noEvictionPolicy": "Mandatory"},
    ),
    case("Normal pod eviction with replicaSet ownerRefs", [owned("p3")], True),
    case(
        "Normal pod eviction with replicaSet ownerRefs and descheduler.alpha.kubernetes.io/evict annotation",
        [owned("p4", up.RS_OWNER, annotations=EVICT)],
        True,
    ),
    case("Normal pod eviction with statefulSet ownerRefs", [owned("p18")], True),
    case(
        "Normal pod eviction with statefulSet ownerRefs and descheduler.alpha.kubernetes.io/evict annotation",
        [owned("p19", up.SS_OWNER, annotations=EVICT)],
        True,
    ),
    case(
        "Pod not evicted because it is bound to a PV and evictLocalStoragePods = false",
        [owned("p5", spec=up.HOST_PATH_EMPTY_DIR)],
        False,
    ),
    case(
        "Pod is evicted because it is bound to a PV and evictLocalStoragePods = true",
        [owned("p6", spec=up.HOST_PATH_EMPTY_DIR)],
        True,
        wire={"evictLocalStoragePods": True},
    ),
    case(
        "Pod is evicted because it is bound to a PV and evictLocalStoragePods = false, "
        "but it has scheduler.alpha.kubernetes.io/evict annotation",
        [owned("p7", spec=up.HOST_PATH_EMPTY_DIR, annotations=EVICT)],
        True,
    ),
    case("Pod not evicted because it is part of a daemonSet", [owned("p8", up.DS_OWNER)], False),
    case(
        "Pod is evicted because it is part of a daemonSet, but it has scheduler.alpha.kubernetes.io/evict annotation",
        [owned("p9", up.DS_OWNER, annotations=EVICT)],
        True,
    ),
    case("Pod not evicted because it is a mirror poddsa", [owned("p10", annotations=up.MIRROR_ANNOTATIONS)], False),
    case(
        "Pod is evicted because it is a mirror pod, but it has scheduler.alpha.kubernetes.io/evict annotation",
        [owned("p11", annotations={**up.MIRROR_ANNOTATIONS, **EVICT})],
        True,
    ),
    case(
        "Pod not evicted because it has system critical priority",
        [owned("p12", spec=priority(up.SYSTEM_CRITICAL_PRIORITY))],
        False,
    ),
    case(
        "Pod is evicted because it has system critical priority, "
        "but it has scheduler.alpha.kubernetes.io/evict annotation",
        [owned("p13", spec=priority(up.SYSTEM_CRITICAL_PRIORITY), annotations=EVICT)],
        True,
    ),
    case(
        "Pod not evicted because it has a priority higher than the configured priority threshold",
        [owned("p14", spec=priority(HIGH_PRIORITY))],
        False,
        wire=THRESHOLD,
    ),
    case(
        "Pod is evicted because it has a priority higher than the configured priority threshold, "
        "but it has scheduler.alpha.kubernetes.io/evict annotation",
        [owned("p15", spec=priority(HIGH_PRIORITY), annotations=EVICT)],
        True,
        wire=THRESHOLD,
    ),
    case(
        "Pod is evicted because it has system critical priority, but evictSystemCriticalPods = true",
        [owned("p16", spec=priority(up.SYSTEM_CRITICAL_PRIORITY))],
        True,
        wire=EVICT_CRITICAL,
    ),
    case(
        "Pod is evicted because it has system critical priority, but evictSystemCriticalPods = true "
        "and it has scheduler.alpha.kubernetes.io/evict annotation",
        [owned("p16", spec=priority(up.SYSTEM_CRITICAL_PRIORITY), annotations=EVICT)],
        True,
        wire=EVICT_CRITICAL,
    ),
    case(
        "Pod is evicted because it has a priority higher than the configured priority threshold, "
        "but evictSystemCriticalPods = true",
        [owned("p17", spec=priority(HIGH_PRIORITY))],
        True,
        wire={**EVICT_CRITICAL, **THRESHOLD},
    ),
    case(
        "Pod is evicted because it has a priority higher than the configured priority threshold, "
        "but evictSystemCriticalPods = true and it has scheduler.alpha.kubernetes.io/evict annotation",
        [owned("p17", spec=priority(HIGH_PRIORITY), annotations=EVICT)],
        True,
        wire={**EVICT_CRITICAL, **THRESHOLD},
    ),
    case(
        "Pod with no tolerations running on normal node, all other nodes tainted, "
        "no PreEvictionFilter, should ignore nodeFit",
        [owned("p1")],
        True,
        wire={"nodeFit": True},
        nodes=[build_test_node("node2", taints=[GPU_TAINT]), build_test_node("node3", taints=[GPU_TAINT])],
    ),
    case(
        "minReplicas of 2, owner with 2 replicas, evicts",
        [tiny("p1", owners=[NORMAL_WITH_UUID]), tiny("p2", owners=[NORMAL_WITH_UUID])],
        True,
        wire={"minReplicas": 2},
    ),
    case(
        "minReplicas of 3, owner with 2 replicas, no eviction",
        [tiny("p1", owners=[NORMAL_WITH_UUID]), tiny("p2", owners=[NORMAL_WITH_UUID])],
        False,
        wire={"minReplicas": 3},
    ),
    case(
        # upstream's description says "no eviction" but its expected result is true: a pod
        # with several owners is not checked.
        "minReplicas of 2, multiple owners, no eviction",
        [tiny("p1", owners=[NORMAL_WITH_UUID, up.NORMAL_OWNER]), tiny("p2")],
        True,
        wire={"minReplicas": 2},
    ),
    case(
        "minPodAge of 50, pod created 10 minutes ago, no eviction",
        [tiny("p1", started=f.ts(10 * 60))],
        False,
        wire={"minPodAge": "50m"},
    ),
    case(
        "minPodAge of 50, pod created 60 minutes ago, evicts",
        [tiny("p1", started=f.ts(60 * 60))],
        True,
        wire={"minPodAge": "50m"},
    ),
    case("nil minPodAge, pod created 60 minutes ago, evicts", [tiny("p1", started=f.ts(60 * 60))], True),
    case(
        "ignorePodsWithoutPDB, pod with no PDBs, no eviction",
        [tiny("p1", labels={"app": "foo"})],
        False,
        wire={"ignorePodsWithoutPDB": True},
    ),
    case(
        "ignorePodsWithoutPDB, pod with PDBs, evicts",
        [tiny("p1", labels={"app": "foo"})],
        True,
        wire={"ignorePodsWithoutPDB": True},
        pdbs=[model.PodDisruptionBudget("default", "pdb1", {"matchLabels": {"app": "foo"}}, 0)],
    ),
    case(
        "ignorePvcPods is set, pod with PVC, not evicts",
        [owned("p15", spec=PVC_FOO)],
        False,
        wire={"ignorePvcPods": True},
    ),
    case("ignorePvcPods is not set, pod with PVC, evicts", [owned("p15", spec=PVC_FOO)], True),
    case(
        "Pod with local storage is evicted because 'PodsWithLocalStorage' is in DefaultDisabled",
        [owned("p18", spec={"volumes": [{"name": "local-storage", "emptyDir": {}}]})],
        True,
        wire={"podProtections": {"defaultDisabled": ["PodsWithLocalStorage"]}},
    ),
    case(
        "DaemonSet pod is evicted because 'DaemonSetPods' is in DefaultDisabled",
        [n1("p19", owners=[{"kind": "DaemonSet", "name": "daemonset-test", "uid": "daemonset-uid"}])],
        True,
        wire={"podProtections": {"defaultDisabled": ["DaemonSetPods"]}},
    ),
    case(
        "Pod with PVC is not evicted because 'PodsWithPVC' is in ExtraEnabled",
        [owned("p20", spec=PVC_FOO)],
        False,
        wire={"podProtections": {"extraEnabled": ["PodsWithPVC"]}},
    ),
    case(
        "Pod without PDB is not evicted because 'PodsWithoutPDB' is in ExtraEnabled",
        [owned("p21")],
        False,
        wire={"podProtections": {"extraEnabled": ["PodsWithoutPDB"]}},
    ),
    case(
        "Pod with ResourceClaims is not evicted because 'PodsWithResourceClaims' is in ExtraEnabled",
        [owned("p20", spec=RESOURCE_CLAIMS)],
        False,
        wire={"podProtections": {"extraEnabled": ["PodsWithResourceClaims"]}},
    ),
    case(
        "Pod using StorageClass is not evicted because 'PodsWithPVC' is in ExtraEnabled",
        [owned("p23", spec=PVC_FOO)],
        False,
        wire={"podProtections": {"extraEnabled": ["PodsWithPVC"], "config": protected_classes("standard")}},
        pvcs=[pvc("foo", "standard")],
    ),
    case(
        "Pod using unprotected StorageClass is evicted even though 'PodsWithPVC' is in ExtraEnabled",
        [owned("p24", spec=PVC_FOO)],
        True,
        wire={"podProtections": {"extraEnabled": ["PodsWithPVC"], "config": protected_classes("protected")}},
        pvcs=[pvc("foo", "unprotected")],
    ),
    case(
        "Pod using unexisting PVC is not evicted because we cannot determine if storage class is protected or not",
        [owned("p25", spec=PVC_FOO)],
        False,
        wire={"podProtections": {"extraEnabled": ["PodsWithPVC"], "config": protected_classes("protected")}},
    ),
    case(
        "Pod using protected and unprotected StorageClasses is not evicted",
        [owned("p26", spec=TWO_PVCS)],
        False,
        wire={"podProtections": {"extraEnabled": ["PodsWithPVC"], "config": protected_classes("protected")}},
        pvcs=[pvc("protected", "protected"), pvc("unprotected", "unprotected")],
    ),
]


@pytest.mark.parametrize("c", named("TestDefaultEvictorFilter", FILTER_CASES))
def test_filter_decides_as_upstream(c: Case) -> None:
    assert c.evictor().filter(c.pods[0]) is c.expected


# -- upstream TestReinitialization ---------------------------------------------------------


def test_building_the_evictor_twice_over_one_cluster_works() -> None:
    """upstream TestReinitialization: "minReplicas of 2, multiple owners, eviction" (New twice on one handle)."""
    pods = [tiny("p1", owners=[NORMAL_WITH_UUID, up.NORMAL_OWNER]), tiny("p2")]
    cluster = f.state([], pods)
    first, second = up.build_evictor(cluster, minReplicas=2), up.build_evictor(cluster, minReplicas=2)
    assert first.filter(pods[0]) and second.filter(pods[0])


# -- upstream TestGetEffectivePodProtections_TableDriven ----------------------------------

DEFAULTS = {"PodsWithLocalStorage", "SystemCriticalPods", "FailedBarePods", "DaemonSetPods"}


@pytest.mark.parametrize(
    ("disabled", "enabled", "expected"),
    [
        pytest.param((), (), DEFAULTS, id="NewConfig_EmptyConfig_ReturnsDefault"),
        pytest.param(
            ("PodsWithLocalStorage",),
            (),
            {"DaemonSetPods", "SystemCriticalPods", "FailedBarePods"},
            id="NewConfig_DisableOneDefault_ReturnsDefaultMinusOne",
        ),
        pytest.param(
            ("DaemonSetPods", "SystemCriticalPods"),
            (),
            {"PodsWithLocalStorage", "FailedBarePods"},
            id="NewConfig_DisableMultipleDefaults_ReturnsDefaultMinusMultiple",
        ),
        pytest.param(
            (), ("PodsWithPVC",), DEFAULTS | {"PodsWithPVC"}, id="NewConfig_EnableOneExtra_ReturnsDefaultPlusOne"
        ),
        pytest.param(
            (),
            ("PodsWithPVC", "PodsWithoutPDB"),
            DEFAULTS | {"PodsWithPVC", "PodsWithoutPDB"},
            id="NewConfig_EnableMultipleExtra_ReturnsDefaultPlusMultiple",
        ),
        pytest.param(
            ("FailedBarePods", "DaemonSetPods"),
            ("PodsWithPVC",),
            {"PodsWithLocalStorage", "SystemCriticalPods", "PodsWithPVC"},
            id="NewConfig_DisableAndEnable_ReturnsModifiedSet",
        ),
        pytest.param(
            (),
            ("PodsWithResourceClaims",),
            DEFAULTS | {"PodsWithResourceClaims"},
            id="NewConfig_EnableOneExtra(PodsWithResourceClaims)_ReturnsDefaultPlusOne",
        ),
        pytest.param(
            ("FailedBarePods", "DaemonSetPods"),
            ("PodsWithPVC", "PodsWithResourceClaims"),
            {"PodsWithLocalStorage", "SystemCriticalPods", "PodsWithPVC", "PodsWithResourceClaims"},
            id="NewConfig_DisableAndEnable_ReturnsModifiedSet (second row, with PodsWithResourceClaims)",
        ),
    ],
)
def test_effective_protections_are_upstreams(
    disabled: tuple[str, ...], enabled: tuple[str, ...], expected: set[str]
) -> None:
    protections = pod_protections.PodProtections(extra_enabled=enabled, default_disabled=disabled)
    assert plugin.effective_protections(plugin.Args(pod_protections=protections)) == expected


# -- upstream Test_protectedPVCStorageClasses ----------------------------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        pytest.param({}, set(), id="no PodProtections config -> none"),
        pytest.param({"podProtections": {"config": {}}}, set(), id="no PodsWithPVC config -> none"),
        pytest.param(
            {"podProtections": {"config": protected_classes("sc1", "sc2")}},
            {"sc1", "sc2"},
            id="storage classes specified -> sc1, sc2",
        ),
    ],
)
def test_protected_storage_classes_are_read_as_upstream(wire: dict[str, Any], expected: set[str]) -> None:
    assert plugin.protected_storage_classes(f.decode_args(plugin.Args, **wire)) == expected


# -- upstream TestMultipleProfilesWithDifferentNamespaceLabelSelectors ---------------------

PROFILE_NAMESPACES = [
    namespace("ns-prod", env="prod"),
    namespace("ns-test", env="test"),
    namespace("ns-backend", team="backend"),
]
IN_PROD, IN_TEST, IN_BACKEND = (
    up.build_pod(name, 100, 100, "node1", namespace=ns, owners=[up.NORMAL_OWNER])
    for name, ns in (("pod-in-prod", "ns-prod"), ("pod-in-test", "ns-test"), ("pod-in-backend", "ns-backend"))
)


@pytest.mark.parametrize(
    ("selector", "passes"),
    [
        pytest.param({"env": "prod"}, IN_PROD, id="profile1: env=prod -> only pod-in-prod passes"),
        pytest.param({"team": "backend"}, IN_BACKEND, id="profile2: team=backend -> only pod-in-backend passes"),
    ],
)
def test_two_evictors_over_one_cluster_keep_their_own_namespace_selector(
    selector: dict[str, str], passes: model.Pod
) -> None:
    cluster = f.state(
        [up.build_node("node1", 1000, 2000, 10)], [IN_PROD, IN_TEST, IN_BACKEND], namespaces=PROFILE_NAMESPACES
    )
    prod = up.build_evictor(cluster, namespaceLabelSelector={"matchLabels": {"env": "prod"}})
    this = up.build_evictor(cluster, namespaceLabelSelector={"matchLabels": selector})
    assert [p.name for p in (IN_PROD, IN_TEST, IN_BACKEND) if this.pre_eviction_filter(p)] == [passes.name]
    assert prod.pre_eviction_filter(IN_PROD)  # building the second one left the first alone


# -- upstream TestNamespaceLabelSelectorAllOperations --------------------------------------

OPERATION_NAMESPACES = [
    model.Namespace("ns-prod", {"env": "prod", "tier": "frontend"}),
    model.Namespace("ns-staging", {"env": "staging", "tier": "backend"}),
    model.Namespace("ns-test", {"env": "test"}),
    model.Namespace("ns-nolabels", {}),
]
IN_NS = {
    ns.name: up.build_pod(f"pod-in-{ns.name[3:]}", 100, 100, "node1", namespace=ns.name, owners=[up.NORMAL_OWNER])
    for ns in OPERATION_NAMESPACES
}


@pytest.mark.parametrize(
    ("selector", "passing", "failing"),
    [
        pytest.param(
            {
                "matchLabels": {"tier": "frontend"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "staging"]}],
            },
            ["ns-prod"],
            ["ns-staging", "ns-test"],
            id="MatchLabels and MatchExpressions In -> prod passes",
        ),
        pytest.param(
            {"matchLabels": {"tier": "backend"}, "matchExpressions": [{"key": "env", "operator": "Exists"}]},
            ["ns-staging"],
            ["ns-prod", "ns-test"],
            id="MatchLabels and MatchExpressions Exists -> staging passes",
        ),
        pytest.param(
            {
                "matchExpressions": [
                    {"key": "tier", "operator": "Exists"},
                    {"key": "env", "operator": "In", "values": ["staging"]},
                ]
            },
            ["ns-staging"],
            ["ns-prod", "ns-test"],
            id="Exists and In -> staging passes",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
            ["ns-test", "ns-nolabels"],
            ["ns-prod", "ns-staging"],
            id="DoesNotExist -> test and nolabels pass",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod", "test"]}]},
            ["ns-staging"],
            ["ns-prod", "ns-test"],
            id="NotIn -> staging passes",
        ),
    ],
)
def test_namespace_label_selector_operators_behave_as_upstream(
    selector: dict[str, Any], passing: list[str], failing: list[str]
) -> None:
    cluster = f.state([up.build_node("node1", 1000, 2000, 10)], IN_NS.values(), namespaces=OPERATION_NAMESPACES)
    evictor = up.build_evictor(cluster, namespaceLabelSelector=selector)
    assert [ns for ns in passing if evictor.pre_eviction_filter(IN_NS[ns])] == passing
    assert [ns for ns in failing if evictor.pre_eviction_filter(IN_NS[ns])] == []


# -- filter order and combination, read from upstream's defaultevictor.go ------------------
# Filter: the evict annotation returns true first; then Mandatory + prefer-no-eviction returns
# false; then mirror, static, terminating and every constraint. PreEvictionFilter (nodeFit,
# namespaceLabelSelector) never looks at the annotation.

STATIC = {keys.CONFIG_SOURCE_ANNOTATION: "file"}
NEVER = {"matchLabels": {"never": "matches"}}


PodMaker = Callable[[dict[str, str]], model.Pod]
"""Builds the protected pod with the given extra annotations."""


@pytest.mark.parametrize(
    ("make", "wire"),
    [
        pytest.param(lambda a: owned("m", annotations={**up.MIRROR_ANNOTATIONS, **a}), {}, id="mirror pod"),
        pytest.param(lambda a: owned("s", annotations={**STATIC, **a}), {}, id="static pod"),
        pytest.param(lambda a: owned("t", deleting=True, annotations=a), {}, id="terminating pod"),
        pytest.param(
            lambda a: owned("p", annotations={**PREFER_NO_EVICTION, **a}),
            {"noEvictionPolicy": "Mandatory"},
            id="Mandatory prefer-no-eviction",
        ),
        pytest.param(lambda a: owned("l", spec=up.HOST_PATH_EMPTY_DIR, annotations=a), {}, id="PodsWithLocalStorage"),
        pytest.param(lambda a: owned("d", up.DS_OWNER, annotations=a), {}, id="DaemonSetPods"),
        pytest.param(
            lambda a: owned("c", spec=priority(up.SYSTEM_CRITICAL_PRIORITY), annotations=a), {}, id="SystemCriticalPods"
        ),
        pytest.param(lambda a: n1("bare", annotations=a), {}, id="FailedBarePods (running bare pod)"),
        pytest.param(
            lambda a: owned("nopdb", annotations=a),
            {"podProtections": {"extraEnabled": ["PodsWithoutPDB"]}},
            id="PodsWithoutPDB",
        ),
        pytest.param(lambda a: owned("claim", spec=PVC_FOO, annotations=a), {"ignorePvcPods": True}, id="PodsWithPVC"),
        pytest.param(
            lambda a: owned("dra", spec=RESOURCE_CLAIMS, annotations=a),
            {"podProtections": {"extraEnabled": ["PodsWithResourceClaims"]}},
            id="PodsWithResourceClaims",
        ),
        pytest.param(
            lambda a: owned("prio", spec=priority(HIGH_PRIORITY), annotations=a), THRESHOLD, id="priorityThreshold"
        ),
        pytest.param(lambda a: owned("young", started=f.ts(60), annotations=a), {"minPodAge": "1h"}, id="minPodAge"),
        pytest.param(
            lambda a: n1("lonely", owners=[NORMAL_WITH_UUID], annotations=a), {"minReplicas": 3}, id="minReplicas"
        ),
        pytest.param(lambda a: owned("unlabelled", annotations=a), {"labelSelector": NEVER}, id="labelSelector"),
    ],
)
def test_evict_annotation_lifts_every_filter_protection(make: PodMaker, wire: dict[str, Any]) -> None:
    """Upstream Filter: ``if HaveEvictAnnotation(pod) { return true }`` comes before every check."""
    pod, annotated = make({}), make(EVICT)
    assert not Case([pod], False, wire).evictor().filter(pod)
    assert Case([annotated], True, wire).evictor().filter(annotated)


@pytest.mark.parametrize(
    ("pod", "wire", "nodes", "namespaces"),
    [
        pytest.param(
            owned("p", annotations=EVICT),
            {"nodeFit": True},
            [build_test_node("node2", taints=[GPU_TAINT])],
            [],
            id="nodeFit: no other node fits -> kept despite the annotation",
        ),
        pytest.param(
            owned("p", annotations=EVICT),
            {"namespaceLabelSelector": {"matchLabels": {"env": "dev"}}},
            [],
            [namespace("default")],
            id="namespaceLabelSelector: namespace does not match -> kept despite the annotation",
        ),
    ],
)
def test_evict_annotation_does_not_lift_pre_eviction_checks(
    pod: model.Pod, wire: dict[str, Any], nodes: list[model.Node], namespaces: list[model.Namespace]
) -> None:
    evictor = Case([pod], False, wire, nodes=nodes, namespaces=namespaces).evictor()
    assert evictor.filter(pod)
    assert not evictor.pre_eviction_filter(pod)


def test_mandatory_no_eviction_is_checked_before_the_other_protections() -> None:
    """Upstream returns false on Mandatory + prefer-no-eviction right after the evict
    annotation check, before mirror, static, terminating and the constraints."""
    pod = owned("p", annotations={**up.MIRROR_ANNOTATIONS, **PREFER_NO_EVICTION})
    evictor = Case([pod], False, {"noEvictionPolicy": "Mandatory"}).evictor()
    assert evictor.protection(pod) == filters.prefers_no_eviction(pod)


def test_priority_threshold_applies_only_with_the_system_critical_protection() -> None:
    """applySystemCriticalPodsProtection returns before the threshold when the protection is disabled."""
    pod = owned("p", spec=priority(HIGH_PRIORITY))
    off = {"podProtections": {"defaultDisabled": ["SystemCriticalPods"]}, **THRESHOLD}
    assert not Case([pod], False, THRESHOLD).evictor().filter(pod)
    assert Case([pod], True, off).evictor().filter(pod)


def test_min_pod_age_keeps_a_pod_without_start_time() -> None:
    """evictionConstraintsForMinPodAge: ``pod.Status.StartTime == nil`` fails the constraint."""
    pod = tiny("p1")
    assert not Case([pod], False, {"minPodAge": "1s"}).evictor().filter(pod)


def test_min_replicas_skips_pods_without_owners_and_counts_by_owner_uid() -> None:
    """evictionConstraintsForMinReplicas: no owner -> not checked; the count is the owner-UID index."""
    bare_failed = n1("bare", phase="Failed")
    pair = [tiny("a", owners=[NORMAL_WITH_UUID]), tiny("b", owners=[{**up.RS_OWNER, "uid": OWNER_UUID}])]
    assert Case([bare_failed], True, {"minReplicas": 5, "evictFailedBarePods": True}).evictor().filter(bare_failed)
    assert Case(pair, True, {"minReplicas": 2}).evictor().filter(pair[0])


def test_storage_class_protection_keeps_a_pod_whose_claim_has_no_class() -> None:
    """podStorageClasses: a claim with an empty storageClassName is an error, so the pod stays."""
    pod = owned("p", spec=PVC_FOO)
    wire = {"podProtections": {"extraEnabled": ["PodsWithPVC"], "config": protected_classes("protected")}}
    assert not Case([pod], False, wire, pvcs=[pvc("foo", "")]).evictor().filter(pod)


@pytest.mark.parametrize(
    ("spec", "classes", "wire"),
    [
        pytest.param(
            {"priorityClassName": "system-node-critical"},
            [model.PriorityClass("system-node-critical", up.SYSTEM_CRITICAL_PRIORITY + 1000)],
            {},
            id="critical class, no spec.priority -> kept (upstream: evictable)",
        ),
        pytest.param(
            {}, [], {"priorityThreshold": {"value": 0}}, id="no priority, threshold 0 -> kept (upstream: evictable)"
        ),
    ],
)
def test_deliberate_difference_priority_of_a_pod_without_spec_priority(
    spec: dict[str, Any], classes: list[model.PriorityClass], wire: dict[str, Any]
) -> None:
    """DELIBERATE DIFFERENCE: upstream reads only spec.priority and treats nil as evictable;
    tensile falls back to the PriorityClass value, else 0, because the API server's Priority
    admission fills spec.priority in every real cluster (hand-written snapshots may omit it)."""
    pod = owned("p", spec=spec)
    assert not up.build_evictor(f.state([], [pod], priority_classes=classes), **wire).filter(pod)


# -- upstream TestValidateDefaultEvictorArgs -----------------------------------------------

EXTRA = "podProtections.extraEnabled"
DISABLED = "podProtections.defaultDisabled"
SC_PATH = "podProtections.config.PodsWithPVC.protectedStorageClasses"


@pytest.mark.parametrize(
    ("wire", "errors"),
    [
        pytest.param(
            {"priorityThreshold": {"value": 1, "name": "priority-name"}},
            ["priorityThreshold"],
            id="passing invalid priority -> error",
        ),
        pytest.param(
            {"noEvictionPolicy": "invalid-no-eviction-policy"},
            ["noEvictionPolicy"],
            id="passing invalid no eviction policy -> error",
        ),
        pytest.param(
            {"podProtections": {"defaultDisabled": [], "extraEnabled": []}},
            [],
            id="Valid configuration with no deprecated fields -> no error",
        ),
        pytest.param(
            {
                "podProtections": {
                    "defaultDisabled": ["DaemonSetPods", "PodsWithLocalStorage"],
                    "extraEnabled": ["PodsWithPVC"],
                }
            },
            [],
            id="Valid configuration: both Disabled and ExtraEnabled -> no error",
        ),
        pytest.param(
            {"podProtections": {"extraEnabled": ["PodsWithPVC"]}},
            [],
            id="Valid configuration with ExtraEnabled -> no error",
        ),
        pytest.param(
            {"evictLocalStoragePods": True, "podProtections": {"defaultDisabled": ["DaemonSetPods"]}},
            ["podProtections"],
            id="Invalid configuration: Deprecated field used with Disabled -> error",
        ),
        pytest.param(
            {"evictDaemonSetPods": True, "podProtections": {"extraEnabled": ["PodsWithPVC"]}},
            ["podProtections"],
            id="Invalid configuration: Deprecated field used with ExtraPodProtections -> error",
        ),
        pytest.param({"minReplicas": 1}, [], id="MinReplicas warning logged but no error -> no error"),
        pytest.param(
            {"podProtections": {"extraEnabled": ["InvalidPolicy"]}},
            [f"{EXTRA}[0]"],
            id="Invalid ExtraEnabled: Unknown policy -> error",
        ),
        pytest.param(
            {"podProtections": {"extraEnabled": ["PodsWithPVCC"]}},
            [f"{EXTRA}[0]"],
            id="Invalid ExtraEnabled: Misspelled policy -> error",
        ),
        pytest.param(
            {"podProtections": {"extraEnabled": ["DaemonSetPods"]}},
            [f"{EXTRA}[0]"],
            id="Invalid ExtraEnabled: Policy from DefaultDisabled list -> error",
        ),
        pytest.param(
            {"podProtections": {"defaultDisabled": ["InvalidPolicy"]}},
            [f"{DISABLED}[0]"],
            id="Invalid DefaultDisabled: Unknown policy -> error",
        ),
        pytest.param(
            {"podProtections": {"defaultDisabled": ["PodsWithLocalStorag"]}},
            [f"{DISABLED}[0]"],
            id="Invalid DefaultDisabled: Misspelled policy -> error",
        ),
        pytest.param(
            {"podProtections": {"defaultDisabled": ["PodsWithPVC"]}},
            [f"{DISABLED}[0]"],
            id="Invalid DefaultDisabled: Policy from ExtraEnabled list -> error",
        ),
        pytest.param(
            {"podProtections": {"extraEnabled": ["PodsWithPVC", "PodsWithPVC"]}},
            [EXTRA],
            id="Invalid ExtraEnabled duplicate -> error",
        ),
        pytest.param(
            {"podProtections": {"defaultDisabled": ["PodsWithLocalStorage", "PodsWithLocalStorage"]}},
            [DISABLED],
            id="Invalid DefaultDisabled duplicate -> error",
        ),
        pytest.param(
            {
                "noEvictionPolicy": "invalid-no-eviction-policy",
                "podProtections": {
                    "extraEnabled": ["PodsWithPVC", "PodsWithPVC"],
                    "defaultDisabled": ["PodsWithLocalStorage", "PodsWithLocalStorage", "PodsWithoutPDB"],
                },
            },
            ["noEvictionPolicy", DISABLED, f"{DISABLED}[2]", EXTRA],
            id="Invalid DefaultDisabled duplicate and Invalid ExtraEnabled duplicate "
            "and passing invalid no eviction policy -> 4 errors",
        ),
        pytest.param(
            {
                "podProtections": {
                    "extraEnabled": ["PodsWithPVC"],
                    "config": protected_classes("", "protected-storage-class-0", "", "protected-storage-class-1"),
                }
            },
            [f"{SC_PATH}[0].name", f"{SC_PATH}[2].name"],
            id="Protected storage classes without storage class name -> 2 errors",
        ),
        # Read from upstream's source rather than its tables:
        pytest.param(
            {"priorityThreshold": {"value": up.SYSTEM_CRITICAL_PRIORITY + 1}},
            ["priorityThreshold.value"],
            id="priorityThreshold above system critical -> error (setDefaultEvictor refuses the policy)",
        ),
        pytest.param(
            {"priorityThreshold": {"value": up.SYSTEM_CRITICAL_PRIORITY + 1}, "evictSystemCriticalPods": True},
            ["priorityThreshold.value"],
            id="same with SystemCriticalPods off -> still an error (checked at load, before any protection)",
        ),
        pytest.param(
            {"ignorePvcPods": True, "podProtections": {"config": protected_classes("")}},
            [],
            id="empty storage class name without PodsWithPVC in extraEnabled -> not checked, as upstream",
        ),
    ],
)
def test_validation_errors_match_upstream(wire: dict[str, Any], errors: list[str]) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert not problems and decoded is not None
    found = plugin.validate(decoded)
    assert sorted(p.path for p in found if not p.warning) == sorted(errors)
    assert [p for p in found if p.warning] == []


def test_unparsable_node_selector_without_node_fit_is_a_warning() -> None:
    """Upstream parses nodeSelector only in PreEvictionFilter under nodeFit (nodeutil.ReadyNodes),
    so without nodeFit a bad one is accepted and ignored."""
    found = plugin.validate(f.decode_args(plugin.Args, nodeSelector="zone in ("))
    assert [(p.path, p.warning) for p in found] == [("nodeSelector", True)]
    assert "ignored as upstream does" in found[0].message
    pod = owned("p")
    evictor = up.build_evictor(f.state([build_test_node("node2")], [pod]), nodeSelector="zone in (")
    assert evictor.filter(pod) and evictor.pre_eviction_filter(pod)


def test_deliberate_difference_unparsable_node_selector_with_node_fit_is_an_error() -> None:
    """DELIBERATE DIFFERENCE: upstream accepts it and then fails PreEvictionFilter for every pod
    (ReadyNodes returns the parse error); tensile refuses the policy instead of evicting nothing."""
    found = plugin.validate(f.decode_args(plugin.Args, nodeSelector="zone in (", nodeFit=True))
    assert [(p.path, p.warning) for p in found] == [("nodeSelector", False)]


# -- upstream TestSetDefaults_DefaultEvictorArgs -------------------------------------------


def test_defaults_of_empty_args_are_upstreams() -> None:
    """upstream TestSetDefaults_DefaultEvictorArgs: "DefaultEvictorArgs empty"."""
    decoded = f.decode_args(plugin.Args)
    assert decoded == plugin.Args()
    assert (decoded.node_selector, decoded.label_selector, decoded.priority_threshold) == ("", None, None)
    assert not any(
        (
            decoded.evict_local_storage_pods,
            decoded.evict_daemon_set_pods,
            decoded.evict_system_critical_pods,
            decoded.ignore_pvc_pods,
            decoded.evict_failed_bare_pods,
            decoded.node_fit,
            decoded.ignore_pods_without_pdb,
        )
    )


def test_defaults_keep_given_values() -> None:
    """upstream TestSetDefaults_DefaultEvictorArgs: "DefaultEvictorArgs with value"."""
    decoded = f.decode_args(
        plugin.Args,
        nodeSelector="NodeSelector",
        evictLocalStoragePods=True,
        evictDaemonSetPods=True,
        evictSystemCriticalPods=True,
        ignorePvcPods=True,
        evictFailedBarePods=True,
        priorityThreshold={"value": 800},
        nodeFit=True,
        ignorePodsWithoutPDB=True,
    )
    assert decoded == plugin.Args(
        node_selector="NodeSelector",
        evict_local_storage_pods=True,
        evict_daemon_set_pods=True,
        evict_system_critical_pods=True,
        ignore_pvc_pods=True,
        evict_failed_bare_pods=True,
        priority_threshold=plugin.PriorityThreshold(value=800),
        node_fit=True,
        ignore_pods_without_pdb=True,
    )
    assert plugin.validate(decoded) == []
