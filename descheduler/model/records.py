"""The compact records the descheduler reasons about, one msgspec Struct per kind.

Built by :mod:`descheduler.model.building` from checked wire objects; read by the cluster
state, the evictor and the plugins, and by the provider's capacity and admission webhook.
Structs rather than dataclasses: built in C (a frozen dataclass sets each field through
``object.__setattr__``), smaller, and with ``gc=False`` never walked by the cyclic GC, which
matters at 150k pods with a dozen sub-records each. Records hold no reference cycles.
"""

from __future__ import annotations

from typing import Any

import msgspec

from descheduler import keys
from descheduler.model import resources


class OwnerRef(msgspec.Struct, frozen=True, gc=False):
    """One owner reference of a pod; ``controller`` marks the owner that replaces an evicted pod."""

    kind: str
    name: str
    uid: str
    controller: bool


class Condition(msgspec.Struct, frozen=True, gc=False):
    """One pod condition (``PodScheduled=False reason=Unschedulable`` ...), its transition as epoch seconds."""

    type: str
    status: str
    reason: str
    message: str
    last_transition: float | None
    """Epoch seconds of lastTransitionTime, None when unset."""


class ContainerStatus(msgspec.Struct, frozen=True, gc=False):
    """One container's restart count and the reasons and exit codes of its current and last state."""

    name: str
    restart_count: int
    waiting_reason: str
    terminated_reason: str
    exit_code: int | None
    last_exit_code: int | None


class Taint(msgspec.Struct, frozen=True, gc=False):
    """One node taint: key, value and effect."""

    key: str
    value: str
    effect: str


class Pod(msgspec.Struct, eq=False, gc=False):
    """A pod as the descheduler sees it. Identity is the object: compare by ``uid``."""

    namespace: str
    name: str
    uid: str
    node_name: str
    phase: str
    labels: dict[str, str]
    annotations: dict[str, str]
    owners: tuple[OwnerRef, ...]
    priority: int | None
    priority_class_name: str
    requests: resources.Resources
    created: float
    deleting: bool
    start_time: float | None = None
    """Epoch seconds of status.startTime, None when the pod has not started."""
    conditions: tuple[Condition, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()
    init_container_statuses: tuple[ContainerStatus, ...] = ()
    ephemeral_container_statuses: tuple[ContainerStatus, ...] = ()
    status_reason: str = ""
    qos_class: str = "BestEffort"
    node_selector: dict[str, str] = msgspec.field(default_factory=dict)
    affinity: dict[str, Any] | None = None
    tolerations: tuple[dict[str, Any], ...] = ()
    topology_spread: tuple[dict[str, Any], ...] = ()
    images: tuple[str, ...] = ()
    has_local_storage: bool = False
    pvc_names: tuple[str, ...] = ()
    resource_claims: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def controller(self) -> OwnerRef | None:
        for ref in self.owners:
            if ref.controller:
                return ref
        return None

    @property
    def is_mirror(self) -> bool:
        return keys.MIRROR_POD_ANNOTATION in self.annotations

    @property
    def is_static(self) -> bool:
        return self.annotations.get(keys.CONFIG_SOURCE_ANNOTATION, "api") != "api"

    @property
    def is_daemonset(self) -> bool:
        return any(ref.kind == "DaemonSet" for ref in self.owners)

    def condition(self, type_: str) -> Condition | None:
        for cond in self.conditions:
            if cond.type == type_:
                return cond
        return None


class Node(msgspec.Struct, eq=False, gc=False):
    """A node as the descheduler sees it: labels, taints, whether it is cordoned and Ready, and its
    allocatable resources as integers. Identity is the object, as for :class:`Pod`.
    """

    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    taints: tuple[Taint, ...]
    unschedulable: bool
    ready: bool
    allocatable: resources.Resources
    created: float = 0.0
    allocatable_reported: bool = True
    """False when ``allocatable`` is status.capacity (allocatable empty), which NodeFit never reads."""


class PodDisruptionBudget(msgspec.Struct, frozen=True, gc=False):
    """A PodDisruptionBudget: its selector (a plain mapping, as matching reads it) and the disruptions it allows now."""

    namespace: str
    name: str
    selector: dict[str, Any] | None
    disruptions_allowed: int


class Namespace(msgspec.Struct, frozen=True, gc=False):
    """A namespace: its labels, for DefaultEvictor's ``namespaceLabelSelector``."""

    name: str
    labels: dict[str, str]


class PriorityClass(msgspec.Struct, frozen=True, gc=False):
    """A PriorityClass: the priority of pods that name it but carry no ``spec.priority``."""

    name: str
    value: int


class PersistentVolumeClaim(msgspec.Struct, frozen=True, gc=False):
    """A claim: its storage class, for DefaultEvictor's PodsWithPVC protection."""

    namespace: str
    name: str
    storage_class: str = ""
