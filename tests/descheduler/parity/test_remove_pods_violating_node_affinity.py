"""RemovePodsViolatingNodeAffinity against upstream v0.36's own tables.

pkg/framework/plugins/removepodsviolatingnodeaffinity/: TestRemovePodsViolatingNodeAffinity
(node_affinity_test.go), TestValidateRemovePodsViolatingNodeAffinityArgs (validation_test.go) and
TestSetDefaults_RemovePodsViolatingNodeAffinityArgs (defaults_test.go). Param ids are upstream's
case descriptions verbatim; tensile-only checks of upstream's lenient input follow each table.
"""

from __future__ import annotations

from typing import Any

import pytest

from descheduler.errors import Problem
from descheduler.plugins import common
from descheduler.plugins import remove_pods_violating_node_affinity as plugin
from descheduler.policy.types import Limits
from tests.descheduler import factories as f
from tests.descheduler.parity import upstream as up

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
INVALID = "requiredDuringSchedulingRequiredDuringExecution"

NODE_LABEL = {"kubernetes.io/desiredNode": "yes"}
WITH_LABELS = "nodeWithLabels"
WITHOUT_LABELS = "nodeWithoutLabels"
TERM = {"matchExpressions": [{"key": "kubernetes.io/desiredNode", "operator": "In", "values": ["yes"]}]}
AFFINITY = {
    REQUIRED: {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [TERM]}}},
    PREFERRED: {"nodeAffinity": {PREFERRED: [{"weight": 10, "preference": TERM}]}},
    INVALID: {"nodeAffinity": {}},  # upstream's addPodsToNode sets no affinity term for this type
}


def build_test_node(name: str, **kw: Any) -> Any:
    """buildTestNode: test.BuildTestNode(name, 2000, 3000, 10, apply)."""
    return up.build_node(name, 2000, 3000, 10, **kw)


def without_labels() -> Any:
    return build_test_node(WITHOUT_LABELS)


def with_labels() -> Any:
    return build_test_node(WITH_LABELS, labels=NODE_LABEL)


def unschedulable_with_labels() -> Any:
    """buildUnschedulableNodeWithLabels()."""
    return build_test_node("unschedulableNodeWithLabels", labels=NODE_LABEL, unschedulable=True)


def pods_on(node: str, affinity_type: str, *, terminating: bool = False) -> list[Any]:
    """addPodsToNode: one pod with the node affinity of ``affinity_type`` and two plain pods, each
    buildTestPod(name, node, ...) (100m CPU) with test.GetNormalPodOwnerRefList()."""
    spec = {"affinity": AFFINITY[affinity_type]}
    owned = {"owners": [up.NORMAL_OWNER], "deleting": terminating}
    return [
        up.build_pod("podWithNodeAffinity", 100, 0, node, spec=spec, **owned),
        up.build_pod("pod1", 100, 0, node, **owned),
        up.build_pod("pod2", 100, 0, node, **owned),
    ]


def case(
    description: str,
    types: list[str],
    pods: list[Any],
    nodes: list[Any],
    expected: list[str],
    *,
    per_node: int | None = None,
    per_namespace: int | None = None,
    total: int | None = None,
    node_fit: bool = False,
) -> Any:
    limit = Limits(per_node=per_node, per_namespace=per_namespace, total=total)
    return pytest.param(types, pods, nodes, limit, node_fit, expected, id=description)


EVICTED = ["podWithNodeAffinity"]

# upstream TestRemovePodsViolatingNodeAffinity, in its order
DESCHEDULE_CASES = [
    case(
        "Invalid Affinity type, should not evict any pods",
        [INVALID],
        pods_on(WITHOUT_LABELS, INVALID),
        [without_labels(), with_labels()],
        [],
    ),
    case(
        "Pod is correctly scheduled on node, no eviction expected [required affinity]",
        [REQUIRED],
        pods_on(WITH_LABELS, REQUIRED),
        [with_labels()],
        [],
    ),
    case(
        "Pod is correctly scheduled on node, no eviction expected [preferred affinity]",
        [PREFERRED],
        pods_on(WITH_LABELS, PREFERRED),
        [with_labels()],
        [],
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, should be evicted",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED),
        [without_labels(), with_labels()],
        EVICTED,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available with better fit, "
        "should be evicted",
        [PREFERRED],
        pods_on(WITHOUT_LABELS, PREFERRED),
        [without_labels(), with_labels()],
        EVICTED,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxPodsToEvictPerNode set to 1, should be evicted [required affinity]",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED),
        [without_labels(), with_labels()],
        EVICTED,
        per_node=1,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxPodsToEvictPerNode set to 1, should be evicted [preferred affinity]",
        [PREFERRED],
        pods_on(WITHOUT_LABELS, PREFERRED),
        [without_labels(), with_labels()],
        EVICTED,
        per_node=1,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxPodsToEvictPerNode set to 0, should be not evicted [required affinity]",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED),
        [without_labels(), with_labels()],
        [],
        per_node=0,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxPodsToEvictPerNode set to 0, should be not evicted [preferred affinity]",
        [PREFERRED],
        pods_on(WITHOUT_LABELS, PREFERRED),
        [without_labels(), with_labels()],
        [],
        per_node=0,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxPodsToEvictPerNode set to 1, no pod evicted since pod terminating [required affinity]",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED, terminating=True),
        [without_labels(), with_labels()],
        [],
        per_node=1,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxPodsToEvictPerNode set to 1, no pod evicted since pod terminating [preferred affinity]",
        [PREFERRED],
        pods_on(WITHOUT_LABELS, PREFERRED, terminating=True),
        [without_labels(), with_labels()],
        [],
        per_node=1,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxNoOfPodsToEvictPerNamespace set to 1, should be evicted [required affinity]",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED),
        [without_labels(), with_labels()],
        EVICTED,
        per_namespace=1,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxNoOfPodsToEvictTotal set to 0, should not be evicted [required affinity]",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED),
        [without_labels(), with_labels()],
        [],
        per_namespace=1,
        total=0,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxNoOfPodsToEvictPerNamespace set to 1, should be evicted [preferred affinity]",
        [PREFERRED],
        pods_on(WITHOUT_LABELS, PREFERRED),
        [without_labels(), with_labels()],
        EVICTED,
        per_namespace=1,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxNoOfPodsToEvictPerNamespace set to 0, should not be evicted [required affinity]",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED),
        [without_labels(), with_labels()],
        [],
        per_namespace=0,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxNoOfPodsToEvictPerNamespace set to 0, should not be evicted [preferred affinity]",
        [PREFERRED],
        pods_on(WITHOUT_LABELS, PREFERRED),
        [without_labels(), with_labels()],
        [],
        per_namespace=0,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxNoOfPodsToEvictPerNamespace set to 1, no pod evicted since pod terminting [required affinity]",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED, terminating=True),
        [without_labels(), with_labels()],
        [],
        per_namespace=1,
    ),
    case(
        "Pod is scheduled on node without matching labels, another schedulable node available, "
        "maxNoOfPodsToEvictPerNamespace set to 1, no pod evicted since pod terminting [preferred affinity]",
        [PREFERRED],
        pods_on(WITHOUT_LABELS, PREFERRED, terminating=True),
        [without_labels(), with_labels()],
        [],
        per_namespace=1,
    ),
    case(
        "Pod is scheduled on node without matching labels, but no node where pod fits is available, "
        "should not evict [required affinity]",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED),
        [without_labels(), unschedulable_with_labels()],
        [],
        node_fit=True,
    ),
    case(
        "Pod is scheduled on node without matching labels, but no node where pod fits is available, "
        "should not evict [preferred affinity]",
        [PREFERRED],
        pods_on(WITHOUT_LABELS, PREFERRED),
        [without_labels(), unschedulable_with_labels()],
        [],
        node_fit=True,
    ),
    case(
        "Pod is scheduled on node without matching labels, and unschedulable node where pod could fit is available, "
        "should not evict [required affinity]",
        [REQUIRED],
        pods_on(WITHOUT_LABELS, REQUIRED),
        [with_labels(), unschedulable_with_labels()],
        [],
        per_node=1,
        node_fit=True,
    ),
    case(
        "Pod is scheduled on node without matching labels, and unschedulable node where pod could fit is available, "
        "should not evict [preferred affinity]",
        [PREFERRED],
        pods_on(WITHOUT_LABELS, PREFERRED),
        [with_labels(), unschedulable_with_labels()],
        [],
        per_node=1,
        node_fit=True,
    ),
]


@pytest.mark.parametrize(("types", "pods", "nodes", "limit", "node_fit", "expected"), DESCHEDULE_CASES)
def test_deschedule_evicts_what_upstream_evicts(
    types: list[str], pods: list[Any], nodes: list[Any], limit: Limits, node_fit: bool, expected: list[str]
) -> None:
    # Upstream asserts the count only; with one candidate pod per case its name is implied.
    args = f.decode_args(plugin.Args, nodeAffinityType=types)
    evicted = up.harness(plugin.SPEC, args, nodes, pods, evictor_args={"nodeFit": node_fit}, limit=limit).run()
    assert evicted == expected


# -- upstream lenient input, beyond its table --------------------------------------------


def test_unknown_type_is_a_warning_with_upstreams_verdict() -> None:
    args = f.decode_args(plugin.Args, nodeAffinityType=["preferredDuringScheduling"])
    message = 'unknown type "preferredDuringScheduling"; ignored as upstream does'
    assert plugin.validate(args) == [Problem("nodeAffinityType[0]", message, warning=True)]


def test_unknown_type_is_skipped_while_the_known_ones_run() -> None:
    # upstream Deschedule: default: logger.Error(nil, "Invalid nodeAffinityType", ...), then the next entry
    args = f.decode_args(plugin.Args, nodeAffinityType=[INVALID, PREFERRED])
    assert [(p.path, p.warning) for p in plugin.validate(args)] == [("nodeAffinityType[0]", True)]
    pods = pods_on(WITHOUT_LABELS, PREFERRED)
    assert up.harness(plugin.SPEC, args, [without_labels(), with_labels()], pods).run() == EVICTED


# -- upstream TestValidateRemovePodsViolatingNodeAffinityArgs ----------------------------


@pytest.mark.parametrize(
    ("wire", "expected_errors"),
    [
        pytest.param({}, ["nodeAffinityType"], id="nil NodeAffinityType args, expects errors"),
        pytest.param({"nodeAffinityType": []}, ["nodeAffinityType"], id="empty NodeAffinityType args, expects errors"),
        pytest.param({"nodeAffinityType": [REQUIRED]}, [], id="valid NodeAffinityType args, no errors"),
        pytest.param(
            {"nodeAffinityType": [REQUIRED], "namespaces": {"include": ["default"], "exclude": ["kube-system"]}},
            ["namespaces"],
            id="invalid namespaces args, expects error",
        ),
        pytest.param(
            {"nodeAffinityType": [], "namespaces": {"include": ["default"], "exclude": ["kube-system"]}},
            ["nodeAffinityType", "namespaces"],
            id="nil NodeAffinityType args and invalid namespaces args, expects error",
        ),
    ],
)
def test_validation_refuses_what_upstream_refuses(wire: dict[str, Any], expected_errors: list[str]) -> None:
    problems = f.args_problems(plugin.SPEC, **wire)
    assert up.errors(problems) == expected_errors
    assert not [p for p in problems if p.warning]


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param({"nodeAffinityType": [INVALID]}, id="only unknown types -> accepted with a warning"),
        pytest.param({"nodeAffinityType": [REQUIRED, INVALID]}, id="known and unknown types -> accepted, a warning"),
    ],
)
def test_unknown_types_are_accepted_like_upstream(wire: dict[str, Any]) -> None:
    # upstream ValidateRemovePodsViolatingNodeAffinityArgs checks len(NodeAffinityType) only.
    problems = f.args_problems(plugin.SPEC, **wire)
    assert up.errors(problems) == []
    assert [p.path for p in problems if p.warning] == [f"nodeAffinityType[{len(wire['nodeAffinityType']) - 1}]"]


def test_null_type_list_is_unset_and_refused_like_upstream() -> None:
    # JSON null decodes to a nil slice upstream: "nodeAffinityType needs to be set".
    assert up.errors(f.args_problems(plugin.SPEC, nodeAffinityType=None)) == ["nodeAffinityType"]


# -- upstream TestSetDefaults_RemovePodsViolatingNodeAffinityArgs -------------------------


def test_defaults_of_empty_args_are_upstreams() -> None:
    # "RemovePodsViolatingNodeAffinityArgs empty": Namespaces nil, LabelSelector nil
    decoded = f.decode_args(plugin.Args)
    assert decoded == plugin.Args()
    assert (decoded.namespaces, decoded.label_selector, decoded.node_affinity_type) == (None, None, ())


def test_defaults_keep_given_empty_values() -> None:
    # "RemovePodsViolatingNodeAffinityArgs with value": empty Namespaces and LabelSelector stay set
    decoded = f.decode_args(plugin.Args, namespaces={}, labelSelector={})
    assert (decoded.namespaces, decoded.label_selector) == (common.Namespaces(), {})
