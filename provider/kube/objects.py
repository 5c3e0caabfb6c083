"""How the provider names and reads raw Kubernetes objects: typed keys, metadata access, event types.

Objects arrive from the API as decoded JSON (``RawObject``); the provider reads only a few fields
and forwards the rest unchanged, so it keeps them as dicts and names them by :class:`ObjectKey`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from descheduler import bodies

RawObject = dict[str, Any]
"""A Kubernetes object as the API server sent it (decoded JSON).

An open dict, not :class:`~descheduler.kube.bodies.RawObject`: the planners copy and forward
whole bodies (a TypedDict is no ``Mapping[str, Any]``); fields are read through the typed
views instead (:func:`metadata` gives a :class:`~descheduler.kube.bodies.RawMeta`)."""

EventType = Literal["ADDED", "MODIFIED", "DELETED"]  # the bodies.WatchEventType that reach handlers
"""A change of an informer's cache, as its handler is told (watch BOOKMARK and ERROR never reach handlers)."""


class ObjectKey(NamedTuple):
    """Namespace and name of one object; ``namespace`` is empty for cluster-scoped objects.

    Printed as ``namespace/name`` (or ``name``), as kubectl and client-go name objects.
    """

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


metadata = bodies.metadata_of


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    """The key of ``obj`` from its metadata."""
    meta = metadata(obj)
    return ObjectKey(str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def now_rfc3339() -> str:
    """The current time as the API writes ``metav1.Time`` (seconds)."""
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """The current time as the API writes ``metav1.MicroTime`` (Lease renew times)."""
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
