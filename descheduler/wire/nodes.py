"""The Node, and the other objects the evictor consults: PodDisruptionBudget, Namespace,
PriorityClass and PersistentVolumeClaim.
"""

from __future__ import annotations

from typing import Literal

from descheduler.wire import base, scheduling

TAINT_EFFECTS = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Taint(base.Wire):
    """``spec.taints[]`` of a node: key, value and effect."""

    key: base.Name
    effect: TAINT_EFFECTS
    value: str = ""


class NodeSpec(base.Wire):
    """A node's ``spec``: its taints and whether it is cordoned."""

    taints: list[Taint] | None = None
    unschedulable: bool | None = None


class NodeCondition(base.Wire):
    """``status.conditions[]`` of a node; only ``Ready`` is read."""

    type: base.Name
    status: str = ""


class NodeStatus(base.Wire):
    """A node's ``status``: allocatable (capacity where it is missing) and conditions."""

    allocatable: base.ResourceList | None = None
    capacity: base.ResourceList | None = None
    conditions: list[NodeCondition] | None = None

    def __post_init__(self) -> None:
        base.check_resources(self.allocatable, "allocatable")
        base.check_resources(self.capacity, "capacity")


class Node(base.Object):
    """A node as decoded; :func:`descheduler.model.node_from_wire` keeps what the descheduler reads."""

    spec: NodeSpec | None = None
    status: NodeStatus | None = None


class PodDisruptionBudgetSpec(base.Wire):
    """A PodDisruptionBudget's ``spec``: only its selector is read."""

    selector: scheduling.LabelSelector | None = None


class PodDisruptionBudgetStatus(base.Wire):
    """A PodDisruptionBudget's ``status``: how many disruptions it allows now."""

    disruptions_allowed: base.Count = 0


class PodDisruptionBudget(base.Object):
    """A PodDisruptionBudget: which pods it covers, and how many of them may go now."""

    spec: PodDisruptionBudgetSpec | None = None
    status: PodDisruptionBudgetStatus | None = None


class Namespace(base.Object):
    """Only its name and labels are read."""


class PriorityClass(base.Object):
    """A PriorityClass: the priority of the pods that name it."""

    value: base.Int32


class PersistentVolumeClaimSpec(base.Wire):
    """A claim's ``spec``: only its storage class is read."""

    storage_class_name: str | None = None


class PersistentVolumeClaim(base.Object):
    """A PersistentVolumeClaim, read for its storage class (DefaultEvictor's PodsWithPVC protection)."""

    spec: PersistentVolumeClaimSpec | None = None
