"""The Kubernetes objects tensile reads, as they arrive on the wire, checked while decoded.

Both cluster-state sources (snapshot files and the live API server) and the provider decode
through these msgspec Structs, so every field tensile reads is checked for type and form in
one place (names are strings, counts non-negative int32, timestamps RFC 3339 with a zone,
quantities parse) and fields tensile never reads are skipped without being built. As in
Kubernetes' Go decoding, a ``null`` collection means empty. :func:`convert` and
:func:`decoder` raise :class:`descheduler.wire_errors.ObjectError` naming the field in the
user's terms. :mod:`descheduler.model` builds its compact records from these.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from descheduler import quantity, wire_errors, wording

W = TypeVar("W", bound="Wire")
Name = Annotated[str, msgspec.Meta(min_length=1)]
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Timestamp = Annotated[datetime.datetime, msgspec.Meta(tz=True)]
Quantity = str | int | float
ResourceList = dict[str, Quantity]

SELECTOR_OPERATORS = Literal["In", "NotIn", "Exists", "DoesNotExist"]
NODE_SELECTOR_OPERATORS = Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
TAINT_EFFECTS = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Wire(msgspec.Struct, rename="camel", gc=False):
    """Base of every wire Struct: camelCase names, no cycles (so not tracked by the GC). Read, never changed."""


def check_resources(resources: ResourceList | None, where: str) -> None:
    """Every quantity must parse and be finite and non-negative; ValueError names the resource."""
    for name, value in (resources or {}).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where}.{name}: must be a finite quantity, got {wording.shown(value)}")
        try:
            amount = quantity.to_int(value, name)
        except ValueError as exc:
            raise ValueError(f"{where}.{name}: {exc}") from None
        if amount < 0:
            raise ValueError(f"{where}.{name}: must not be negative, got {wording.shown(value)}")


# -- metadata ------------------------------------------------------------------------------


class OwnerReference(Wire):
    kind: str
    name: str
    uid: str = ""
    controller: bool | None = None


class ObjectMeta(Wire):
    name: Name
    namespace: str = ""
    uid: str = ""
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    creation_timestamp: Timestamp | None = None
    deletion_timestamp: Timestamp | None = None


class Object(Wire):
    """A top-level object of a kind tensile reads: it always has metadata."""

    metadata: ObjectMeta


# -- selectors and scheduling constraints --------------------------------------------------


class LabelSelectorRequirement(Wire):
    key: Name
    operator: SELECTOR_OPERATORS
    values: list[str] | None = None


class LabelSelector(Wire):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class NodeSelectorRequirement(Wire):
    key: Name
    operator: NODE_SELECTOR_OPERATORS
    values: list[str] | None = None


class NodeSelectorTerm(Wire):
    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(Wire):
    node_selector_terms: list[NodeSelectorTerm] | None = None


class PreferredSchedulingTerm(Wire):
    weight: Int32
    preference: NodeSelectorTerm


_DURING_SCHEDULING = {
    "required": "requiredDuringSchedulingIgnoredDuringExecution",
    "preferred": "preferredDuringSchedulingIgnoredDuringExecution",
}


class NodeAffinity(Wire, rename=_DURING_SCHEDULING):
    required: NodeSelector | None = None
    preferred: list[PreferredSchedulingTerm] | None = None


class PodAffinityTerm(Wire):
    topology_key: str = ""
    label_selector: LabelSelector | None = None
    namespaces: list[str] | None = None
    namespace_selector: LabelSelector | None = None
    match_label_keys: list[str] | None = None
    mismatch_label_keys: list[str] | None = None


class WeightedPodAffinityTerm(Wire):
    weight: Int32
    pod_affinity_term: PodAffinityTerm


class PodAffinity(Wire, rename=_DURING_SCHEDULING):
    required: list[PodAffinityTerm] | None = None
    preferred: list[WeightedPodAffinityTerm] | None = None


class Affinity(Wire):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


class Toleration(Wire):
    key: str = ""
    operator: Literal["", "Exists", "Equal", "Lt", "Gt"] = ""
    value: str = ""
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""
    toleration_seconds: int | None = None


class TopologySpreadConstraint(Wire):
    max_skew: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    topology_key: Name
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"]
    label_selector: LabelSelector | None = None
    min_domains: Int32 | None = None
    node_affinity_policy: Literal["Honor", "Ignore"] | None = None
    node_taints_policy: Literal["Honor", "Ignore"] | None = None
    match_label_keys: list[str] | None = None


# -- pods ----------------------------------------------------------------------------------


class ResourceRequirements(Wire):
    requests: ResourceList | None = None
    limits: ResourceList | None = None

    def __post_init__(self) -> None:
        check_resources(self.requests, "requests")
        check_resources(self.limits, "limits")


class Container(Wire):
    name: str = ""
    image: str = ""
    resources: ResourceRequirements | None = None
    restart_policy: str = ""


class ClaimSource(Wire):
    claim_name: Name


class Volume(Wire):
    name: str = ""
    empty_dir: dict[str, Any] | None = None
    host_path: dict[str, Any] | None = None
    persistent_volume_claim: ClaimSource | None = None


class PodResourceClaim(Wire):
    name: str = ""


class PodSpec(Wire):
    node_name: str = ""
    containers: list[Container] | None = None
    init_containers: list[Container] | None = None
    overhead: ResourceList | None = None
    resources: ResourceRequirements | None = None
    priority: Int32 | None = None
    priority_class_name: str = ""
    node_selector: dict[str, str] | None = None
    affinity: Affinity | None = None
    tolerations: list[Toleration] | None = None
    topology_spread_constraints: list[TopologySpreadConstraint] | None = None
    volumes: list[Volume] | None = None
    resource_claims: list[PodResourceClaim] | None = None

    def __post_init__(self) -> None:
        check_resources(self.overhead, "overhead")


class ContainerStateWaiting(Wire):
    reason: str = ""


class ContainerStateTerminated(Wire):
    reason: str = ""
    exit_code: Int32 = 0


class ContainerState(Wire):
    waiting: ContainerStateWaiting | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(Wire):
    name: str = ""
    restart_count: Count = 0
    state: ContainerState | None = None
    last_state: ContainerState | None = None


class PodCondition(Wire):
    type: Name
    status: str = ""
    reason: str = ""
    message: str = ""
    last_transition_time: Timestamp | None = None


class PodStatus(Wire):
    phase: Literal["", "Pending", "Running", "Succeeded", "Failed", "Unknown"] = ""
    conditions: list[PodCondition] | None = None
    container_statuses: list[ContainerStatus] | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    start_time: Timestamp | None = None
    reason: str = ""
    qos_class: str = ""


class Pod(Object):
    spec: PodSpec | None = None
    status: PodStatus | None = None


# -- nodes and the objects the evictor consults --------------------------------------------


class Taint(Wire):
    key: Name
    effect: TAINT_EFFECTS
    value: str = ""


class NodeSpec(Wire):
    taints: list[Taint] | None = None
    unschedulable: bool | None = None


class NodeCondition(Wire):
    type: Name
    status: str = ""


class NodeStatus(Wire):
    allocatable: ResourceList | None = None
    capacity: ResourceList | None = None
    conditions: list[NodeCondition] | None = None

    def __post_init__(self) -> None:
        check_resources(self.allocatable, "allocatable")
        check_resources(self.capacity, "capacity")


class Node(Object):
    spec: NodeSpec | None = None
    status: NodeStatus | None = None


class PodDisruptionBudgetSpec(Wire):
    selector: LabelSelector | None = None


class PodDisruptionBudgetStatus(Wire):
    disruptions_allowed: Count = 0


class PodDisruptionBudget(Object):
    spec: PodDisruptionBudgetSpec | None = None
    status: PodDisruptionBudgetStatus | None = None


class Namespace(Object):
    """Only its name and labels are read."""


class PriorityClass(Object):
    value: Int32


class PersistentVolumeClaimSpec(Wire):
    storage_class_name: str | None = None


class PersistentVolumeClaim(Object):
    spec: PersistentVolumeClaimSpec | None = None


def convert(raw: object, cls: type[W]) -> W:
    """An already parsed object (YAML, a watch event) as ``cls``; ObjectError when it has the wrong shape."""
    try:
        return msgspec.convert(raw, cls)
    except msgspec.ValidationError as exc:
        raise wire_errors.ObjectError(*wire_errors.problem_of(exc)) from None


def decoder(cls: type[W]) -> Callable[[bytes | memoryview], W]:
    """A JSON decoder straight into ``cls`` (no dict tree); it raises ObjectError for a wrong shape."""
    decode = msgspec.json.Decoder(cls).decode

    def decode_checked(data: bytes | memoryview) -> W:
        try:
            return decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise wire_errors.ObjectError(*wire_errors.problem_of(exc)) from None

    return decode_checked


def to_plain(value: Wire | Sequence[Wire] | None) -> Any:
    """A Struct back to the plain camelCase mapping the matching code reads (absent fields as None)."""
    return msgspec.to_builtins(value)
