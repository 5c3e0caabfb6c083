"""Pure planner for the lower EndpointSlices (and, optionally, Endpoints) of a reflected Service.

The lower copy of a Service has no selector, so no lower controller fills in its endpoints:
:func:`lower_slices` turns the upper EndpointSlices of the Service into lower ones, labelled
``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by: tensile.io``.
Addresses, ports, hostnames and the ready/serving/terminating conditions are kept; ``nodeName``
and ``targetRef`` are kept only for pods mirrored into this lower cluster (pointing at the mirror
and its lower node: the upper ones mean nothing below); zones and hints are dropped. Endpoints
are grouped by address type and ports, ordered by address and cut into slices of at most
:data:`MAX_ENDPOINTS_PER_SLICE` under stable names, so the same upper endpoints always give the
same lower slices and an unchanged Service writes nothing. :func:`lower_endpoints` is the legacy
``Endpoints`` object of the same endpoints (``--reflect endpoints``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from descheduler import keys
from provider.pods import service_plan

Raw = dict[str, Any]

MAX_ENDPOINTS_PER_SLICE = 100
"""kube-controller-manager's default ``--max-endpoints-per-slice``."""
_CONDITIONS = ("ready", "serving", "terminating")
_PORT_FIELDS = ("name", "protocol", "port", "appProtocol")


@dataclass(frozen=True)
class Mirror:
    """Where a pod mirrored into this lower cluster runs: its lower node (empty until scheduled), its
    uid, and the uid of the upper pod it mirrors (an older pod of the same name is not it)."""

    node_name: str
    uid: str
    upper_uid: str


MirrorLookup = Callable[[str, str], Mirror | None]
"""(namespace, pod name) -> the pod's mirror in this lower cluster, or None if it has none here."""


def lower_slices(
    service: Mapping[str, Any],
    upper_slices: Iterable[Mapping[str, Any]],
    *,
    mirror_of: MirrorLookup,
    max_endpoints: int = MAX_ENDPOINTS_PER_SLICE,
) -> list[Raw]:
    """The lower EndpointSlices of the lower Service ``service`` (as the lower cluster returned it, uid
    included), from the upper slices of its upper namesake; sorted by name, each with a source digest."""
    meta = service.get("metadata") or {}
    namespace, name = meta.get("namespace") or "default", str(meta.get("name"))
    groups: dict[tuple[str, str], dict[tuple[str, ...], Raw]] = {}
    group_ports: dict[tuple[str, str], list[Raw]] = {}
    for upper in upper_slices:
        address_type = str(upper.get("addressType") or "IPv4")
        ports = sorted((_port(p) for p in upper.get("ports") or ()), key=_port_order)
        group = (address_type, json.dumps(ports, sort_keys=True))
        group_ports[group] = ports
        endpoints = groups.setdefault(group, {})
        for endpoint in upper.get("endpoints") or ():
            lowered = _endpoint(endpoint, namespace, mirror_of)
            addresses = tuple(lowered.get("addresses") or ())
            if addresses and _preferred(lowered, endpoints.get(addresses)):
                endpoints[addresses] = lowered
    slices: list[Raw] = []
    for group in sorted(groups):
        ordered = [groups[group][addresses] for addresses in sorted(groups[group])]
        for start in range(0, len(ordered), max_endpoints):
            chunk = ordered[start : start + max_endpoints]
            slices.append(_slice(service, f"{name}-tensile-{len(slices)}", group[0], group_ports[group], chunk))
    return slices


def _port(port: Mapping[str, Any]) -> Raw:
    return {f: port[f] for f in _PORT_FIELDS if port.get(f) is not None}


def _port_order(port: Mapping[str, Any]) -> tuple[str, str, int]:
    return (str(port.get("name") or ""), str(port.get("protocol") or "TCP"), int(port.get("port") or 0))


def _endpoint(endpoint: Mapping[str, Any], namespace: str, mirror_of: MirrorLookup) -> Raw:
    lowered: Raw = {"addresses": list(endpoint.get("addresses") or ())}
    conditions = endpoint.get("conditions") or {}
    lowered["conditions"] = {c: bool(conditions[c]) for c in _CONDITIONS if conditions.get(c) is not None}
    if endpoint.get("hostname"):
        lowered["hostname"] = endpoint["hostname"]
    ref = endpoint.get("targetRef") or {}
    if ref.get("kind") == "Pod" and ref.get("name"):
        pod_namespace = str(ref.get("namespace") or namespace)
        mirror = mirror_of(pod_namespace, str(ref["name"]))
        if mirror is not None and ref.get("uid") in (None, "", mirror.upper_uid):
            lowered["targetRef"] = {"kind": "Pod", "namespace": pod_namespace, "name": ref["name"], "uid": mirror.uid}
            if mirror.node_name:
                lowered["nodeName"] = mirror.node_name
    return lowered


def _preferred(candidate: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    """Of two upper endpoints with the same addresses (slices briefly overlap during updates), keep the
    more usable one: ready before serving before terminating, then a fixed order, so the upper slices'
    order never changes the result."""
    return current is None or _rank(candidate) < _rank(current)


def _rank(endpoint: Mapping[str, Any]) -> tuple[bool, bool, bool, str]:
    conditions = endpoint["conditions"]
    # A missing ready or serving means true (discovery.k8s.io/v1), a missing terminating false.
    return (
        not conditions.get("ready", True),
        not conditions.get("serving", True),
        bool(conditions.get("terminating", False)),
        json.dumps(endpoint, sort_keys=True),
    )


def _slice(service: Mapping[str, Any], name: str, address_type: str, ports: list[Raw], endpoints: list[Raw]) -> Raw:
    meta = service.get("metadata") or {}
    labels = meta.get("labels") or {}
    content: Raw = {"addressType": address_type, "endpoints": endpoints, "ports": ports}
    owner = {
        "apiVersion": "v1",
        "kind": "Service",
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
    }
    body: Raw = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace") or "default",
            "labels": {
                keys.SERVICE_NAME_LABEL: meta.get("name"),
                keys.ENDPOINTSLICE_MANAGED_BY_LABEL: keys.ENDPOINTSLICE_MANAGED_BY,
                keys.UPPER_CLUSTER_LABEL: labels.get(keys.UPPER_CLUSTER_LABEL),
                keys.VIRTUAL_NODE_LABEL: labels.get(keys.VIRTUAL_NODE_LABEL),
            },
            "annotations": {keys.SOURCE_HASH_ANNOTATION: service_plan.digest({"owner": owner, **content})},
            "ownerReferences": [owner],
        },
        **content,
    }
    return body


def lower_endpoints(service: Mapping[str, Any], slices: Iterable[Mapping[str, Any]]) -> Raw:
    """The legacy Endpoints object of the lower Service ``service``, from its planned lower slices.

    Ready endpoints are ``addresses``, the others ``notReadyAddresses`` (the upper slices already
    count ``publishNotReadyAddresses``); FQDN slices have no Endpoints form and are left out.
    Labelled ``endpointslice.kubernetes.io/skip-mirror`` so the lower cluster does not make
    slices of it a second time.
    """
    meta = service.get("metadata") or {}
    labels = meta.get("labels") or {}
    subsets: list[Raw] = []
    for lower in slices:
        if lower.get("addressType") not in ("IPv4", "IPv6"):
            continue
        ready: list[Raw] = []
        not_ready: list[Raw] = []
        for endpoint in lower.get("endpoints") or ():
            for ip in endpoint.get("addresses") or ():
                address: Raw = {"ip": ip}
                address.update({f: endpoint[f] for f in ("hostname", "nodeName", "targetRef") if f in endpoint})
                (ready if endpoint["conditions"].get("ready", True) else not_ready).append(address)
        if not ready and not not_ready:
            continue
        subset: Raw = {"ports": list(lower.get("ports") or ())}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        subsets.append(subset)
    owner = {"apiVersion": "v1", "kind": "Service", "name": meta.get("name"), "uid": meta.get("uid")}
    # Owned by the lower Service like the slices, so the lower garbage collector takes it with the Service.
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace") or "default",
            "labels": {
                keys.ENDPOINTS_SKIP_MIRROR_LABEL: "true",
                keys.UPPER_CLUSTER_LABEL: labels.get(keys.UPPER_CLUSTER_LABEL),
                keys.VIRTUAL_NODE_LABEL: labels.get(keys.VIRTUAL_NODE_LABEL),
            },
            "annotations": {keys.SOURCE_HASH_ANNOTATION: service_plan.digest({"owner": owner, "subsets": subsets})},
            "ownerReferences": [owner],
        },
        "subsets": subsets,
    }


def update_body(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> Raw:
    """``desired`` as a PUT over ``existing`` (its resourceVersion)."""
    body: Raw = copy.deepcopy(dict(desired))
    body["metadata"]["resourceVersion"] = (existing.get("metadata") or {}).get("resourceVersion")
    return body
