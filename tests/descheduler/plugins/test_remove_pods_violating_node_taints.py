from __future__ import annotations

from typing import Any

import pytest

from descheduler.plugins import remove_pods_violating_node_taints as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f


def args(**wire: object) -> plugin.Args:
    return f.decode_args(plugin.Args, **wire)


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


def tolerating(name: str, *tolerations: dict[str, Any], node: str = "n1", **kw: Any) -> Any:
    return f.pod(name, node=node, spec={"tolerations": list(tolerations)}, **kw)


def run(node_taints: list[dict[str, str]], pods: list[Any], **wire: object) -> list[str]:
    h = f.harness(plugin.SPEC, args(**wire), f.state([f.node("n1", taints=node_taints)], pods))
    return h.run()


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        ([], ["p"]),
        ([{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}], []),
        ([{"key": "dedicated", "operator": "Exists"}], []),
        ([{"operator": "Exists"}], []),
        ([{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}], ["p"]),
        ([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}], ["p"]),
    ],
    ids=[
        "no toleration -> evicted",
        "exact toleration -> kept",
        "key Exists -> kept",
        "empty key Exists tolerates all -> kept",
        "other value -> evicted",
        "other effect -> evicted",
    ],
)
def test_pods_not_tolerating_a_noschedule_taint_are_evicted(tolerations: list[Any], expected: list[str]) -> None:
    assert run([taint("dedicated", "db")], [tolerating("p", *tolerations)]) == expected


@pytest.mark.parametrize(
    ("effect", "include_prefer", "expected"),
    [
        ("PreferNoSchedule", False, []),
        ("PreferNoSchedule", True, ["p"]),
        ("NoExecute", True, []),
    ],
    ids=[
        "PreferNoSchedule ignored by default",
        "PreferNoSchedule evicted with includePreferNoSchedule",
        "NoExecute is left to the taint manager",
    ],
)
def test_effects_considered(effect: str, include_prefer: bool, expected: list[str]) -> None:
    pods = [tolerating("p")]
    assert run([taint("k", "v", effect)], pods, includePreferNoSchedule=include_prefer) == expected


@pytest.mark.parametrize(
    ("excluded", "expected"),
    [
        (["dedicated"], []),
        (["dedicated=db"], []),
        (["dedicated=web"], ["p"]),
        (["other"], ["p"]),
    ],
    ids=["by key -> kept", "by key=value -> kept", "other value -> evicted", "other key -> evicted"],
)
def test_excluded_taints_match_key_or_key_value(excluded: list[str], expected: list[str]) -> None:
    assert run([taint("dedicated", "db")], [tolerating("p")], excludedTaints=excluded) == expected


def test_excluded_key_value_never_matches_a_taint_without_value() -> None:
    assert run([taint("dedicated")], [tolerating("p")], excludedTaints=["dedicated="]) == ["p"]


@pytest.mark.parametrize(
    ("included", "expected"),
    [
        (None, ["p"]),
        (["dedicated"], ["p"]),
        (["dedicated=db"], ["p"]),
        (["other"], []),
        ([], []),
    ],
    ids=[
        "unset -> every taint counts",
        "by key -> evicted",
        "by key=value -> evicted",
        "taint not listed -> kept",
        "empty list includes nothing -> kept",
    ],
)
def test_included_taints_restrict_the_taints_considered(included: list[str] | None, expected: list[str]) -> None:
    wire = {} if included is None else {"includedTaints": included}
    assert run([taint("dedicated", "db")], [tolerating("p")], **wire) == expected


def test_one_untolerated_taint_among_tolerated_ones_is_enough() -> None:
    pod = tolerating("p", {"key": "a", "operator": "Exists"})
    assert run([taint("a"), taint("b")], [pod]) == ["p"]


def test_namespaces_and_label_selector_narrow_the_pods() -> None:
    pods = [
        tolerating("in-a", namespace="a", labels={"app": "x"}),
        tolerating("in-b", namespace="b", labels={"app": "x"}),
        tolerating("in-a-other-label", namespace="a", labels={"app": "y"}),
    ]
    wire = {"namespaces": {"include": ["a"]}, "labelSelector": {"matchLabels": {"app": "x"}}}
    assert run([taint("k")], pods, **wire) == ["in-a"]


def test_excluded_namespace_is_skipped() -> None:
    pods = [tolerating("in-a", namespace="a"), tolerating("in-b", namespace="b")]
    assert run([taint("k")], pods, namespaces={"exclude": ["a"]}) == ["in-b"]


def test_evictor_filter_protects_pods() -> None:
    pods = [tolerating("protected"), tolerating("plain")]
    cluster = f.state([f.node("n1", taints=[taint("k")])], pods)
    h = f.harness(plugin.SPEC, args(), cluster, evictor_filter=lambda p: p.name != "protected")
    assert h.run() == ["plain"]


def two_tainted_nodes() -> Any:
    pods = [tolerating("a1", node="a"), tolerating("a2", node="a"), tolerating("b1", node="b")]
    return f.state([f.node("a", taints=[taint("k")]), f.node("b", taints=[taint("k")])], pods)


def test_node_limit_moves_to_next_node() -> None:
    h = f.harness(plugin.SPEC, args(), two_tainted_nodes(), limit=Limits(per_node=1))
    assert h.run() == ["a1", "b1"]


def test_total_limit_stops() -> None:
    h = f.harness(plugin.SPEC, args(), two_tainted_nodes(), limit=Limits(total=1))
    assert h.run() == ["a1"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit"]


def test_namespace_limit_skips_only_that_namespace() -> None:
    pods = [tolerating("x1", namespace="x"), tolerating("x2", namespace="x"), tolerating("y1", namespace="y")]
    cluster = f.state([f.node("n1", taints=[taint("k")])], pods)
    h = f.harness(plugin.SPEC, args(), cluster, limit=Limits(per_namespace=1))
    assert h.run() == ["x1", "y1"]


def test_reason_names_the_taint() -> None:
    h = f.harness(plugin.SPEC, args(), f.state([f.node("n1", taints=[taint("k", "v")])], [tolerating("p")]))
    h.run()
    assert h.evictor.decisions[0].reason == "untolerated taint k=v:NoSchedule"


def test_defaults_match_upstream() -> None:
    a = args()
    assert (a.include_prefer_no_schedule, a.excluded_taints, a.included_taints) == (False, (), None)
    assert (a.namespaces, a.label_selector) == (None, None)
    assert plugin.SPEC.extension_points == frozenset({"deschedule"})


@pytest.mark.parametrize(
    ("wire", "path"),
    [
        ({"excludedTaints": ["a"], "includedTaints": ["b"]}, "includedTaints"),
        ({"namespaces": {"include": ["a"], "exclude": ["b"]}}, "namespaces"),
    ],
    ids=["included and excluded taints rejected", "include and exclude namespaces rejected"],
)
def test_validation_names_the_path(wire: dict[str, object], path: str) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert not problems and decoded is not None
    assert [p.path for p in plugin.validate(decoded)] == [path]


def test_empty_included_with_excluded_is_valid_like_upstream() -> None:
    assert plugin.validate(args(excludedTaints=["a"], includedTaints=[])) == []


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_finished_pods_are_left_alone(phase: str) -> None:
    assert run([taint("k")], [tolerating("done", phase=phase), tolerating("running")]) == ["running"]
