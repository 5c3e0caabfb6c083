"""Incremental free capacity of a lower cluster, advertised as the virtual node's allocatable.

The reconcile loop feeds every lower Node and Pod watch event in; each event costs O(number
of resource names), never a recompute over all pods (DESIGN.md §3). Free capacity is the
allocatable of Ready, schedulable lower nodes minus the requests of the live pods bound to
them, except this virtual node's own mirrors: the upper scheduler already counts those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from descheduler import model, quantity

Resources = dict[str, int]
_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
# Shown even at zero, so an empty lower cluster reads as "no room" rather than "unknown".
_ALWAYS_ADVERTISED = frozenset({quantity.CPU, quantity.MEMORY, quantity.EPHEMERAL_STORAGE, quantity.PODS})


@dataclass(frozen=True, slots=True)
class _Usage:
    """What one lower pod takes from one lower node."""

    node: str
    requests: Mapping[str, int]


class Capacity:
    """Running totals over the lower cluster; every mutator returns whether the totals moved.

    Usage is also kept per node for nodes that do not count (cordoned, NotReady, not seen
    yet), so that a node joining the count brings its pods along in one step.
    """

    def __init__(self, *, is_own_mirror: Callable[[Mapping[str, Any]], bool]) -> None:
        self._is_own_mirror = is_own_mirror
        self._node_allocatable: dict[str, Resources | None] = {}
        """Every known node: its allocatable when it counts, None when it does not."""
        self._pods: dict[tuple[str, str], _Usage] = {}
        """Only the pods that take capacity (bound, not terminal, not our mirror)."""
        self._used_on: dict[str, Resources] = {}
        self._allocatable: Resources = {}
        """Sum over counted nodes."""
        self._used: Resources = {}
        """Sum over pods bound to counted nodes."""

    def upsert_node(self, raw: Mapping[str, Any]) -> bool:
        """A lower Node was added or modified."""
        node = model.node_from_raw(raw)
        counted = dict(node.allocatable) if node.ready and not node.unschedulable else None
        if node.name in self._node_allocatable and self._node_allocatable[node.name] == counted:
            return False
        moved = self._uncount_node(node.name)
        self._node_allocatable[node.name] = counted
        if counted is not None:
            _add(self._allocatable, counted)
            _add(self._used, self._used_on.get(node.name, {}))
            moved = True
        return moved

    def delete_node(self, name: str) -> bool:
        """A lower Node is gone; its pods stay recorded until their own delete events arrive."""
        moved = self._uncount_node(name)
        self._node_allocatable.pop(name, None)
        return moved

    def upsert_pod(self, raw: Mapping[str, Any]) -> bool:
        """A lower Pod was added or modified (bound, moved, resized, finished...)."""
        meta = raw["metadata"]
        key = (meta.get("namespace") or "default", meta["name"])
        usage = self._usage(raw)
        previous = self._pods.get(key)
        if previous == usage:
            return False
        moved = self._forget_pod(key)
        if usage is not None:
            self._pods[key] = usage
            _add(self._used_on.setdefault(usage.node, {}), usage.requests)
            if self._counts(usage.node):
                _add(self._used, usage.requests)
                moved = True
        return moved

    def delete_pod(self, namespace: str, name: str) -> bool:
        """A lower Pod is gone."""
        return self._forget_pod((namespace, name))

    def allocatable(self) -> dict[str, str]:
        """Free capacity as Kubernetes quantities: cpu in millicores, the rest as plain integers.

        cpu, memory, ephemeral-storage and pods always appear; other resources only while some
        counted node offers them.
        """
        names = _ALWAYS_ADVERTISED | {name for name, total in self._allocatable.items() if total > 0}
        free: dict[str, str] = {}
        for name in sorted(names):
            # Usage can exceed allocatable (pods bound before a node shrank); never advertise less than 0.
            amount = max(0, self._allocatable.get(name, 0) - self._used.get(name, 0))
            free[name] = f"{amount}m" if name == quantity.CPU else str(amount)
        return free

    def _usage(self, raw: Mapping[str, Any]) -> _Usage | None:
        spec = raw.get("spec") or {}
        node = spec.get("nodeName")
        if not node or (raw.get("status") or {}).get("phase") in _TERMINAL_PHASES:
            return None
        if self._is_own_mirror(raw):
            return None
        return _Usage(node, model.pod_requests(spec))

    def _counts(self, node: str) -> bool:
        return self._node_allocatable.get(node) is not None

    def _uncount_node(self, name: str) -> bool:
        counted = self._node_allocatable.get(name)
        if counted is None:
            return False
        _subtract(self._allocatable, counted)
        _subtract(self._used, self._used_on.get(name, {}))
        return True

    def _forget_pod(self, key: tuple[str, str]) -> bool:
        usage = self._pods.pop(key, None)
        if usage is None:
            return False
        on_node = self._used_on[usage.node]
        _subtract(on_node, usage.requests)
        if not on_node:
            del self._used_on[usage.node]
        if self._counts(usage.node):
            _subtract(self._used, usage.requests)
            return True
        return False


def _add(total: Resources, amounts: Mapping[str, int]) -> None:
    for name, amount in amounts.items():
        total[name] = total.get(name, 0) + amount


def _subtract(total: Resources, amounts: Mapping[str, int]) -> None:
    for name, amount in amounts.items():
        left = total.get(name, 0) - amount
        if left:
            total[name] = left
        else:
            # Drop zeros so a resource that no counted node offers any more disappears from the output.
            total.pop(name, None)
