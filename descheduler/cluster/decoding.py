"""One object of a kind tensile reads, from JSON bytes or a parsed mapping to its model
record, checked on the way (:mod:`descheduler.wire`). The snapshot and live sources both
decode here, so the planner cannot tell them apart and both refuse the same bad objects.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, cast

import msgspec

from descheduler import model, wire, wire_errors, wording

W = TypeVar("W", bound=wire.Object)
R = TypeVar("R")


class Kind(Generic[W, R]):
    """How one kind is decoded: its wire Struct, what a listed object always has, and its record."""

    def __init__(
        self,
        name: str,
        wire_type: type[W],
        to_record: Callable[[W], R],
        *,
        namespaced: bool = False,
        dated: bool = False,
    ) -> None:
        self.name = name
        self.wire_type = wire_type
        self.to_record = to_record
        self.namespaced = namespaced
        self.dated = dated
        """Whether the record needs creationTimestamp (the API server always sets it)."""
        self._decode = wire.decoder(wire_type)

    def from_json(self, data: bytes | memoryview) -> R:
        """The record of one JSON object; wire_errors.ObjectError names the bad field."""
        return self._record(self._decode(data))

    def from_raw(self, raw: object) -> R:
        """The record of one parsed object (YAML, a watch event); wire_errors.ObjectError names the bad field."""
        return self._record(wire.convert(raw, self.wire_type))

    def from_wire(self, obj: W) -> R:
        """The record of an object already decoded (see :func:`decode_known`); ObjectError as above."""
        return self._record(obj)

    def _record(self, obj: W) -> R:
        meta = obj.metadata
        if self.namespaced and not meta.namespace:
            raise wire_errors.ObjectError("metadata.namespace", "required, a non-empty string")
        # Without it PodLifeTime would see a pod born in 1970.
        if self.dated and meta.creation_timestamp is None:
            raise wire_errors.ObjectError("metadata.creationTimestamp", "required, an RFC 3339 timestamp")
        return self.to_record(obj)


KINDS: dict[str, Kind[Any, Any]] = {
    kind.name: kind
    for kind in (
        Kind("Node", wire.Node, model.node_from_wire),
        Kind("Pod", wire.Pod, model.pod_from_wire, namespaced=True, dated=True),
        Kind("Namespace", wire.Namespace, model.namespace_from_wire),
        Kind("PodDisruptionBudget", wire.PodDisruptionBudget, model.pdb_from_wire, namespaced=True),
        Kind("PriorityClass", wire.PriorityClass, model.priority_class_from_wire),
        Kind("PersistentVolumeClaim", wire.PersistentVolumeClaim, model.pvc_from_wire, namespaced=True),
    )
}
"""The kinds tensile reads, by ``kind``."""


class Header(msgspec.Struct, rename="camel", gc=False):
    """What every object says about itself, decoded leniently so messages can name even a broken one."""

    kind: Any = None
    api_version: Any = None
    metadata: Any = None

    def label(self) -> str:
        """``Pod shop/web-1``, or as much of it as the object gives."""
        meta = self.metadata if isinstance(self.metadata, Mapping) else {}
        parts = [meta.get("namespace"), meta.get("name")]
        name = "/".join(p for p in parts if isinstance(p, str) and p) or "unnamed"
        kind = self.kind if isinstance(self.kind, str) and self.kind else "object"
        return f"{kind} {name}"


class KindOnly(msgspec.Struct, rename="camel", gc=False):
    """The least an item must say before it is decoded by kind; everything else is skipped unread."""

    kind: Any = None
    api_version: Any = None


HEADER = msgspec.json.Decoder(Header)
KIND_ONLY = msgspec.json.Decoder(KindOnly)


def _tagged(kind: Kind[Any, Any]) -> type[wire.Object]:
    """The kind's wire Struct told apart by its ``kind``, with a checked ``apiVersion`` (as kind_problem checks it)."""
    fields = [("api_version", str | None, None)]
    tagged = msgspec.defstruct(f"Tagged{kind.name}", fields, bases=(kind.wire_type,), tag_field="kind", tag=kind.name)
    return cast("type[wire.Object]", tagged)


_KIND_OF_TAGGED: dict[type[wire.Object], Kind[Any, Any]] = {_tagged(kind): kind for kind in KINDS.values()}
_KNOWN = msgspec.json.Decoder(functools.reduce(operator.or_, _KIND_OF_TAGGED))  # the Union of the tagged Structs


def decode_known(data: bytes | memoryview) -> tuple[Kind[Any, Any], wire.Object] | None:
    """One JSON object of a kind tensile reads and its wire Struct, decoded in one pass; None for
    anything else (another kind, a bad field, not an object), which the caller then takes the
    careful way (KIND_ONLY, kind_problem, Kind.from_json) to say what it is or what is wrong.

    A snapshot of 150k pods would otherwise be read twice per item, once for its kind alone.
    """
    try:
        obj = _KNOWN.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return _KIND_OF_TAGGED[type(obj)], obj


def header_of(raw: object) -> Header:
    """The header of a parsed mapping (YAML) or of JSON bytes; never raises."""
    if isinstance(raw, Mapping):
        return Header(raw.get("kind"), raw.get("apiVersion"), raw.get("metadata"))
    try:
        return HEADER.decode(raw)  # type: ignore[arg-type]
    except (msgspec.ValidationError, msgspec.DecodeError):
        return Header()


# Kinds of the built-in API groups that tensile ignores; any other kind there is a typo.
BUILT_IN_KINDS = frozenset(
    [
        "APIService",
        "Binding",
        "CSIDriver",
        "CSINode",
        "CSIStorageCapacity",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "ConfigMap",
        "ControllerRevision",
        "CronJob",
        "CustomResourceDefinition",
        "DaemonSet",
        "Deployment",
        "DeviceClass",
        "EndpointSlice",
        "Endpoints",
        "Event",
        "Eviction",
        "FlowSchema",
        "HorizontalPodAutoscaler",
        "IPAddress",
        "Ingress",
        "IngressClass",
        "Job",
        "Lease",
        "LimitRange",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "NetworkPolicy",
        "PersistentVolume",
        "PodTemplate",
        "PriorityLevelConfiguration",
        "ReplicaSet",
        "ReplicationController",
        "ResourceClaim",
        "ResourceClaimTemplate",
        "ResourceQuota",
        "ResourceSlice",
        "Role",
        "RoleBinding",
        "RuntimeClass",
        "Secret",
        "Service",
        "ServiceAccount",
        "ServiceCIDR",
        "StatefulSet",
        "StorageClass",
        "StorageVersionMigration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    ]
)


def kind_problem(kind: object, api_version: object) -> str | None:
    """Why an item's kind/apiVersion is unusable, or None (a kind tensile reads, or one it may ignore)."""
    if kind is None or kind == "":
        return "kind: required, a string such as Pod or Node"
    if not isinstance(kind, str):
        return f"kind: must be a string, got {wording.type_word(kind)}"
    if api_version is not None and not isinstance(api_version, str):
        return f"apiVersion: must be a string, got {wording.type_word(api_version)}"
    if kind in KINDS or kind in BUILT_IN_KINDS or not _built_in_group(api_version):
        return None
    known = ", ".join(KINDS)
    return f"kind: unknown kind {wording.shown(kind)}; tensile reads {known} and ignores other Kubernetes kinds"


def _built_in_group(api_version: str | None) -> bool:
    """Core (``v1``) and ``*.k8s.io`` groups; objects of other groups (custom resources) are ignored."""
    if not api_version or "/" not in api_version:
        return True
    group = api_version.split("/", 1)[0]
    return "." not in group or group.endswith(".k8s.io")
