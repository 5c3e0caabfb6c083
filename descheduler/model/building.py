"""Records from checked wire objects: the ``*_from_wire`` builders keep only what strategies
and the evictor read, with quantities already integers (:mod:`descheduler.model.resources`) and
timestamps epoch seconds. The ``*_from_raw`` forms take a parsed mapping (a watch event, a
test's body) and raise :class:`descheduler.wire_errors.ObjectError` naming the bad field.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from sys import intern
from typing import Any

from descheduler import wire
from descheduler.model import records, resources

RawObject = Mapping[str, Any]


def parse_time(text: str | None) -> float | None:
    """RFC 3339 timestamp to epoch seconds; None stays None."""
    if not text:
        return None
    return datetime.fromisoformat(text).timestamp()


def _interned(labels: dict[str, str]) -> dict[str, str]:
    """The one shared dict of these labels, in this order, with interned keys and values (see
    :func:`pod_from_wire`); records never change their mappings, so replicas may share one."""
    return _shared_labels(tuple(labels.items()))


@functools.lru_cache(maxsize=65536)
def _shared_labels(items: tuple[tuple[str, str], ...]) -> dict[str, str]:
    # Bounded, so a long-lived process that sees pods come and go keeps no label set forever.
    return {intern(key): intern(value) for key, value in items}


@functools.lru_cache(maxsize=65536)
def _shared_requests(items: tuple[tuple[str, int], ...]) -> resources.Resources:
    """The one shared dict of these requests: replicas ask for the same, and nothing changes a record's requests."""
    return dict(items)


def _requests(spec: wire.PodSpec) -> resources.Resources:
    """``resources.pod_requests`` of the spec, shared by the pods that ask for the same. A pod of one
    container and nothing else (most pods) is looked up by that container's requests as written,
    so the replicas of a workload parse their quantities once."""
    containers = spec.containers
    if containers and len(containers) == 1 and not (spec.init_containers or spec.overhead or spec.resources):
        written = containers[0].resources.requests if containers[0].resources else None
        if not written:
            return _single_container_requests(())
        items = tuple(written.items())
        if all(type(value) is str for _name, value in items):  # 1 == 1.0, yet to_int may round them apart
            return _single_container_requests(items)
    return _shared_requests(tuple(resources.pod_requests(spec).items()))


@functools.lru_cache(maxsize=4096)
def _single_container_requests(written: tuple[tuple[str, str], ...]) -> resources.Resources:
    """The requests of a pod whose one container asks for ``written``, as ``resources.pod_requests`` computes them."""
    return _shared_requests(
        tuple(resources.pod_requests({"containers": [{"resources": {"requests": dict(written)}}]}).items())
    )


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _owner_refs(meta: wire.ObjectMeta) -> tuple[records.OwnerRef, ...]:
    """The pod's owner references; the replicas of one owner share one tuple of records."""
    refs = meta.owner_references
    if not refs:
        return ()
    return _shared_owners(tuple([(ref.kind, ref.name, ref.uid, bool(ref.controller)) for ref in refs]))


@functools.lru_cache(maxsize=65536)
def _shared_owners(refs: tuple[tuple[str, str, str, bool], ...]) -> tuple[records.OwnerRef, ...]:
    return tuple(records.OwnerRef(intern(kind), intern(name), uid, controller) for kind, name, uid, controller in refs)


def _container_status(raw: wire.ContainerStatus) -> records.ContainerStatus:
    state = raw.state or _NO_STATE
    last = raw.last_state or _NO_STATE
    return records.ContainerStatus(
        name=raw.name,
        restart_count=raw.restart_count,
        waiting_reason=state.waiting.reason if state.waiting else "",
        terminated_reason=state.terminated.reason if state.terminated else "",
        exit_code=state.terminated.exit_code if state.terminated else None,
        last_exit_code=last.terminated.exit_code if last.terminated else None,
    )


_NO_STATE = wire.ContainerState()


def _container_statuses(raw: Sequence[wire.ContainerStatus] | None) -> tuple[records.ContainerStatus, ...]:
    return tuple(map(_container_status, raw)) if raw else ()


def _condition(raw: wire.PodCondition) -> records.Condition:
    return records.Condition(
        intern(raw.type), intern(raw.status), intern(raw.reason), raw.message, _epoch(raw.last_transition_time)
    )


def _claim_names(volumes: Sequence[wire.Volume]) -> tuple[str, ...]:
    return tuple(v.persistent_volume_claim.claim_name for v in volumes if v.persistent_volume_claim)


_NO_POD_SPEC = wire.PodSpec()
_NO_POD_STATUS = wire.PodStatus()


def pod_from_wire(raw: wire.Pod) -> records.Pod:
    """The pod's record. Strings that many pods repeat (namespace, node, owner, labels, images, condition
    types and statuses) are interned: every plugin then hashes and compares one shared, cached string instead of
    150k copies scattered over memory, which at that size made the plugins about 15% slower and cost 110 MiB."""
    meta = raw.metadata
    spec = raw.spec or _NO_POD_SPEC
    status = raw.status or _NO_POD_STATUS
    volumes = spec.volumes or ()
    return records.Pod(
        namespace=intern(meta.namespace),
        name=meta.name,
        uid=meta.uid or f"{meta.namespace}/{meta.name}",
        node_name=intern(spec.node_name),
        phase=status.phase or "Pending",
        labels=_interned(meta.labels) if meta.labels else {},
        annotations=meta.annotations or {},
        owners=_owner_refs(meta),
        priority=spec.priority,
        priority_class_name=intern(spec.priority_class_name),
        requests=_requests(spec),
        created=_epoch(meta.creation_timestamp) or 0.0,
        deleting=meta.deletion_timestamp is not None,
        start_time=_epoch(status.start_time),
        conditions=tuple(map(_condition, status.conditions)) if status.conditions else (),
        container_statuses=_container_statuses(status.container_statuses),
        init_container_statuses=_container_statuses(status.init_container_statuses),
        ephemeral_container_statuses=_container_statuses(status.ephemeral_container_statuses),
        status_reason=status.reason,
        qos_class=intern(status.qos_class) if status.qos_class else resources.qos_class(spec),
        node_selector=spec.node_selector or {},
        affinity=wire.to_plain(spec.affinity) if spec.affinity else None,
        tolerations=tuple(wire.to_plain(spec.tolerations)) if spec.tolerations else (),
        topology_spread=tuple(wire.to_plain(spec.topology_spread_constraints))
        if spec.topology_spread_constraints
        else (),
        images=tuple([intern(c.image) for c in spec.containers]) if spec.containers else (),
        has_local_storage=bool(volumes) and any(v.empty_dir is not None or v.host_path is not None for v in volumes),
        pvc_names=_claim_names(volumes) if volumes else (),
        resource_claims=tuple(c.name for c in spec.resource_claims) if spec.resource_claims else (),
    )


def _node_ready(status: wire.NodeStatus) -> bool:
    for cond in status.conditions or ():
        if cond.type == "Ready":
            return cond.status == "True"
    return False


_NO_NODE_SPEC = wire.NodeSpec()
_NO_NODE_STATUS = wire.NodeStatus()


def node_from_wire(raw: wire.Node) -> records.Node:
    meta = raw.metadata
    spec = raw.spec or _NO_NODE_SPEC
    status = raw.status or _NO_NODE_STATUS
    return records.Node(
        name=intern(meta.name),
        labels=_interned(meta.labels) if meta.labels else {},
        annotations=meta.annotations or {},
        taints=tuple(records.Taint(t.key, t.value, t.effect) for t in spec.taints or ()),
        unschedulable=bool(spec.unschedulable),
        ready=_node_ready(status),
        allocatable=resources.resources_from_wire(status.allocatable or status.capacity),
        created=_epoch(meta.creation_timestamp) or 0.0,
        allocatable_reported=bool(status.allocatable),
    )


def pdb_from_wire(raw: wire.PodDisruptionBudget) -> records.PodDisruptionBudget:
    selector = raw.spec.selector if raw.spec else None
    return records.PodDisruptionBudget(
        namespace=raw.metadata.namespace,
        name=raw.metadata.name,
        selector=wire.to_plain(selector) if selector is not None else None,
        disruptions_allowed=raw.status.disruptions_allowed if raw.status else 0,
    )


def namespace_from_wire(raw: wire.Namespace) -> records.Namespace:
    return records.Namespace(name=raw.metadata.name, labels=raw.metadata.labels or {})


def priority_class_from_wire(raw: wire.PriorityClass) -> records.PriorityClass:
    return records.PriorityClass(name=raw.metadata.name, value=raw.value)


def pvc_from_wire(raw: wire.PersistentVolumeClaim) -> records.PersistentVolumeClaim:
    return records.PersistentVolumeClaim(
        namespace=raw.metadata.namespace,
        name=raw.metadata.name,
        storage_class=(raw.spec.storage_class_name if raw.spec else None) or "",
    )


def pod_from_raw(raw: RawObject) -> records.Pod:
    return pod_from_wire(wire.convert(raw, wire.Pod))


def node_from_raw(raw: RawObject) -> records.Node:
    return node_from_wire(wire.convert(raw, wire.Node))
