"""The admission webhook's pure decision: avoidances become hostname NotIn, lower-only
constraints are stashed for the mirror, and the pod is always allowed."""

from __future__ import annotations

import base64
import json
from typing import Any

from descheduler import keys
from provider.webhook import review
from tests.descheduler import factories as f

VK_A = f.node("vk-a", labels={"type": "virtual-kubelet"})
VK_B = f.node("vk-b", labels={"type": "virtual-kubelet"})
NOW = f.NOW


def pod(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **(spec or {})}}  # fmt: skip


def request(obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    return {"uid": "req-1", "operation": operation, "object": obj}


def patched(response: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    result = json.loads(json.dumps(original))
    ops = json.loads(base64.b64decode(response["response"]["patch"]))
    for op in ops:
        result[op["path"].strip("/")] = op["value"]
    return result


def not_in_values(obj: dict[str, Any]) -> list[list[str]]:
    terms = obj["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    return [
        e["values"]
        for t in terms
        for e in t["matchExpressions"]
        if e["key"] == keys.HOSTNAME_LABEL and e["operator"] == "NotIn"
    ]


def test_live_avoidance_becomes_hostname_not_in() -> None:
    ctx = review.Context(avoid={"vk-a": NOW + 60}, virtual_nodes=[VK_A, VK_B])
    response = review.review(request(pod()), ctx, now=NOW)
    assert response["response"]["allowed"] is True and response["response"]["uid"] == "req-1"
    assert not_in_values(patched(response, pod())) == [["vk-a"]]


def test_expired_avoidances_are_ignored() -> None:
    ctx = review.Context(avoid={"vk-a": NOW - 1}, virtual_nodes=[VK_A, VK_B])
    response = review.review(request(pod()), ctx, now=NOW)
    assert "patch" not in response["response"] and response["response"]["allowed"] is True


def test_the_exclusion_is_merged_into_every_required_term() -> None:
    terms = [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
             {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]  # fmt: skip
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}
    original = pod({"affinity": affinity})
    ctx = review.Context(avoid={"vk-a": NOW + 60}, virtual_nodes=[VK_A, VK_B])
    result = patched(review.review(request(original), ctx, now=NOW), original)
    assert not_in_values(result) == [["vk-a"], ["vk-a"]]
    assert original["spec"]["affinity"]["nodeAffinity"] == affinity["nodeAffinity"], "the request is not modified"


def test_never_excludes_every_virtual_node() -> None:
    ctx = review.Context(avoid={"vk-a": NOW + 60, "vk-b": NOW + 60}, virtual_nodes=[VK_A, VK_B])
    assert "patch" not in review.review(request(pod()), ctx, now=NOW)["response"]


def test_other_operations_pass_untouched() -> None:
    ctx = review.Context(avoid={"vk-a": NOW + 60}, virtual_nodes=[VK_A, VK_B])
    assert "patch" not in review.review(request(pod(), "UPDATE"), ctx, now=NOW)["response"]


def test_lower_only_constraints_are_stashed_for_the_mirror() -> None:
    lower_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}]}}  # fmt: skip
    tolerations = [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}, {"key": "gpu", "operator": "Exists"}]
    original = pod({"nodeSelector": {"type": "virtual-kubelet", "disk": "ssd"},
                    "affinity": {"nodeAffinity": lower_affinity}, "tolerations": tolerations})  # fmt: skip
    ctx = review.Context(virtual_nodes=[VK_A, VK_B], stash_lower_constraints=True)
    result = patched(review.review(request(original), ctx, now=NOW), original)
    assert result["spec"]["nodeSelector"] == {"type": "virtual-kubelet"}
    # The term's only expression aims below: upstairs it still selects the virtual nodes.
    assert required_terms(result) == [
        {"matchExpressions": [{"key": "type", "operator": "In", "values": ["virtual-kubelet"]}]}
    ]
    assert result["spec"]["tolerations"] == [tolerations[0]]
    stash = json.loads(result["metadata"]["annotations"][keys.STASHED_CONSTRAINTS_ANNOTATION])
    assert stash == {"nodeSelector": {"disk": "ssd"}, "nodeAffinity": lower_affinity, "tolerations": tolerations}


def required_terms(obj: dict[str, Any]) -> list[dict[str, Any]]:
    terms: list[dict[str, Any]] = obj["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    return terms


def test_only_the_expressions_aimed_below_move_term_by_term() -> None:
    virtual = {"key": "type", "operator": "In", "values": ["virtual-kubelet"]}
    ssd = {"key": "disk", "operator": "In", "values": ["ssd"]}
    zone = {"key": "zone", "operator": "In", "values": ["z1"]}
    terms = [{"matchExpressions": [virtual, ssd]}, {"matchExpressions": [virtual]}, {"matchExpressions": [zone]}]
    preferred = [{"weight": 1, "preference": {"matchExpressions": [ssd]}}]
    node_affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms},
        "preferredDuringSchedulingIgnoredDuringExecution": preferred,
    }
    original = pod({"affinity": {"nodeAffinity": node_affinity}})
    ctx = review.Context(virtual_nodes=[VK_A, VK_B], stash_lower_constraints=True)
    result = patched(review.review(request(original), ctx, now=NOW), original)
    assert required_terms(result) == [{"matchExpressions": [virtual]}, {"matchExpressions": [virtual]},
                                      {"matchExpressions": [virtual]}]  # fmt: skip
    assert result["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == preferred
    stash = json.loads(result["metadata"]["annotations"][keys.STASHED_CONSTRAINTS_ANNOTATION])
    any_node = {"key": "kubernetes.io/hostname", "operator": "Exists"}
    below = stash["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert below == [{"matchExpressions": [ssd]}, {"matchExpressions": [any_node]}, {"matchExpressions": [zone]}]


def test_constraints_a_virtual_node_satisfies_stay() -> None:
    original = pod({"nodeSelector": {"type": "virtual-kubelet"}})
    ctx = review.Context(virtual_nodes=[VK_A], stash_lower_constraints=True)
    assert "patch" not in review.review(request(original), ctx, now=NOW)["response"]
