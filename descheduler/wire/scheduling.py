"""Label selectors and the scheduling constraints of a pod spec (node and pod affinity,
tolerations, topology spread), as the matching code and the plugins read them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from descheduler.wire import base

SELECTOR_OPERATORS = Literal["In", "NotIn", "Exists", "DoesNotExist"]
NODE_SELECTOR_OPERATORS = Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]


class LabelSelectorRequirement(base.Wire):
    """One ``matchExpressions`` entry of a label selector: key, operator and values."""

    key: base.Name
    operator: SELECTOR_OPERATORS
    values: list[str] | None = None


class LabelSelector(base.Wire):
    """``metav1.LabelSelector``: matchLabels and matchExpressions, all ANDed."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class NodeSelectorRequirement(base.Wire):
    """One requirement of a node selector term (``matchExpressions`` or ``matchFields``)."""

    key: base.Name
    operator: NODE_SELECTOR_OPERATORS
    values: list[str] | None = None


class NodeSelectorTerm(base.Wire):
    """One node selector term: its requirements are ANDed, the terms of a selector ORed."""

    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(base.Wire):
    """The required part of a node affinity: a list of ORed terms."""

    node_selector_terms: list[NodeSelectorTerm] | None = None


class PreferredSchedulingTerm(base.Wire):
    """A preferred node affinity term and the weight it adds to a node that matches it."""

    weight: base.Int32
    preference: NodeSelectorTerm


_DURING_SCHEDULING = {
    "required": "requiredDuringSchedulingIgnoredDuringExecution",
    "preferred": "preferredDuringSchedulingIgnoredDuringExecution",
}


class NodeAffinity(base.Wire, rename=_DURING_SCHEDULING):
    """``affinity.nodeAffinity``: required terms and weighted preferred terms (the long names shortened)."""

    required: NodeSelector | None = None
    preferred: list[PreferredSchedulingTerm] | None = None


class PodAffinityTerm(base.Wire):
    """One pod (anti-)affinity term: which pods (selector, namespaces), in which domain (``topologyKey``)."""

    topology_key: str = ""
    label_selector: LabelSelector | None = None
    namespaces: list[str] | None = None
    namespace_selector: LabelSelector | None = None
    match_label_keys: list[str] | None = None
    mismatch_label_keys: list[str] | None = None


class WeightedPodAffinityTerm(base.Wire):
    """A preferred pod (anti-)affinity term and its weight."""

    weight: base.Int32
    pod_affinity_term: PodAffinityTerm


class PodAffinity(base.Wire, rename=_DURING_SCHEDULING):
    """``podAffinity`` or ``podAntiAffinity``: required terms and weighted preferred terms."""

    required: list[PodAffinityTerm] | None = None
    preferred: list[WeightedPodAffinityTerm] | None = None


class Affinity(base.Wire):
    """``spec.affinity``: node affinity, pod affinity and pod anti-affinity."""

    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


class Toleration(base.Wire):
    """``spec.tolerations[]``: which taints (key, operator, value, effect) the pod tolerates."""

    key: str = ""
    operator: Literal["", "Exists", "Equal", "Lt", "Gt"] = ""
    value: str = ""
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""
    toleration_seconds: int | None = None


class TopologySpreadConstraint(base.Wire):
    """``spec.topologySpreadConstraints[]``: how evenly matching pods spread over ``topologyKey`` domains."""

    max_skew: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    topology_key: base.Name
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"]
    label_selector: LabelSelector | None = None
    min_domains: base.Int32 | None = None
    node_affinity_policy: Literal["Honor", "Ignore"] | None = None
    node_taints_policy: Literal["Honor", "Ignore"] | None = None
    match_label_keys: list[str] | None = None
