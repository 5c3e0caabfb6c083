from __future__ import annotations

from typing import Any

import pytest

from descheduler.plugins import remove_pods_violating_topology_spread_constraint as plugin
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from tests.descheduler import factories as f

ZONE = "zone"


def args(**wire: object) -> plugin.Args:
    return f.decode_args(plugin.Args, **wire)


def spread(max_skew: int = 1, key: str = ZONE, when: str = "DoNotSchedule", **extra: Any) -> dict[str, Any]:
    return {
        "maxSkew": max_skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "web"}},
        **extra,
    }


def zone_nodes(*zones: str, **kw: Any) -> list[Any]:
    return [f.node(f"n-{z}", labels={ZONE: z}, **kw) for z in zones]


def pods_in(
    counts: dict[str, int],
    *constraints: dict[str, Any],
    start: int = 0,
    labels: dict[str, str] | None = None,
    **kw: Any,
) -> list[Any]:
    """``counts`` maps a zone to how many pods run on its node; names are p<start>, p<start+1>, ..."""
    spec = {"topologySpreadConstraints": list(constraints or [spread()]), **kw.pop("spec", {})}
    made, i = [], start
    for zone, count in counts.items():
        for _ in range(count):
            made.append(f.pod(f"p{i}", node=f"n-{zone}", labels=labels or {"app": "web"}, spec=spec, **kw))
            i += 1
    return made


def run(nodes: list[Any], pods: list[Any], a: plugin.Args | None = None, **kw: Any) -> list[str]:
    return f.harness(plugin.SPEC, a or args(), f.state(nodes, pods), **kw).run()


@pytest.mark.parametrize(
    ("counts", "max_skew", "evicted"),
    [
        ({"a": 2, "b": 1}, 1, 0),
        ({"a": 3, "b": 1}, 1, 1),
        ({"a": 5, "b": 2}, 1, 1),
        ({"a": 4, "b": 0}, 1, 2),
        ({"a": 0, "b": 1, "c": 100}, 1, 66),
        ({"a": 0, "b": 1, "c": 3, "d": 5}, 1, 3),
        ({"a": 2, "b": 6}, 2, 1),
        ({"a": 8, "b": 7, "c": 0}, 1, 5),
        ({"a": 5, "b": 5, "c": 5}, 1, 0),
    ],
    ids=[
        "[2,1] skew 1 -> 0",
        "[3,1] skew 1 -> 1",
        "[5,2] skew 1 -> 1",
        "[4,0] skew 1 -> 2",
        "[0,1,100] skew 1 -> 66",
        "[0,1,3,5] skew 1 -> 3",
        "[2,6] skew 2 -> 1",
        "[8,7,0] skew 1 -> 5",
        "[5,5,5] balanced -> 0",
    ],
)
def test_domains_are_balanced_like_upstream(counts: dict[str, int], max_skew: int, evicted: int) -> None:
    nodes = zone_nodes(*counts)
    assert len(run(nodes, pods_in(counts, spread(max_skew)))) == evicted


def test_evicted_pods_come_from_the_back_of_the_largest_domains() -> None:
    # n-a: p0..p7, n-b: p8..p14; three leave a, two leave b.
    assert run(zone_nodes("a", "b", "c"), pods_in({"a": 8, "b": 7, "c": 0})) == ["p5", "p6", "p7", "p13", "p14"]


def test_empty_domain_counts_only_when_a_node_has_the_key() -> None:
    nodes = [*zone_nodes("a"), f.node("unlabelled")]
    assert run(nodes, pods_in({"a": 4})) == []


def test_pods_without_the_selector_labels_are_not_counted() -> None:
    pods = [*pods_in({"a": 1, "b": 1}), *pods_in({"a": 3}, start=10, labels={"app": "other"})]
    assert run(zone_nodes("a", "b"), pods) == []


def test_match_label_keys_split_the_count_per_revision() -> None:
    keyed = spread(matchLabelKeys=["rev"])
    pods = [
        *pods_in({"a": 2, "b": 2}, keyed, labels={"app": "web", "rev": "1"}),
        *pods_in({"a": 2}, keyed, start=10, labels={"app": "web", "rev": "2"}),
    ]
    assert run(zone_nodes("a", "b"), pods) == ["p11"]


def test_soft_constraints_need_schedule_anyway() -> None:
    pods = pods_in({"a": 3, "b": 1}, spread(when="ScheduleAnyway"))
    assert run(zone_nodes("a", "b"), pods) == []
    assert run(zone_nodes("a", "b"), pods, args(constraints=["DoNotSchedule", "ScheduleAnyway"])) == ["p2"]


def test_hard_constraints_can_be_left_out() -> None:
    assert run(zone_nodes("a", "b"), pods_in({"a": 3, "b": 1}), args(constraints=["ScheduleAnyway"])) == []


@pytest.mark.parametrize(
    ("node_fit", "expected"),
    [(True, []), (False, ["p2"])],
    ids=["nodeFit on: target lacks cpu -> kept", "nodeFit off -> evicted anyway"],
)
def test_topology_balance_node_fit(node_fit: bool, expected: list[str]) -> None:
    nodes = [f.node("n-a", labels={ZONE: "a"}), f.node("n-b", labels={ZONE: "b"}, cpu="50m")]
    assert run(nodes, pods_in({"a": 3, "b": 0}), args(topologyBalanceNodeFit=node_fit)) == expected


def test_node_fit_only_looks_at_nodes_below_the_average() -> None:
    # n-b2 has room but its domain is above the average, so p2 cannot go anywhere useful.
    nodes = [
        f.node("n-a", labels={ZONE: "a"}),
        f.node("n-b", labels={ZONE: "b"}, cpu="50m"),
        f.node("n-c", labels={ZONE: "c"}),
    ]
    pods = pods_in({"a": 3, "b": 0, "c": 2})
    assert run(nodes, pods) == []


def test_pods_that_fit_below_the_average_are_preferred() -> None:
    # Listing order would pick p2, which cannot go to the tainted zone; p0 can and is picked instead.
    taint = [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]
    nodes = [f.node("n-a", labels={ZONE: "a"}), f.node("n-b", labels={ZONE: "b"}, taints=taint)]
    tolerant = {"tolerations": [{"key": "gpu", "operator": "Exists"}]}
    pods = [*pods_in({"a": 1}, spec=tolerant), *pods_in({"a": 2}, start=1)]
    assert run(nodes, pods) == ["p0"]


def test_tainted_target_is_not_a_fit() -> None:
    taint = [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]
    nodes = [f.node("n-a", labels={ZONE: "a"}), f.node("n-b", labels={ZONE: "b"}, taints=taint)]
    assert run(nodes, pods_in({"a": 3, "b": 0})) == []


@pytest.mark.parametrize(
    ("policy", "expected"),
    [({}, ["p1"]), ({"nodeTaintsPolicy": "Ignore"}, ["p1"]), ({"nodeTaintsPolicy": "Honor"}, [])],
    ids=[
        "default ignores taints: empty tainted domain counts -> 1",
        "Ignore: same -> 1",
        "Honor: untolerated tainted domain dropped, balanced -> 0",
    ],
)
def test_node_taints_policy_decides_whether_a_tainted_domain_counts(
    policy: dict[str, str], expected: list[str]
) -> None:
    taint = [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]
    nodes = [*zone_nodes("a", "b"), f.node("n-c", labels={ZONE: "c"}, taints=taint)]
    pods = pods_in({"a": 2, "b": 1}, spread(**policy))
    assert run(nodes, pods, args(topologyBalanceNodeFit=False)) == expected


def windows_cluster(windows: int) -> list[Any]:
    linux = [f.node(f"lin{i}", labels={"node": f"lin{i}", "os": "linux"}) for i in range(3)]
    return [*linux, *(f.node(f"win{i}", labels={"node": f"win{i}", "os": "windows"}) for i in range(windows))]


@pytest.mark.parametrize(
    ("windows", "policy", "evicted"),
    [(3, {}, 0), (4, {}, 2), (3, {"nodeAffinityPolicy": "Ignore"}, 4)],
    ids=[
        "Honor (default): windows [3,3,2] is balanced -> 0",
        "Honor: a new windows node -> 2",
        "Ignore: empty linux nodes count too -> 4",
    ],
)
def test_node_affinity_policy_limits_domains_to_nodes_the_pod_may_use(
    windows: int, policy: dict[str, str], evicted: int
) -> None:
    spec = {"nodeSelector": {"os": "windows"}, "topologySpreadConstraints": [spread(key="node", **policy)]}
    pods = [
        f.pod(f"{node}-{j}", node=node, labels={"app": "web"}, spec=spec)
        for node, count in (("win0", 3), ("win1", 3), ("win2", 2))
        for j in range(count)
    ]
    assert len(run(windows_cluster(windows), pods, args(topologyBalanceNodeFit=False))) == evicted


def test_pods_without_node_selector_and_highest_priority_leave_first() -> None:
    pods = [
        f.pod(
            "pinned",
            node="n-a",
            labels={"app": "web"},
            spec={"nodeSelector": {ZONE: "a"}, "topologySpreadConstraints": [spread()]},
        ),
        f.pod("low", node="n-a", labels={"app": "web"}, priority=1, spec={"topologySpreadConstraints": [spread()]}),
        f.pod("high", node="n-a", labels={"app": "web"}, priority=9, spec={"topologySpreadConstraints": [spread()]}),
        f.pod("none", node="n-a", labels={"app": "web"}, spec={"topologySpreadConstraints": [spread()]}),
    ]
    assert run(zone_nodes("a", "b"), pods, args(topologyBalanceNodeFit=False)) == ["low", "high"]


def test_terminating_and_protected_pods_are_not_counted() -> None:
    pods = [*pods_in({"a": 2, "b": 1}), *pods_in({"a": 2}, start=10, deleting=True)]
    assert run(zone_nodes("a", "b"), pods) == []
    protected = pods_in({"a": 4, "b": 1})
    assert run(zone_nodes("a", "b"), protected, evictor_filter=lambda p: p.name not in ("p0", "p1")) == []


def test_constraints_apply_within_their_namespace_only() -> None:
    others = [f.pod(f"o{i}", node="n-a", namespace="other", labels={"app": "web"}) for i in range(3)]
    assert run(zone_nodes("a", "b"), [*pods_in({"a": 2, "b": 1}), *others]) == []


def test_namespaces_and_label_selector_narrow_what_is_counted() -> None:
    pods = pods_in({"a": 3, "b": 1}, namespace="team")
    assert run(zone_nodes("a", "b"), pods, args(namespaces={"exclude": ["team"]})) == []
    assert run(zone_nodes("a", "b"), pods, args(namespaces={"include": ["team"]})) == ["p2"]
    assert run(zone_nodes("a", "b"), pods, args(labelSelector={"matchLabels": {"app": "other"}})) == []


def test_nil_label_selector_matches_nothing() -> None:
    constraint = {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
    assert run(zone_nodes("a", "b"), pods_in({"a": 4, "b": 0}, constraint)) == []


@pytest.mark.parametrize(
    ("policy", "distinct"),
    [({}, 2), ({"nodeAffinityPolicy": "Ignore"}, 1)],
    ids=["Honor: different nodeSelectors make 2 constraints", "Ignore: one constraint"],
)
def test_identical_constraints_are_deduplicated(policy: dict[str, str], distinct: int) -> None:
    constraint = spread(**policy)
    pods = [
        *pods_in({"a": 2}, constraint),
        *pods_in({"a": 2}, constraint, start=2, spec={"nodeSelector": {"spot": "true"}}),
    ]
    assert len(plugin.namespace_constraints(pods, frozenset({"DoNotSchedule"}))) == distinct


def test_node_limit_skips_that_node_only() -> None:
    # The plan moves p5 and p4 off n-b, then p2 off n-a; n-b allows one eviction.
    cluster = f.state(zone_nodes("a", "b", "c", "d"), pods_in({"a": 3, "b": 3, "c": 0, "d": 0}))
    h = f.harness(plugin.SPEC, args(), cluster, limit=Limits(per_node=1))
    assert h.run() == ["p5", "p2"]
    assert [(d.pod, d.result.value) for d in h.evictor.decisions] == [
        ("p5", "planned"),
        ("p4", "limit"),
        ("p2", "planned"),
    ]


def test_total_limit_stops() -> None:
    h = f.harness(plugin.SPEC, args(), f.state(zone_nodes("a", "b"), pods_in({"a": 4})), limit=Limits(total=1))
    assert h.run() == ["p2"]
    assert [d.result.value for d in h.evictor.decisions] == ["planned", "limit"]


def test_namespace_limit_skips_the_namespace() -> None:
    pods = [*pods_in({"a": 4}, namespace="x"), *pods_in({"a": 4}, start=10, namespace="y")]
    assert run(zone_nodes("a", "b"), pods, limit=Limits(per_namespace=1)) == ["p2", "p12"]


@pytest.mark.parametrize(
    ("above", "below", "ideal", "max_skew", "moved"),
    [(3, 1, 2.0, 1, 1), (100, 0, 33.67, 1, 34), (6, 2, 4.0, 2, 1), (5, 4, 4.5, 0, 1)],
    ids=["half the excess", "up to the average", "skew 2", "skew 0 rounds up"],
)
def test_move_count(above: int, below: int, ideal: float, max_skew: int, moved: int) -> None:
    assert plugin.move_count(above, below, ideal, max_skew) == moved


def test_defaults_match_upstream() -> None:
    a = args()
    assert (a.constraints, a.topology_balance_node_fit, a.namespaces, a.label_selector) == (
        ("DoNotSchedule",),
        True,
        None,
        None,
    )
    assert plugin.SPEC.extension_points == frozenset({"balance"})


@pytest.mark.parametrize(
    ("wire", "paths"),
    [
        ({"constraints": ["DoNotSchedule", "Sometimes"]}, ["constraints[1]"]),
        ({"namespaces": {"include": ["a"], "exclude": ["b"]}}, ["namespaces"]),
    ],
    ids=["unknown constraint rejected", "include and exclude rejected"],
)
def test_validation_names_the_path(wire: dict[str, object], paths: list[str]) -> None:
    decoded, problems = argspec.decode(plugin.Args, wire, "")
    assert not problems and decoded is not None
    assert [p.path for p in plugin.validate(decoded)] == paths


def test_finished_pods_are_not_counted() -> None:
    pods = [*pods_in({"a": 2, "b": 1}), *pods_in({"a": 2}, start=10, phase="Failed")]
    assert run(zone_nodes("a", "b"), pods) == []


def test_pinned_pods_stay_and_unfit_ones_still_count_as_moved() -> None:
    # Upstream case: [4,0] would move 2; the pinned pods go last, the one whose required affinity
    # fits nowhere is picked but skipped, so only the plain pod leaves.
    impossible = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "foo", "operator": "In", "values": ["bar"]}]}]
            }
        }
    }
    pods = [
        *pods_in({"a": 2}, spec={"nodeSelector": {ZONE: "a"}}),
        *pods_in({"a": 1}, start=2, spec={"affinity": impossible}),
        *pods_in({"a": 1}, start=3),
    ]
    assert run(zone_nodes("a", "b"), pods) == ["p3"]


def test_pod_tolerating_the_tainted_target_moves() -> None:
    taint = [{"key": "taint-test", "value": "test", "effect": "NoSchedule"}]
    toleration = {"key": "taint-test", "value": "test", "operator": "Equal", "effect": "NoSchedule"}
    nodes = [f.node("n-a", labels={ZONE: "a"}), f.node("n-b", labels={ZONE: "b"}, taints=taint)]
    pods = [
        *pods_in({"a": 1}, spec={"tolerations": [toleration]}),
        *pods_in({"a": 1}, start=1, spec={"nodeSelector": {ZONE: "a"}}),
    ]
    assert run(nodes, pods) == ["p0"]


def test_pods_fitting_below_the_average_are_chosen_among_pinned_ones() -> None:
    # Upstream case "[2,1,0] with selectors, nodeAffinityPolicy=Ignore": one constraint, and p0
    # (which fits the empty zone) is moved rather than p1 (pinned to zone a).
    arch = "kubernetes.io/arch"
    nodes = [f.node(f"n-{z}", labels={ZONE: z, arch: "arm64"}) for z in ("a", "b", "c")]
    constraint = spread(nodeAffinityPolicy="Ignore")
    pods = [
        *pods_in({"a": 1}, constraint, spec={"nodeSelector": {arch: "arm64"}}),
        *pods_in({"a": 1}, constraint, start=1, spec={"nodeSelector": {ZONE: "a", arch: "arm64"}}),
        *pods_in({"b": 1}, constraint, start=2, spec={"nodeSelector": {arch: "arm64"}}),
    ]
    assert run(nodes, pods) == ["p0"]
