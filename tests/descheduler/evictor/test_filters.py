from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from descheduler import keys, model
from descheduler.evictor import filters
from tests.descheduler import factories as f

EMPTY_DIR = {"volumes": [{"name": "scratch", "emptyDir": {}}]}
HOST_PATH = {"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]}
CLAIM = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-0"}}]}


def priority_of(pod: model.Pod) -> int:
    return pod.priority or 0


@pytest.mark.parametrize(
    ("check", "protected", "free"),
    [
        (filters.mirror_pod, f.pod("m", annotations={keys.MIRROR_POD_ANNOTATION: "x"}), f.pod("p")),
        (filters.static_pod, f.pod("s", annotations={keys.CONFIG_SOURCE_ANNOTATION: "file"}), f.pod("p")),
        (filters.terminating_pod, f.pod("t", deleting=True), f.pod("p")),
        (filters.bare_pod, f.pod("b", owner=None, phase="Failed"), f.pod("p")),
        (filters.non_failed_bare_pod, f.pod("b", owner=None), f.pod("b", owner=None, phase="Failed")),
        (filters.daemonset_pod, f.pod("d", owner=("DaemonSet", "ds")), f.pod("p")),
        (filters.local_storage_pod, f.pod("e", spec=EMPTY_DIR), f.pod("p")),
        (filters.local_storage_pod, f.pod("h", spec=HOST_PATH), f.pod("p")),
        (filters.pvc_pod, f.pod("c", spec=CLAIM), f.pod("p")),
        (filters.prefers_no_eviction, f.pod("n", annotations={keys.PREFER_NO_EVICTION_ANNOTATION: ""}), f.pod("p")),
    ],
    ids=[
        "mirror annotation -> protected",
        "config.source file -> static, protected",
        "deletionTimestamp -> terminating, protected",
        "no owners, even failed -> bare, protected",
        "no owners, running -> protected; failed -> free",
        "DaemonSet owner -> protected",
        "emptyDir -> local storage, protected",
        "hostPath -> local storage, protected",
        "persistentVolumeClaim volume -> protected",
        "prefer-no-eviction annotation -> protected",
    ],
)
def test_each_protection_names_its_reason_and_spares_others(
    check: filters.Check, protected: model.Pod, free: model.Pod
) -> None:
    assert check(protected)
    assert check(free) is None


def test_config_source_api_is_not_static() -> None:
    assert filters.static_pod(f.pod("p", annotations={keys.CONFIG_SOURCE_ANNOTATION: "api"})) is None


def test_evict_annotation_is_detected_whatever_its_value() -> None:
    assert filters.evict_requested(f.pod("p", annotations={keys.EVICT_ANNOTATION: ""}))
    assert not filters.evict_requested(f.pod("p"))


@pytest.mark.parametrize(
    ("priority", "protected"),
    [(2_000_000_000, True), (2_000_001_000, True), (1_999_999_999, False), (None, False)],
    ids=["system-cluster-critical -> protected", "system-node-critical -> protected", "just below -> free", "unset"],
)
def test_system_critical_threshold_is_two_billion(priority: int | None, protected: bool) -> None:
    reason = filters.system_critical_pod(f.pod("p", priority=priority), priority_of=priority_of)
    assert (reason is not None) is protected


@pytest.mark.parametrize(
    ("priority", "protected"),
    [(1000, True), (1001, True), (999, False)],
    ids=["equal to threshold -> protected", "above -> protected", "below -> free"],
)
def test_priority_threshold_protects_pods_at_or_above_it(priority: int, protected: bool) -> None:
    reason = filters.priority_at_or_above(f.pod("p", priority=priority), threshold=1000, priority_of=priority_of)
    assert (reason is not None) is protected


def claim(storage_class: str) -> Any:
    """A claim record carrying a storage class (model.PersistentVolumeClaim may not have one yet)."""
    return SimpleNamespace(namespace="default", name="data-0", storage_class=storage_class)


@pytest.mark.parametrize(
    ("storage_class", "protected"),
    [("fast", True), ("slow", False), ("", True)],
    ids=["listed class -> protected", "other class -> free", "class unknown -> protected (upstream error path)"],
)
def test_protected_storage_classes_protect_only_listed_classes(storage_class: str, protected: bool) -> None:
    pvcs = {"default/data-0": claim(storage_class)}
    reason = filters.protected_storage_class_pod(f.pod("c", spec=CLAIM), protected={"fast"}, pvcs=pvcs)
    assert (reason is not None) is protected


def test_storage_class_of_a_missing_claim_is_unknown() -> None:
    assert filters.storage_class_of(None) == ""


def test_missing_claim_protects_the_pod() -> None:
    reason = filters.protected_storage_class_pod(f.pod("c", spec=CLAIM), protected={"fast"}, pvcs={})
    assert reason is not None and "data-0" in reason


def test_pod_without_claims_is_not_protected_by_storage_class() -> None:
    assert filters.protected_storage_class_pod(f.pod("p"), protected={"fast"}, pvcs={}) is None


def test_resource_claims_protect_only_when_the_pod_has_them() -> None:
    assert filters.resource_claims_pod(f.pod("p")) is None
    assert filters.resource_claims_pod(SimpleNamespace(resource_claims=("gpu",)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("selector", "namespace", "covered"),
    [
        ({"matchLabels": {"app": "web"}}, "default", True),
        ({"matchLabels": {"app": "db"}}, "default", False),
        ({"matchLabels": {"app": "web"}}, "other", False),
        ({}, "default", True),
        (None, "default", False),
    ],
    ids=[
        "matching PDB in namespace -> covered",
        "PDB selects other pods -> not covered",
        "matching PDB in another namespace -> not covered",
        "empty selector selects every pod -> covered",
        "null selector selects nothing -> not covered",
    ],
)
def test_pdb_coverage_needs_a_matching_selector_in_the_same_namespace(
    selector: dict[str, object] | None, namespace: str, covered: bool
) -> None:
    pdb = model.PodDisruptionBudget(namespace, "budget", selector, 1)
    reason = filters.pod_without_pdb(f.pod("p", labels={"app": "web"}), pdbs_by_namespace={namespace: [pdb]})
    assert (reason is None) is covered


def test_label_selector_keeps_pods_that_do_not_match() -> None:
    selector = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["batch"]}]}
    assert filters.labels_not_selected(f.pod("p", labels={"tier": "batch"}), selector=selector) is None
    assert filters.labels_not_selected(f.pod("p", labels={"tier": "web"}), selector=selector)


@pytest.mark.parametrize(
    ("age", "protected"), [(299, True), (300, False), (3600, False)], ids=["younger", "exactly min age", "older"]
)
def test_min_pod_age_counts_from_start_time(age: float, protected: bool) -> None:
    reason = filters.too_young(f.pod("p", age_seconds=age), min_age_seconds=300, now=f.NOW)
    assert (reason is not None) is protected


def test_pod_that_never_started_is_too_young() -> None:
    pod = f.pod("p", status={"startTime": None})
    assert filters.too_young(pod, min_age_seconds=0, now=f.NOW)


@pytest.mark.parametrize(
    ("owner_pods", "protected"), [(1, True), (2, False), (5, False)], ids=["1 < 2 -> kept", "2 == 2 -> free", "5"]
)
def test_min_replicas_compares_the_owner_pod_count(owner_pods: int, protected: bool) -> None:
    reason = filters.too_few_replicas(f.pod("p"), min_replicas=2, count_pods_of_owner=lambda uid, cap: owner_pods)
    assert (reason is not None) is protected


def test_min_replicas_skips_bare_pods() -> None:
    def count(uid: str, cap: int) -> int:
        raise AssertionError("must not count")

    assert filters.too_few_replicas(f.pod("p", owner=None), min_replicas=3, count_pods_of_owner=count) is None


def test_namespace_selector_matches_namespace_labels() -> None:
    namespaces = {"prod": model.Namespace("prod", {"env": "prod"}), "dev": model.Namespace("dev", {"env": "dev"})}
    selector = {"matchLabels": {"env": "dev"}}
    assert filters.namespace_not_selected(f.pod("p", namespace="dev"), selector=selector, namespaces=namespaces) is None
    assert filters.namespace_not_selected(f.pod("p", namespace="prod"), selector=selector, namespaces=namespaces)
    assert filters.namespace_not_selected(f.pod("p", namespace="gone"), selector=selector, namespaces=namespaces)


def test_node_fit_ignores_the_pods_own_node() -> None:
    nodes = [f.node("a"), f.node("b", unschedulable=True)]
    pod = f.pod("p", node="a")
    cluster = f.state(nodes, [pod])
    reason = filters.fits_no_other_node(pod, state=cluster, nodes=nodes)
    assert reason is not None and "2 ready nodes" in reason


def test_node_fit_accepts_another_node_with_room() -> None:
    nodes = [f.node("a"), f.node("b")]
    pod = f.pod("p", node="a")
    assert filters.fits_no_other_node(pod, state=f.state(nodes, [pod]), nodes=nodes) is None


def test_node_fit_counts_requests_against_free_capacity() -> None:
    nodes = [f.node("a", cpu="2"), f.node("b", cpu="2")]
    pod = f.pod("p", node="a", cpu="1500m")
    filler = f.pod("filler", node="b", cpu="1")
    assert filters.fits_no_other_node(pod, state=f.state(nodes, [pod, filler]), nodes=nodes)


def test_first_reason_stops_at_the_first_failing_check() -> None:
    calls: list[str] = []

    def fails(pod: model.Pod) -> str | None:
        calls.append("fails")
        return "no"

    def never(pod: model.Pod) -> str | None:
        calls.append("never")
        return None

    assert filters.first_reason(f.pod("p"), [fails, never]) == "no"
    assert calls == ["fails"]
