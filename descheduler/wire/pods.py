"""The Pod and the parts of its spec and status tensile reads: containers and their requests,
volumes and claims, phase, conditions and container states.
"""

from __future__ import annotations

from typing import Any, Literal

from descheduler.wire import base, scheduling


class ResourceRequirements(base.Wire):
    requests: base.ResourceList | None = None
    limits: base.ResourceList | None = None

    def __post_init__(self) -> None:
        base.check_resources(self.requests, "requests")
        base.check_resources(self.limits, "limits")


class Container(base.Wire):
    name: str = ""
    image: str = ""
    resources: ResourceRequirements | None = None
    restart_policy: str = ""


class ClaimSource(base.Wire):
    claim_name: base.Name


class Volume(base.Wire):
    name: str = ""
    empty_dir: dict[str, Any] | None = None
    host_path: dict[str, Any] | None = None
    persistent_volume_claim: ClaimSource | None = None


class PodResourceClaim(base.Wire):
    name: str = ""


class PodSpec(base.Wire):
    node_name: str = ""
    containers: list[Container] | None = None
    init_containers: list[Container] | None = None
    overhead: base.ResourceList | None = None
    resources: ResourceRequirements | None = None
    priority: base.Int32 | None = None
    priority_class_name: str = ""
    node_selector: dict[str, str] | None = None
    affinity: scheduling.Affinity | None = None
    tolerations: list[scheduling.Toleration] | None = None
    topology_spread_constraints: list[scheduling.TopologySpreadConstraint] | None = None
    volumes: list[Volume] | None = None
    resource_claims: list[PodResourceClaim] | None = None

    def __post_init__(self) -> None:
        base.check_resources(self.overhead, "overhead")


class ContainerStateWaiting(base.Wire):
    reason: str = ""


class ContainerStateTerminated(base.Wire):
    reason: str = ""
    exit_code: base.Int32 = 0


class ContainerState(base.Wire):
    waiting: ContainerStateWaiting | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(base.Wire):
    name: str = ""
    restart_count: base.Count = 0
    state: ContainerState | None = None
    last_state: ContainerState | None = None


class PodCondition(base.Wire):
    type: base.Name
    status: str = ""
    reason: str = ""
    message: str = ""
    last_transition_time: base.Timestamp | None = None


class PodStatus(base.Wire):
    phase: Literal["", "Pending", "Running", "Succeeded", "Failed", "Unknown"] = ""
    conditions: list[PodCondition] | None = None
    container_statuses: list[ContainerStatus] | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    start_time: base.Timestamp | None = None
    reason: str = ""
    qos_class: str = ""


class Pod(base.Object):
    spec: PodSpec | None = None
    status: PodStatus | None = None
