"""An index of one informer's objects by namespace and the value of one label, fed by its events."""

from __future__ import annotations

import threading
from collections import defaultdict

from provider.kube.objects import EventType, ObjectKey, RawObject, metadata, object_key


class LabelIndex:
    """Keys of the objects carrying ``label``, by (namespace, label value): which EndpointSlices belong
    to which Service, without scanning every slice. Fed from the informer's handler thread; read from any."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._keys: defaultdict[tuple[str, str], set[ObjectKey]] = defaultdict(set)
        self._values: dict[ObjectKey, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def value_of(self, obj: RawObject) -> str | None:
        value = (metadata(obj).get("labels") or {}).get(self._label)
        return str(value) if value else None

    def on_event(self, event: EventType, obj: RawObject) -> list[tuple[str, str]]:
        """Record the change; returns the (namespace, value) groups it touched: the one the object
        belonged to, and the one it belongs to now (both when its label value moved)."""
        key = object_key(obj)
        value = self.value_of(obj)
        touched: list[tuple[str, str]] = []
        with self._lock:
            before = self._values.pop(key, None)
            if before is not None:
                touched.append(before)
                self._keys[before].discard(key)
                if not self._keys[before]:
                    del self._keys[before]
            if event != "DELETED" and value is not None:
                now = (key.namespace, value)
                self._values[key] = now
                self._keys[now].add(key)
                if now != before:
                    touched.append(now)
        return touched

    def keys(self, namespace: str, value: str) -> list[ObjectKey]:
        with self._lock:
            return sorted(self._keys.get((namespace, value), ()))


class NamespaceIndex:
    """Which namespaces hold at least one of an informer's objects, kept from its events: the
    namespaces this virtual node mirrors pods in, without scanning every bound pod on each question."""

    def __init__(self) -> None:
        self._keys: defaultdict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()

    def on_event(self, event: EventType, obj: RawObject) -> bool:
        """Record the change; True when its namespace just got its first object or lost its last."""
        key = object_key(obj)
        with self._lock:
            members = self._keys[key.namespace]
            was = bool(members)
            if event == "DELETED":
                members.discard(key.name)
            else:
                members.add(key.name)
            if not members:
                del self._keys[key.namespace]
            return was != bool(members)

    def __contains__(self, namespace: object) -> bool:
        with self._lock:
            return namespace in self._keys

    def namespaces(self) -> set[str]:
        with self._lock:
            return set(self._keys)
