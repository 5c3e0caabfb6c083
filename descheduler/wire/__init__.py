"""The Kubernetes objects tensile reads, as they arrive on the wire, checked while decoded.

Both cluster-state sources (snapshot files and the live API server) and the provider decode
through these msgspec Structs, so every field tensile reads is checked for type and form in
one place (names are strings, counts non-negative int32, timestamps RFC 3339 with a zone,
quantities parse) and fields tensile never reads are skipped without being built.
:mod:`descheduler.model` builds its compact records from these.

- ``base``: the ``Wire`` base, the checked field types, metadata (``ObjectMeta``, ``Object``), and
  ``convert``/``decoder``/``to_plain``, the ways in and out;
- ``scheduling``: label selectors, node and pod affinity, tolerations, topology spread constraints;
- ``pods``: ``Pod`` with the parts of its spec and status tensile reads;
- ``nodes``: ``Node``, and the other kinds the evictor consults (PodDisruptionBudget, Namespace,
  PriorityClass, PersistentVolumeClaim).

Every name is re-exported here, so callers write ``wire.Pod`` and ``wire.convert``; the modules
only say where a shape is defined. Errors are in :mod:`descheduler.wire_errors`.
"""

from descheduler.wire.base import (
    Count,
    Int32,
    Name,
    Object,
    ObjectMeta,
    OwnerReference,
    Quantity,
    ResourceList,
    Timestamp,
    Wire,
    check_resources,
    convert,
    decoder,
    to_plain,
)
from descheduler.wire.nodes import (
    TAINT_EFFECTS,
    Namespace,
    Node,
    NodeCondition,
    NodeSpec,
    NodeStatus,
    PersistentVolumeClaim,
    PersistentVolumeClaimSpec,
    PodDisruptionBudget,
    PodDisruptionBudgetSpec,
    PodDisruptionBudgetStatus,
    PriorityClass,
    Taint,
)
from descheduler.wire.pods import (
    ClaimSource,
    Container,
    ContainerState,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    Pod,
    PodCondition,
    PodResourceClaim,
    PodSpec,
    PodStatus,
    ResourceRequirements,
    Volume,
)
from descheduler.wire.scheduling import (
    NODE_SELECTOR_OPERATORS,
    SELECTOR_OPERATORS,
    Affinity,
    LabelSelector,
    LabelSelectorRequirement,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodAffinity,
    PodAffinityTerm,
    PreferredSchedulingTerm,
    Toleration,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)

__all__ = [
    "NODE_SELECTOR_OPERATORS",
    "SELECTOR_OPERATORS",
    "TAINT_EFFECTS",
    "Affinity",
    "ClaimSource",
    "Container",
    "ContainerState",
    "ContainerStateTerminated",
    "ContainerStateWaiting",
    "ContainerStatus",
    "Count",
    "Int32",
    "LabelSelector",
    "LabelSelectorRequirement",
    "Name",
    "Namespace",
    "Node",
    "NodeAffinity",
    "NodeCondition",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "NodeSpec",
    "NodeStatus",
    "Object",
    "ObjectMeta",
    "OwnerReference",
    "PersistentVolumeClaim",
    "PersistentVolumeClaimSpec",
    "Pod",
    "PodAffinity",
    "PodAffinityTerm",
    "PodCondition",
    "PodDisruptionBudget",
    "PodDisruptionBudgetSpec",
    "PodDisruptionBudgetStatus",
    "PodResourceClaim",
    "PodSpec",
    "PodStatus",
    "PreferredSchedulingTerm",
    "PriorityClass",
    "Quantity",
    "ResourceList",
    "ResourceRequirements",
    "Taint",
    "Timestamp",
    "Toleration",
    "TopologySpreadConstraint",
    "Volume",
    "WeightedPodAffinityTerm",
    "Wire",
    "check_resources",
    "convert",
    "decoder",
    "to_plain",
]
