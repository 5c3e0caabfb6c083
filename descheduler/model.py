"""Compact records of the Kubernetes objects the descheduler reasons about.

Raw API bodies are large; at 150k pods keeping them would cost gigabytes. The
``*_from_wire`` functions keep only what strategies and the evictor read, with quantities
already parsed to integers (see :mod:`descheduler.quantity`) and timestamps to epoch
seconds, from objects :mod:`descheduler.wire` has already checked. The ``*_from_raw``
forms take a parsed mapping (a watch event, a test's body) and raise
:class:`descheduler.wire_errors.ObjectError` (a ValueError) naming the bad field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from descheduler import keys, quantity, wire

RawObject = Mapping[str, Any]
Resources = dict[str, int]


@dataclass(slots=True, frozen=True)
class OwnerRef:
    kind: str
    name: str
    uid: str
    controller: bool


@dataclass(slots=True, frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str
    last_transition: float | None
    """Epoch seconds of lastTransitionTime, None when unset."""


@dataclass(slots=True, frozen=True)
class ContainerStatus:
    name: str
    restart_count: int
    waiting_reason: str
    terminated_reason: str
    exit_code: int | None
    last_exit_code: int | None


@dataclass(slots=True, frozen=True)
class Taint:
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
    requests: Resources
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
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    taints: tuple[Taint, ...]
    unschedulable: bool
    ready: bool
    allocatable: Resources
    created: float = 0.0
    allocatable_reported: bool = True
    """False when ``allocatable`` is status.capacity (allocatable empty), which NodeFit never reads."""


@dataclass(slots=True, frozen=True)
class PodDisruptionBudget:
    namespace: str
    name: str
    selector: dict[str, Any] | None
    disruptions_allowed: int


@dataclass(slots=True, frozen=True)
class Namespace:
    name: str
    labels: dict[str, str]


@dataclass(slots=True, frozen=True)
class PriorityClass:
    name: str
    value: int


@dataclass(slots=True, frozen=True)
class PersistentVolumeClaim:
    namespace: str
    name: str
    storage_class: str = ""


def parse_time(text: str | None) -> float | None:
    """RFC 3339 timestamp to epoch seconds; None stays None."""
    if not text:
        return None
    return datetime.fromisoformat(text).timestamp()


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def resources_from_wire(raw: wire.ResourceList | None) -> Resources:
    if not raw:
        return {}
    return {name: quantity.to_int(value, name) for name, value in raw.items()}


def _add(total: Resources, extra: Resources) -> None:
    for name, amount in extra.items():
        total[name] = total.get(name, 0) + amount


def _max_into(total: Resources, other: Resources) -> None:
    for name, amount in other.items():
        if name not in total or amount > total[name]:  # a zero request still names its resource
            total[name] = amount


def _container_requests(container: wire.Container) -> Resources:
    return resources_from_wire(container.resources.requests if container.resources else None)


def _pod_level(name: str) -> bool:
    """``resourcehelper.IsSupportedPodLevelResource``."""
    return name in (quantity.CPU, quantity.MEMORY) or name.startswith("hugepages-")


def pod_requests(spec: wire.PodSpec | Mapping[str, Any]) -> Resources:
    """Effective requests as the scheduler computes them (``resourcehelper.PodRequests``).

    max(sum of containers + restartable init containers, each plain init container on
    top of the sidecars started before it), with pod-level requests (spec.resources) in
    place of the containers' for cpu, memory and hugepages, + overhead.
    """
    if not isinstance(spec, wire.PodSpec):
        spec = wire.convert(spec, wire.PodSpec)
    containers = spec.containers or ()
    if len(containers) == 1 and not spec.init_containers and not spec.overhead and not spec.resources:
        single = _container_requests(containers[0])  # the common case, kept fast
        single[quantity.PODS] = 1
        return single
    total: Resources = {}
    for container in containers:
        _add(total, _container_requests(container))
    sidecars: Resources = {}
    init_peak: Resources = {}
    for container in spec.init_containers or ():
        requests = _container_requests(container)
        if container.restart_policy == "Always":
            _add(sidecars, requests)
            step = dict(sidecars)
        else:
            step = dict(sidecars)
            _add(step, requests)
        _max_into(init_peak, step)
    _add(total, sidecars)
    _max_into(total, init_peak)
    pod_level = resources_from_wire(spec.resources.requests if spec.resources else None)
    if any(_pod_level(name) for name in pod_level):
        total.update((name, amount) for name, amount in pod_level.items() if _pod_level(name))
    _add(total, resources_from_wire(spec.overhead))
    total[quantity.PODS] = 1
    return total


def _owner_refs(meta: wire.ObjectMeta) -> tuple[OwnerRef, ...]:
    return tuple(OwnerRef(ref.kind, ref.name, ref.uid, bool(ref.controller)) for ref in meta.owner_references or ())


def _container_status(raw: wire.ContainerStatus) -> ContainerStatus:
    state = raw.state or _NO_STATE
    last = raw.last_state or _NO_STATE
    return ContainerStatus(
        name=raw.name,
        restart_count=raw.restart_count,
        waiting_reason=state.waiting.reason if state.waiting else "",
        terminated_reason=state.terminated.reason if state.terminated else "",
        exit_code=state.terminated.exit_code if state.terminated else None,
        last_exit_code=last.terminated.exit_code if last.terminated else None,
    )


_NO_STATE = wire.ContainerState()


def _container_statuses(raw: Sequence[wire.ContainerStatus] | None) -> tuple[ContainerStatus, ...]:
    return tuple(_container_status(c) for c in raw or ())


def _condition(raw: wire.PodCondition) -> Condition:
    return Condition(raw.type, raw.status, raw.reason, raw.message, _epoch(raw.last_transition_time))


_QOS_RESOURCES = (quantity.CPU, quantity.MEMORY)


def _positive_amounts(raw: Mapping[str, Any] | None) -> Resources:
    """The cpu and memory amounts above zero: all that decides a QoS class."""
    amounts = {name: quantity.to_int(value, name) for name, value in (raw or {}).items() if name in _QOS_RESOURCES}
    return {name: amount for name, amount in amounts.items() if amount > 0}


def _qos_class(spec: wire.PodSpec) -> str:
    """The pod's QoS class when status.qosClass is missing, as upstream's ``utils.GetPodQOS``:
    only cpu and memory count, zero amounts are ignored, and Guaranteed needs both limited in
    every container with summed requests equal to summed limits. A request missing next to a
    limit defaults to it, as the API server does on admission."""
    requests: Resources = {}
    limits: Resources = {}
    guaranteed = True
    for container in [*(spec.containers or ()), *(spec.init_containers or ())]:
        res = container.resources
        raw_requests, raw_limits = (res.requests or {}, res.limits or {}) if res else ({}, {})
        limited = _positive_amounts(raw_limits)
        _add(requests, _positive_amounts({**raw_limits, **raw_requests}))
        _add(limits, limited)
        if set(limited) != set(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


_NO_POD_SPEC = wire.PodSpec()
_NO_POD_STATUS = wire.PodStatus()


def pod_from_wire(raw: wire.Pod) -> Pod:
    meta = raw.metadata
    spec = raw.spec or _NO_POD_SPEC
    status = raw.status or _NO_POD_STATUS
    volumes = spec.volumes or ()
    return Pod(
        namespace=meta.namespace,
        name=meta.name,
        uid=meta.uid or f"{meta.namespace}/{meta.name}",
        node_name=spec.node_name,
        phase=status.phase or "Pending",
        labels=meta.labels or {},
        annotations=meta.annotations or {},
        owners=_owner_refs(meta),
        priority=spec.priority,
        priority_class_name=spec.priority_class_name,
        requests=pod_requests(spec),
        created=_epoch(meta.creation_timestamp) or 0.0,
        deleting=meta.deletion_timestamp is not None,
        start_time=_epoch(status.start_time),
        conditions=tuple(_condition(c) for c in status.conditions or ()),
        container_statuses=_container_statuses(status.container_statuses),
        init_container_statuses=_container_statuses(status.init_container_statuses),
        ephemeral_container_statuses=_container_statuses(status.ephemeral_container_statuses),
        status_reason=status.reason,
        qos_class=status.qos_class or _qos_class(spec),
        node_selector=spec.node_selector or {},
        affinity=wire.to_plain(spec.affinity) if spec.affinity else None,
        tolerations=tuple(wire.to_plain(spec.tolerations or [])),
        topology_spread=tuple(wire.to_plain(spec.topology_spread_constraints or [])),
        images=tuple(c.image for c in spec.containers or ()),
        has_local_storage=any(v.empty_dir is not None or v.host_path is not None for v in volumes),
        pvc_names=tuple(v.persistent_volume_claim.claim_name for v in volumes if v.persistent_volume_claim),
        resource_claims=tuple(c.name for c in spec.resource_claims or ()),
    )


def _node_ready(status: wire.NodeStatus) -> bool:
    for cond in status.conditions or ():
        if cond.type == "Ready":
            return cond.status == "True"
    return False


_NO_NODE_SPEC = wire.NodeSpec()
_NO_NODE_STATUS = wire.NodeStatus()


def node_from_wire(raw: wire.Node) -> Node:
    meta = raw.metadata
    spec = raw.spec or _NO_NODE_SPEC
    status = raw.status or _NO_NODE_STATUS
    return Node(
        name=meta.name,
        labels=meta.labels or {},
        annotations=meta.annotations or {},
        taints=tuple(Taint(t.key, t.value, t.effect) for t in spec.taints or ()),
        unschedulable=bool(spec.unschedulable),
        ready=_node_ready(status),
        allocatable=resources_from_wire(status.allocatable or status.capacity),
        created=_epoch(meta.creation_timestamp) or 0.0,
        allocatable_reported=bool(status.allocatable),
    )


def pdb_from_wire(raw: wire.PodDisruptionBudget) -> PodDisruptionBudget:
    selector = raw.spec.selector if raw.spec else None
    return PodDisruptionBudget(
        namespace=raw.metadata.namespace,
        name=raw.metadata.name,
        selector=wire.to_plain(selector) if selector is not None else None,
        disruptions_allowed=raw.status.disruptions_allowed if raw.status else 0,
    )


def namespace_from_wire(raw: wire.Namespace) -> Namespace:
    return Namespace(name=raw.metadata.name, labels=raw.metadata.labels or {})


def priority_class_from_wire(raw: wire.PriorityClass) -> PriorityClass:
    return PriorityClass(name=raw.metadata.name, value=raw.value)


def pvc_from_wire(raw: wire.PersistentVolumeClaim) -> PersistentVolumeClaim:
    return PersistentVolumeClaim(
        namespace=raw.metadata.namespace,
        name=raw.metadata.name,
        storage_class=(raw.spec.storage_class_name if raw.spec else None) or "",
    )


def pod_from_raw(raw: RawObject) -> Pod:
    return pod_from_wire(wire.convert(raw, wire.Pod))


def node_from_raw(raw: RawObject) -> Node:
    return node_from_wire(wire.convert(raw, wire.Node))
