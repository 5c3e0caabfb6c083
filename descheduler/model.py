"""Compact records of the Kubernetes objects the descheduler reasons about.

Raw API bodies are large; at 150k pods keeping them would cost gigabytes. The
``*_from_raw`` functions keep only what strategies and the evictor read, with
quantities already parsed to integers (see :mod:`descheduler.quantity`). They raise
``ValueError``/``KeyError``/``TypeError`` on malformed input; loaders add the file and
object name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from descheduler import keys, quantity

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
    last_transition_time: str
    """RFC 3339 as on the wire; parsed only when asked (most conditions are never read)."""

    @property
    def last_transition(self) -> float | None:
        return parse_time(self.last_transition_time)


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
    start_time_text: str = ""
    raw_conditions: list[dict[str, Any]] = field(default_factory=list)
    """status.conditions as on the wire; most are never read, so they are parsed on access."""
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
    def start_time(self) -> float | None:
        return parse_time(self.start_time_text)

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

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return tuple(_condition(c) for c in self.raw_conditions)

    def condition(self, type_: str) -> Condition | None:
        for raw in self.raw_conditions:
            if raw.get("type") == type_:
                return _condition(raw)
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


def resources_from_raw(raw: Mapping[str, Any] | None) -> Resources:
    if not raw:
        return {}
    return {name: quantity.to_int(value, name) for name, value in raw.items()}


def _add(total: Resources, extra: Resources) -> None:
    for name, amount in extra.items():
        total[name] = total.get(name, 0) + amount


def _max_into(total: Resources, other: Resources) -> None:
    for name, amount in other.items():
        if amount > total.get(name, 0):
            total[name] = amount


def _container_requests(container: Mapping[str, Any]) -> Resources:
    return resources_from_raw((container.get("resources") or {}).get("requests"))


def pod_requests(spec: Mapping[str, Any]) -> Resources:
    """Effective requests as the scheduler computes them.

    max(sum of containers + restartable init containers, each plain init container on
    top of the sidecars started before it) + overhead.
    """
    containers: list[Mapping[str, Any]] = spec.get("containers") or []
    if len(containers) == 1 and not spec.get("initContainers") and not spec.get("overhead"):
        single = _container_requests(containers[0])  # the common case, kept fast
        single[quantity.PODS] = 1
        return single
    total: Resources = {}
    for container in containers:
        _add(total, _container_requests(container))
    sidecars: Resources = {}
    init_peak: Resources = {}
    for container in spec.get("initContainers") or ():
        requests = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            _add(sidecars, requests)
            step = dict(sidecars)
        else:
            step = dict(sidecars)
            _add(step, requests)
        _max_into(init_peak, step)
    _add(total, sidecars)
    _max_into(total, init_peak)
    _add(total, resources_from_raw(spec.get("overhead")))
    total[quantity.PODS] = 1
    return total


def _owner_refs(meta: Mapping[str, Any]) -> tuple[OwnerRef, ...]:
    return tuple(
        OwnerRef(ref["kind"], ref["name"], ref.get("uid", ""), bool(ref.get("controller")))
        for ref in meta.get("ownerReferences") or ()
    )


def _container_status(raw: Mapping[str, Any]) -> ContainerStatus:
    state = raw.get("state") or {}
    waiting = state.get("waiting") or {}
    terminated = state.get("terminated") or {}
    last_terminated = (raw.get("lastState") or {}).get("terminated") or {}
    return ContainerStatus(
        name=raw.get("name", ""),
        restart_count=int(raw.get("restartCount") or 0),
        waiting_reason=waiting.get("reason", ""),
        terminated_reason=terminated.get("reason", ""),
        exit_code=terminated.get("exitCode"),
        last_exit_code=last_terminated.get("exitCode"),
    )


def _condition(raw: Mapping[str, Any]) -> Condition:
    return Condition(
        type=raw["type"],
        status=raw.get("status", ""),
        reason=raw.get("reason", ""),
        message=raw.get("message", ""),
        last_transition_time=raw.get("lastTransitionTime") or "",
    )


def _qos_class(spec: Mapping[str, Any]) -> str:
    containers = [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]
    guaranteed = bool(containers)
    any_set = False
    for container in containers:
        res = container.get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        if requests or limits:
            any_set = True
        for name in (quantity.CPU, quantity.MEMORY):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if guaranteed:
        return "Guaranteed"
    return "Burstable" if any_set else "BestEffort"


def pod_from_raw(raw: RawObject) -> Pod:
    meta = raw["metadata"]
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    volumes = spec.get("volumes") or ()
    return Pod(
        namespace=meta.get("namespace") or "default",
        name=meta["name"],
        uid=meta.get("uid") or f"{meta.get('namespace')}/{meta['name']}",
        node_name=spec.get("nodeName") or "",
        phase=status.get("phase") or "Pending",
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        owners=_owner_refs(meta),
        priority=spec.get("priority"),
        priority_class_name=spec.get("priorityClassName") or "",
        requests=pod_requests(spec),
        created=parse_time(meta.get("creationTimestamp")) or 0.0,
        deleting=bool(meta.get("deletionTimestamp")),
        start_time_text=status.get("startTime") or "",
        raw_conditions=status.get("conditions") or [],
        container_statuses=tuple(_container_status(c) for c in status.get("containerStatuses") or ()),
        init_container_statuses=tuple(_container_status(c) for c in status.get("initContainerStatuses") or ()),
        ephemeral_container_statuses=tuple(
            _container_status(c) for c in status.get("ephemeralContainerStatuses") or ()
        ),
        status_reason=status.get("reason") or "",
        qos_class=status.get("qosClass") or _qos_class(spec),
        node_selector=dict(spec.get("nodeSelector") or {}),
        affinity=spec.get("affinity") or None,
        tolerations=tuple(spec.get("tolerations") or ()),
        topology_spread=tuple(spec.get("topologySpreadConstraints") or ()),
        images=tuple(c.get("image", "") for c in spec.get("containers") or ()),
        has_local_storage=any("emptyDir" in v or "hostPath" in v for v in volumes),
        pvc_names=tuple(v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v),
        resource_claims=tuple(c.get("name", "") for c in spec.get("resourceClaims") or ()),
    )


def _node_ready(status: Mapping[str, Any]) -> bool:
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def node_from_raw(raw: RawObject) -> Node:
    meta = raw["metadata"]
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    return Node(
        name=meta["name"],
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        taints=tuple(Taint(t["key"], t.get("value", ""), t["effect"]) for t in spec.get("taints") or ()),
        unschedulable=bool(spec.get("unschedulable")),
        ready=_node_ready(status),
        allocatable=resources_from_raw(status.get("allocatable") or status.get("capacity")),
        created=parse_time(meta.get("creationTimestamp")) or 0.0,
    )


def pdb_from_raw(raw: RawObject) -> PodDisruptionBudget:
    meta = raw["metadata"]
    return PodDisruptionBudget(
        namespace=meta.get("namespace") or "default",
        name=meta["name"],
        selector=(raw.get("spec") or {}).get("selector"),
        disruptions_allowed=int((raw.get("status") or {}).get("disruptionsAllowed") or 0),
    )


def namespace_from_raw(raw: RawObject) -> Namespace:
    meta = raw["metadata"]
    return Namespace(name=meta["name"], labels=dict(meta.get("labels") or {}))


def priority_class_from_raw(raw: RawObject) -> PriorityClass:
    return PriorityClass(name=raw["metadata"]["name"], value=int(raw["value"]))


def pvc_from_raw(raw: RawObject) -> PersistentVolumeClaim:
    meta = raw["metadata"]
    return PersistentVolumeClaim(
        namespace=meta.get("namespace") or "default",
        name=meta["name"],
        storage_class=(raw.get("spec") or {}).get("storageClassName") or "",
    )
