"""Pure planners of the upper pod's status (DESIGN.md §3), applied by the reconcile loop.

The upper pod shows its mirror's status, including ``PodScheduled=False/Unschedulable`` with
its lastTransitionTime, so the descheduler sees a stuck pod from the upper cluster alone.
A lost mirror fails the upper pod, and a failing create shows on it. Every planner returns
None when nothing would change, so that no write happens.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

Raw = dict[str, Any]

_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
_COPIED_FIELDS = (
    "phase",
    "conditions",
    "containerStatuses",
    "initContainerStatuses",
    "ephemeralContainerStatuses",
    "podIP",
    "podIPs",
    "startTime",
    "reason",
    "message",
    "qosClass",
)
# Only a kubelet (here: the lower one, copied up) writes these condition types.
_KUBELET_CONDITIONS = frozenset({"PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"})
UNSCHEDULABLE = "Unschedulable"
"""The lower scheduler's reason; reserved, because :func:`mirror_reported` relies on it."""

_LOST_EXIT_CODE = 137
_LOST_CONTAINER_REASON = "ContainerStatusUnknown"
_LOST_CONTAINER_MESSAGE = "The container could not be located when the pod was terminated"


def status_patch(upper: Mapping[str, Any], lower: Mapping[str, Any], *, host_ip: str) -> Raw | None:
    """Merge patch for the upper pod's status subresource that makes it show ``lower``'s status.

    hostIP is the virtual node's address (``host_ip``), since the upper pod runs there; it is
    set once the lower pod has a host. Lists are sent whole (a merge patch replaces them).
    """
    changes = _status_changes(upper, lower, host_ip=host_ip)
    # Copied: the values live in the lower informer cache, which must never change under it.
    return {"status": copy.deepcopy(changes)} if changes else None


def shows_status(upper: Mapping[str, Any], lower: Mapping[str, Any], *, host_ip: str) -> bool:
    """Whether ``upper`` already shows ``lower``'s status: :func:`status_patch` would be None."""
    return not _status_changes(upper, lower, host_ip=host_ip)


def _status_changes(upper: Mapping[str, Any], lower: Mapping[str, Any], *, host_ip: str) -> Raw:
    current = upper.get("status") or {}
    source = lower.get("status") or {}
    desired: Raw = {name: source.get(name) for name in _COPIED_FIELDS}
    desired["conditions"] = _conditions(current.get("conditions"), source.get("conditions"))
    placed = bool(source.get("hostIP"))
    desired["hostIP"] = host_ip if placed else None
    desired["hostIPs"] = [{"ip": host_ip}] if placed else None
    return {name: value for name, value in desired.items() if current.get(name) != value}


def _conditions(upper: list[Raw] | None, lower: list[Raw] | None) -> list[Raw] | None:
    """The lower pod's conditions, except that the upper scheduler's ``PodScheduled=True`` stays.

    Upstairs, PodScheduled=True means "bound to the virtual node", and it stays true while the
    mirror is merely scheduled (or not yet) below; only the lower ``PodScheduled=False`` (stuck)
    is news. Keeping it saves the upper API server one status write per pod.
    """
    own = next((c for c in upper or () if c.get("type") == "PodScheduled"), None)
    below = next((c for c in lower or () if c.get("type") == "PodScheduled"), None)
    if own is None or own.get("status") != "True" or (below is not None and below.get("status") != "True"):
        return lower
    merged = [own if c.get("type") == "PodScheduled" else c for c in lower or ()]
    return merged if below is not None else [own, *merged]


def mirror_reported(upper: Mapping[str, Any]) -> bool:
    """Whether a mirror's status was ever copied onto ``upper``, i.e. a mirror existed.

    Only the lower kubelet and scheduler produce these marks; the upper scheduler's binding
    sets ``PodScheduled=True`` and :func:`create_failure_patch` another reason, neither counts.
    """
    current = upper.get("status") or {}
    if any(current.get(name) for name in ("startTime", "hostIP", "podIP", "containerStatuses")):
        return True
    for condition in current.get("conditions") or ():
        if condition.get("type") in _KUBELET_CONDITIONS:
            return True
        if condition.get("type") == "PodScheduled" and condition.get("reason") == UNSCHEDULABLE:
            return True
    return False


def lost_mirror_patch(upper: Mapping[str, Any], *, reason: str, message: str, now: str) -> Raw | None:
    """Fail the upper pod whose mirror vanished, as a kubelet fails a pod it lost, so its controller replaces it.

    None when the pod already finished or is being deleted (it is going away anyway).
    """
    current = upper.get("status") or {}
    if current.get("phase") in _TERMINAL_PHASES or (upper.get("metadata") or {}).get("deletionTimestamp"):
        return None
    conditions: list[Raw] = list(current.get("conditions") or ())
    conditions = _set_condition(conditions, "Ready", "False", "PodCompleted", "", now=now)
    conditions = _set_condition(conditions, "ContainersReady", "False", "PodCompleted", "", now=now)
    # DisruptionTarget lets a Job's podFailurePolicy tell this from a failure of the workload.
    conditions = _set_condition(conditions, "DisruptionTarget", "True", "TerminationByKubelet", message, now=now)
    patch: Raw = {"phase": "Failed", "reason": reason, "message": message, "conditions": conditions}
    spec = upper.get("spec") or {}
    for field, spec_field in (("containerStatuses", "containers"), ("initContainerStatuses", "initContainers")):
        if spec.get(spec_field):
            patch[field] = _terminated(spec[spec_field], current.get(field) or (), now=now)
    return {"status": patch}


def _terminated(containers: Iterable[Mapping[str, Any]], statuses: Iterable[Raw], *, now: str) -> list[Raw]:
    """A terminated status for every container; already terminated ones keep theirs."""
    by_name = {s.get("name"): s for s in statuses}
    result: list[Raw] = []
    for container in containers:
        name = container.get("name")
        before = by_name.get(name) or {
            "name": name,
            "image": container.get("image", ""),
            "imageID": "",
            "restartCount": 0,
        }
        state = before.get("state") or {}
        if "terminated" in state:
            result.append(copy.deepcopy(before))
            continue
        terminated: Raw = {
            "exitCode": _LOST_EXIT_CODE,
            "reason": _LOST_CONTAINER_REASON,
            "message": _LOST_CONTAINER_MESSAGE,
            "finishedAt": now,
        }
        started = (state.get("running") or {}).get("startedAt")
        if started:
            terminated["startedAt"] = started
        result.append({**copy.deepcopy(before), "ready": False, "started": False, "state": {"terminated": terminated}})
    return result


def create_failure_patch(upper: Mapping[str, Any], *, reason: str, message: str, now: str) -> Raw | None:
    """Show a failing lower create on the upper pod as ``PodScheduled=False`` with ``reason``.

    None when exactly that is already shown or the pod has finished. ``reason`` must not be
    ``Unschedulable``: that one means "a mirror existed" (see :func:`mirror_reported`).
    """
    if reason == UNSCHEDULABLE:
        raise ValueError(f"reason {UNSCHEDULABLE!r} is reserved for the lower scheduler")
    current = upper.get("status") or {}
    if current.get("phase") in _TERMINAL_PHASES:
        return None
    conditions: list[Raw] = list(current.get("conditions") or ())
    for condition in conditions:
        if condition.get("type") == "PodScheduled" and (
            condition.get("status"),
            condition.get("reason"),
            condition.get("message"),
        ) == ("False", reason, message):
            return None
    return {"status": {"conditions": _set_condition(conditions, "PodScheduled", "False", reason, message, now=now)}}


def _set_condition(conditions: list[Raw], type_: str, status: str, reason: str, message: str, *, now: str) -> list[Raw]:
    """``conditions`` with ``type_`` replaced or appended; the transition time moves only with the status."""
    result: list[Raw] = []
    found = False
    for condition in conditions:
        if condition.get("type") != type_:
            result.append(condition)
            continue
        found = True
        transition = condition.get("lastTransitionTime") if condition.get("status") == status else None
        result.append(_condition(type_, status, reason, message, transition or now))
    if not found:
        result.append(_condition(type_, status, reason, message, now))
    return result


def _condition(type_: str, status: str, reason: str, message: str, transition: str) -> Raw:
    condition: Raw = {"type": type_, "status": status, "reason": reason, "lastTransitionTime": transition}
    if message:
        condition["message"] = message
    return condition
