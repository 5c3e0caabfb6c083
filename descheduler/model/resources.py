"""Resource amounts as integers: a resource list, a pod's effective requests and its QoS class,
computed from the spec as Kubernetes computes them.

Quantities are parsed once (:mod:`descheduler.quantity`), so the hot loops over 150k pods
compare plain ints; the records keep these amounts, and the provider's capacity sums
``pod_requests`` of its lower pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from descheduler import quantity, wire

Resources = dict[str, int]
"""Resource name -> amount in tensile's integer unit (millicores for cpu, base units otherwise)."""


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


_QOS_RESOURCES = (quantity.CPU, quantity.MEMORY)


def _positive_amounts(raw: Mapping[str, Any] | None) -> Resources:
    """The cpu and memory amounts above zero: all that decides a QoS class."""
    amounts = {name: quantity.to_int(value, name) for name, value in (raw or {}).items() if name in _QOS_RESOURCES}
    return {name: amount for name, amount in amounts.items() if amount > 0}


def qos_class(spec: wire.PodSpec) -> str:
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
