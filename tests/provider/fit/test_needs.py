"""A pod's needs, read from the upper pod as the scheduler sends it to the extender."""

from __future__ import annotations

import json
from typing import Any

import pytest

from descheduler import keys
from provider.fit import needs

GI = 2**30


def container(name: str, cpu: str | None = None, memory: str | None = None, **extra: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    requests.update(extra.pop("requests", {}))
    return {"name": name, "image": "app", "resources": {"requests": requests}, **extra}


def upper_pod(*containers: dict[str, Any], stash: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """An upper pod bound for a virtual node, with the webhook's stash when given."""
    annotations = {keys.STASHED_CONSTRAINTS_ANNOTATION: json.dumps(stash)} if stash is not None else {}
    return {
        "metadata": {"namespace": "shop", "name": "web", "annotations": annotations},
        "spec": {
            "containers": list(containers) or [container("app", "1", "1Gi")],
            "nodeSelector": {keys.VIRTUAL_NODE_TYPE_LABEL: keys.VIRTUAL_NODE_TYPE_VALUE},
            "tolerations": [{"key": keys.VIRTUAL_NODE_TAINT_KEY, "operator": "Exists"}],
            **spec,
        },
    }


def test_requests_of_a_single_container_count_one_pod() -> None:
    assert needs.needs_of(upper_pod()).requests == {"cpu": 1000, "memory": GI, "pods": 1}


def test_a_plain_init_container_counts_only_when_larger_than_the_containers() -> None:
    pod = upper_pod(container("app", "500m", "1Gi"), initContainers=[container("init", "2", "512Mi")])
    assert needs.needs_of(pod).requests == {"cpu": 2000, "memory": GI, "pods": 1}


def test_a_sidecar_init_container_adds_to_the_containers() -> None:
    sidecar = container("proxy", "250m", "128Mi", restartPolicy="Always")
    pod = upper_pod(container("app", "500m", "1Gi"), initContainers=[sidecar])
    assert needs.needs_of(pod).requests == {"cpu": 750, "memory": GI + 128 * 2**20, "pods": 1}


def test_overhead_is_added() -> None:
    pod = upper_pod(container("app", "1", "1Gi"), overhead={"cpu": "100m", "memory": "64Mi"})
    assert needs.needs_of(pod).requests == {"cpu": 1100, "memory": GI + 64 * 2**20, "pods": 1}


def test_extended_resources_are_requested() -> None:
    pod = upper_pod(container("train", "1", requests={"nvidia.com/gpu": "2"}))
    assert needs.needs_of(pod).requests == {"cpu": 1000, "nvidia.com/gpu": 2, "pods": 1}


def test_the_virtual_node_selector_is_dropped_and_the_stashed_one_used() -> None:
    pod = upper_pod(stash={"nodeSelector": {"disktype": "ssd"}})
    got = needs.needs_of(pod)
    assert got.node_selector == {"disktype": "ssd"}
    assert got.affinity_terms is None
    assert got.by_hostname is False


def test_stashed_affinity_terms_and_tolerations_are_the_lower_ones() -> None:
    terms = [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
    gpu = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
    pod = upper_pod(
        stash={
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}},
            "tolerations": [gpu],
        }
    )
    got = needs.needs_of(pod)
    assert got.affinity_terms == tuple(terms)
    assert gpu in got.tolerations


def test_required_affinity_without_terms_is_an_empty_tuple_not_none() -> None:
    pod = upper_pod(stash={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}})
    assert needs.needs_of(pod).affinity_terms == ()


def test_the_upper_node_affinity_is_never_judged_below() -> None:
    upper_affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": keys.HOSTNAME_LABEL, "operator": "NotIn", "values": ["vk-b"]}]}
                ]
            }
        }
    }
    got = needs.needs_of(upper_pod(affinity=upper_affinity))
    assert got.affinity_terms is None
    assert got.by_hostname is False


def hostname_term(operator: str, values: list[str] | None = None) -> dict[str, Any]:
    expression: dict[str, Any] = {"key": keys.HOSTNAME_LABEL, "operator": operator}
    if values is not None:
        expression["values"] = values
    return {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [expression]}]}
    }


@pytest.mark.parametrize(
    ("stash", "by_hostname"),
    [
        ({"nodeSelector": {keys.HOSTNAME_LABEL: "lower-1"}}, True),
        ({"nodeAffinity": hostname_term("In", ["lower-1"])}, True),
        ({"nodeAffinity": hostname_term("NotIn", ["lower-1"])}, True),
        (
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["lower-1"]}]}
                        ]
                    }
                }
            },
            True,
        ),
        ({"nodeAffinity": hostname_term("Exists")}, False),
        ({"nodeAffinity": hostname_term("DoesNotExist")}, False),
        ({"nodeSelector": {"zone": "a"}}, False),
    ],
    ids=[
        "hostname in nodeSelector -> undecidable",
        "hostname In -> undecidable",
        "hostname NotIn -> undecidable",
        "metadata.name field -> undecidable",
        "hostname Exists (the webhook's any-node term) -> decidable",
        "hostname DoesNotExist -> decidable",
        "no hostname -> decidable",
    ],
)
def test_constraints_that_name_a_lower_node_cannot_be_judged(stash: dict[str, Any], by_hostname: bool) -> None:
    assert needs.needs_of(upper_pod(stash=stash)).by_hostname is by_hostname


def test_a_spec_that_is_not_a_pod_raises_a_value_error() -> None:
    with pytest.raises(ValueError, match="containers"):
        needs.needs_of({"metadata": {}, "spec": {"containers": "app"}})
