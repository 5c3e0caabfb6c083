"""Upstream's test builders and harness, in tensile's terms, for every module of this package:
descheduler v0.36 ``test/test_utils.go`` (BuildTestPod, BuildTestNode, the owner references and
annotations its Set*/Get* helpers write) and ``frameworktesting.InitFrameworkHandle``, which runs a
plugin behind the real DefaultEvictor.

Objects come out as upstream's builders make them, not as :mod:`tests.descheduler.factories`
does: a pod has no phase (tensile reads Pending), no creationTimestamp (Go's zero time, older
than anything) and no startTime unless given; a node carries only the labels given; owner
references have no uid and no controller flag, so tensile's evictor reserves no room for a
replacement (upstream's fake client has none). Each parity module wraps these in its upstream
file's own ``buildTestPod``/``buildTestNode`` where that file has one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from descheduler import model
from descheduler.cluster.state import ClusterState
from descheduler.errors import Problem
from descheduler.framework.registry import PluginSpec
from descheduler.plugins import default_evictor
from descheduler.policy.types import Limits
from tests.descheduler import factories as f

SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
"""``utils.SystemCriticalPriority``."""
MIRROR_ANNOTATIONS = {
    "kubernetes.io/created-by": '{"kind":"SerializedReference","apiVersion":"v1","reference":{"kind":"Pod"}}',
    "kubernetes.io/config.source": "api",
    "kubernetes.io/config.mirror": "mirror",
}
"""``test.GetMirrorPodAnnotation()``."""
HOST_PATH_EMPTY_DIR = {
    "volumes": [{"name": "sample", "hostPath": {"path": "somePath"}, "emptyDir": {"sizeLimit": "10"}}]
}
"""``test.SetHostPathEmptyDirVolumeSource``, as a pod spec fragment."""

NORMAL_OWNER = {"kind": "Pod", "apiVersion": "v1", "name": ""}
"""``test.GetNormalPodOwnerRefList()`` (``SetNormalOwnerRef``)."""
RS_OWNER = {"kind": "ReplicaSet", "apiVersion": "v1", "name": "replicaset-1"}
"""``test.GetReplicaSetOwnerRefList()`` (``SetRSOwnerRef``)."""
SS_OWNER = {"kind": "StatefulSet", "apiVersion": "v1", "name": "statefulset-1"}
"""``test.GetStatefulSetOwnerRefList()`` (``SetSSOwnerRef``)."""
DS_OWNER = {"kind": "DaemonSet", "apiVersion": "v1", "name": ""}
"""``test.GetDaemonSetOwnerRefList()`` (``SetDSOwnerRef``)."""

LOW_PRIORITY = 0
HIGH_PRIORITY = 10_000
"""``lowPriority`` / ``highPriority`` of the nodeutilization package's tests."""
EXTENDED = "example.com/foo"
"""``extendedResource`` of the nodeutilization package's tests."""


def build_node(
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
    """``test.BuildTestNode(name, millicpu, mem, pods, apply)``: ready, with this allocatable (plus
    ``extended``, SetNodeExtendedResource) and only ``labels``, no hostname label."""
    raw = f.raw_node(
        name,
        cpu=f"{millicpu}m",
        memory=str(memory),
        pods=str(pods),
        taints=[dict(t) for t in taints],
        unschedulable=unschedulable,
        extra_allocatable={k: str(v) for k, v in (extended or {}).items()},
    )
    raw["metadata"]["labels"] = dict(labels or {})
    return model.node_from_raw(raw)


def build_pod(
    name: str,
    millicpu: int,
    memory: int,
    node: str,
    *,
    owners: Sequence[Mapping[str, str]] = (),
    namespace: str = "default",
    phase: str = "",
    created: str | None = None,
    started: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    priority: int | None = None,
    images: Sequence[str] = ("",),
    qos: Literal["BestEffort", "Guaranteed"] | None = None,
    extended: Mapping[str, int] | None = None,
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    deleting: bool = False,
) -> model.Pod:
    """``test.BuildTestPod(name, millicpu, memory, node, apply)``, the apply's effects as keywords.

    The first container requests ``millicpu`` and ``memory`` bytes (a negative amount leaves that
    request out, as upstream's does) and the ``extended`` resources; each further image adds a
    container without requests (``buildTestPodWithImage``). ``qos`` applies MakeBestEffortPod (no
    requests) or MakeGuaranteedPod (cpu and memory limits = requests). ``spec`` and ``status``
    are merged over what the builder wrote.
    """
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
    containers = [{"name": "", "image": images[0], "resources": resources}]
    containers += [{"name": image, "image": image} for image in images[1:]]
    pod_spec: dict[str, Any] = {"containers": containers, "nodeName": node}
    if priority is not None:
        pod_spec["priority"] = priority
    pod_spec.update(spec or {})
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{namespace}-{name}",
        "labels": dict(labels or {}),
        "annotations": dict(annotations or {}),
    }
    if owners:
        meta["ownerReferences"] = [dict(ref) for ref in owners]
    if created is not None:
        meta["creationTimestamp"] = created
    if deleting:
        meta["deletionTimestamp"] = f.T0
    pod_status: dict[str, Any] = {"phase": phase} if phase else {}
    if started is not None:
        pod_status["startTime"] = started
    pod_status.update(status or {})
    return model.pod_from_raw({"metadata": meta, "spec": pod_spec, "status": pod_status})


def build_critical_pod(name: str, millicpu: int, memory: int, node: str, **kw: Any) -> model.Pod:
    """The nodeutilization tests' "A Critical Pod": kube-system, system-critical priority."""
    return build_pod(name, millicpu, memory, node, namespace="kube-system", priority=SYSTEM_CRITICAL_PRIORITY, **kw)


def build_mirror_pod(name: str, millicpu: int, memory: int, node: str, **kw: Any) -> model.Pod:
    """The nodeutilization tests' "pod with local storage" that is also "A Mirror Pod"."""
    return build_pod(
        name,
        millicpu,
        memory,
        node,
        owners=[NORMAL_OWNER],
        spec=HOST_PATH_EMPTY_DIR,
        annotations=MIRROR_ANNOTATIONS,
        **kw,
    )


def build_evictor(cluster: ClusterState, **wire: Any) -> default_evictor.DefaultEvictor:
    """A DefaultEvictor over ``cluster`` from upstream-shaped args, which must be valid (warnings allowed)."""
    args = f.decode_args(default_evictor.Args, **wire)
    assert [p for p in default_evictor.validate(args) if not p.warning] == []
    plugin = f.harness(default_evictor.SPEC, args, cluster).plugin
    assert isinstance(plugin, default_evictor.DefaultEvictor)
    return plugin


def harness(
    spec: PluginSpec,
    args: Any,
    nodes: Sequence[model.Node],
    pods: Sequence[model.Pod],
    *,
    evictor_args: Mapping[str, Any] | None = None,
    limit: Limits | None = None,
) -> f.Harness:
    """``frameworktesting.InitFrameworkHandle``: the plugin over these nodes and pods, behind a
    DefaultEvictor built from ``evictor_args`` (e.g. ``{"nodeFit": True}``; both its filter and
    its preEvictionFilter), with these eviction limits and the dry-run recorder."""
    cluster = f.state(nodes, pods)
    evictor = build_evictor(cluster, **(evictor_args or {}))
    h = f.harness(spec, args, cluster, limit=limit, evictor_filter=evictor.filter)
    h.handle.pre_eviction_filters.append(evictor.pre_eviction_filter)
    return h


def errors(problems: Sequence[Problem]) -> list[str]:
    """The paths of the problems that refuse the args (warnings left out), e.g. of
    :func:`tests.descheduler.factories.args_problems`."""
    return [p.path for p in problems if not p.warning]
