"""Upstream's test builders (``test/test_utils.go``) and a harness wired to tensile's real
DefaultEvictor (as ``frameworktesting.InitFrameworkHandle`` wires upstream's), shared by the
anti-affinity, topology-spread and node-utilization parity modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from descheduler import model
from descheduler.errors import Problem
from descheduler.evictor import limits
from descheduler.framework.registry import PluginSpec
from descheduler.plugins import default_evictor
from descheduler.policy import argspec
from tests.descheduler import factories as f

SYSTEM_CRITICAL = 2_000_000_000
"""``utils.SystemCriticalPriority``."""
LOW_PRIORITY = 0
HIGH_PRIORITY = 10_000
"""``lowPriority`` / ``highPriority`` of the nodeutilization tests."""
EXTENDED = "example.com/foo"
"""``extendedResource`` of the nodeutilization tests."""

# Owner references as upstream's helpers write them: no uid and no controller flag, so
# tensile's evictor reserves no room for a replacement (upstream's fake client has none).
OWNERS: dict[str, dict[str, str]] = {
    "ReplicaSet": {"kind": "ReplicaSet", "apiVersion": "v1", "name": "replicaset-1"},  # SetRSOwnerRef
    "DaemonSet": {"kind": "DaemonSet", "apiVersion": "v1", "name": ""},  # SetDSOwnerRef
    "Pod": {"kind": "Pod", "apiVersion": "v1", "name": ""},  # SetNormalOwnerRef
}
MIRROR_ANNOTATIONS = {  # test.GetMirrorPodAnnotation
    "kubernetes.io/created-by": '{"kind":"SerializedReference","apiVersion":"v1","reference":{"kind":"Pod"}}',
    "kubernetes.io/config.source": "api",
    "kubernetes.io/config.mirror": "mirror",
}
HOST_PATH_EMPTY_DIR = [{"name": "sample", "hostPath": {"path": "somePath"}, "emptyDir": {"sizeLimit": "10"}}]


def node(
    name: str,
    millicpu: int,
    memory: int,
    pods: int,
    *,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    unschedulable: bool = False,
    extended: Mapping[str, int] | None = None,
) -> model.Node:
    """``test.BuildTestNode``: allocatable in millicores, bytes and pods; only the labels given."""
    allocatable = {"cpu": f"{millicpu}m", "memory": str(memory), "pods": str(pods)}
    allocatable.update({k: str(v) for k, v in (extended or {}).items()})
    return model.node_from_raw(
        {
            "metadata": {"name": name, "labels": dict(labels or {})},
            "spec": {"taints": [dict(t) for t in taints], "unschedulable": unschedulable},
            "status": {"allocatable": allocatable, "conditions": [{"type": "Ready", "status": "True"}]},
        }
    )


def pod(
    name: str,
    millicpu: int,
    memory: int,
    node_name: str,
    *,
    owner: str | None = None,
    namespace: str = "default",
    priority: int | None = None,
    qos: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    extended: Mapping[str, int] | None = None,
    local_storage: bool = False,
    deleting: bool = False,
    spec: Mapping[str, Any] | None = None,
) -> model.Pod:
    """``test.BuildTestPod``: one container requesting ``millicpu`` and ``memory`` bytes (a
    negative amount leaves the request out), no limits, so Burstable unless ``qos`` says
    ``BestEffort`` (MakeBestEffortPod: no requests at all) or ``Guaranteed`` (limits = requests)."""
    requests: dict[str, str] = {}
    if millicpu >= 0:
        requests["cpu"] = f"{millicpu}m"
    if memory >= 0:
        requests["memory"] = str(memory)
    requests.update({k: str(v) for k, v in (extended or {}).items()})
    resources: dict[str, Any] = {"requests": requests}
    if qos == "BestEffort":
        resources = {}
    elif qos == "Guaranteed":
        resources["limits"] = {k: v for k, v in requests.items() if k in ("cpu", "memory")}
    pod_spec: dict[str, Any] = {"containers": [{"name": "", "resources": resources}], "nodeName": node_name}
    if priority is not None:
        pod_spec["priority"] = priority
    if local_storage:
        pod_spec["volumes"] = HOST_PATH_EMPTY_DIR
    pod_spec.update(spec or {})
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{namespace}-{name}",
        "labels": dict(labels or {}),
        "annotations": dict(annotations or {}),
    }
    if owner is not None:
        meta["ownerReferences"] = [dict(OWNERS[owner])]
    if deleting:
        meta["deletionTimestamp"] = f.T0
    return model.pod_from_raw({"metadata": meta, "spec": pod_spec, "status": {"phase": "Running"}})


def critical(name: str, millicpu: int, memory: int, node_name: str, **kw: Any) -> model.Pod:
    """The nodeutilization tests' "A Critical Pod": kube-system, system-critical priority."""
    return pod(name, millicpu, memory, node_name, namespace="kube-system", priority=SYSTEM_CRITICAL, **kw)


def mirror(name: str, millicpu: int, memory: int, node_name: str, **kw: Any) -> model.Pod:
    """The nodeutilization tests' "pod with local storage" that is also "A Mirror Pod"."""
    return pod(name, millicpu, memory, node_name, owner="Pod", local_storage=True, annotations=MIRROR_ANNOTATIONS, **kw)


def harness(
    spec: PluginSpec,
    args: Any,
    nodes: Sequence[model.Node],
    pods: Sequence[model.Pod],
    *,
    evictor: Mapping[str, Any] | None = None,
    limit: limits.Limits | None = None,
) -> f.Harness:
    """The plugin over these nodes and pods, behind tensile's DefaultEvictor built from the
    upstream-style ``evictor`` args (e.g. ``{"nodeFit": True}``), with the dry-run recorder."""
    h = f.harness(spec, args, f.state(nodes, pods), limit=limit)
    guard = default_evictor.DefaultEvictor(f.decode_args(default_evictor.Args, **(evictor or {})), h.handle)
    h.handle.filters.append(guard.filter)
    h.handle.pre_eviction_filters.append(guard.pre_eviction_filter)
    return h


def problems(spec: PluginSpec, **wire: Any) -> list[Problem]:
    """What tensile reports for these upstream args: decoding problems, else validate()'s."""
    decoded, found = argspec.decode(spec.args_type, wire, "args")
    if decoded is None:
        return found
    assert spec.validate is not None
    return [*found, *spec.validate(decoded)]


def errors(spec: PluginSpec, **wire: Any) -> list[Problem]:
    """The problems that refuse the args (warnings left out)."""
    return [p for p in problems(spec, **wire) if not p.warning]
