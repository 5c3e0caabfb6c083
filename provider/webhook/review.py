"""The admission webhook's decision on Pod CREATE, as a pure function (issue 5, first half).

``review`` takes the AdmissionReview request plus what the server half looked up (the live
avoidance record of the pod's controlling owner, the virtual nodes' names and labels) and
returns the AdmissionReview response with a JSONPatch:
(a) ``kubernetes.io/hostname NotIn [...]`` for live avoidances, merged into every required
    node-affinity term, and never when that would exclude every virtual node;
(b) optionally, nodeSelector entries and required node-affinity expressions that no virtual
    node can satisfy (they aim at lower-cluster nodes), plus tolerations, moved into the
    ``tensile.io/lower-constraints`` annotation that the provider restores on the mirror.
The pod is always allowed: the webhook only steers, it never blocks (failurePolicy Ignore).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from descheduler import avoidance, keys, matching
from descheduler.model import Node

Raw = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What the server half looked up for one request."""

    avoid: avoidance.Record = field(default_factory=dict)
    virtual_nodes: Sequence[Node] = ()
    stash_lower_constraints: bool = False


def review(request: Mapping[str, Any], context: Context, *, now: float) -> Raw:
    """AdmissionReview (v1) response for ``request`` (the review's ``request`` field)."""
    response: Raw = {"uid": request.get("uid", ""), "allowed": True}
    pod = request.get("object") or {}
    if request.get("operation") != "CREATE" or pod.get("kind", "Pod") != "Pod":
        return _review(response)
    patched = mutate(pod, context, now=now)
    if patched != pod:
        ops = [{"op": "replace" if "spec" in pod else "add", "path": "/spec", "value": patched.get("spec", {})}]
        if patched.get("metadata") != pod.get("metadata"):
            ops.append(
                {"op": "replace" if "metadata" in pod else "add", "path": "/metadata", "value": patched["metadata"]}
            )
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
    return _review(response)


def _review(response: Raw) -> Raw:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def mutate(pod: Mapping[str, Any], context: Context, *, now: float) -> Raw:
    """The pod as it should be created (a copy; ``pod`` is not changed)."""
    result: Raw = copy.deepcopy(dict(pod))
    if context.stash_lower_constraints and context.virtual_nodes:
        _stash(result, context.virtual_nodes)
    avoided = sorted(avoidance.live(context.avoid, now=now))
    names = {n.name for n in context.virtual_nodes}
    if avoided and not (names and names <= set(avoided)):
        _add_not_in(result.setdefault("spec", {}), avoided)
    return result


def _add_not_in(spec: Raw, nodes: list[str]) -> None:
    expression = {"key": keys.HOSTNAME_LABEL, "operator": "NotIn", "values": nodes}
    node_affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.setdefault("nodeSelectorTerms", [])
    if not terms:
        terms.append({"matchExpressions": []})
    for term in terms:  # terms are ORed: every one must carry the exclusion
        term.setdefault("matchExpressions", []).append(dict(expression))


def _stash(pod: Raw, virtual_nodes: Sequence[Node]) -> None:
    spec = pod.setdefault("spec", {})
    stashed: Raw = {}
    selector = spec.get("nodeSelector") or {}
    lower_only = {k: v for k, v in selector.items() if not any(n.labels.get(k) == v for n in virtual_nodes)}
    if lower_only:
        stashed["nodeSelector"] = lower_only
        spec["nodeSelector"] = {k: v for k, v in selector.items() if k not in lower_only} or None
        if spec["nodeSelector"] is None:
            del spec["nodeSelector"]
    lower_affinity = _split_required_affinity(spec, virtual_nodes)
    if lower_affinity is not None:
        stashed["nodeAffinity"] = lower_affinity
    if stashed and spec.get("tolerations"):
        stashed["tolerations"] = spec["tolerations"]
        spec["tolerations"] = [t for t in spec["tolerations"] if t.get("key") == keys.VIRTUAL_NODE_TAINT_KEY]
    if stashed:
        annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[keys.STASHED_CONSTRAINTS_ANNOTATION] = json.dumps(stashed, sort_keys=True)


# What a required term keeps upstairs when all its expressions aim below: it must still select
# the virtual nodes (an empty term would select nothing), and below it must select any node.
_ON_VIRTUAL_NODES = {"key": keys.VIRTUAL_NODE_TYPE_LABEL, "operator": "In", "values": [keys.VIRTUAL_NODE_TYPE_VALUE]}
_ANY_NODE = {"key": keys.HOSTNAME_LABEL, "operator": "Exists"}


def _split_required_affinity(spec: Raw, virtual_nodes: Sequence[Node]) -> Raw | None:
    """Move the required node-affinity expressions no virtual node satisfies out of ``spec``;
    return them as the nodeAffinity for the mirror (term by term), or None when none aim below.

    Expressions a virtual node satisfies (``type In [virtual-kubelet]`` for one) stay upstairs,
    so the pod is still bound to a virtual node; preferred terms are left alone.
    """
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms") or []
    upper_terms: list[Raw] = []
    lower_terms: list[Raw] = []
    for term in terms:
        expressions = term.get("matchExpressions") or []
        keep = [e for e in expressions if _any_satisfies(e, virtual_nodes)]
        move = [e for e in expressions if not _any_satisfies(e, virtual_nodes)]
        upper = {k: v for k, v in term.items() if k != "matchExpressions"}
        if keep or not upper.get("matchFields"):
            upper["matchExpressions"] = keep or [dict(_ON_VIRTUAL_NODES)]
        upper_terms.append(upper)
        lower_terms.append({"matchExpressions": move or [dict(_ANY_NODE)]})
    if all(t["matchExpressions"] == [_ANY_NODE] for t in lower_terms):
        return None
    required["nodeSelectorTerms"] = upper_terms
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": lower_terms}}


def _any_satisfies(expression: Raw, virtual_nodes: Sequence[Node]) -> bool:
    return any(matching.selector_matches({"matchExpressions": [expression]}, n.labels) for n in virtual_nodes)
