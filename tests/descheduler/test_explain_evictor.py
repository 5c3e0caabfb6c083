"""explain when the plugin would take the pod but something else stops it: each DefaultEvictor rule
(filtered, with the argument path that put the rule there), an eviction limit, a PodDisruptionBudget."""

from __future__ import annotations

from typing import Any

import pytest

from descheduler import keys, model
from tests.descheduler import factories as f
from tests.descheduler.explaining import EVICTOR, one_plugin_policy, only, said

RESTARTS = "RemovePodsHavingTooManyRestarts"
CRASHING = {"containerStatuses": [{"name": "c0", "restartCount": 5}]}


def crashing(name: str = "web-1", *, status: dict[str, Any] | None = None, **kwargs: Any) -> model.Pod:
    kwargs.setdefault("node", "node-1")
    return f.pod(name, status={**CRASHING, **(status or {})}, **kwargs)


def verdict_with(evictor: dict[str, Any], pod: model.Pod, **cluster: Any) -> tuple[str, str, str]:
    policy = one_plugin_policy("deschedule", RESTARTS, {"podRestartThreshold": 1}, evictor=evictor)
    state = f.state([f.node("node-1"), f.node("node-2", cpu="100m")], [pod], **cluster)
    return said(only(policy, state, pod.name, pod.namespace))


EMPTY_DIR = {"volumes": [{"name": "scratch", "emptyDir": {}}]}
PVC = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}
CLAIMS = {"resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu-claim"}]}

RULES = [
    pytest.param(
        {},
        crashing(owner=("DaemonSet", "agent")),
        "evictDaemonSetPods",
        "false, pod is owned by a DaemonSet",
        id="DaemonSet pod, evictDaemonSetPods unset -> evictDaemonSetPods: false",
    ),
    pytest.param(
        {"podProtections": {"defaultDisabled": ["PodsWithLocalStorage"]}},
        crashing(owner=("DaemonSet", "agent")),
        "podProtections.defaultDisabled",
        "does not list DaemonSetPods, pod is owned by a DaemonSet",
        id="DaemonSet pod, podProtections in use -> podProtections.defaultDisabled",
    ),
    pytest.param(
        {},
        crashing(spec=EMPTY_DIR),
        "evictLocalStoragePods",
        "false, pod has local storage (emptyDir or hostPath)",
        id="emptyDir -> evictLocalStoragePods: false",
    ),
    pytest.param(
        {},
        crashing(owner=None),
        "evictFailedBarePods",
        "false, pod does not have any ownerReferences",
        id="bare pod -> evictFailedBarePods: false",
    ),
    pytest.param(
        {"evictFailedBarePods": True},
        crashing(owner=None),
        "",
        "pod does not have any ownerReferences and is not in the Failed phase",
        id="running bare pod, failed ones allowed -> built-in rule",
    ),
    pytest.param(
        {},
        crashing(priority=2_000_000_000),
        "evictSystemCriticalPods",
        "false, pod has system critical priority 2000000000",
        id="system critical -> evictSystemCriticalPods: false",
    ),
    pytest.param(
        {"priorityThreshold": {"value": 100}},
        crashing(priority=200),
        "priorityThreshold.value",
        "100, pod priority 200 is not below the priorityThreshold 100",
        id="priority above priorityThreshold.value",
    ),
    pytest.param(
        {"ignorePvcPods": True},
        crashing(spec=PVC),
        "ignorePvcPods",
        "true, pod uses a PersistentVolumeClaim",
        id="PVC, ignorePvcPods: true",
    ),
    pytest.param(
        {"ignorePodsWithoutPDB": True},
        crashing(),
        "ignorePodsWithoutPDB",
        "true, pod is not covered by any PodDisruptionBudget",
        id="no PDB, ignorePodsWithoutPDB: true",
    ),
    pytest.param(
        {"podProtections": {"extraEnabled": ["PodsWithResourceClaims"]}},
        crashing(spec=CLAIMS),
        "podProtections.extraEnabled",
        "lists PodsWithResourceClaims, pod has ResourceClaims",
        id="ResourceClaims, podProtections.extraEnabled",
    ),
    pytest.param(
        {},
        crashing(annotations={keys.MIRROR_POD_ANNOTATION: "x"}),
        "",
        "pod is a mirror pod",
        id="mirror pod -> built-in rule, no argument",
    ),
    pytest.param(
        {},
        crashing(annotations={keys.CONFIG_SOURCE_ANNOTATION: "file"}),
        "",
        "pod is a static pod",
        id="static pod -> built-in rule, no argument",
    ),
    pytest.param({}, crashing(deleting=True), "", "pod is terminating", id="terminating pod -> built-in rule"),
    pytest.param(
        {"noEvictionPolicy": "Mandatory"},
        crashing(annotations={keys.PREFER_NO_EVICTION_ANNOTATION: ""}),
        "noEvictionPolicy",
        f"Mandatory, pod has the {keys.PREFER_NO_EVICTION_ANNOTATION} annotation and noEvictionPolicy is Mandatory",
        id="prefer-no-eviction annotation, noEvictionPolicy: Mandatory",
    ),
    pytest.param(
        {"labelSelector": {"matchLabels": {"evictable": "yes"}}},
        crashing(),
        "labelSelector",
        "pod labels do not match the labelSelector",
        id="labelSelector not matched",
    ),
    pytest.param(
        {"minPodAge": "2h"},
        crashing(age_seconds=3600),
        "minPodAge",
        "2h, pod is younger than minPodAge (7200s)",
        id="younger than minPodAge",
    ),
    pytest.param(
        {"minReplicas": 3},
        crashing(),
        "minReplicas",
        "3, owner has 1 pods, fewer than minReplicas 3",
        id="fewer replicas than minReplicas",
    ),
    pytest.param(
        {"namespaceLabelSelector": {"matchLabels": {"env": "prod"}}},
        crashing(),
        "namespaceLabelSelector",
        "namespace 'default' does not match the namespaceLabelSelector",
        id="namespace outside namespaceLabelSelector",
    ),
    pytest.param(
        {"nodeFit": True},
        crashing(cpu="2"),
        "nodeFit",
        "true, pod does not fit on any other of 2 ready nodes",
        id="nodeFit: fits no other node",
    ),
]


@pytest.mark.parametrize(("evictor", "pod", "path", "words"), RULES)
def test_evictor_rule_filters_a_candidate_and_names_its_argument(
    evictor: dict[str, Any], pod: model.Pod, path: str, words: str
) -> None:
    expected_path = f"{EVICTOR}.{path}" if path else ""
    assert verdict_with(evictor, pod, namespaces=[model.Namespace("default", {})]) == (
        "filtered",
        expected_path,
        words,
    )


def test_protected_storage_class_names_pod_protections() -> None:
    evictor = {
        "podProtections": {
            "extraEnabled": ["PodsWithPVC"],
            "config": {"PodsWithPVC": {"protectedStorageClasses": [{"name": "fast"}]}},
        }
    }
    claim = model.PersistentVolumeClaim("default", "data", "fast")
    verdict = verdict_with(evictor, crashing(spec=PVC), pvcs=[claim])
    assert verdict == (
        "filtered",
        f"{EVICTOR}.podProtections.extraEnabled",
        "lists PodsWithPVC, pod uses protected storage class 'fast'",
    )


def test_evict_annotation_lifts_the_protections() -> None:
    pod = crashing(owner=("DaemonSet", "agent"), annotations={keys.EVICT_ANNOTATION: ""})
    assert verdict_with({}, pod)[0] == "chosen"


def test_node_limit_reached_names_max_pods_per_node() -> None:
    policy = one_plugin_policy("deschedule", RESTARTS, {"podRestartThreshold": 1}, maxNoOfPodsToEvictPerNode=1)
    pods = [crashing("web-1", owner=("ReplicaSet", "a")), crashing("web-2", owner=("ReplicaSet", "b"))]
    state = f.state([f.node("node-1"), f.node("node-2")], pods)
    assert only(policy, state, "web-1").verdict == "chosen"
    kind, path, reason = said(only(policy, f.state([f.node("node-1"), f.node("node-2")], pods), "web-2"))
    assert (kind, path) == ("limit", "maxNoOfPodsToEvictPerNode")
    assert reason == "5 restarts >= threshold 1; but maximum number of evicted pods per node (1) reached on node-1"


def test_total_limit_reached_names_max_pods_in_total() -> None:
    policy = one_plugin_policy("deschedule", RESTARTS, {"podRestartThreshold": 1}, maxNoOfPodsToEvictTotal=1)
    pods = [crashing("web-1", owner=("ReplicaSet", "a")), crashing("web-2", node="node-2", owner=("ReplicaSet", "b"))]
    verdict = only(policy, f.state([f.node("node-1"), f.node("node-2")], pods), "web-2")
    assert (verdict.verdict, verdict.path) == ("limit", "maxNoOfPodsToEvictTotal")


def test_pdb_without_disruptions_left_blocks_and_is_named() -> None:
    policy = one_plugin_policy("deschedule", RESTARTS, {"podRestartThreshold": 1})
    pdb = model.PodDisruptionBudget("default", "web", {"matchLabels": {"app": "web"}}, 0)
    state = f.state([f.node("node-1"), f.node("node-2")], [crashing(labels={"app": "web"})], pdbs=[pdb])
    kind, path, reason = said(only(policy, state, "web-1"))
    assert (kind, path) == ("blocked", "")
    assert reason == "5 restarts >= threshold 1; but PodDisruptionBudget default/web allows no more disruptions"


def test_a_single_eligible_node_means_no_candidates() -> None:
    policy = one_plugin_policy("deschedule", RESTARTS, {"podRestartThreshold": 1})
    state = f.state([f.node("node-1"), f.node("node-2", ready=False)], [crashing()])
    assert said(only(policy, state, "web-1")) == ("not-candidate", "", "1 eligible node(s): the cycle evicts nothing")


def test_node_outside_the_policys_node_selector_names_it() -> None:
    policy = one_plugin_policy("deschedule", RESTARTS, {"podRestartThreshold": 1}, nodeSelector="pool=batch")
    nodes = [f.node("node-1"), f.node("node-2", labels={"pool": "batch"}), f.node("node-3", labels={"pool": "batch"})]
    verdict = only(policy, f.state(nodes, [crashing()]), "web-1")
    assert said(verdict) == ("not-candidate", "nodeSelector", "node node-1 does not match the policy's nodeSelector")
