"""Typed shapes of the raw API bodies that both commands read: object, metadata, pod, watch event.

The API sends JSON; both packages keep most objects as decoded dicts (the provider forwards
them mostly unchanged). These TypedDicts name the fields that code reads, so that mypy checks
the spelling and the type of each; every key is optional (``total=False``), as on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

WatchEventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
"""The ``type`` of one line of a watch stream."""


class RawOwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class RawMeta(TypedDict, total=False):
    """``metav1.ObjectMeta`` as sent: the fields tensile reads or writes."""

    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[RawOwnerReference]
    finalizers: list[str]


class RawObject(TypedDict, total=False):
    """Any Kubernetes object: type, metadata, and the bodies each kind defines."""

    apiVersion: str
    kind: str
    metadata: RawMeta
    spec: dict[str, Any]
    status: dict[str, Any]
    data: dict[str, str]


class RawPod(RawObject, total=False):
    """A Pod; ``spec`` and ``status`` stay open dicts (the provider copies most of them as they are)."""


class RawWatchEvent(TypedDict, total=False):
    """One line of a watch stream: ``object`` is the changed object, a bookmark, or a Status on ERROR."""

    type: WatchEventType
    object: dict[str, Any]


def metadata_of(obj: Mapping[str, Any]) -> RawMeta:
    """The metadata of a raw object; an empty one when it has none."""
    meta: RawMeta | None = obj.get("metadata")
    return meta or RawMeta()
