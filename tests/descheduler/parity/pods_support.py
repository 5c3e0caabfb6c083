"""Pods, nodes and a DefaultEvictor-backed harness shaped like upstream's test helpers
(``test/test_utils.go``, ``pkg/framework/testing/utils.go``), for the RemoveDuplicates,
RemoveFailedPods and RemovePodsHavingTooManyRestarts parity modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from descheduler import model
from descheduler.cluster.state import ClusterState
from descheduler.evictor import limits
from descheduler.framework.registry import PluginSpec
from descheduler.plugins import default_evictor
from tests.descheduler import factories as f

# Owner references as upstream's test helpers write them: no uid, no controller flag.
RS_OWNER = {"kind": "ReplicaSet", "apiVersion": "v1", "name": "replicaset-1"}  # test.SetRSOwnerRef
NORMAL_OWNER = {"kind": "Pod", "apiVersion": "v1", "name": ""}  # test.SetNormalOwnerRef
DS_OWNER = {"kind": "DaemonSet", "apiVersion": "v1", "name": ""}  # test.SetDSOwnerRef

MIRROR_ANNOTATIONS = {  # test.GetMirrorPodAnnotation
    "kubernetes.io/created-by": '{"kind":"SerializedReference","apiVersion":"v1","reference":{"kind":"Pod"}}',
    "kubernetes.io/config.source": "api",
    "kubernetes.io/config.mirror": "mirror",
}
HOST_PATH_EMPTY_DIR = {  # test.SetHostPathEmptyDirVolumeSource
    "volumes": [{"name": "sample", "hostPath": {"path": "somePath"}, "emptyDir": {"sizeLimit": "10"}}]
}
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000  # utils.SystemCriticalPriority


def go_pod(
    name: str,
    node: str,
    *,
    cpu_milli: int,
    memory_bytes: int,
    owners: Sequence[Mapping[str, Any]] = (),
    namespace: str = "default",
    phase: str = "",
    created: str | None = None,
    images: Sequence[str] = ("",),
    annotations: Mapping[str, str] | None = None,
    priority: int | None = None,
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    deleting: bool = False,
) -> model.Pod:
    """``test.BuildTestPod``: the first container requests ``cpu_milli``/``memory_bytes`` and has
    no image; no phase, no startTime, and no creationTimestamp (Go's zero time) unless given."""
    raw = f.raw_pod(
        name,
        node=node,
        namespace=namespace,
        cpu=f"{cpu_milli}m",
        memory=str(memory_bytes),
        phase=phase,
        owner=None,
        annotations=annotations,
        priority=priority,
        spec=spec,
        images=images,
        deleting=deleting,
    )
    for container in raw["spec"]["containers"][1:]:  # only the first container has requests upstream
        container["resources"] = {}
    if owners:
        raw["metadata"]["ownerReferences"] = [dict(ref) for ref in owners]
    if created is None:
        del raw["metadata"]["creationTimestamp"]
    else:
        raw["metadata"]["creationTimestamp"] = created
    raw["status"] = {"phase": phase, **(status or {})}
    return model.pod_from_raw(raw)


def go_node(
    name: str,
    *,
    milli_cpu: int = 2000,
    memory_bytes: int = 3000,
    pods: int = 10,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    unschedulable: bool = False,
) -> model.Node:
    """``test.BuildTestNode`` (defaults: the plugins' ``buildTestNode``, 2000m, 3000 bytes, 10 pods);
    ready, and labelled with ``labels`` only."""
    raw = f.raw_node(
        name,
        cpu=f"{milli_cpu}m",
        memory=str(memory_bytes),
        pods=str(pods),
        taints=taints,
        unschedulable=unschedulable,
    )
    raw["metadata"]["labels"] = dict(labels or {})
    return model.node_from_raw(raw)


def strategy_harness(
    spec: PluginSpec,
    args: Any,
    cluster: ClusterState,
    *,
    node_fit: bool = False,
    limit: limits.Limits | None = None,
) -> f.Harness:
    """``frameworktesting.InitFrameworkHandle`` with ``DefaultEvictorArgs{NodeFit: node_fit}``: the
    strategy behind a real DefaultEvictor, its filter and its preEvictionFilter."""
    evictor_args = f.decode_args(default_evictor.Args, nodeFit=node_fit)
    evictor = f.harness(default_evictor.SPEC, evictor_args, cluster).plugin
    assert isinstance(evictor, default_evictor.DefaultEvictor)
    h = f.harness(spec, args, cluster, limit=limit, evictor_filter=evictor.filter)
    h.handle.pre_eviction_filters.append(evictor.pre_eviction_filter)
    return h
