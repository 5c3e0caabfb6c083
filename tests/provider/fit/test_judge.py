"""Judging a pod against a lower cluster's summary: fit, blocked or never, the reasons, the scores."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from descheduler import keys
from descheduler.model import Taint
from provider.fit import judge, needs, summary

GI = 2**30
MI = 2**20
ALLOC = {"cpu": 4000, "memory": 8 * GI, "pods": 110}


def pod_needs(
    *,
    cpu: int = 0,
    memory: int = 0,
    node_selector: Mapping[str, str] | None = None,
    terms: list[dict[str, Any]] | None = None,
    tolerations: tuple[dict[str, Any], ...] = (),
    by_hostname: bool = False,
    **extra: int,
) -> needs.PodNeeds:
    requests = {"cpu": cpu, "memory": memory, "pods": 1, **extra}
    return needs.PodNeeds(
        requests={k: v for k, v in requests.items() if v},
        node_selector=node_selector or {},
        affinity_terms=tuple(terms) if terms is not None else None,
        tolerations=tolerations,
        by_hostname=by_hostname,
    )


def room(
    name: str,
    *,
    cpu: int = 0,
    memory: int = 0,
    pods: int = 10,
    allocatable: Mapping[str, int] | None = None,
    taints: tuple[Taint, ...] = (),
    labels: Mapping[str, str] | None = None,
    **extra: int,
) -> summary.NodeRoom:
    return summary.NodeRoom(
        labels={keys.HOSTNAME_LABEL: name, **(labels or {})},
        taints=taints,
        allocatable=allocatable or ALLOC,
        free={"cpu": cpu, "memory": memory, "pods": pods, **extra},
    )


def cluster(*rooms: summary.NodeRoom) -> summary.Summary:
    return summary.summarize(rooms)


def verdict(pod: needs.PodNeeds, *rooms: summary.NodeRoom) -> judge.Verdict:
    return judge.judge(pod, cluster(*rooms), cluster="lower-a")


# -- resources ------------------------------------------------------------------------


def test_a_pod_fits_when_one_node_has_all_it_needs() -> None:
    got = verdict(pod_needs(cpu=2000, memory=GI), room("a", cpu=1000, memory=4 * GI), room("b", cpu=2000, memory=GI))
    assert (got.fits, got.resolvable, got.reason) == (True, True, "lower-a: a node has room for the pod")


def test_free_capacity_split_over_nodes_does_not_fit() -> None:
    got = verdict(pod_needs(cpu=2000), room("a", cpu=1000), room("b", cpu=1000))
    assert (got.fits, got.resolvable) == (False, True)
    assert got.reason == "lower-a: no single node has cpu 2 free (largest free: 1)"


def test_a_node_with_no_free_pod_slot_does_not_fit() -> None:
    got = verdict(pod_needs(cpu=100), room("full", cpu=4000, pods=0))
    assert (got.fits, got.resolvable) == (False, True)
    assert got.reason == "lower-a: no single node has pods 1 free (largest free: 0)"


def test_extended_resources_must_be_free_on_the_same_node() -> None:
    gpu_alloc = {**ALLOC, "nvidia.com/gpu": 4}
    pod = pod_needs(cpu=1000, **{"nvidia.com/gpu": 2})
    assert not verdict(pod, room("plain", cpu=4000)).resolvable
    blocked = verdict(pod, room("gpu", cpu=4000, allocatable=gpu_alloc, **{"nvidia.com/gpu": 1}))
    assert blocked.reason == "lower-a: no single node has nvidia.com/gpu 2 free (largest free: 1)"
    assert verdict(pod, room("gpu", cpu=1000, allocatable=gpu_alloc, **{"nvidia.com/gpu": 2})).fits


def test_resources_free_on_different_nodes_are_named_together() -> None:
    got = verdict(
        pod_needs(cpu=2000, memory=4 * GI), room("a", cpu=2000, memory=GI), room("b", cpu=1000, memory=8 * GI)
    )
    assert (got.fits, got.resolvable) == (False, True)
    assert got.reason == "lower-a: no single node has cpu 2 and memory 4Gi free together"


def test_every_resource_short_everywhere_is_named() -> None:
    got = verdict(pod_needs(cpu=1500, memory=4 * GI), room("a", cpu=500, memory=512 * MI))
    assert got.reason == (
        "lower-a: no single node has cpu 1500m free (largest free: 500m) or memory 4Gi free (largest free: 512Mi)"
    )


# -- never versus blocked -------------------------------------------------------------


def test_a_pod_larger_than_every_allocatable_is_unresolvable() -> None:
    got = verdict(pod_needs(memory=64 * GI), room("a", memory=GI), room("b", memory=2 * GI))
    assert (got.fits, got.resolvable) == (False, False)
    assert got.reason == "lower-a: no node can ever hold memory 64Gi (largest allocatable: 8Gi)"


def test_a_pod_that_fits_an_allocatable_but_no_free_room_is_only_blocked() -> None:
    got = verdict(pod_needs(memory=6 * GI), room("a", memory=GI))
    assert (got.fits, got.resolvable) == (False, True)


def test_allocatable_split_over_node_shapes_is_unresolvable_together() -> None:
    wide = {"cpu": 16000, "memory": 2 * GI, "pods": 110}
    tall = {"cpu": 2000, "memory": 64 * GI, "pods": 110}
    got = verdict(pod_needs(cpu=4000, memory=8 * GI), room("w", allocatable=wide), room("t", allocatable=tall))
    assert (got.fits, got.resolvable) == (False, False)
    assert got.reason == "lower-a: no node can ever hold cpu 4 and memory 8Gi together"


def test_a_cluster_without_nodes_is_unresolvable() -> None:
    got = judge.judge(pod_needs(cpu=1), summary.Summary(groups=()), cluster="lower-a")
    assert (got.fits, got.resolvable, got.reason) == (False, False, "lower-a: no schedulable node")


# -- taints and tolerations -----------------------------------------------------------

NO_MATCH = "lower-a: no node matches the pod's node selector, affinity and tolerations"


@pytest.mark.parametrize(
    ("taint", "tolerations", "fits"),
    [
        (Taint("gpu", "true", "NoSchedule"), (), False),
        (Taint("gpu", "true", "NoExecute"), (), False),
        (Taint("gpu", "true", "PreferNoSchedule"), (), True),
        (Taint("gpu", "true", "NoSchedule"), ({"key": "gpu", "operator": "Equal", "value": "true"},), True),
        (Taint("gpu", "true", "NoSchedule"), ({"key": "gpu", "operator": "Equal", "value": "false"},), False),
        (Taint("gpu", "true", "NoSchedule"), ({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},), True),
        (Taint("gpu", "true", "NoExecute"), ({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},), False),
        (Taint("gpu", "true", "NoExecute"), ({"key": "gpu", "operator": "Exists"},), True),
        (Taint("gpu", "true", "NoSchedule"), ({"operator": "Exists"},), True),
    ],
    ids=[
        "NoSchedule, untolerated -> blocked",
        "NoExecute, untolerated -> blocked",
        "PreferNoSchedule -> never blocks",
        "Equal with the value -> tolerated",
        "Equal with another value -> blocked",
        "Exists with the effect -> tolerated",
        "Exists with another effect -> blocked",
        "effect-less toleration -> tolerates every effect",
        "key-less Exists -> tolerates everything",
    ],
)
def test_taints_block_unless_tolerated(taint: Taint, tolerations: tuple[dict[str, Any], ...], fits: bool) -> None:
    got = verdict(pod_needs(cpu=100, tolerations=tolerations), room("a", cpu=1000, taints=(taint,)))
    assert got.fits is fits
    if not fits:
        assert (got.resolvable, got.reason) == (False, NO_MATCH)


# -- node selector and affinity -------------------------------------------------------

LABELS = {"zone": "a", "cores": "8", "disktype": "ssd"}


def term(key: str, operator: str, *values: str) -> list[dict[str, Any]]:
    expression: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        expression["values"] = list(values)
    return [{"matchExpressions": [expression]}]


@pytest.mark.parametrize(
    ("terms", "fits"),
    [
        (term("zone", "In", "a", "b"), True),
        (term("zone", "In", "b"), False),
        (term("zone", "NotIn", "b"), True),
        (term("zone", "NotIn", "a"), False),
        (term("disktype", "Exists"), True),
        (term("gpu", "Exists"), False),
        (term("gpu", "DoesNotExist"), True),
        (term("zone", "DoesNotExist"), False),
        (term("cores", "Gt", "4"), True),
        (term("cores", "Gt", "8"), False),
        (term("cores", "Lt", "16"), True),
        (term("cores", "Lt", "8"), False),
        (term(keys.HOSTNAME_LABEL, "Exists"), True),
        (term(keys.HOSTNAME_LABEL, "DoesNotExist"), False),
        (term("zone", "In", "b") + term("zone", "In", "a"), True),
        ([], False),
    ],
    ids=[
        "In, value listed -> fits",
        "In, value not listed -> no match",
        "NotIn, value not listed -> fits",
        "NotIn, value listed -> no match",
        "Exists, label present -> fits",
        "Exists, label absent -> no match",
        "DoesNotExist, label absent -> fits",
        "DoesNotExist, label present -> no match",
        "Gt, larger -> fits",
        "Gt, equal -> no match",
        "Lt, smaller -> fits",
        "Lt, equal -> no match",
        "hostname Exists -> every node has one",
        "hostname DoesNotExist -> no node",
        "terms are ORed -> fits",
        "required with no terms -> no node",
    ],
)
def test_required_node_affinity_operators(terms: list[dict[str, Any]], fits: bool) -> None:
    got = verdict(pod_needs(cpu=100, terms=terms), room("a", cpu=1000, labels=LABELS))
    assert got.fits is fits
    if not fits:
        assert (got.resolvable, got.reason) == (False, NO_MATCH)


def test_the_node_selector_must_match_every_entry() -> None:
    assert verdict(pod_needs(node_selector={"zone": "a", "disktype": "ssd"}), room("a", labels=LABELS)).fits
    assert not verdict(pod_needs(node_selector={"zone": "a", "disktype": "hdd"}), room("a", labels=LABELS)).fits


def upper_pod(cpu: str, stash: dict[str, Any] | None = None) -> dict[str, Any]:
    annotations = {keys.STASHED_CONSTRAINTS_ANNOTATION: json.dumps(stash)} if stash else {}
    return {
        "metadata": {"namespace": "shop", "name": "web", "annotations": annotations},
        "spec": {
            "containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}],
            "nodeSelector": {keys.VIRTUAL_NODE_TYPE_LABEL: keys.VIRTUAL_NODE_TYPE_VALUE},
        },
    }


def test_a_stashed_node_selector_judges_only_the_groups_it_matches() -> None:
    lower = cluster(
        room("ssd-1", cpu=1000, labels={"disktype": "ssd"}), room("hdd-1", cpu=4000, labels={"disktype": "hdd"})
    )
    stash = {"nodeSelector": {"disktype": "ssd"}}
    assert judge.judge(needs.needs_of(upper_pod("1", stash)), lower, cluster="lower-a").fits
    got = judge.judge(needs.needs_of(upper_pod("2", stash)), lower, cluster="lower-a")
    assert (got.fits, got.reason) == (False, "lower-a: no single node has cpu 2 free (largest free: 1)")
    assert judge.judge(needs.needs_of(upper_pod("2")), lower, cluster="lower-a").fits


def test_the_issue_example_strikes_the_cluster_with_split_capacity() -> None:
    pod = needs.needs_of(upper_pod("2"))
    lower_a = cluster(room("a-1", cpu=1000), room("a-2", cpu=1000))
    lower_b = cluster(room("b-1", cpu=2000))
    assert not judge.judge(pod, lower_a, cluster="lower-a").fits
    assert judge.judge(pod, lower_b, cluster="lower-b").fits


# -- what a summary cannot decide -----------------------------------------------------


def test_a_pod_naming_lower_hosts_passes_undecided() -> None:
    got = verdict(pod_needs(cpu=64000, by_hostname=True), room("a", cpu=1000))
    assert (got.fits, got.resolvable, got.best_fit, got.least_allocated) == (True, True, None, None)
    assert got.reason == (
        "lower-a: passed undecided: the pod names lower nodes by hostname, which the summary leaves out"
    )


def test_a_partial_summary_passes_what_it_cannot_place() -> None:
    partial = summary.Summary(groups=cluster(room("a", cpu=1000)).groups, partial=True)
    got = judge.judge(pod_needs(cpu=64000), partial, cluster="lower-a")
    assert (got.fits, got.reason, got.best_fit) == (True, "lower-a: passed undecided: its summary is incomplete", None)


def test_a_partial_summary_still_scores_what_fits() -> None:
    partial = summary.Summary(groups=cluster(room("a", cpu=2000)).groups, partial=True)
    got = judge.judge(pod_needs(cpu=1000), partial, cluster="lower-a")
    assert (got.fits, got.best_fit) == (True, 0.25)


def test_an_oversized_summary_lets_every_pod_pass() -> None:
    got = judge.judge(pod_needs(cpu=1), summary.Summary(groups=(), partial=True), cluster="lower-a")
    assert got.fits


# -- best fit and least allocated -----------------------------------------------------


def test_best_fit_is_the_tightest_room_and_least_allocated_the_roomiest() -> None:
    # Left after placing cpu 1, memory 1Gi on 4 cpu / 8Gi nodes:
    # "mem" (0.5/4 + 7/8) / 2 = 0.5, "cpu" (3/4 + 0.5/8) / 2 = 0.40625.
    got = verdict(
        pod_needs(cpu=1000, memory=GI),
        room("mem", cpu=1500, memory=8 * GI),
        room("cpu", cpu=4000, memory=GI + GI // 2),
        room("small", cpu=500, memory=8 * GI),  # does not fit: not scored
    )
    assert got.best_fit == pytest.approx(0.40625)
    assert got.least_allocated == pytest.approx(0.5)


def test_a_dominated_room_can_be_the_tightest_fit() -> None:
    """Dominated rooms stay in the summary, so the node the pod would fill exactly is seen."""
    got = verdict(pod_needs(cpu=1000), room("tight", cpu=1000), room("roomy", cpu=3000))
    assert got.best_fit == pytest.approx(0.0)
    assert got.least_allocated == pytest.approx(2 / 4)


def test_only_requested_resources_are_scored() -> None:
    got = verdict(pod_needs(cpu=1000), room("a", cpu=2000, memory=8 * GI))
    assert got.best_fit == pytest.approx(1 / 4)


def test_a_pod_requesting_neither_cpu_nor_memory_is_scored_by_pod_slots() -> None:
    got = verdict(pod_needs(), room("a", pods=56))
    assert got.best_fit == pytest.approx(55 / 110)


def v(best: float | None, least: float | None = None, *, fits: bool = True) -> judge.Verdict:
    return judge.Verdict(fits=fits, resolvable=True, reason="", best_fit=best, least_allocated=least)


def test_best_fit_scores_the_tightest_ten_and_the_loosest_zero() -> None:
    verdicts = {"vk-a": v(0.1), "vk-b": v(0.5), "vk-c": v(0.3), "vk-d": v(0.0, fits=False)}
    assert judge.scores(verdicts, "bestFit") == {"vk-a": 10, "vk-b": 0, "vk-c": 5}


def test_least_allocated_scores_the_roomiest_ten() -> None:
    verdicts = {"vk-a": v(0.1, 0.2), "vk-b": v(0.1, 0.9), "vk-c": v(0.1, 0.4)}
    assert judge.scores(verdicts, "leastAllocated") == {"vk-a": 0, "vk-b": 10, "vk-c": 3}


def test_equal_verdicts_all_score_ten() -> None:
    assert judge.scores({"vk-a": v(0.3), "vk-b": v(0.1 + 0.2)}, "bestFit") == {"vk-a": 10, "vk-b": 10}


def test_nodes_passed_undecided_score_zero() -> None:
    assert judge.scores({"vk-a": v(0.3), "vk-b": v(None)}, "bestFit") == {"vk-a": 10, "vk-b": 0}
    assert judge.scores({"vk-b": v(None)}, "leastAllocated") == {"vk-b": 0}


def test_best_fit_is_the_default_strategy() -> None:
    assert judge.STRATEGIES == ("bestFit", "leastAllocated")


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of bestFit, leastAllocated"):
        judge.scores({}, "mostAllocated")
