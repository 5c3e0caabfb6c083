from __future__ import annotations

from typing import Any

import pytest

from descheduler.plugins import remove_pods_violating_node_affinity as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f

REQUIRED = plugin.REQUIRED
PREFERRED = plugin.PREFERRED


def args(*types: str, **wire: object) -> plugin.Args:
    return f.decode_args(plugin.Args, nodeAffinityType=list(types), **wire)


def required(key: str, *values: str) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": key, "operator": "In", "values": list(values)}]}
    return {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [term]}}}


def preferred(*weighted: tuple[int, str, str]) -> dict[str, Any]:
    terms = [
        {"weight": w, "preference": {"matchExpressions": [{"key": k, "operator": "In", "values": [v]}]}}
        for w, k, v in weighted
    ]
    return {"nodeAffinity": {PREFERRED: terms}}


def affine(name: str, affinity: dict[str, Any], *, node: str = "n1", **kw: Any) -> Any:
    spec = {"affinity": affinity, **kw.pop("spec", {})}
    return f.pod(name, node=node, spec=spec, **kw)


def disk(name: str, value: str, **kw: Any) -> Any:
    return f.node(name, labels={"disk": value}, **kw)


def harness(a: plugin.Args, nodes: list[Any], pods: list[Any], **kw: Any) -> f.Harness:
    return f.harness(plugin.SPEC, a, f.state(nodes, pods), **kw)


# -- required -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("other_node", "expected"),
    [
        (disk("n2", "ssd"), ["p"]),
        (disk("n2", "hdd"), []),
        (disk("n2", "ssd", cpu="50m"), []),
        (disk("n2", "ssd", taints=[{"key": "k", "value": "", "effect": "NoSchedule"}]), []),
        (disk("n2", "ssd", unschedulable=True), []),
    ],
    ids=[
        "another node matches -> evicted",
        "no node matches -> kept",
        "matching node lacks cpu -> kept",
        "matching node tainted -> kept",
        "matching node cordoned -> kept",
    ],
)
def test_required_affinity_evicts_only_when_another_node_fits(other_node: Any, expected: list[str]) -> None:
    h = harness(args(REQUIRED), [disk("n1", "hdd"), other_node], [affine("p", required("disk", "ssd"))])
    assert h.run() == expected


def test_required_affinity_still_matching_keeps_the_pod() -> None:
    h = harness(args(REQUIRED), [disk("n1", "ssd"), disk("n2", "ssd")], [affine("p", required("disk", "ssd"))])
    assert h.run() == []


def test_node_selector_alone_is_not_enforced_like_upstream() -> None:
    pod = f.pod("p", node="n1", spec={"nodeSelector": {"disk": "ssd"}})
    assert harness(args(REQUIRED), [disk("n1", "hdd"), disk("n2", "ssd")], [pod]).run() == []


def test_node_selector_mismatch_counts_when_the_pod_has_required_affinity() -> None:
    pod = affine("p", required("zone", "a"), spec={"nodeSelector": {"disk": "ssd"}})
    nodes = [f.node("n1", labels={"zone": "a", "disk": "hdd"}), f.node("n2", labels={"zone": "a", "disk": "ssd"})]
    assert harness(args(REQUIRED), nodes, [pod]).run() == ["p"]


def test_required_type_ignores_preferred_affinity() -> None:
    pod = affine("p", preferred((10, "disk", "ssd")))
    assert harness(args(REQUIRED), [disk("n1", "hdd"), disk("n2", "ssd")], [pod]).run() == []


# -- preferred ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([(10, "disk", "ssd")], ["p"]),
        ([(10, "disk", "hdd")], []),
        ([(10, "disk", "hdd"), (5, "disk", "ssd")], []),
        ([(5, "disk", "hdd"), (10, "disk", "ssd")], ["p"]),
        ([(5, "disk", "hdd"), (5, "disk", "ssd")], []),
    ],
    ids=[
        "better node exists -> evicted",
        "current node is the best -> kept",
        "current weight higher -> kept",
        "other weight higher -> evicted",
        "equal weights -> kept",
    ],
)
def test_preferred_affinity_evicts_when_another_node_scores_higher(
    weights: list[tuple[int, str, str]], expected: list[str]
) -> None:
    h = harness(args(PREFERRED), [disk("n1", "hdd"), disk("n2", "ssd")], [affine("p", preferred(*weights))])
    assert h.run() == expected


def test_preferred_better_node_need_not_fit_like_upstream() -> None:
    # Upstream compares against the best weight over all nodes and accepts the current node as a fit.
    nodes = [disk("n1", "hdd"), disk("n2", "ssd", cpu="10m")]
    assert harness(args(PREFERRED), nodes, [affine("p", preferred((10, "disk", "ssd")))]).run() == ["p"]


def test_preferred_sums_matching_term_weights() -> None:
    pod = affine("p", preferred((3, "disk", "ssd"), (4, "zone", "a"), (6, "disk", "hdd")))
    nodes = [disk("n1", "hdd"), f.node("n2", labels={"disk": "ssd", "zone": "a"})]
    h = harness(args(PREFERRED), nodes, [pod])
    assert h.run() == ["p"]
    assert h.evictor.decisions[0].reason == "another node has preferred node affinity weight 7 > 6 here"


def test_preferred_weight_ignores_empty_preference() -> None:
    node = disk("n1", "ssd")
    assert plugin.preferred_weight([{"weight": 5, "preference": {}}], node) == 0


# -- both, arguments, limits ------------------------------------------------------------


def test_types_run_in_order_and_a_pod_is_evicted_once() -> None:
    both = {**required("disk", "ssd")["nodeAffinity"], **preferred((9, "disk", "ssd"))["nodeAffinity"]}
    pod = affine("both", {"nodeAffinity": both})
    pref_only = affine("pref", preferred((9, "disk", "ssd")))
    h = harness(args(REQUIRED, PREFERRED), [disk("n1", "hdd"), disk("n2", "ssd")], [pod, pref_only])
    assert h.run() == ["both", "pref"]
    assert h.evictor.decisions[0].reason.startswith("node no longer matches")


def test_namespaces_and_label_selector_narrow_the_pods() -> None:
    pods = [
        affine("a-x", required("disk", "ssd"), namespace="a", labels={"app": "x"}),
        affine("b-x", required("disk", "ssd"), namespace="b", labels={"app": "x"}),
        affine("a-y", required("disk", "ssd"), namespace="a", labels={"app": "y"}),
    ]
    a = args(REQUIRED, namespaces={"exclude": ["b"]}, labelSelector={"matchLabels": {"app": "x"}})
    assert harness(a, [disk("n1", "hdd"), disk("n2", "ssd")], pods).run() == ["a-x"]


def test_evictor_filter_protects_pods() -> None:
    pods = [affine("protected", required("disk", "ssd")), affine("plain", required("disk", "ssd"))]
    h = harness(
        args(REQUIRED), [disk("n1", "hdd"), disk("n2", "ssd")], pods, evictor_filter=lambda p: p.name == "plain"
    )
    assert h.run() == ["plain"]


def violating_on_two_nodes() -> tuple[list[Any], list[Any]]:
    nodes = [disk("a", "hdd"), disk("b", "hdd"), disk("c", "ssd")]
    pods = [affine(n, required("disk", "ssd"), node=n[0]) for n in ("a1", "a2", "b1")]
    return nodes, pods


def test_node_limit_moves_to_next_node() -> None:
    nodes, pods = violating_on_two_nodes()
    assert harness(args(REQUIRED), nodes, pods, limit=Limits(per_node=1)).run() == ["a1", "b1"]


def test_total_limit_stops_every_type() -> None:
    nodes, pods = violating_on_two_nodes()
    h = harness(args(REQUIRED, PREFERRED), nodes, pods, limit=Limits(total=1))
    assert h.run() == ["a1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit"]


def test_namespace_limit_skips_only_that_namespace() -> None:
    pods = [affine(n, required("disk", "ssd"), namespace=n[0]) for n in ("x1", "x2", "y1")]
    h = harness(args(REQUIRED), [disk("n1", "hdd"), disk("n2", "ssd")], pods, limit=Limits(per_namespace=1))
    assert h.run() == ["x1", "y1"]


def test_defaults_match_upstream() -> None:
    a = plugin.Args()
    assert (a.node_affinity_type, a.namespaces, a.label_selector) == ((), None, None)
    assert plugin.SPEC.extension_points == frozenset({"deschedule"})


@pytest.mark.parametrize(
    ("wire", "paths"),
    [
        ({}, [("nodeAffinityType", False)]),
        ({"nodeAffinityType": []}, [("nodeAffinityType", False)]),
        (
            {"nodeAffinityType": [REQUIRED, "requiredDuringSchedulingRequiredDuringExecution"]},
            [("nodeAffinityType[1]", True)],
        ),
        ({"nodeAffinityType": [REQUIRED], "namespaces": {"include": ["a"], "exclude": ["b"]}}, [("namespaces", False)]),
    ],
    ids=["unset rejected", "empty rejected", "unknown type only warned, like upstream", "include and exclude rejected"],
)
def test_validation_names_the_path(wire: dict[str, object], paths: list[tuple[str, bool]]) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert not problems and decoded is not None
    assert [(p.path, p.warning) for p in plugin.validate(decoded)] == paths


def test_unknown_type_is_skipped_and_the_known_ones_still_run() -> None:
    a = args("requiredDuringSchedulingRequiredDuringExecution", REQUIRED)
    h = harness(a, [disk("n1", "hdd"), disk("n2", "ssd")], [affine("p", required("disk", "ssd"))])
    assert h.run() == ["p"]


def test_finished_pods_are_left_alone() -> None:
    pods = [affine("failed", required("disk", "ssd"), phase="Failed"), affine("running", required("disk", "ssd"))]
    assert harness(args(REQUIRED), [disk("n1", "hdd"), disk("n2", "ssd")], pods).run() == ["running"]
