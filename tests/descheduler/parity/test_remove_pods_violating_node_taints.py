"""RemovePodsViolatingNodeTaints against upstream v0.36's own tables.

pkg/framework/plugins/removepodsviolatingnodetaints/: TestDeletePodsViolatingNodeTaints and
TestToleratesTaint (node_taint_test.go), TestValidateRemovePodsViolatingNodeTaintsArgs
(validation_test.go) and TestSetDefaults_RemovePodsViolatingNodeTaintsArgs (defaults_test.go).
Param ids are upstream's case descriptions verbatim; tensile-only checks of what upstream's
source (not its tables) decides follow each table.
"""

from __future__ import annotations

from typing import Any

import pytest

from descheduler import matching
from descheduler.model import Taint
from descheduler.plugins import common
from descheduler.plugins import remove_pods_violating_node_taints as plugin
from descheduler.policy.types import Limits
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

# Upstream's createNoScheduleTaint/createPreferNoScheduleTaint ignore their key and value
# arguments: every taint they make is testTaint1=test1, so withTestingTaint1 and
# withBothTaints1 carry that same taint too.
TEST_TAINT_1 = {"key": "testTaint1", "value": "test1", "effect": "NoSchedule"}
PREFER_TEST_TAINT_1 = {"key": "testTaint1", "value": "test1", "effect": "PreferNoSchedule"}


def toleration(key: str, value: str, index: int, effect: str) -> dict[str, str]:
    """One toleration as addTolerationToPod builds it (no operator: Equal)."""
    return {"key": f"{key}{index}", "value": f"{value}{index}", "effect": effect}


TEST_TAINT_TOLERATION_1 = [toleration("testTaint", "test", 1, "NoSchedule")]
TEST_TAINT_X_TOLERATION_1 = [toleration("testTaintX", "testX", 1, "NoSchedule")]


def node(
    name: str, *taints: dict[str, str], millicpu: int = 2000, memory: int = 3000, pods: int = 10, **kw: Any
) -> Any:
    """buildTestNode: test.BuildTestNode(name, 2000, 3000, 10, apply), with these taints."""
    return up.build_node(name, millicpu, memory, pods, taints=taints, **kw)


def owned(
    name: str,
    node_name: str,
    *,
    tolerations: list[dict[str, str]] | None = None,
    spec: dict[str, Any] | None = None,
    **kw: Any,
) -> Any:
    """buildTestPodWithNormalOwnerRef(name, node, apply)."""
    full_spec = {**({"tolerations": tolerations} if tolerations is not None else {}), **(spec or {})}
    return up.build_pod(name, 100, 0, node_name, owners=[up.NORMAL_OWNER], spec=full_spec, **kw)


def kube_system_critical(name: str, node_name: str) -> Any:
    """withKubeSystemCriticalPod."""
    return owned(name, node_name, namespace="kube-system", priority=up.SYSTEM_CRITICAL_PRIORITY)


def local_storage(name: str, node_name: str) -> Any:
    """withLocalStorageVolume."""
    return owned(name, node_name, spec=up.HOST_PATH_EMPTY_DIR)


def mirror(name: str, node_name: str) -> Any:
    """test.SetMirrorPodAnnotation."""
    return owned(name, node_name, annotations=up.MIRROR_ANNOTATIONS)


def daemonset(name: str, node_name: str) -> Any:
    """buildTestPod(name, node, test.SetDSOwnerRef)."""
    return up.build_pod(name, 100, 0, node_name, owners=[up.DS_OWNER])


def case(
    description: str,
    pods: list[Any],
    nodes: list[Any],
    count: int,
    candidates: list[str],
    *,
    args: dict[str, Any] | None = None,
    evictor: dict[str, Any] | None = None,
    per_node: int | None = None,
    per_namespace: int | None = None,
    total: int | None = None,
) -> Any:
    """One row: upstream's expectedEvictedPodCount and the pods its comment says may go."""
    run = {"limit": Limits(per_node=per_node, per_namespace=per_namespace, total=total), "evictor_args": evictor}
    return pytest.param(pods, nodes, args or {}, run, count, candidates, id=description)


def three_pods_two_untolerating() -> list[Any]:
    return [
        owned("p1", "n1", tolerations=TEST_TAINT_TOLERATION_1),
        owned("p5", "n1"),
        owned("p6", "n1"),
    ]


def critical_mix(*extra: Any) -> list[Any]:
    return [kube_system_critical("p7", "n2"), daemonset("p8", "n2"), *extra]


# upstream TestDeletePodsViolatingNodeTaints, in its order
DESCHEDULE_CASES = [
    case(
        "Pods not tolerating node taint should be evicted",
        [
            owned("p1", "n1", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p2", "n1"),
            owned("p3", "n1", tolerations=TEST_TAINT_TOLERATION_1),
        ],
        [node("n1", TEST_TAINT_1)],
        1,
        ["p2"],
    ),
    case(
        "Pods with tolerations but not tolerating node taint should be evicted",
        [
            owned("p1", "n1", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p3", "n1", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p4", "n1", tolerations=TEST_TAINT_X_TOLERATION_1),
        ],
        [node("n1", TEST_TAINT_1)],
        1,
        ["p4"],
    ),
    case(
        "Only <maxNoOfPodsToEvictTotal> number of Pods not tolerating node taint should be evicted",
        three_pods_two_untolerating(),
        [node("n1", TEST_TAINT_1)],
        1,
        ["p5", "p6"],
        per_node=2,
        total=1,
    ),
    case(
        "Only <maxPodsToEvictPerNode> number of Pods not tolerating node taint should be evicted",
        three_pods_two_untolerating(),
        [node("n1", TEST_TAINT_1)],
        1,
        ["p5", "p6"],
        per_node=1,
    ),
    case(
        "Only <maxNoOfPodsToEvictPerNamespace> number of Pods not tolerating node taint should be evicted",
        three_pods_two_untolerating(),
        [node("n1", TEST_TAINT_1)],
        1,
        ["p5", "p6"],
        per_namespace=1,
    ),
    case(
        # upstream lists this row twice, identically
        "Only <maxNoOfPodsToEvictPerNamespace> number of Pods not tolerating node taint should be evicted "
        "(second copy)",
        three_pods_two_untolerating(),
        [node("n1", TEST_TAINT_1)],
        1,
        ["p5", "p6"],
        per_namespace=1,
    ),
    case(
        "Critical pods not tolerating node taint should not be evicted",
        critical_mix(local_storage("p9", "n2"), mirror("p10", "n2")),
        [node("n2", TEST_TAINT_1)],
        0,
        [],
    ),
    case(
        "Critical pods except storage pods not tolerating node taint should not be evicted",
        critical_mix(local_storage("p9", "n2"), mirror("p10", "n2")),
        [node("n2", TEST_TAINT_1)],
        1,
        ["p9"],
        evictor={"evictLocalStoragePods": True},
    ),
    case(
        "Critical and non critical pods, only non critical pods not tolerating node taint should be evicted",
        critical_mix(mirror("p10", "n2"), owned("p11", "n2")),
        [node("n2", TEST_TAINT_1)],
        1,
        ["p11"],
    ),
    case(
        "Critical and non critical pods, pods not tolerating node taint should be evicted even if they are critical",
        [owned("p2", "n1"), kube_system_critical("p7", "n2"), local_storage("p9", "n2"), mirror("p10", "n2")],
        [node("n1", TEST_TAINT_1), node("n2", TEST_TAINT_1)],
        2,
        ["p2", "p7"],
        evictor={"evictSystemCriticalPods": True},
    ),
    case(
        "Pod p2 doesn't tolerate taint on it's node, but also doesn't tolerate taints on other nodes",
        [
            owned("p1", "n1", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p2", "n1"),
            owned("p3", "n1", tolerations=TEST_TAINT_TOLERATION_1),
        ],
        [node("n1", TEST_TAINT_1), node("n2", TEST_TAINT_1)],
        0,
        [],
        evictor={"nodeFit": True},
    ),
    case(
        "Pod p12 doesn't tolerate taint on it's node, but other nodes don't match it's selector",
        [
            owned("p1", "n1", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p3", "n1", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p11", "n2", spec={"nodeSelector": {"datacenter": "west"}}),  # on n2, a node not in the list
        ],
        [node("n1", TEST_TAINT_1), node("n3", labels={"datacenter": "east"})],
        0,
        [],
        evictor={"nodeFit": True},
    ),
    case(
        "Pod p2 doesn't tolerate taint on it's node, but other nodes are unschedulable",
        [
            owned("p1", "n1", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p2", "n1"),
            owned("p3", "n1", tolerations=TEST_TAINT_TOLERATION_1),
        ],
        [node("n1", TEST_TAINT_1), node("n4", unschedulable=True)],
        0,
        [],
        evictor={"nodeFit": True},
    ),
    case(
        "Pods not tolerating PreferNoSchedule node taint should not be evicted when not enabled",
        [owned("p13", "n5", tolerations=[toleration("testTaint", "test", 0, "PreferNoSchedule")])],
        [node("n5", PREFER_TEST_TAINT_1)],
        0,
        [],
    ),
    case(
        "Pods not tolerating PreferNoSchedule node taint should be evicted when enabled",
        [owned("p13", "n5", tolerations=[toleration("testTaint", "test", 0, "PreferNoSchedule")])],
        [node("n5", PREFER_TEST_TAINT_1)],
        1,
        ["p13"],
        args={"includePreferNoSchedule": True},
    ),
    case(
        "Pods not tolerating excluded node taints (by key) should not be evicted",
        [owned("p2", "n1")],
        [node("n1", TEST_TAINT_1)],
        0,
        [],
        args={"excludedTaints": ["excludedTaint1", "testTaint1"]},
    ),
    case(
        "Pods not tolerating excluded node taints (by key and value) should not be evicted",
        [owned("p2", "n1")],
        [node("n1", TEST_TAINT_1)],
        0,
        [],
        args={"excludedTaints": ["testTaint1=test1"]},
    ),
    case(
        "The excluded taint matches the key of node1's taint, but does not match the value",
        [owned("p2", "n1")],
        [node("n1", TEST_TAINT_1)],
        1,
        ["p2"],
        args={"excludedTaints": ["testTaint1=test2"]},
    ),
    case(
        "Critical and non critical pods, pods not tolerating node taint can't be evicted because the only available "
        "node does not have enough resources.",
        [owned("p2", "n1"), kube_system_critical("p7", "n2"), local_storage("p9", "n2"), mirror("p10", "n2")],
        [node("n1", TEST_TAINT_1), node("n6", PREFER_TEST_TAINT_1, millicpu=1, memory=1, pods=1)],
        0,
        [],
        evictor={"evictSystemCriticalPods": True, "nodeFit": True},
    ),
    case(
        "Pods tolerating included taints should not get evicted even with other taints present",
        [owned("p1", "n1", tolerations=TEST_TAINT_TOLERATION_1)],  # on n1, a node not in the list
        [node("n7", TEST_TAINT_1, TEST_TAINT_1)],
        0,
        [],
        args={"includedTaints": ["testTaint1=test1"]},
    ),
    case(
        "Pods not tolerating not included taints should not get evicted",
        [
            owned("p1", "n1", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p2", "n1"),
            owned("p4", "n1", tolerations=TEST_TAINT_X_TOLERATION_1),
        ],
        [node("n1", TEST_TAINT_1)],
        0,
        [],
        args={"includedTaints": ["testTaint2=test2"]},
    ),
    case(
        "Pods tolerating includedTaint should not get evicted. Pods not tolerating includedTaints should get evicted",
        [
            owned("p1", "n1", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p2", "n1"),
            owned("p3", "n1", tolerations=TEST_TAINT_TOLERATION_1),
        ],
        [node("n1", TEST_TAINT_1)],
        1,
        ["p2"],
        args={"includedTaints": ["testTaint1=test1"]},
    ),
    case(
        # Upstream's comment says p14 goes; it is p15: its second addTolerationToPod replaces the first
        # toleration, and both node taints are testTaint1=test1 (see TEST_TAINT_1).
        "Pods not tolerating all taints are evicted when includedTaints is empty",
        [
            owned("p14", "n7", tolerations=TEST_TAINT_TOLERATION_1),
            owned("p15", "n7", tolerations=[toleration("testingTaint", "testing", 1, "NoSchedule")]),
        ],
        [node("n7", TEST_TAINT_1, TEST_TAINT_1)],
        1,
        ["p15"],
    ),
]


@pytest.mark.parametrize(("pods", "nodes", "args", "run", "count", "candidates"), DESCHEDULE_CASES)
def test_deschedule_evicts_what_upstream_evicts(
    pods: list[Any], nodes: list[Any], args: dict[str, Any], run: dict[str, Any], count: int, candidates: list[str]
) -> None:
    # Upstream asserts the count; where its comment allows either of two pods, so does this.
    decoded = f.decode_args(plugin.Args, **args)
    assert plugin.validate(decoded) == []
    evicted = up.harness(plugin.SPEC, decoded, nodes, pods, **run).run()
    assert len(evicted) == count
    assert set(evicted) <= set(candidates)


# -- upstream lenient input, beyond its table --------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param({"includedTaints": []}, [], id="includedTaints [] (set, empty) -> no taint counts, kept"),
        pytest.param({"includedTaints": None}, ["p"], id="includedTaints null (nil) -> every taint counts, evicted"),
        pytest.param({"excludedTaints": None}, ["p"], id="excludedTaints null (nil) -> nothing excluded, evicted"),
        pytest.param(
            {"includePreferNoSchedule": None}, ["p"], id="includePreferNoSchedule null (false) -> NoSchedule, evicted"
        ),
        pytest.param(
            {"excludedTaints": ["dedicated=db=x"]}, [], id="key=value whose value holds '=' matches literally -> kept"
        ),
        pytest.param(
            {"excludedTaints": ["dedicated:NoSchedule", ""]}, ["p"], id="other forms match no taint -> evicted"
        ),
        pytest.param(
            {"excludedTaints": ["other"], "includedTaints": []}, [], id="excluded with empty included is valid -> kept"
        ),
    ],
)
def test_lenient_args_are_accepted_and_mean_what_upstream_makes_of_them(
    args: dict[str, Any], expected: list[str]
) -> None:
    # upstream New(): includeTaint is "IncludedTaints == nil || key listed || key=value listed".
    assert up.errors(f.args_problems(plugin.SPEC, **args)) == []
    decoded = f.decode_args(plugin.Args, **args)
    nodes = [node("n1", {"key": "dedicated", "value": "db=x", "effect": "NoSchedule"})]
    assert up.harness(plugin.SPEC, decoded, nodes, [owned("p", "n1")]).run() == expected


# -- upstream TestToleratesTaint ---------------------------------------------------------


@pytest.mark.parametrize(
    ("tol", "taint", "tolerated"),
    [
        pytest.param(
            {"key": "foo", "operator": "Exists", "effect": "NoSchedule"},
            Taint("foo", "", "NoSchedule"),
            True,
            id="toleration and taint have the same key and effect, and operator is Exists, and taint has no value, "
            "expect tolerated",
        ),
        pytest.param(
            {"key": "foo", "operator": "Exists", "effect": "NoSchedule"},
            Taint("foo", "bar", "NoSchedule"),
            True,
            id="toleration and taint have the same key and effect, and operator is Exists, and taint has some value, "
            "expect tolerated",
        ),
        pytest.param(
            {"key": "", "operator": "Exists", "effect": "NoSchedule"},
            Taint("foo", "bar", "NoSchedule"),
            True,
            id="toleration and taint have the same effect, toleration has empty key and operator is Exists, "
            "means match all taints, expect tolerated",
        ),
        pytest.param(
            {"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"},
            Taint("foo", "bar", "NoSchedule"),
            True,
            id="toleration and taint have the same key, effect and value, and operator is Equal, expect tolerated",
        ),
        pytest.param(
            {"key": "foo", "operator": "Equal", "value": "value1", "effect": "NoSchedule"},
            Taint("foo", "value2", "NoSchedule"),
            False,
            id="toleration and taint have the same key and effect, but different values, and operator is Equal, "
            "expect not tolerated",
        ),
        pytest.param(
            {"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"},
            Taint("foo", "bar", "NoExecute"),
            False,
            id="toleration and taint have the same key and value, but different effects, and operator is Equal, "
            "expect not tolerated",
        ),
    ],
)
def test_toleration_tolerates_as_upstream_table(tol: dict[str, str], taint: Taint, tolerated: bool) -> None:
    assert matching.toleration_tolerates(tol, taint) is tolerated


@pytest.mark.parametrize(
    ("tol", "taint_value", "tolerated"),
    [
        ({"key": "n", "operator": "Gt", "value": "4"}, "8", True),
        ({"key": "n", "operator": "Gt", "value": "4"}, "4", False),
        ({"key": "n", "operator": "Lt", "value": "4"}, "-2", True),
        ({"key": "n", "operator": "Lt", "value": "4"}, "8", False),
        ({"key": "n", "operator": "Gt", "value": "4"}, "08", False),
        ({"key": "n", "operator": "Gt", "value": "+4"}, "8", False),
        ({"key": "n", "operator": "Lt", "value": "1"}, "-0", False),
        ({"key": "n", "operator": "Gt", "value": "4"}, "9223372036854775808", False),
        ({"key": "n", "operator": "Gt", "value": "4"}, "many", False),
        ({"key": "n", "operator": "Matches", "value": "8"}, "8", False),
        ({"operator": "Equal", "value": "8"}, "8", True),
        ({"value": "7"}, "8", False),
    ],
    ids=[
        "Gt, taint value above -> tolerated",
        "Gt, taint value equal -> not tolerated",
        "Lt, negative taint value below -> tolerated",
        "Lt, taint value above -> not tolerated",
        "leading zero is not canonical -> not tolerated",
        "plus sign is not canonical -> not tolerated",
        "-0 is not canonical -> not tolerated",
        "beyond int64 -> not tolerated",
        "not a number -> not tolerated",
        "unknown operator -> not tolerated",
        "empty key, Equal, same value -> tolerated (any key)",
        "empty key, no operator, other value -> not tolerated",
    ],
)
def test_toleration_tolerates_as_upstream_source(tol: dict[str, str], taint_value: str, tolerated: bool) -> None:
    # Not in upstream's table: core/v1 Toleration.ToleratesTaint (k8s.io/api v0.36.1), which
    # utils.TolerationsTolerateTaint calls with comparison operators enabled.
    assert matching.toleration_tolerates(tol, Taint("n", taint_value, "NoSchedule")) is tolerated


@pytest.mark.parametrize(
    ("threshold", "expected"), [("4", []), ("16", ["p"])], ids=["Gt 4 < 8 -> kept", "Gt 16 > 8 -> evicted"]
)
def test_gt_toleration_is_compared_by_the_plugin(threshold: str, expected: list[str]) -> None:
    pods = [owned("p", "n1", tolerations=[{"key": "gpus", "operator": "Gt", "value": threshold}])]
    nodes = [node("n1", {"key": "gpus", "value": "8", "effect": "NoSchedule"})]
    assert up.harness(plugin.SPEC, plugin.Args(), nodes, pods).run() == expected


# -- upstream TestValidateRemovePodsViolatingNodeTaintsArgs -----------------------------


@pytest.mark.parametrize(
    ("wire", "expected_errors"),
    [
        pytest.param({"namespaces": {"include": ["default"]}}, [], id="valid namespace args, no errors"),
        pytest.param(
            {"namespaces": {"include": ["default"], "exclude": ["kube-system"]}},
            ["namespaces"],
            id="invalid namespaces args, expects error",
        ),
        pytest.param(
            {"labelSelector": {"matchLabels": {"role.kubernetes.io/node": ""}}},
            [],
            id="valid label selector args, no errors",
        ),
        pytest.param(
            {"labelSelector": {"matchExpressions": [{"operator": "In"}]}},
            ["labelSelector.matchExpressions[0]"],
            id="invalid label selector args, expects errors",
        ),
        pytest.param({"excludedTaints": ["testTaint1=test1"]}, [], id="valid taint filters, no errors"),
        pytest.param(
            {"excludedTaints": ["do-not-evict"], "includedTaints": ["testTaint1=test1"]},
            ["includedTaints"],
            id="invalid taint filters args, expects errors",
        ),
    ],
)
def test_validation_refuses_what_upstream_refuses(wire: dict[str, Any], expected_errors: list[str]) -> None:
    problems = f.args_problems(plugin.SPEC, **wire)
    assert up.errors(problems) == expected_errors
    assert not [p for p in problems if p.warning]


# -- upstream TestSetDefaults_RemovePodsViolatingNodeTaintsArgs ---------------------------


def test_defaults_of_empty_args_are_upstreams() -> None:
    # "RemovePodsViolatingNodeTaintsArgs empty": everything nil or false
    decoded = f.decode_args(plugin.Args)
    assert decoded == plugin.Args()
    assert (decoded.namespaces, decoded.label_selector, decoded.include_prefer_no_schedule) == (None, None, False)
    assert (decoded.excluded_taints, decoded.included_taints) == ((), None)


def test_defaults_keep_given_values() -> None:
    # "RemovePodsViolatingNodeTaintsArgs with value": every given value stays as given
    decoded = f.decode_args(
        plugin.Args,
        namespaces={},
        labelSelector={},
        includePreferNoSchedule=False,
        excludedTaints=["ExcludedTaints"],
        includedTaints=["IncludedTaints"],
    )
    assert (decoded.namespaces, decoded.label_selector, decoded.include_prefer_no_schedule) == (
        common.Namespaces(),
        {},
        False,
    )
    assert (decoded.excluded_taints, decoded.included_taints) == (("ExcludedTaints",), ("IncludedTaints",))
