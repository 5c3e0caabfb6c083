"""The Node, and the other objects the evictor consults: PodDisruptionBudget, Namespace,
PriorityClass and PersistentVolumeClaim.
"""

from __future__ import annotations

from typing import Literal

from descheduler.wire import base, scheduling

TAINT_EFFECTS = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Taint(base.Wire):
    key: base.Name
    effect: TAINT_EFFECTS
    value: str = ""


class NodeSpec(base.Wire):
    taints: list[Taint] | None = None
    unschedulable: bool | None = None


class NodeCondition(base.Wire):
    type: base.Name
    status: str = ""


class NodeStatus(base.Wire):
    allocatable: base.ResourceList | None = None
    capacity: base.ResourceList | None = None
    conditions: list[NodeCondition] | None = None

    def __post_init__(self) -> None:
        base.check_resources(self.allocatable, "allocatable")
        base.check_resources(self.capacity, "capacity")


class Node(base.Object):
    spec: NodeSpec | None = None
    status: NodeStatus | None = None


class PodDisruptionBudgetSpec(base.Wire):
    selector: scheduling.LabelSelector | None = None


class PodDisruptionBudgetStatus(base.Wire):
    disruptions_allowed: base.Count = 0


class PodDisruptionBudget(base.Object):
    spec: PodDisruptionBudgetSpec | None = None
    status: PodDisruptionBudgetStatus | None = None


class Namespace(base.Object):
    """Only its name and labels are read."""


class PriorityClass(base.Object):
    value: base.Int32


class PersistentVolumeClaimSpec(base.Wire):
    storage_class_name: str | None = None


class PersistentVolumeClaim(base.Object):
    spec: PersistentVolumeClaimSpec | None = None
