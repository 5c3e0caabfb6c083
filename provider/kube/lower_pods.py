"""What the provider keeps of each lower pod: whole mirrors, and only what capacity needs of the rest.

A lower cluster may run 150,000 pods, few of them mirrors of this upper cluster. Mirrors are
copied, planned and forwarded whole (status copy, pod planner, kubelet API, endpoint
reflection), so the lower pod informer keeps them as the API sent them. Every other pod is
read only for the capacity it takes (:mod:`provider.node.capacity`, :mod:`provider.node.rooms`)
and for "is it ours?" (never, then): it is kept as a *slim* raw object with just those fields,
in the same shape, so every reader works unchanged. The resource part of a slim spec is shared
between pods that request the same (most pods come from a few templates), which is where most
of the memory goes.
"""

from __future__ import annotations

from typing import Any

import orjson

from descheduler import keys
from descheduler.kube import informer as listwatch
from provider.kube import objects
from provider.kube.objects import RawObject

_KEPT_METADATA = ("name", "namespace", "uid", "resourceVersion", "deletionTimestamp")
_OWNERSHIP_LABELS = (keys.UPPER_CLUSTER_LABEL, keys.VIRTUAL_NODE_LABEL)
_CONTAINER_FIELDS = ("name", "resources", "restartPolicy")
"""What :func:`descheduler.model.pod_requests` reads of a container (a sidecar's restartPolicy counts)."""
_SPEC_RESOURCE_FIELDS = ("resources", "overhead")
MAX_SHARED_SHAPES = 10_000
"""Distinct resource shapes shared at most; pods of further shapes keep their own copy."""


class SlimLowerPods:
    """Decodes lower pods for the informer: mirrors of ``upper_cluster`` whole, other pods slim.

    Slim objects are read-only like everything in an informer cache; their shared parts make
    that a must. Used by one informer thread (the shape table is not locked).
    """

    def __init__(self, upper_cluster: str) -> None:
        self._upper_cluster = upper_cluster
        self._shapes: dict[bytes, dict[str, Any]] = {}

    def codec(self) -> listwatch.Codec[objects.ObjectKey, RawObject]:
        return listwatch.Codec(
            from_item=self.from_item, from_event=self.keep, key=objects.object_key, version=listwatch.version_of
        )

    def from_item(self, item: memoryview) -> RawObject:
        return self.keep(orjson.loads(item))

    def keep(self, pod: RawObject) -> RawObject:
        """``pod`` itself when it is a mirror of our upper cluster, else its slim form."""
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(keys.UPPER_CLUSTER_LABEL) == self._upper_cluster:
            return pod
        slim_meta = {name: meta[name] for name in _KEPT_METADATA if name in meta}
        ownership = {name: labels[name] for name in _OWNERSHIP_LABELS if name in labels}
        if ownership:
            slim_meta["labels"] = ownership  # another upper cluster's mirror: still not ours
        spec = pod.get("spec") or {}
        slim_spec = dict(self._shape(spec))
        if spec.get("nodeName"):
            slim_spec["nodeName"] = spec["nodeName"]
        slim: RawObject = {"metadata": slim_meta, "spec": slim_spec}
        phase = (pod.get("status") or {}).get("phase")
        if phase:
            slim["status"] = _PHASES.get(phase) or {"phase": phase}
        return slim

    def _shape(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The fields of ``spec`` that decide its requests, shared with every pod requesting the same."""
        shape: dict[str, Any] = {
            field: [{name: c[name] for name in _CONTAINER_FIELDS if name in c} for c in spec[field]]
            for field in ("containers", "initContainers")
            if spec.get(field)
        }
        shape.update((field, spec[field]) for field in _SPEC_RESOURCE_FIELDS if spec.get(field))
        signature = orjson.dumps(shape, option=orjson.OPT_SORT_KEYS)
        shared = self._shapes.get(signature)
        if shared is not None:
            return shared
        if len(self._shapes) < MAX_SHARED_SHAPES:
            self._shapes[signature] = shape
        return shape


_PHASES = {phase: {"phase": phase} for phase in ("Pending", "Running", "Succeeded", "Failed", "Unknown")}
"""Shared status of slim pods: capacity reads only the phase."""
