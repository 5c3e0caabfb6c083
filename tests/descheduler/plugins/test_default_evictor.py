from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from descheduler import keys, model
from descheduler.errors import InputError, PolicyError
from descheduler.framework.registry import Registry
from descheduler.plugins import default_evictor as plugin
from descheduler.plugins import pod_protections
from descheduler.plugins import remove_pods_having_too_many_restarts as restarts
from descheduler.policy import argspec, loading
from descheduler.policy.types import Limits
from tests.descheduler import factories as f

EMPTY_DIR = {"volumes": [{"name": "scratch", "emptyDir": {}}]}
CLAIM = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-0"}}]}
CRITICAL = 2_000_000_000


def args(**wire: Any) -> plugin.Args:
    decoded = f.decode_args(plugin.Args, **wire)
    assert plugin.validate(decoded) == []
    return decoded


def evictor(pods: Sequence[model.Pod] = (), nodes: Sequence[model.Node] = (), **wire: Any) -> plugin.DefaultEvictor:
    return evictor_in(f.state(nodes or [f.node("n1"), f.node("n2")], pods), **wire)


def evictor_in(cluster: Any, **wire: Any) -> plugin.DefaultEvictor:
    h = f.harness(plugin.SPEC, args(**wire), cluster)
    assert isinstance(h.plugin, plugin.DefaultEvictor)
    return h.plugin


def evictable(pod: model.Pod, **wire: Any) -> bool:
    return evictor([pod], **wire).filter(pod)


# -- arguments and defaults ----------------------------------------------------------------


def test_defaults_match_upstream() -> None:
    defaults = plugin.Args()
    assert args() == defaults
    assert (defaults.node_selector, defaults.label_selector, defaults.namespace_label_selector) == ("", None, None)
    assert (defaults.priority_threshold, defaults.node_fit, defaults.min_replicas) == (None, False, 0)
    assert (defaults.min_pod_age, defaults.no_eviction_policy) == (None, "")
    assert defaults.pod_protections == pod_protections.PodProtections()
    deprecated = [*pod_protections.DEPRECATED_DISABLING, *pod_protections.DEPRECATED_ENABLING]
    assert not any(getattr(defaults, name) for name in deprecated)


def test_wire_names_are_upstreams() -> None:
    wire = {argspec.wire_name(field) for field in dataclasses.fields(plugin.Args)}
    assert wire == {
        "nodeSelector",
        "labelSelector",
        "namespaceLabelSelector",
        "priorityThreshold",
        "nodeFit",
        "minReplicas",
        "minPodAge",
        "noEvictionPolicy",
        "podProtections",
        "evictLocalStoragePods",
        "evictDaemonSetPods",
        "evictSystemCriticalPods",
        "ignorePvcPods",
        "ignorePodsWithoutPDB",
        "evictFailedBarePods",
    }


def test_pvc_storage_class_config_decodes_from_upstream_shape() -> None:
    decoded = args(
        podProtections={
            "extraEnabled": ["PodsWithPVC"],
            "config": {"PodsWithPVC": {"protectedStorageClasses": [{"name": "local-path"}, {"name": "nvme"}]}},
        }
    )
    assert plugin.protected_storage_classes(decoded) == {"local-path", "nvme"}


def test_default_protections_are_the_four_upstream_ones() -> None:
    assert plugin.effective_protections(plugin.Args()) == {
        "PodsWithLocalStorage",
        "SystemCriticalPods",
        "FailedBarePods",
        "DaemonSetPods",
    }


@pytest.mark.parametrize(
    ("wire", "removed", "added"),
    [
        ({"evictLocalStoragePods": True}, "PodsWithLocalStorage", None),
        ({"evictDaemonSetPods": True}, "DaemonSetPods", None),
        ({"evictSystemCriticalPods": True}, "SystemCriticalPods", None),
        ({"evictFailedBarePods": True}, "FailedBarePods", None),
        ({"ignorePvcPods": True}, None, "PodsWithPVC"),
        ({"ignorePodsWithoutPDB": True}, None, "PodsWithoutPDB"),
        ({"podProtections": {"defaultDisabled": ["DaemonSetPods"]}}, "DaemonSetPods", None),
        ({"podProtections": {"extraEnabled": ["PodsWithResourceClaims"]}}, None, "PodsWithResourceClaims"),
    ],
    ids=[
        "evictLocalStoragePods -> PodsWithLocalStorage off",
        "evictDaemonSetPods -> DaemonSetPods off",
        "evictSystemCriticalPods -> SystemCriticalPods off",
        "evictFailedBarePods -> FailedBarePods off",
        "ignorePvcPods -> PodsWithPVC on",
        "ignorePodsWithoutPDB -> PodsWithoutPDB on",
        "defaultDisabled removes a default",
        "extraEnabled adds an extra",
    ],
)
def test_deprecated_booleans_and_pod_protections_map_onto_protections(
    wire: dict[str, Any], removed: str | None, added: str | None
) -> None:
    expected = set(pod_protections.DEFAULT_PROTECTIONS) - {removed} | ({added} if added else set())
    assert plugin.effective_protections(args(**wire)) == expected


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "path", "says"),
    [
        ({"priorityThreshold": {"name": "high", "value": 10}}, "priorityThreshold", "only one of name and value"),
        ({"priorityThreshold": {"value": CRITICAL + 1}}, "priorityThreshold.value", "<= 2000000000"),
        (
            {"evictLocalStoragePods": True, "podProtections": {"defaultDisabled": ["DaemonSetPods"]}},
            "podProtections",
            "evictLocalStoragePods",
        ),
        ({"podProtections": {"extraEnabled": ["PodsWithPVCC"]}}, "podProtections.extraEnabled[0]", "PodsWithoutPDB"),
        ({"podProtections": {"extraEnabled": ["DaemonSetPods"]}}, "podProtections.extraEnabled[0]", "PodsWithPVC"),
        (
            {"podProtections": {"defaultDisabled": ["DaemonSetPods", "PodsWithPVC"]}},
            "podProtections.defaultDisabled[1]",
            "PodsWithLocalStorage, SystemCriticalPods, FailedBarePods, DaemonSetPods",
        ),
        (
            {"podProtections": {"extraEnabled": ["PodsWithPVC", "PodsWithPVC"]}},
            "podProtections.extraEnabled",
            "duplicate",
        ),
        ({"minReplicas": -1}, "minReplicas", ">= 0"),
        ({"noEvictionPolicy": "Sometimes"}, "noEvictionPolicy", "Preferred, Mandatory"),
        ({"minPodAge": "5 minutes"}, "minPodAge", "1h30m"),
        ({"nodeSelector": "zone in (", "nodeFit": True}, "nodeSelector", "zone"),
    ],
    ids=[
        "priorityThreshold name and value -> rejected",
        "priorityThreshold above system critical -> rejected",
        "deprecated field mixed with podProtections -> rejected",
        "unknown extraEnabled -> rejected, lists allowed",
        "default protection in extraEnabled -> rejected",
        "extra protection in defaultDisabled -> rejected, lists allowed",
        "duplicate extraEnabled -> rejected",
        "negative minReplicas -> rejected",
        "unknown noEvictionPolicy -> rejected",
        "unparsable minPodAge -> rejected",
        "unparsable nodeSelector with nodeFit -> rejected",
    ],
)
def test_validation_names_the_path_and_what_is_allowed(wire: dict[str, Any], path: str, says: str) -> None:
    found = f.args_problems(plugin.SPEC, **wire)
    assert [(p.path, p.warning) for p in found] == [(path, False)]
    assert says in found[0].message


def test_deprecated_fields_alone_and_pod_protections_alone_are_valid() -> None:
    assert plugin.validate(plugin.Args(evict_local_storage_pods=True, ignore_pvc_pods=True)) == []
    protections = pod_protections.PodProtections(
        extra_enabled=("PodsWithoutPDB",), default_disabled=("FailedBarePods",)
    )
    assert (
        plugin.validate(plugin.Args(pod_protections=protections, min_replicas=1, no_eviction_policy="Mandatory")) == []
    )


def test_policy_errors_carry_the_full_path() -> None:
    registry = Registry([plugin.SPEC, restarts.SPEC])
    text = """
apiVersion: descheduler/v1alpha2
kind: DeschedulerPolicy
profiles:
  - name: p
    pluginConfig:
      - name: DefaultEvictor
        args:
          podProtections:
            extraEnabled: [Nope]
    plugins:
      deschedule:
        enabled: [RemovePodsHavingTooManyRestarts]
"""
    with pytest.raises(PolicyError) as caught:
        loading.parse_policy(text, registry=registry)
    paths = [p.path for p in caught.value.problems]
    assert "profiles[0].pluginConfig[0].args.podProtections.extraEnabled[0]" in paths


# -- filter: mirror, static and terminating pods -------------------------------------------


def test_ordinary_replicaset_pod_is_evictable() -> None:
    assert evictable(f.pod("web", node="n1"))


@pytest.mark.parametrize(
    ("annotations", "deleting"),
    [
        ({keys.MIRROR_POD_ANNOTATION: "h"}, False),
        ({keys.CONFIG_SOURCE_ANNOTATION: "file"}, False),
        ({}, True),
    ],
    ids=["mirror pod -> kept unless annotated", "static pod -> same", "terminating pod -> same"],
)
def test_mirror_static_and_terminating_pods_are_kept_until_the_evict_annotation_lifts_it(
    annotations: dict[str, str], deleting: bool
) -> None:
    """Upstream's Filter checks the evict annotation before anything else (defaultevictor.go)."""
    pod = f.pod("p", node="n1", annotations=annotations, deleting=deleting)
    assert not evictable(pod)
    assert not evictable(pod, podProtections={"defaultDisabled": list(pod_protections.DEFAULT_PROTECTIONS)})
    annotated = f.pod("p", node="n1", annotations={**annotations, keys.EVICT_ANNOTATION: ""}, deleting=deleting)
    assert evictable(annotated)


# -- filter: default protections -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "lifted_by"),
    [
        (f.pod("ds", node="n1", owner=("DaemonSet", "agent")), {"evictDaemonSetPods": True}),
        (f.pod("tmp", node="n1", spec=EMPTY_DIR), {"evictLocalStoragePods": True}),
        (f.pod("dns", node="n1", priority=CRITICAL), {"evictSystemCriticalPods": True}),
        (f.pod("bare", node="n1", owner=None, phase="Failed"), {"evictFailedBarePods": True}),
        (
            f.pod("ds", node="n1", owner=("DaemonSet", "agent")),
            {"podProtections": {"defaultDisabled": ["DaemonSetPods"]}},
        ),
        (f.pod("tmp", node="n1", spec=EMPTY_DIR), {"podProtections": {"defaultDisabled": ["PodsWithLocalStorage"]}}),
        (f.pod("dns", node="n1", priority=CRITICAL), {"podProtections": {"defaultDisabled": ["SystemCriticalPods"]}}),
        (
            f.pod("bare", node="n1", owner=None, phase="Failed"),
            {"podProtections": {"defaultDisabled": ["FailedBarePods"]}},
        ),
    ],
    ids=[
        "DaemonSet pod kept; evictDaemonSetPods lifts",
        "emptyDir pod kept; evictLocalStoragePods lifts",
        "system-critical pod kept; evictSystemCriticalPods lifts",
        "failed bare pod kept; evictFailedBarePods lifts",
        "DaemonSet pod; defaultDisabled lifts",
        "local storage pod; defaultDisabled lifts",
        "critical pod; defaultDisabled lifts",
        "failed bare pod; defaultDisabled lifts",
    ],
)
def test_default_protections_hold_until_disabled(pod: model.Pod, lifted_by: dict[str, Any]) -> None:
    assert not evictable(pod)
    assert evictable(pod, **lifted_by)


@pytest.mark.parametrize(
    "pod",
    [
        f.pod("ds", node="n1", owner=("DaemonSet", "agent"), annotations={keys.EVICT_ANNOTATION: "true"}),
        f.pod("tmp", node="n1", spec=EMPTY_DIR, annotations={keys.EVICT_ANNOTATION: ""}),
        f.pod("dns", node="n1", priority=CRITICAL, annotations={keys.EVICT_ANNOTATION: ""}),
        f.pod("bare", node="n1", owner=None, annotations={keys.EVICT_ANNOTATION: ""}),
    ],
    ids=["DaemonSet pod", "local storage pod", "system-critical pod", "running bare pod"],
)
def test_evict_annotation_lifts_every_protection(pod: model.Pod) -> None:
    never = {"matchLabels": {"never": "matches"}}
    assert evictable(pod, ignorePvcPods=True, labelSelector=never, minReplicas=5, minPodAge="2h")


def test_running_bare_pod_stays_even_when_failed_bare_pods_may_go() -> None:
    running = f.pod("bare", node="n1", owner=None, phase="Running")
    assert not evictable(running, evictFailedBarePods=True)


def test_system_critical_priority_is_read_from_the_priority_class_when_spec_priority_is_unset() -> None:
    pod = f.pod("dns", node="n1", priority_class="system-cluster-critical")
    cluster = f.state(
        [f.node("n1")], [pod], priority_classes=[model.PriorityClass("system-cluster-critical", CRITICAL)]
    )
    assert not evictor_in(cluster).filter(pod)


# -- filter: extra protections -------------------------------------------------------------


def test_pvc_pods_are_evictable_unless_protected() -> None:
    pod = f.pod("db", node="n1", spec=CLAIM)
    assert evictable(pod)
    assert not evictable(pod, ignorePvcPods=True)
    assert not evictable(pod, podProtections={"extraEnabled": ["PodsWithPVC"]})


def test_storage_class_config_spares_pods_without_claims_and_keeps_unresolvable_claims() -> None:
    wire = {
        "podProtections": {
            "extraEnabled": ["PodsWithPVC"],
            "config": {"PodsWithPVC": {"protectedStorageClasses": [{"name": "local-path"}]}},
        }
    }
    assert evictable(f.pod("web", node="n1"), **wire)
    # The claim is not in the snapshot, so its class cannot be resolved: upstream keeps such pods.
    assert not evictable(f.pod("db", node="n1", spec=CLAIM), **wire)


def test_pods_without_pdb_are_kept_when_that_protection_is_on() -> None:
    covered = f.pod("web", node="n1", labels={"app": "web"})
    uncovered = f.pod("batch", node="n1", labels={"app": "batch"})
    budget = model.PodDisruptionBudget("default", "web", {"matchLabels": {"app": "web"}}, 1)
    cluster = f.state([f.node("n1")], [covered, uncovered], pdbs=[budget])
    for wire in ({"ignorePodsWithoutPDB": True}, {"podProtections": {"extraEnabled": ["PodsWithoutPDB"]}}):
        ev = evictor_in(cluster, **wire)
        assert (ev.filter(covered), ev.filter(uncovered)) == (True, False)
    assert evictor_in(cluster).filter(uncovered)


def test_resource_claims_protection_leaves_ordinary_pods_alone() -> None:
    assert evictable(f.pod("web", node="n1"), podProtections={"extraEnabled": ["PodsWithResourceClaims"]})


# -- filter: priority threshold ------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "expected"), [(999, True), (1000, False), (5000, False)], ids=["below -> evictable", "equal", "above"]
)
def test_priority_threshold_value_keeps_pods_at_or_above_it(priority: int, expected: bool) -> None:
    assert evictable(f.pod("p", node="n1", priority=priority), priorityThreshold={"value": 1000}) is expected


def test_priority_threshold_name_is_resolved_from_the_cluster() -> None:
    low, high = f.pod("low", node="n1", priority=10), f.pod("high", node="n1", priority=500)
    cluster = f.state([f.node("n1")], [low, high], priority_classes=[model.PriorityClass("important", 500)])
    ev = evictor_in(cluster, priorityThreshold={"name": "important"})
    assert (ev.filter(low), ev.filter(high)) == (True, False)


def test_unknown_priority_threshold_class_fails_plugin_construction() -> None:
    with pytest.raises(InputError, match="'missing' not found"):
        evictor([], priorityThreshold={"name": "missing"})


def test_priority_threshold_class_above_system_critical_fails_plugin_construction() -> None:
    cluster = f.state([f.node("n1")], [], priority_classes=[model.PriorityClass("huge", CRITICAL + 1000)])
    with pytest.raises(InputError, match="above 2000000000"):
        evictor_in(cluster, priorityThreshold={"name": "huge"})


def test_priority_threshold_is_ignored_when_system_critical_protection_is_off() -> None:
    pod = f.pod("p", node="n1", priority=5000)
    assert evictable(pod, evictSystemCriticalPods=True, priorityThreshold={"value": 1000})


# -- filter: selectors, age, replicas, no-eviction policy ----------------------------------


def test_label_selector_limits_eviction_to_matching_pods() -> None:
    selector = {"matchLabels": {"tier": "batch"}}
    assert evictable(f.pod("b", node="n1", labels={"tier": "batch"}), labelSelector=selector)
    assert not evictable(f.pod("w", node="n1", labels={"tier": "web"}), labelSelector=selector)


@pytest.mark.parametrize(
    ("age_seconds", "expected"), [(60, False), (300, True), (7200, True)], ids=["1m < 5m -> kept", "5m", "2h"]
)
def test_min_pod_age_keeps_young_pods(age_seconds: float, expected: bool) -> None:
    assert evictable(f.pod("p", node="n1", age_seconds=age_seconds), minPodAge="5m") is expected


def replicas(count: int, owner: str = "rs-a") -> list[model.Pod]:
    return [f.pod(f"{owner}-{i}", node="n1", owner=("ReplicaSet", owner)) for i in range(count)]


@pytest.mark.parametrize(
    ("count", "min_replicas", "expected"),
    [(2, 3, False), (3, 3, True), (1, 1, True), (1, 0, True)],
    ids=["2 pods < minReplicas 3 -> kept", "3 pods -> evictable", "minReplicas 1 -> no check", "unset -> no check"],
)
def test_min_replicas_keeps_pods_of_small_owners(count: int, min_replicas: int, expected: bool) -> None:
    pods = replicas(count)
    assert evictor(pods, minReplicas=min_replicas).filter(pods[0]) is expected


def test_min_replicas_counts_pods_left_after_this_cycles_evictions() -> None:
    pods = replicas(3)
    cluster = f.state([f.node("n1")], pods)
    ev = evictor_in(cluster, minReplicas=3)
    assert ev.filter(pods[1])
    cluster.mark_evicted(pods[0])
    assert not ev.filter(pods[1])


def test_mandatory_no_eviction_policy_binds_the_annotation() -> None:
    pod = f.pod("p", node="n1", annotations={keys.PREFER_NO_EVICTION_ANNOTATION: ""})
    assert evictable(pod)
    assert evictable(pod, noEvictionPolicy="Preferred")
    assert not evictable(pod, noEvictionPolicy="Mandatory")


def test_evict_annotation_beats_mandatory_no_eviction() -> None:
    annotations = {keys.PREFER_NO_EVICTION_ANNOTATION: "", keys.EVICT_ANNOTATION: ""}
    assert evictable(f.pod("p", node="n1", annotations=annotations), noEvictionPolicy="Mandatory")


def test_cheap_checks_answer_before_owner_counting() -> None:
    """Owner counting changes with evictions and costs most, so it is asked last."""
    agent = f.pod("agent", node="n1", owner=("DaemonSet", "solo"), age_seconds=10)
    young = f.pod("young", node="n1", owner=("ReplicaSet", "solo"), age_seconds=10)
    ev = evictor([agent, young], minReplicas=5, minPodAge="1h")
    assert ev.protection(agent) == "pod is owned by a DaemonSet"
    assert "minPodAge" in (ev.protection(young) or "")
    old = f.pod("old", node="n1", owner=("ReplicaSet", "solo"))
    assert "minReplicas" in (evictor([old], minReplicas=5, minPodAge="1h").protection(old) or "")


# -- preEvictionFilter ---------------------------------------------------------------------


def test_pre_eviction_filter_passes_everything_by_default() -> None:
    pod = f.pod("huge", node="n1", cpu="64")
    assert evictor([pod]).pre_eviction_filter(pod)


@pytest.mark.parametrize(
    ("selector", "namespace", "expected"),
    [
        ({"matchLabels": {"env": "dev"}}, "dev", True),
        ({"matchLabels": {"env": "dev"}}, "prod", False),
        ({"matchLabels": {"env": "dev"}}, "unknown", False),
        ({"matchExpressions": [{"key": "protect", "operator": "NotIn", "values": ["yes"]}]}, "dev", True),
        ({"matchExpressions": [{"key": "protect", "operator": "NotIn", "values": ["yes"]}]}, "prod", False),
        ({}, "unknown", True),
    ],
    ids=[
        "namespace labels match -> evictable",
        "labels differ -> kept",
        "namespace not in snapshot -> kept",
        "matchExpressions only, matching -> evictable",
        "matchExpressions only, excluded -> kept",
        "empty selector -> no constraint",
    ],
)
def test_namespace_label_selector_checks_the_pods_namespace(
    selector: dict[str, Any], namespace: str, expected: bool
) -> None:
    pod = f.pod("p", node="n1", namespace=namespace)
    namespaces = [model.Namespace("dev", {"env": "dev"}), model.Namespace("prod", {"env": "prod", "protect": "yes"})]
    cluster = f.state([f.node("n1")], [pod], namespaces=namespaces)
    ev = evictor_in(cluster, namespaceLabelSelector=selector)
    assert ev.pre_eviction_filter(pod) is expected
    assert ev.filter(pod)  # upstream checks the namespace only before eviction


@pytest.mark.parametrize(
    ("other", "pod_spec", "expected"),
    [
        (f.node("n2"), {}, True),
        (f.node("n2", unschedulable=True), {}, False),
        (f.node("n2", ready=False), {}, False),
        (f.node("n2", taints=[{"key": "gpu", "value": "", "effect": "NoSchedule"}]), {}, False),
        (f.node("n2", labels={"zone": "b"}), {"nodeSelector": {"zone": "a"}}, False),
        (f.node("n2", cpu="500m"), {}, False),
    ],
    ids=[
        "another node has room -> evictable",
        "other node unschedulable -> kept",
        "other node not ready -> kept",
        "untolerated taint -> kept",
        "pod nodeSelector excludes it -> kept",
        "not enough free cpu -> kept",
    ],
)
def test_node_fit_needs_another_node_that_would_take_the_pod(
    other: model.Node, pod_spec: dict[str, Any], expected: bool
) -> None:
    pod = f.pod("p", node="n1", cpu="1", spec=pod_spec)
    ev = evictor([pod], nodes=[f.node("n1", labels={"zone": "a"}), other], nodeFit=True)
    assert ev.pre_eviction_filter(pod) is expected


def test_node_fit_never_counts_the_pods_own_node() -> None:
    pod = f.pod("p", node="n1")
    assert not evictor([pod], nodes=[f.node("n1")], nodeFit=True).pre_eviction_filter(pod)


def test_node_selector_limits_where_node_fit_looks() -> None:
    pod = f.pod("p", node="n1")
    nodes = [f.node("n1"), f.node("n2", labels={"pool": "spare"}), f.node("n3", labels={"pool": "gpu"})]
    assert evictor([pod], nodes=nodes, nodeFit=True, nodeSelector="pool=spare").pre_eviction_filter(pod)
    assert not evictor([pod], nodes=nodes, nodeFit=True, nodeSelector="pool=batch").pre_eviction_filter(pod)


def test_node_fit_sees_capacity_freed_by_this_cycles_evictions() -> None:
    pod = f.pod("p", node="n1", cpu="1")
    blocker = f.pod("blocker", node="n2", cpu="3500m")
    cluster = f.state([f.node("n1"), f.node("n2")], [pod, blocker])
    ev = evictor_in(cluster, nodeFit=True)
    assert not ev.pre_eviction_filter(pod)
    cluster.mark_evicted(blocker)
    assert ev.pre_eviction_filter(pod)


# -- wiring --------------------------------------------------------------------------------


def test_spec_declares_filter_points_and_a_description() -> None:
    assert plugin.SPEC.name == "DefaultEvictor"
    assert plugin.SPEC.extension_points == {"filter", "preEvictionFilter"}
    assert plugin.SPEC.description == plugin.DESCRIPTION
    assert "nodeFit" in plugin.SPEC.description
    listed = {row.path for row in argspec.describe(plugin.Args)}
    assert {"podProtections.extraEnabled", "podProtections.defaultDisabled", "ignorePodsWithoutPDB"} <= listed


def test_a_strategy_evicts_only_what_default_evictor_allows() -> None:
    def crashing(name: str, **kw: Any) -> model.Pod:
        status = {"containerStatuses": [{"name": "c0", "restartCount": 9}]}
        return f.pod(name, node="n1", status=status, **kw)

    pods = [crashing("web"), crashing("agent", owner=("DaemonSet", "agent")), crashing("tmp", spec=EMPTY_DIR)]
    cluster = f.state([f.node("n1"), f.node("n2")], pods)
    default = evictor_in(cluster, nodeFit=True)
    h = f.harness(restarts.SPEC, restarts.Args(pod_restart_threshold=1), cluster, evictor_filter=default.filter)
    h.handle.pre_eviction_filters.append(default.pre_eviction_filter)
    assert h.run() == ["web"]


def test_limits_still_apply_after_the_filter() -> None:
    pods = [
        f.pod(f"p{i}", node="n1", status={"containerStatuses": [{"name": "c", "restartCount": 5}]}) for i in range(3)
    ]
    cluster = f.state([f.node("n1")], pods)
    default = evictor_in(cluster)
    h = f.harness(
        restarts.SPEC,
        restarts.Args(pod_restart_threshold=1),
        cluster,
        limit=Limits(per_node=2),
        evictor_filter=default.filter,
    )
    assert h.run() == ["p0", "p1"]
