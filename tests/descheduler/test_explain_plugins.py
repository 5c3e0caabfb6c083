"""explain, one plugin at a time: the not-a-candidate verdict names the argument that decided, in plain
words, and the chosen verdict gives the plugin's own reason from the plan."""

from __future__ import annotations

from typing import Any

from descheduler.plugins import default_registry
from descheduler.policy import loading
from tests.descheduler import factories as f
from tests.descheduler.explaining import ARGS, one_plugin_policy, only, policy_text, said, verdicts

RESTARTS = "RemovePodsHavingTooManyRestarts"


def restarting(name: str, count: int, **kwargs: Any) -> Any:
    return f.pod(name, status={"containerStatuses": [{"name": "c0", "restartCount": count}]}, **kwargs)


def two_nodes(*pods: Any, **node_kwargs: Any) -> Any:
    return f.state([f.node("node-1", **node_kwargs), f.node("node-2")], pods)


def test_restart_threshold_not_reached_names_its_path() -> None:
    policy = one_plugin_policy("deschedule", RESTARTS, {"podRestartThreshold": 50})
    verdict = only(policy, two_nodes(restarting("web-1", 27, node="node-1")), "web-1")
    assert said(verdict) == ("not-candidate", f"{ARGS}.podRestartThreshold", "27 restarts < 50")
    assert (verdict.profile, verdict.plugin) == ("default", RESTARTS)


def test_restarts_over_threshold_are_chosen_with_the_plugins_reason() -> None:
    policy = one_plugin_policy("deschedule", RESTARTS, {"podRestartThreshold": 20})
    verdict = only(policy, two_nodes(restarting("web-1", 27, node="node-1")), "web-1")
    assert said(verdict) == ("chosen", "", "27 restarts >= threshold 20")


def test_excluded_namespace_names_namespaces_exclude() -> None:
    policy = one_plugin_policy(
        "deschedule", RESTARTS, {"podRestartThreshold": 1, "namespaces": {"exclude": ["kube-system"]}}
    )
    cluster = two_nodes(restarting("dns", 5, node="node-1", namespace="kube-system"))
    verdict = only(policy, cluster, "dns", "kube-system")
    assert said(verdict) == ("not-candidate", f"{ARGS}.namespaces.exclude", "namespace kube-system is excluded")


def test_pod_younger_than_max_lifetime_names_max_pod_life_time_seconds() -> None:
    policy = one_plugin_policy("deschedule", "PodLifeTime", {"maxPodLifeTimeSeconds": 86400})
    verdict = only(policy, two_nodes(f.pod("web-1", node="node-1", age_seconds=7200)), "web-1")
    assert said(verdict) == ("not-candidate", f"{ARGS}.maxPodLifeTimeSeconds", "pod age 2h <= 1d")


def test_pod_older_than_max_lifetime_is_chosen() -> None:
    policy = one_plugin_policy("deschedule", "PodLifeTime", {"maxPodLifeTimeSeconds": 86400})
    verdict = only(policy, two_nodes(f.pod("web-1", node="node-1", age_seconds=90000)), "web-1")
    assert said(verdict) == ("chosen", "", "age 1d1h > maxPodLifeTimeSeconds 86400")


def test_running_pod_is_no_failed_pod_and_no_argument_decided() -> None:
    policy = one_plugin_policy("deschedule", "RemoveFailedPods", {})
    verdict = only(policy, two_nodes(f.pod("web-1", node="node-1")), "web-1")
    assert said(verdict) == ("not-candidate", "", "the pod is Running, not Failed")


def test_young_failed_pod_names_the_defaulted_min_pod_lifetime() -> None:
    policy = one_plugin_policy("deschedule", "RemoveFailedPods", None)
    verdict = only(policy, two_nodes(f.pod("job-1", node="node-1", phase="Failed", age_seconds=600)), "job-1")
    path = "profiles[0].pluginConfig[RemoveFailedPods].minPodLifetimeSeconds"  # no pluginConfig: the default
    assert said(verdict) == ("not-candidate", path, "pod age 10m < 3600s")


def test_old_failed_pod_is_chosen() -> None:
    policy = one_plugin_policy("deschedule", "RemoveFailedPods", {"minPodLifetimeSeconds": 0})
    verdict = only(policy, two_nodes(f.pod("job-1", node="node-1", phase="Failed")), "job-1")
    assert said(verdict) == ("chosen", "", "failed pod")


TAINT = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}


def test_excluded_taint_names_excluded_taints() -> None:
    policy = one_plugin_policy("deschedule", "RemovePodsViolatingNodeTaints", {"excludedTaints": ["dedicated"]})
    verdict = only(policy, two_nodes(f.pod("web-1", node="node-1"), taints=[TAINT]), "web-1")
    assert said(verdict) == ("not-candidate", f"{ARGS}.excludedTaints", "taint dedicated=db:NoSchedule is excluded")


def test_untolerated_taint_is_chosen() -> None:
    policy = one_plugin_policy("deschedule", "RemovePodsViolatingNodeTaints", {})
    verdict = only(policy, two_nodes(f.pod("web-1", node="node-1"), taints=[TAINT]), "web-1")
    assert said(verdict) == ("chosen", "", "untolerated taint dedicated=db:NoSchedule")


def _zone_affinity(zone: str) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": "zone", "operator": "In", "values": [zone]}]}
    required = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
    return {"affinity": {"nodeAffinity": required}}


def test_node_still_matching_affinity_names_node_affinity_type() -> None:
    policy = one_plugin_policy(
        "deschedule",
        "RemovePodsViolatingNodeAffinity",
        {"nodeAffinityType": ["requiredDuringSchedulingIgnoredDuringExecution"]},
    )
    cluster = two_nodes(f.pod("web-1", node="node-1", spec=_zone_affinity("a")), labels={"zone": "a"})
    verdict = only(policy, cluster, "web-1")
    words = "node-1 still suits the pod's node affinity, or no node fits it"
    assert said(verdict) == ("not-candidate", f"{ARGS}.nodeAffinityType", words)


def test_node_no_longer_matching_affinity_is_chosen() -> None:
    policy = one_plugin_policy(
        "deschedule",
        "RemovePodsViolatingNodeAffinity",
        {"nodeAffinityType": ["requiredDuringSchedulingIgnoredDuringExecution"]},
    )
    pod = f.pod("web-1", node="node-1", spec=_zone_affinity("a"))
    cluster = f.state([f.node("node-1", labels={"zone": "b"}), f.node("node-2", labels={"zone": "a"})], [pod])
    assert said(only(policy, cluster, "web-1")) == (
        "chosen",
        "",
        "node no longer matches the pod's required node affinity",
    )


ANTI = {
    "affinity": {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
}
ANTI_PLUGIN = "RemovePodsViolatingInterPodAntiAffinity"


def test_pod_outside_label_selector_names_label_selector() -> None:
    policy = one_plugin_policy("deschedule", ANTI_PLUGIN, {"labelSelector": {"matchLabels": {"team": "a"}}})
    cluster = two_nodes(f.pod("web-1", node="node-1", spec=ANTI), f.pod("web-2", node="node-1", labels={"app": "web"}))
    assert said(only(policy, cluster, "web-1")) == (
        "not-candidate",
        f"{ARGS}.labelSelector",
        "the pod's labels do not match it",
    )


def test_anti_affinity_without_a_match_is_no_candidate() -> None:
    policy = one_plugin_policy("deschedule", ANTI_PLUGIN, {})
    cluster = two_nodes(f.pod("web-1", node="node-1", spec=ANTI), f.pod("web-2", node="node-2", labels={"app": "web"}))
    words = "no pod in its topology domain matches its required anti-affinity"
    assert said(only(policy, cluster, "web-1")) == ("not-candidate", "", words)


def test_violated_anti_affinity_is_chosen() -> None:
    policy = one_plugin_policy("deschedule", ANTI_PLUGIN, {})
    cluster = two_nodes(f.pod("web-1", node="node-1", spec=ANTI), f.pod("web-2", node="node-1", labels={"app": "web"}))
    words = "required pod anti-affinity (kubernetes.io/hostname) violated by default/web-2"
    assert said(only(policy, cluster, "web-1")) == ("chosen", "", words)


def test_excluded_owner_kind_is_never_a_duplicate() -> None:
    policy = one_plugin_policy("balance", "RemoveDuplicates", {"excludeOwnerKinds": ["ReplicaSet"]})
    cluster = two_nodes(f.pod("web-1", node="node-1"), f.pod("web-2", node="node-1"))
    assert said(only(policy, cluster, "web-2")) == (
        "not-candidate",
        f"{ARGS}.excludeOwnerKinds",
        "the pod's owner kind is excluded",
    )


def test_single_copy_is_no_duplicate() -> None:
    policy = one_plugin_policy("balance", "RemoveDuplicates", {})
    cluster = two_nodes(f.pod("web-1", node="node-1"), f.pod("web-2", node="node-2"))
    words = "no other pod on node-1 has the same owner and images"
    assert said(only(policy, cluster, "web-1")) == ("not-candidate", "", words)


def test_stacked_copy_is_chosen_as_a_duplicate() -> None:
    policy = one_plugin_policy("balance", "RemoveDuplicates", {})
    cluster = two_nodes(f.pod("web-1", node="node-1"), f.pod("web-2", node="node-1"))
    words = "duplicate of ReplicaSet/rs-1: more than 1 per node over 2 feasible nodes"
    assert said(only(policy, cluster, "web-2")) == ("chosen", "", words)


LOW = {"thresholds": {"cpu": 20}, "targetThresholds": {"cpu": 50}}


def _busy_cluster() -> Any:
    """node-1 75% cpu (over target), node-2 empty (under), node-3 40% (neither)."""
    pods = [f.pod(f"busy-{i}", node="node-1", cpu="1000m", owner=("ReplicaSet", f"rs-{i}")) for i in range(3)]
    pods.append(f.pod("calm", node="node-3", cpu="1600m"))
    return f.state([f.node("node-1"), f.node("node-2"), f.node("node-3")], pods)


def test_pod_on_a_node_not_over_target_names_target_thresholds() -> None:
    policy = one_plugin_policy("balance", "LowNodeUtilization", LOW)
    verdict = only(policy, _busy_cluster(), "calm")
    assert said(verdict) == ("not-candidate", f"{ARGS}.targetThresholds", "node-3 is not over targetThresholds")


def test_first_pod_of_an_overutilized_node_is_chosen_and_the_next_one_not_reached() -> None:
    policy = one_plugin_policy("balance", "LowNodeUtilization", LOW)
    chosen = only(policy, _busy_cluster(), "busy-0")
    assert (chosen.verdict, chosen.reason) == ("chosen", "node over targetThresholds: cpu 75% > 50%")
    passed = only(policy, _busy_cluster(), "busy-1")
    assert passed.verdict == "candidate"
    assert passed.reason.startswith("the plugin stopped before reaching it")


def test_pod_on_a_node_not_under_thresholds_names_thresholds() -> None:
    policy = one_plugin_policy("balance", "HighNodeUtilization", {"thresholds": {"cpu": 20}})
    cluster = two_nodes(f.pod("lone", node="node-1"), f.pod("big", node="node-2", cpu="2000m"))
    assert said(only(policy, cluster, "big")) == (
        "not-candidate",
        f"{ARGS}.thresholds",
        "node-2 is not under thresholds",
    )


def test_pod_of_an_underutilized_node_is_chosen() -> None:
    policy = one_plugin_policy("balance", "HighNodeUtilization", {"thresholds": {"cpu": 20}})
    cluster = two_nodes(f.pod("lone", node="node-1"), f.pod("big", node="node-2", cpu="2000m"))
    verdict = only(policy, cluster, "lone")
    assert (verdict.verdict, verdict.reason) == ("chosen", "node underutilized: cpu 2% <= 20%")


def _spread(when: str) -> dict[str, Any]:
    constraint = {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "web"}},
    }
    return {"topologySpreadConstraints": [constraint]}


SPREAD = "RemovePodsViolatingTopologySpreadConstraint"


def _spread_cluster(when: str) -> Any:
    pods = [f.pod(f"web-{i}", node="node-1", labels={"app": "web"}, spec=_spread(when)) for i in range(3)]
    return two_nodes(*pods)


def test_schedule_anyway_constraint_names_constraints() -> None:
    policy = one_plugin_policy("balance", SPREAD, {})
    words = "DoNotSchedule: none of the pod's spread constraints is of these kinds"
    assert said(only(policy, _spread_cluster("ScheduleAnyway"), "web-0")) == (
        "not-candidate",
        f"{ARGS}.constraints",
        words,
    )


def test_one_pod_of_a_skewed_spread_is_chosen() -> None:
    policy = one_plugin_policy("balance", SPREAD, {})
    found = [only(policy, _spread_cluster("DoNotSchedule"), f"web-{i}") for i in range(3)]
    chosen = [v for v in found if v.verdict == "chosen"]
    assert len(chosen) == 1
    assert chosen[0].reason == "topology spread kubernetes.io/hostname maxSkew 1: node-1 has 3 pods, node-2 0"
    assert {v.verdict for v in found if v not in chosen} == {"not-candidate"}


VIRTUAL = {"type": "virtual-kubelet"}


def _pending(name: str, age: float) -> Any:
    return f.pod(name, node="vk-1", phase="Pending", age_seconds=age)


def test_pending_shorter_than_max_pending_names_max_pending_seconds() -> None:
    policy = one_plugin_policy("deschedule", "PendingOnVirtualNode", {})
    cluster = f.state([f.node("vk-1", labels=VIRTUAL), f.node("node-2")], [_pending("p", 100)])
    path = "profiles[0].pluginConfig[1].args.maxPendingSeconds"
    assert said(only(policy, cluster, "p")) == ("not-candidate", path, "Pending for 1m40s < 300s")


def test_pending_on_an_ordinary_node_names_node_selector() -> None:
    policy = one_plugin_policy("deschedule", "PendingOnVirtualNode", {})
    cluster = f.state([f.node("vk-1"), f.node("node-2")], [_pending("p", 600)])
    words = "vk-1 does not match type=virtual-kubelet"
    assert said(only(policy, cluster, "p")) == ("not-candidate", f"{ARGS}.nodeSelector", words)


def test_pending_long_behind_a_virtual_node_is_chosen() -> None:
    policy = one_plugin_policy("deschedule", "PendingOnVirtualNode", {})
    cluster = f.state([f.node("vk-1", labels=VIRTUAL), f.node("node-2")], [_pending("p", 600)])
    assert said(only(policy, cluster, "p")) == ("chosen", "", "Pending behind the virtual node for 10m")


FRAGMENTATION = "VirtualNodeFragmentation"


def _fragmented(pending: bool) -> Any:
    """Two virtual nodes with 1 cpu free each, an ordinary node with 1.5 free; a 2-cpu pod fits nowhere."""
    pods = [
        f.pod(f"{vk}-{i}", node=vk, cpu="1500m", owner=("ReplicaSet", f"{vk}-{i}"))
        for vk in ("vk-1", "vk-2")
        for i in range(2)
    ]
    pods.append(f.pod("filler", node="node-3", cpu="2500m", owner=("ReplicaSet", "filler")))
    if pending:
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "lastTransitionTime": f.ts(600),
        }
        pods.append(f.pod("big", phase="Pending", cpu="2000m", status={"conditions": [condition]}))
    nodes = [f.node("vk-1", labels=VIRTUAL), f.node("vk-2", labels=VIRTUAL), f.node("node-3")]
    return f.state(nodes, pods)


def test_victim_without_a_pending_pod_names_min_time_since_last_transition() -> None:
    policy = one_plugin_policy("balance", FRAGMENTATION, {})
    verdict = only(policy, _fragmented(pending=False), "vk-1-0")
    assert verdict.verdict == "not-candidate"
    assert verdict.path == f"{ARGS}.minTimeSinceLastTransitionSeconds"
    assert verdict.reason.startswith("no pod has been Unschedulable for 60s")


def test_one_victim_is_chosen_to_make_room_for_the_pending_pod() -> None:
    policy = one_plugin_policy("balance", FRAGMENTATION, {})
    found = [only(policy, _fragmented(pending=True), f"{vk}-{i}") for vk in ("vk-1", "vk-2") for i in range(2)]
    chosen = [v for v in found if v.verdict == "chosen"]
    assert len(chosen) == 1
    assert chosen[0].reason.startswith("makes room on vk-")
    assert chosen[0].reason.endswith("(unblocks default/big)")


def test_every_enabled_plugin_of_every_profile_gets_one_verdict_in_policy_order() -> None:
    first = {
        "name": "first",
        "plugins": {"deschedule": {"enabled": ["PodLifeTime", RESTARTS]}, "balance": {"enabled": ["RemoveDuplicates"]}},
        "pluginConfig": [
            {"name": "PodLifeTime", "args": {"maxPodLifeTimeSeconds": 60}},
            {"name": RESTARTS, "args": {"podRestartThreshold": 1}},
        ],
    }
    second = {"name": "second", "plugins": {"deschedule": {"enabled": ["RemoveFailedPods"]}}}
    policy = loading.parse_policy(policy_text([first, second]), registry=default_registry())
    found = verdicts(policy, two_nodes(restarting("web-1", 3, node="node-1")), "web-1")
    assert [(v.profile, v.plugin, v.verdict) for v in found] == [
        ("first", "PodLifeTime", "chosen"),
        ("first", RESTARTS, "already-chosen"),
        ("first", "RemoveDuplicates", "not-candidate"),
        ("second", "RemoveFailedPods", "not-candidate"),
    ]
    assert found[1].reason == "first/PodLifeTime chose it earlier in the cycle"
