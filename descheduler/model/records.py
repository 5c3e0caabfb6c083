"""The compact records the descheduler reasons about, one slotted dataclass per kind.

Built by :mod:`descheduler.model.building` from checked wire objects; read by the cluster
state, the evictor and the plugins, and by the provider's capacity and admission webhook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from descheduler import keys
from descheduler.model import resources


@dataclass(slots=True, frozen=True)
class OwnerRef:
    """One owner reference of a pod; ``controller`` marks the owner that replaces an evicted pod."""

    kind: str
    name: str
    uid: str
    controller: bool


@dataclass(slots=True, frozen=True)
class Condition:
    """One pod condition (``PodScheduled=False reason=Unschedulable`` ...), its transition as epoch seconds."""

    type: str
    status: str
    reason: str
    message: str
    last_transition: float | None
    """Epoch seconds of lastTransitionTime, None when unset."""


@dataclass(slots=True, frozen=True)
class ContainerStatus:
    """One container's restart count and the reasons and exit codes of its current and last state."""

    name: str
    restart_count: int
    waiting_reason: str
    terminated_reason: str
    exit_code: int | None
    last_exit_code: int | None


@dataclass(slots=True, frozen=True)
class Taint:
    """One node taint: key, value and effect."""

    key: str
    value: str
    effect: str


@dataclass(slots=True, eq=False)
class Pod:
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
    node_selector: dict[str, str] = field(default_factory=dict)
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


@dataclass(slots=True, eq=False)
class Node:
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


@dataclass(slots=True, frozen=True)
class PodDisruptionBudget:
    """A PodDisruptionBudget: its selector (a plain mapping, as matching reads it) and the disruptions it allows now."""

    namespace: str
    name: str
    selector: dict[str, Any] | None
    disruptions_allowed: int


@dataclass(slots=True, frozen=True)
class Namespace:
    """A namespace: its labels, for DefaultEvictor's ``namespaceLabelSelector``."""

    name: str
    labels: dict[str, str]


@dataclass(slots=True, frozen=True)
class PriorityClass:
    """A PriorityClass: the priority of pods that name it but carry no ``spec.priority``."""

    name: str
    value: int


@dataclass(slots=True, frozen=True)
class PersistentVolumeClaim:
    """A claim: its storage class, for DefaultEvictor's PodsWithPVC protection."""

    namespace: str
    name: str
    storage_class: str = ""
