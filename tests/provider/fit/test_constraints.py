"""The mirror's constraint swap as a pure function: the lower scheduler's view of an upper pod."""

from __future__ import annotations

import json
from typing import Any

import pytest

from descheduler import keys
from provider.fit import constraints

UPPER_SPEC: dict[str, Any] = {
    "nodeSelector": {"type": "virtual-kubelet", keys.OS_LABEL: "linux"},
    "affinity": {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []},
    },
    "tolerations": [{"key": keys.VIRTUAL_NODE_TAINT_KEY, "operator": "Exists"}],
}
STASH: dict[str, Any] = {
    "nodeSelector": {"disktype": "ssd"},
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
        }
    },
    "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
}


def stashed(stash: Any) -> dict[str, str]:
    return {keys.STASHED_CONSTRAINTS_ANNOTATION: stash if isinstance(stash, str) else json.dumps(stash)}


def test_the_stash_replaces_the_virtual_node_constraints() -> None:
    lower = constraints.lower_constraints(UPPER_SPEC, stashed(STASH))
    assert lower.node_selector == {keys.OS_LABEL: "linux", "disktype": "ssd"}
    assert lower.affinity == {
        "nodeAffinity": STASH["nodeAffinity"],
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []},
    }
    assert lower.tolerations == UPPER_SPEC["tolerations"] + STASH["tolerations"]
    assert lower.problems == ()


def test_the_spec_and_annotations_are_not_changed() -> None:
    spec = json.loads(json.dumps(UPPER_SPEC))
    lower = constraints.lower_constraints(spec, stashed(STASH))
    assert lower.tolerations is not None
    lower.tolerations.append({"key": "x"})
    assert spec == UPPER_SPEC


def test_without_a_stash_only_platform_labels_and_tolerations_remain() -> None:
    lower = constraints.lower_constraints(UPPER_SPEC, {})
    assert lower.node_selector == {keys.OS_LABEL: "linux"}
    assert lower.affinity == {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}
    assert lower.tolerations == UPPER_SPEC["tolerations"]


def test_an_empty_spec_has_no_constraints() -> None:
    lower = constraints.lower_constraints({}, {})
    assert (lower.node_selector, lower.affinity, lower.tolerations) == (None, None, None)


@pytest.mark.parametrize(
    ("stash", "problems", "selector"),
    [
        ("{not json", (f"ignoring {keys.STASHED_CONSTRAINTS_ANNOTATION}: not a JSON object",), None),
        ("[1]", (f"ignoring {keys.STASHED_CONSTRAINTS_ANNOTATION}: not a JSON object",), None),
        (
            {"nodeSelector": ["disktype"], "tolerations": "gpu"},
            (
                f"ignoring {keys.STASHED_CONSTRAINTS_ANNOTATION}.nodeSelector: not a JSON dict",
                f"ignoring {keys.STASHED_CONSTRAINTS_ANNOTATION}.tolerations: not a JSON list",
            ),
            None,
        ),
        (
            {"nodeSelector": {"disktype": "ssd"}, "nodeAffinity": 3},
            ("ignoring tensile.io/lower-constraints.nodeAffinity: not a JSON dict",),
            {"disktype": "ssd"},
        ),
    ],
    ids=[
        "unparsable -> one problem",
        "not an object -> one problem",
        "two bad parts -> two problems",
        "bad part ignored, good part kept",
    ],
)
def test_bad_stash_parts_are_reported_and_ignored(
    stash: Any, problems: tuple[str, ...], selector: dict[str, str] | None
) -> None:
    lower = constraints.lower_constraints({}, stashed(stash))
    assert lower.problems == problems
    assert lower.node_selector == selector
    assert lower.affinity is None
