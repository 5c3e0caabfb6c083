from __future__ import annotations

from typing import Any

import pytest

from descheduler.plugins import remove_pods_violating_inter_pod_anti_affinity as plugin
from descheduler.policy.types import Limits
from tests.descheduler import factories as f

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def args(**wire: object) -> plugin.Args:
    return f.decode_args(plugin.Args, **wire)


def avoiding(labels: dict[str, str], key: str = HOST, **term: Any) -> dict[str, Any]:
    rule = {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **term}
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [rule]}}


def pod(name: str, *, node: str = "n1", affinity: dict[str, Any] | None = None, **kw: Any) -> Any:
    spec = {"affinity": affinity} if affinity else {}
    return f.pod(name, node=node, spec=spec, **kw)


def run(nodes: list[Any], pods: list[Any], a: plugin.Args | None = None, **kw: Any) -> list[str]:
    return f.harness(plugin.SPEC, a or args(), f.state(nodes, pods), **kw).run()


def zoned(name: str, zone: str) -> Any:
    return f.node(name, labels={ZONE: zone})


def test_pod_whose_term_matches_a_neighbour_is_evicted() -> None:
    pods = [pod("web", affinity=avoiding({"app": "db"})), pod("db", labels={"app": "db"})]
    assert run([f.node("n1")], pods) == ["web"]


def test_pod_matched_by_a_neighbours_term_is_not_evicted_for_it() -> None:
    # Upstream checks each pod's own terms; the neighbour is the one that violates.
    pods = [pod("db", labels={"app": "db"}, priority=0), pod("web", affinity=avoiding({"app": "db"}), priority=100)]
    assert run([f.node("n1")], pods) == ["web"]


@pytest.mark.parametrize(
    ("key", "zones", "expected"),
    [
        (ZONE, ("a", "a"), ["web"]),
        (ZONE, ("a", "b"), []),
        (HOST, ("a", "a"), []),
        ("missing-label", ("a", "a"), []),
    ],
    ids=[
        "same zone -> evicted",
        "other zone -> kept",
        "hostname key on other node -> kept",
        "nodes without the key never share a domain -> kept",
    ],
)
def test_topology_key_defines_the_domain(key: str, zones: tuple[str, str], expected: list[str]) -> None:
    pods = [pod("web", node="n1", affinity=avoiding({"app": "db"}, key)), pod("db", node="n2", labels={"app": "db"})]
    assert run([zoned("n1", zones[0]), zoned("n2", zones[1])], pods) == expected


def test_same_node_conflicts_even_without_the_topology_label() -> None:
    pods = [pod("web", affinity=avoiding({"app": "db"}, "missing-label")), pod("db", labels={"app": "db"})]
    assert run([f.node("n1")], pods) == ["web"]


def test_a_pod_matching_its_own_term_alone_is_fine() -> None:
    assert run([f.node("n1")], [pod("solo", labels={"app": "x"}, affinity=avoiding({"app": "x"}))]) == []


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ({}, []),
        ({"namespaces": ["other"]}, ["web"]),
        ({"namespaces": ["default", "third"]}, []),
        ({"namespaceSelector": {}}, []),
    ],
    ids=[
        "default is the pod's own namespace -> kept",
        "explicit namespace list -> evicted",
        "list without the neighbour's namespace -> kept",
        "namespaceSelector ignored like upstream -> kept",
    ],
)
def test_term_namespaces(term: dict[str, Any], expected: list[str]) -> None:
    pods = [
        pod("web", affinity=avoiding({"app": "db"}, **term)),
        pod("db", namespace="other", labels={"app": "db"}),
    ]
    assert run([f.node("n1")], pods) == expected


def test_lowest_priority_is_evicted_first_and_frees_the_other() -> None:
    mutual = avoiding({"app": "x"})
    pods = [
        pod("high", labels={"app": "x"}, affinity=mutual, priority=100),
        pod("low", labels={"app": "x"}, affinity=mutual, priority=1),
    ]
    assert run([f.node("n1")], pods) == ["low"]


def test_pods_without_priority_go_first_then_qos_breaks_ties() -> None:
    mutual = avoiding({"app": "x"})
    pods = [
        pod("guaranteed", labels={"app": "x"}, affinity=mutual, priority=5, status={"qosClass": "Guaranteed"}),
        pod("besteffort", labels={"app": "x"}, affinity=mutual, priority=5, status={"qosClass": "BestEffort"}),
        pod("unset", labels={"app": "x"}, affinity=mutual),
    ]
    h = f.harness(plugin.SPEC, args(), f.state([f.node("n1")], pods))
    assert h.run() == ["unset", "besteffort"]


def test_pod_kept_after_a_failed_eviction_still_counts() -> None:
    mutual = avoiding({"app": "x"})
    pods = [pod("a", labels={"app": "x"}, affinity=mutual), pod("b", labels={"app": "x"}, affinity=mutual)]
    # "a" cannot be evicted, so "b" still conflicts with it.
    assert run([f.node("n1")], pods, evictor_filter=lambda p: p.name != "a") == ["b"]


def test_namespaces_arg_limits_candidates_and_neighbours() -> None:
    pods = [
        pod("web", affinity=avoiding({"app": "db"}, namespaces=["b"])),
        pod("db", namespace="b", labels={"app": "db"}),
    ]
    assert run([f.node("n1")], pods, args(namespaces={"exclude": ["b"]})) == []
    assert run([f.node("n1")], pods, args(namespaces={"include": ["default", "b"]})) == ["web"]


def test_label_selector_arg_limits_candidates_and_neighbours() -> None:
    pods = [
        pod("web", labels={"team": "t"}, affinity=avoiding({"app": "db"})),
        pod("db", labels={"app": "db"}),
    ]
    assert run([f.node("n1")], pods, args(labelSelector={"matchLabels": {"team": "t"}})) == []


def test_match_expressions_in_selector() -> None:
    rule = {
        "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "cache", "db"]}]},
        "topologyKey": HOST,
    }
    affinity = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [rule]}}
    pods = [pod("web", affinity=affinity), pod("cache", labels={"app": "cache"})]
    assert run([f.node("n1")], pods) == ["web"]


def test_preferred_anti_affinity_is_ignored() -> None:
    rule = {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": HOST}}
    affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [rule]}}
    assert run([f.node("n1")], [pod("web", affinity=affinity), pod("db", labels={"app": "db"})]) == []


def violations_on(*nodes: str) -> list[Any]:
    mutual = avoiding({"app": "x"})
    return [pod(f"{n}{i}", node=n, labels={"app": "x"}, affinity=mutual) for n in nodes for i in (1, 2, 3)]


def test_node_limit_moves_to_next_node() -> None:
    nodes = [f.node("a"), f.node("b")]
    assert run(nodes, violations_on("a", "b"), limit=Limits(per_node=1)) == ["a1", "b1"]


def test_total_limit_stops() -> None:
    h = f.harness(
        plugin.SPEC, args(), f.state([f.node("a"), f.node("b")], violations_on("a", "b")), limit=Limits(total=1)
    )
    assert h.run() == ["a1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit"]


def test_namespace_limit_skips_only_that_namespace() -> None:
    mutual = avoiding({"app": "x"})
    pods = [pod(n, namespace=n[0], labels={"app": "x"}, affinity=mutual) for n in ("x1", "x2", "x3", "y1", "y2")]
    assert run([f.node("n1")], pods, limit=Limits(per_namespace=1)) == ["x1", "y1"]


def test_reason_names_the_neighbour() -> None:
    h = f.harness(
        plugin.SPEC,
        args(),
        f.state([f.node("n1")], [pod("web", affinity=avoiding({"app": "db"})), pod("db", labels={"app": "db"})]),
    )
    h.run()
    assert h.evictor.decisions[0].reason == f"required pod anti-affinity ({HOST}) violated by default/db"


def test_defaults_match_upstream() -> None:
    assert (args().namespaces, args().label_selector) == (None, None)
    assert plugin.SPEC.extension_points == frozenset({"deschedule"})


def test_validation_rejects_include_and_exclude() -> None:
    a = args(namespaces={"include": ["a"], "exclude": ["b"]})
    assert [p.path for p in plugin.validate(a)] == ["namespaces"]


def test_finished_neighbours_do_not_count() -> None:
    pods = [pod("web", affinity=avoiding({"app": "db"})), pod("db", labels={"app": "db"}, phase="Succeeded")]
    assert run([f.node("n1")], pods) == []
