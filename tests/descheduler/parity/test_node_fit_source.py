"""``placement.fits`` against what upstream v0.36's NodeFit source decides where its tables are silent.

Each test names the code it reads: pkg/descheduler/node/node.go (NodeFit,
podMatchesInterPodAntiAffinity, fitsRequest), pkg/utils/predicates.go, and the vendored
k8s.io/component-helpers nodeaffinity and k8s.io/apimachinery labels parsing they call. The
tables themselves are in test_node_fit.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from descheduler import model, placement
from descheduler.plugins import remove_pods_violating_topology_spread_constraint as spread
from tests.descheduler import factories as f

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
WEB = {"matchLabels": {"app": "web"}}


def node(name: str, **kw: Any) -> model.Node:
    return f.node(name, labels={ZONE: "z1", **kw.pop("labels", {})}, **kw)


def pod(name: str, node_name: str = "", **kw: Any) -> model.Pod:
    return f.pod(name, node=node_name, **kw)


def anti_pod(
    name: str,
    node_name: str = "",
    *,
    terms: Sequence[Mapping[str, Any]] | None = None,
    preferred: bool = False,
    **kw: Any,
) -> model.Pod:
    """A pod labelled app=web whose required (or preferred) anti-affinity forbids app=web per hostname."""
    chosen = list(terms) if terms is not None else [{"labelSelector": WEB, "topologyKey": HOST}]
    anti = (
        {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": t} for t in chosen]}
        if preferred
        else {"requiredDuringSchedulingIgnoredDuringExecution": chosen}
    )
    return pod(name, node_name, labels={"app": "web"}, spec={"affinity": {"podAntiAffinity": anti}}, **kw)


def verdict(candidate: model.Pod, target: model.Node, others: Sequence[model.Pod] = (), *more: model.Node) -> bool:
    cluster = f.state([target, *more], [candidate, *others])
    fits = placement.fits(cluster, candidate, target)
    assert fits is (not placement.unfit_reasons(cluster, candidate, target))  # the two always agree
    return fits


# -- NodeFit: IsNodeUnschedulable --------------------------------------------------------------


@pytest.mark.parametrize(
    "toleration",
    [
        {"operator": "Exists"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ],
    ids=["catch-all Exists", "the unschedulable taint's own toleration"],
)
def test_a_cordoned_node_never_fits_whatever_the_pod_tolerates(toleration: dict[str, str]) -> None:
    # NodeFit returns "node is not schedulable" for spec.unschedulable before looking at tolerations.
    candidate = pod("p", spec={"tolerations": [toleration]})
    assert not verdict(candidate, node("cordoned", unschedulable=True))


# -- NodeFit: TolerationsTolerateTaintsWithFilter (NoSchedule, NoExecute) ----------------------------


@pytest.mark.parametrize(
    ("effect", "fits"),
    [("NoSchedule", False), ("NoExecute", False), ("PreferNoSchedule", True)],
)
def test_only_no_schedule_and_no_execute_taints_must_be_tolerated(effect: str, fits: bool) -> None:
    target = node("n", taints=[{"key": "dedicated", "value": "db", "effect": effect}])
    assert verdict(pod("p"), target) is fits


def test_a_gt_toleration_compares_numbers_as_node_fit_asks_for() -> None:
    # ToleratesTaint(logger, taint, true): comparison operators are on.
    target = node("n", taints=[{"key": "tier", "value": "5", "effect": "NoSchedule"}])
    low = {"key": "tier", "operator": "Gt", "value": "3", "effect": "NoSchedule"}
    high = {**low, "value": "7"}
    assert verdict(pod("p", spec={"tolerations": [low]}), target)
    assert not verdict(pod("p", spec={"tolerations": [high]}), target)


# -- NodeFit: podMatchesInterPodAntiAffinity ---------------------------------------------------


def test_only_pods_on_that_node_count_not_the_rest_of_its_topology_domain() -> None:
    zone_term = [{"labelSelector": WEB, "topologyKey": ZONE}]
    target, neighbour = node("n1"), node("n2")  # both in zone z1
    assert verdict(anti_pod("p", terms=zone_term), target, [pod("web", "n2", labels={"app": "web"})], neighbour)
    assert not verdict(anti_pod("p", terms=zone_term), target, [pod("web", "n1", labels={"app": "web"})], neighbour)


def test_the_topology_key_only_has_to_be_on_the_node() -> None:
    target = node("n1")
    no_key = [{"labelSelector": WEB, "topologyKey": "rack"}]
    assert verdict(anti_pod("p", terms=no_key), target, [pod("web", "n1", labels={"app": "web"})])


def test_existing_pods_anti_affinity_against_the_candidate_is_not_checked() -> None:
    # Only the candidate's terms are read: a resident forbidding app=web does not keep a web pod out.
    resident = anti_pod("guard", "n1")
    newcomer = pod("p", labels={"app": "web"})
    assert verdict(newcomer, node("n1"), [resident])


def test_preferred_anti_affinity_never_blocks() -> None:
    assert verdict(anti_pod("p", preferred=True), node("n1"), [pod("web", "n1", labels={"app": "web"})])


def test_listed_namespaces_replace_the_pods_own_and_namespace_selector_is_not_read() -> None:
    target = node("n1")
    elsewhere = [pod("web", "n1", namespace="other", labels={"app": "web"})]
    listed = [{"labelSelector": WEB, "topologyKey": HOST, "namespaces": ["other"]}]
    every_namespace = [{"labelSelector": WEB, "topologyKey": HOST, "namespaceSelector": {}}]
    assert not verdict(anti_pod("p", terms=listed), target, elsewhere)
    assert verdict(anti_pod("p", terms=listed), target, [pod("web", "n1", labels={"app": "web"})])
    assert verdict(anti_pod("p", terms=every_namespace), target, elsewhere)


def test_a_pod_with_the_candidates_name_is_skipped_in_any_namespace() -> None:
    # assignedPod.Name == pod.Name is compared without the namespace.
    listed = [{"labelSelector": WEB, "topologyKey": HOST, "namespaces": ["other"]}]
    twin = pod("p", "n1", namespace="other", labels={"app": "web"})
    assert verdict(anti_pod("p", terms=listed), node("n1"), [twin])


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_finished_pods_on_the_node_do_not_block(phase: str) -> None:
    # ListPodsOnANode leaves out Succeeded and Failed pods.
    assert verdict(anti_pod("p"), node("n1"), [pod("web", "n1", labels={"app": "web"}, phase=phase)])


def test_a_nil_selector_selects_nothing_and_an_empty_one_everything() -> None:
    anyone = [pod("other", "n1", labels={"app": "db"})]
    assert verdict(anti_pod("p", terms=[{"topologyKey": HOST}]), node("n1"), anyone)
    assert not verdict(anti_pod("p", terms=[{"labelSelector": {}, "topologyKey": HOST}]), node("n1"), anyone)


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"app": "not a label value"}},
        {"matchExpressions": [{"key": "app", "operator": "In", "values": []}]},
        {"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["web"]}]},
        {"matchExpressions": [{"key": "bad key", "operator": "DoesNotExist"}]},
    ],
    ids=["invalid value", "In without values", "Exists with values", "invalid key"],
)
def test_a_term_whose_selector_does_not_convert_fits_nowhere(selector: dict[str, Any]) -> None:
    # LabelSelectorAsSelector's error makes NodeFit return it: even an empty node without the key.
    terms = [{"labelSelector": WEB, "topologyKey": HOST}, {"labelSelector": selector, "topologyKey": "rack"}]
    assert not verdict(anti_pod("p", terms=terms), node("empty"))


# -- NodeFit: PodMatchNodeSelector (nodeaffinity.GetRequiredNodeAffinity) -----------------------


def required(*terms: Mapping[str, Any]) -> dict[str, Any]:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}
    return {"affinity": affinity}


def expression(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


@pytest.mark.parametrize(
    ("term", "fits"),
    [
        (expression("disk", "NotIn", "not a label value"), False),
        (expression("disk", "NotIn", "hdd"), True),
        (expression("disk", "Exists", "ssd"), False),
        (expression("rank", "Gt", "7"), True),
        (expression("rank", "Gt", "-1"), False),
        (expression("rank", "Gt", "7", "8"), False),
        (expression("step", "Gt", "7"), False),
        ({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n", "m"]}]}, False),
        ({"matchFields": [{"key": "metadata.name", "operator": "Exists"}]}, False),
        ({"matchFields": [{"key": "spec.unknown", "operator": "NotIn", "values": ["x"]}]}, True),
    ],
    ids=[
        "NotIn with a value no label can have does not parse",
        "NotIn with a valid value",
        "Exists with values does not parse",
        "Gt 7 on rank 10",
        "Gt with a value that is no label value does not parse",
        "Gt with two values does not parse",
        "Gt on a label Go's ParseInt refuses (1_0)",
        "matchFields In needs exactly one value",
        "matchFields allows only In and NotIn",
        "matchFields on another field reads it as empty",
    ],
)
def test_node_selector_terms_parse_as_nodeaffinity_does(term: dict[str, Any], fits: bool) -> None:
    target = node("n", labels={"disk": "ssd", "rank": "10", "step": "1_0"})
    assert verdict(pod("p", spec=required(term)), target) is fits


def test_a_term_that_does_not_parse_leaves_the_others_to_match() -> None:
    target = node("n", labels={"disk": "ssd"})
    assert verdict(pod("p", spec=required(expression("disk", "Exists", "x"), expression("disk", "In", "ssd"))), target)


def test_required_node_affinity_without_terms_selects_no_node() -> None:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}
    assert not verdict(pod("p", spec={"affinity": affinity}), node("n"))


# -- NodeFit: fitsRequest ----------------------------------------------------------------------


def test_requests_are_not_checked_on_the_pods_own_node() -> None:
    full = node("n1", cpu="1", pods="1")
    own = pod("p", "n1", cpu="1")
    assert verdict(own, full)
    # ...but a replacement of it is a new pod, which needs the room.
    cluster = f.state([full], [own])
    assert not placement.fits(cluster, own, full, as_replacement=True)
    assert placement.first_fit(cluster, own, [full]) is None


def test_a_zero_request_fails_where_usage_already_exceeds_allocatable() -> None:
    # podRequest (0) > available (negative): "insufficient cpu".
    overcommitted = node("n1", cpu="1")
    residents = [pod("big", "n1", cpu="2")]
    assert not verdict(pod("p", cpu="0"), overcommitted, residents)
    assert verdict(pod("p", cpu=None), overcommitted, residents)  # cpu not requested: not compared


def test_a_zero_init_container_request_names_its_resource() -> None:
    overcommitted = node("n1", cpu="1")
    init = {"initContainers": [{"name": "init", "resources": {"requests": {"cpu": "0"}}}]}
    assert not verdict(pod("p", cpu=None, spec=init), overcommitted, [pod("big", "n1", cpu="2")])


def test_a_resource_the_node_does_not_list_has_nothing_free() -> None:
    gpu = {"containers": [{"name": "c", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]}
    none = {"containers": [{"name": "c", "resources": {"requests": {"nvidia.com/gpu": "0"}}}]}
    assert not verdict(pod("p", spec=gpu), node("n1"))
    assert verdict(pod("p", spec=none), node("n1"))


def test_a_node_with_no_pod_slot_left_does_not_fit() -> None:
    assert not verdict(pod("p", cpu=None, memory=None), node("n1", pods="1"), [pod("other", "n1")])


def test_a_node_reporting_only_capacity_has_no_room() -> None:
    # nodeAvailableResources reads status.allocatable only.
    raw = f.raw_node("n1")
    raw["status"]["capacity"] = raw["status"].pop("allocatable")
    bare = model.node_from_raw(raw)
    assert bare.allocatable["cpu"] == 4000  # what LowNodeUtilization falls back to
    assert not verdict(pod("p"), bare)


def test_pod_level_requests_replace_the_containers_cpu_and_memory() -> None:
    # resourcehelper.PodRequests: spec.resources.requests wins for cpu, memory and hugepages.
    spec = {"resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}
    p = pod("p", cpu="100m", memory="128Mi", spec=spec)
    assert p.requests["cpu"] == 3000 and p.requests["memory"] == 2**30
    assert not verdict(p, node("n1", cpu="2"))


# -- callers -----------------------------------------------------------------------------------


def test_spread_node_fit_answers_each_replica_for_its_own_node() -> None:
    # Replicas share a fit answer; checking room on every target keeps one replica's own node
    # (where NodeFit skips room) from counting as free for the next replica.
    full, other = node("n1", cpu="1"), node("n2", cpu="1")
    first, second = pod("a", "n1", cpu="1"), pod("b", "n2", cpu="1")
    h = f.harness(spread.SPEC, f.decode_args(spread.Args), f.state([full, other], [first, second]))
    checker = spread.FitChecker(h.handle, [full, other])
    assert not checker.fits_elsewhere(first)
    assert not checker.fits_elsewhere(second)


def test_spread_node_fit_does_not_share_anti_affinity_answers_across_namespaces() -> None:
    target = node("n1")
    blocker = pod("web", "n1", namespace="a", labels={"app": "web"})
    in_a, in_b = anti_pod("p", "n0", namespace="a"), anti_pod("p", "n0", namespace="b")
    h = f.harness(spread.SPEC, f.decode_args(spread.Args), f.state([target, node("n0")], [blocker, in_a, in_b]))
    checker = spread.FitChecker(h.handle, [target])
    assert not checker.fits_elsewhere(in_a)
    assert checker.fits_elsewhere(in_b)
