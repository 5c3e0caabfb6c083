from __future__ import annotations

from typing import Any

import pytest

from descheduler import model
from descheduler.plugins import remove_duplicates as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f

TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}


def args(**wire: object) -> plugin.Args:
    return f.decode_args(plugin.Args, **wire)


def copies(node: str, count: int, *, prefix: str = "", **kw: Any) -> list[model.Pod]:
    """``count`` pods of the default ReplicaSet rs-1 on ``node``."""
    return [f.pod(f"{prefix or node}-{i}", node=node, **kw) for i in range(count)]


def harness(
    pods: list[model.Pod], *, nodes: list[model.Node] | None = None, wire: dict[str, Any] | None = None, **kw: Any
) -> f.Harness:
    chosen = nodes if nodes is not None else [f.node(n) for n in ("n1", "n2", "n3")]
    return f.harness(plugin.SPEC, args(**(wire or {})), f.state(chosen, pods), **kw)


# -- what counts as a duplicate ------------------------------------------------------------


def test_copies_on_one_node_spread_over_all_nodes() -> None:
    # 3 copies over 3 feasible nodes: at most ceil(3/3) = 1 per node, the first copy stays.
    assert harness(copies("n1", 3)).run() == ["n1-1", "n1-2"]


def test_only_the_surplus_over_the_upper_average_is_evicted() -> None:
    # 4 copies over 3 nodes: ceil(4/3) = 2 per node; n1 has 3, so one goes.
    pods = [*copies("n1", 3), *copies("n2", 1)]
    assert harness(pods).run() == ["n1-2"]


def test_even_spread_evicts_nothing() -> None:
    assert harness([*copies("n1", 2), *copies("n2", 2)], nodes=[f.node("n1"), f.node("n2")]).run() == []


@pytest.mark.parametrize(
    "second",
    [
        {"images": ("nginx:2",)},
        {"owner": ("ReplicaSet", "rs-2")},
        {"owner": ("StatefulSet", "rs-1")},
        {"namespace": "other"},
    ],
    ids=["other image -> not a duplicate", "other owner name", "other owner kind", "other namespace"],
)
def test_pods_differing_in_owner_images_or_namespace_are_not_duplicates(second: dict[str, Any]) -> None:
    pods = [f.pod("first", node="n1"), f.pod("second", node="n1", **second)]
    assert harness(pods).run() == []


def test_image_order_does_not_matter() -> None:
    pods = [
        f.pod("first", node="n1", images=("a:1", "b:1")),
        f.pod("second", node="n1", images=("b:1", "a:1")),
    ]
    assert harness(pods).run() == ["second"]


def test_copies_with_images_in_another_order_count_for_the_same_owner() -> None:
    # 3 copies over 2 nodes allow 2 per node: n1's two copies stay.
    pods = [
        f.pod("n1-ab", node="n1", images=("a:1", "b:1")),
        f.pod("n1-ba", node="n1", images=("b:1", "a:1")),
        f.pod("n2-ab", node="n2", images=("a:1", "b:1")),
    ]
    assert harness(pods, nodes=[f.node("n1"), f.node("n2")]).run() == []


def test_pods_without_owners_are_never_duplicates() -> None:
    assert harness(copies("n1", 3, owner=None)).run() == []


def test_exclude_owner_kinds_keeps_such_pods() -> None:
    pods = [*copies("n1", 3, owner=("Job", "j")), *copies("n2", 3, prefix="rs", owner=("ReplicaSet", "r"))]
    assert harness(pods, wire={"excludeOwnerKinds": ["Job"]}).run() == ["rs-1", "rs-2"]


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"], ids=["succeeded ignored", "failed ignored"])
def test_terminal_pods_are_neither_duplicates_nor_counted(phase: str) -> None:
    pods = [f.pod("done", node="n1", phase=phase), f.pod("live", node="n1")]
    assert harness(pods).run() == []


def test_pods_the_evictor_protects_do_not_count() -> None:
    # The protected first copy is invisible, so "n1-1" becomes the node's reference copy.
    h = harness(copies("n1", 3), evictor_filter=lambda p: p.name != "n1-0")
    assert h.run() == ["n1-2"]


@pytest.mark.parametrize(
    ("namespaces", "expected"),
    [({"include": ["a"]}, ["a-1"]), ({"exclude": ["a"]}, ["b-1"])],
    ids=["include -> only a", "exclude -> all but a"],
)
def test_namespaces_limit_the_candidates(namespaces: dict[str, list[str]], expected: list[str]) -> None:
    pods = [*copies("n1", 2, prefix="a", namespace="a"), *copies("n1", 2, prefix="b", namespace="b")]
    assert harness(pods, wire={"namespaces": namespaces}).run() == expected


# -- feasible nodes ------------------------------------------------------------------------


def test_fewer_than_two_feasible_nodes_evicts_nothing() -> None:
    nodes = [f.node("n1"), f.node("n2", taints=[TAINT]), f.node("n3", taints=[TAINT])]
    assert harness(copies("n1", 3), nodes=nodes).run() == []


def test_tolerated_taints_keep_nodes_feasible() -> None:
    nodes = [f.node("n1"), f.node("n2", taints=[TAINT]), f.node("n3", taints=[TAINT])]
    assert harness(copies("n1", 3, spec={"tolerations": [TOLERATION]}), nodes=nodes).run() == ["n1-1", "n1-2"]


def test_prefer_no_schedule_taints_do_not_reduce_feasible_nodes() -> None:
    soft = {**TAINT, "effect": "PreferNoSchedule"}
    nodes = [f.node("n1"), f.node("n2", taints=[soft])]
    assert harness(copies("n1", 2), nodes=nodes).run() == ["n1-1"]


def test_node_selector_narrows_feasible_nodes() -> None:
    # Only n1 and n2 are zone a: 4 copies over 2 nodes -> 2 per node, n1 keeps two.
    nodes = [f.node("n1", labels={"zone": "a"}), f.node("n2", labels={"zone": "a"}), f.node("n3")]
    pods = copies("n1", 4, spec={"nodeSelector": {"zone": "a"}})
    assert harness(pods, nodes=nodes).run() == ["n1-2", "n1-3"]


def test_required_node_affinity_narrows_feasible_nodes() -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
            }
        }
    }
    nodes = [f.node("n1", labels={"zone": "a"}), f.node("n2", labels={"zone": "b"}), f.node("n3")]
    assert harness(copies("n1", 3, spec={"affinity": affinity}), nodes=nodes).run() == []


def test_a_copy_that_fits_a_single_node_adds_no_target_node() -> None:
    # n3 only suits "pinned", which fits nowhere else, so the spread is over n1 and n2: 2 per node.
    nodes = [f.node("n1"), f.node("n2"), f.node("n3", labels={"zone": "c"}, taints=[TAINT])]
    pinned = {"tolerations": [TOLERATION], "nodeSelector": {"zone": "c"}}
    pods = [f.pod("ref", node="n1"), f.pod("free", node="n1"), f.pod("pinned", node="n1", spec=pinned)]
    assert harness(pods, nodes=nodes).run() == ["pinned"]


def test_feasible_nodes_are_not_shared_between_different_node_selectors() -> None:
    nodes = [f.node("n1", labels={"zone": "a"}), f.node("n2", labels={"zone": "a"}), f.node("n3", labels={"zone": "b"})]
    zone_a = copies("n1", 2, owner=("ReplicaSet", "in-a"), spec={"nodeSelector": {"zone": "a"}})
    zone_b = copies("n3", 2, owner=("ReplicaSet", "in-b"), spec={"nodeSelector": {"zone": "b"}})
    assert harness([*zone_a, *zone_b], nodes=nodes).run() == ["n1-1"]


def test_resources_and_readiness_do_not_limit_feasible_nodes_like_upstream() -> None:
    nodes = [f.node("n1"), f.node("n2", cpu="0", ready=False)]
    assert harness(copies("n1", 2), nodes=nodes).run() == ["n1-1"]


def test_only_the_given_nodes_are_considered() -> None:
    h = harness(copies("n1", 3))
    assert h.run([h.state.nodes["n1"]]) == []


# -- limits and extension point ------------------------------------------------------------


def test_node_limit_moves_to_next_node() -> None:
    # 8 copies over 8 nodes: one per node, so n1 and n2 each have three surplus copies.
    pods = [*copies("n1", 4), *copies("n2", 4)]
    nodes = [f.node(f"n{i}") for i in range(1, 9)]
    h = harness(pods, nodes=nodes, limit=Limits(per_node=1))
    assert h.run() == ["n1-1", "n2-1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit", "planned", "limit"]


def test_namespace_limit_skips_only_that_namespace() -> None:
    pods = [*copies("n1", 3, prefix="x", namespace="x"), *copies("n1", 2, prefix="y", namespace="y")]
    h = harness(pods, limit=Limits(per_namespace=1))
    assert h.run() == ["x-1", "y-1"]


def test_total_limit_stops_the_plugin() -> None:
    pods = [*copies("n1", 3), *copies("n2", 3)]
    nodes = [f.node(n) for n in ("n1", "n2", "n3", "n4", "n5", "n6")]
    h = harness(pods, nodes=nodes, limit=Limits(total=1))
    assert h.run() == ["n1-1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit"]


def test_reason_names_owner_and_spread() -> None:
    h = harness(copies("n1", 2))
    h.run()
    assert h.evictor.decisions[0].reason == "duplicate of ReplicaSet/rs-1: more than 1 per node over 3 feasible nodes"


def test_spec_is_a_balance_plugin() -> None:
    assert plugin.SPEC.name == "RemoveDuplicates"
    assert plugin.SPEC.extension_points == frozenset({"balance"})


def test_defaults_match_upstream() -> None:
    a = plugin.Args()
    assert a.namespaces is None
    assert a.exclude_owner_kinds == ()
    assert plugin.validate(a) == []


def test_namespaces_include_and_exclude_are_rejected() -> None:
    decoded, problems = argspec.decode(plugin.Args, {"namespaces": {"include": ["a"], "exclude": ["b"]}}, "")
    assert not problems and decoded is not None
    assert [p.path for p in plugin.validate(decoded)] == ["namespaces"]


def test_label_selector_is_not_an_upstream_argument() -> None:
    _decoded, problems = argspec.decode(plugin.Args, {"labelSelector": {}}, "args")
    assert [p.path for p in problems] == ["args.labelSelector"]
