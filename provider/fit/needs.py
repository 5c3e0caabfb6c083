"""What an upper pod asks of a lower node, read from the pod as the upper scheduler sends it.

The scheduler extender calls :func:`needs_of` once per pod and judges the result against each
virtual node's summary (:mod:`provider.fit.judge`). The constraints are the mirror's
(:mod:`provider.fit.constraints`), so the judgement is about the pod the lower scheduler will see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from descheduler import keys, model
from provider.fit import constraints

# The summary drops hostnames, and matchFields can only name a node: neither can be judged.
# Exists and DoesNotExist on the hostname can (every node has one), and the webhook's stash
# uses ``hostname Exists`` for a term that selects any lower node.
_NAME_FIELD = "metadata.name"
_PRESENCE_OPERATORS = frozenset({"Exists", "DoesNotExist"})


@dataclass(frozen=True)
class PodNeeds:
    """A pod's effective requests and lower scheduling constraints."""

    requests: Mapping[str, int]
    """``descheduler.model.pod_requests`` of the spec: init containers, sidecars, overhead, pods 1."""
    node_selector: Mapping[str, str]
    """The mirror's nodeSelector (platform labels and the stashed entries)."""
    affinity_terms: tuple[Mapping[str, Any], ...] | None
    """The mirror's required node affinity terms (ORed); None when it has none."""
    tolerations: tuple[Mapping[str, Any], ...]
    """The mirror's tolerations."""
    by_hostname: bool
    """The constraints name nodes (a hostname value, the metadata.name field), which the summary cannot judge."""


def needs_of(upper_pod: Mapping[str, Any]) -> PodNeeds:
    """The needs of an upper pod; ValueError (ObjectError) when its spec does not have a pod's shape."""
    spec = upper_pod.get("spec") or {}
    annotations = (upper_pod.get("metadata") or {}).get("annotations") or {}
    lower = constraints.lower_constraints(spec, annotations)
    selector = dict(lower.node_selector or {})
    terms = _required_terms(lower.affinity)
    return PodNeeds(
        requests=model.pod_requests(spec),
        node_selector=selector,
        affinity_terms=terms,
        tolerations=tuple(lower.tolerations or ()),
        by_hostname=keys.HOSTNAME_LABEL in selector or _names_nodes(terms or ()),
    )


def _required_terms(affinity: Mapping[str, Any] | None) -> tuple[Mapping[str, Any], ...] | None:
    node_affinity = (affinity or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None  # a required selector with no terms is not None: it selects no node
    return tuple(required.get("nodeSelectorTerms") or ())


def _names_nodes(terms: Iterable[Mapping[str, Any]]) -> bool:
    for term in terms:
        for expression in term.get("matchExpressions") or ():
            if expression.get("key") == keys.HOSTNAME_LABEL and expression.get("operator") not in _PRESENCE_OPERATORS:
                return True
        if any(f.get("key") == _NAME_FIELD for f in term.get("matchFields") or ()):
            return True
    return False
