"""The Pod and the parts of its spec and status tensile reads: containers and their requests,
volumes and claims, phase, conditions and container states.
"""

from __future__ import annotations

from typing import Any, Literal

from descheduler.wire import base, scheduling


class ResourceRequirements(base.Wire):
    """A container's (or the pod's) ``resources``: requests and limits, every quantity checked."""

    requests: base.ResourceList | None = None
    limits: base.ResourceList | None = None

    def __post_init__(self) -> None:
        base.check_resources(self.requests, "requests")
        base.check_resources(self.limits, "limits")


class Container(base.Wire):
    """A container or init container: name, image, requests, and restart policy (``Always``: a sidecar)."""

    name: str = ""
    image: str = ""
    resources: ResourceRequirements | None = None
    restart_policy: str = ""


class ClaimSource(base.Wire):
    """A volume's ``persistentVolumeClaim``: the claim's name."""

    claim_name: base.Name


class Volume(base.Wire):
    """``spec.volumes[]``: read only for whether it is emptyDir, hostPath or a claim."""

    name: str = ""
    empty_dir: dict[str, Any] | None = None
    host_path: dict[str, Any] | None = None
    persistent_volume_claim: ClaimSource | None = None


class PodResourceClaim(base.Wire):
    """``spec.resourceClaims[]``: a dynamic resource claim; only its presence is read."""

    name: str = ""


class PodSpec(base.Wire):
    """A pod's ``spec``: node, containers and requests, priority, scheduling constraints, volumes and claims."""

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
    """A waiting container and why (``CrashLoopBackOff``, ``ImagePullBackOff``, ...)."""

    reason: str = ""


class ContainerStateTerminated(base.Wire):
    """A container that ended: why, and its exit code."""

    reason: str = ""
    exit_code: base.Int32 = 0


class ContainerState(base.Wire):
    """A container's state or last state: waiting or terminated (running is not read)."""

    waiting: ContainerStateWaiting | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(base.Wire):
    """One entry of ``status.containerStatuses`` (or the init and ephemeral lists): restarts and states."""

    name: str = ""
    restart_count: base.Count = 0
    state: ContainerState | None = None
    last_state: ContainerState | None = None


class PodCondition(base.Wire):
    """``status.conditions[]``, e.g. ``PodScheduled=False reason=Unschedulable``, and since when."""

    type: base.Name
    status: str = ""
    reason: str = ""
    message: str = ""
    last_transition_time: base.Timestamp | None = None


class PodStatus(base.Wire):
    """A pod's ``status``: phase, conditions, container statuses, start time, reason and QoS class."""

    phase: Literal["", "Pending", "Running", "Succeeded", "Failed", "Unknown"] = ""
    conditions: list[PodCondition] | None = None
    container_statuses: list[ContainerStatus] | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    start_time: base.Timestamp | None = None
    reason: str = ""
    qos_class: str = ""


class Pod(base.Object):
    """A pod as decoded; :func:`descheduler.model.pod_from_wire` keeps what the descheduler reads."""

    spec: PodSpec | None = None
    status: PodStatus | None = None
