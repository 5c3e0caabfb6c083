"""Pods, nodes and a DefaultEvictor-backed harness shaped like upstream's test helpers
(``test/test_utils.go``, ``pkg/framework/testing/utils.go``), for the DefaultEvictor and
PodLifeTime parity modules."""

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
NORMAL_OWNER = {"kind": "Pod", "apiVersion": "v1", "name": ""}  # test.GetNormalPodOwnerRefList
RS_OWNER = {"kind": "ReplicaSet", "apiVersion": "v1", "name": "replicaset-1"}  # test.GetReplicaSetOwnerRefList
SS_OWNER = {"kind": "StatefulSet", "apiVersion": "v1", "name": "statefulset-1"}  # test.GetStatefulSetOwnerRefList
DS_OWNER = {"kind": "DaemonSet", "apiVersion": "v1", "name": ""}  # test.GetDaemonSetOwnerRefList
JOB_OWNER = {"kind": "Job", "name": "job1", "apiVersion": "batch/v1"}

OLDER = "2009-11-10T23:00:00Z"
"""Upstream's ``olderPodCreationTime``."""
NEWER = f.T0
"""Upstream's ``newerPodCreationTime`` (time.Now(), i.e. tensile's fixed NOW)."""


def go_pod(
    name: str,
    node: str,
    *,
    cpu_milli: int = 400,
    memory_bytes: int = 0,
    owners: Sequence[Mapping[str, Any]] = (),
    namespace: str = "default",
    phase: str = "",
    created: str | None = None,
    started: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    deleting: bool = False,
) -> model.Pod:
    """``test.BuildTestPod``: one container requesting ``cpu_milli``/``memory_bytes``; no
    creationTimestamp (Go's zero time, older than anything) and no startTime unless given."""
    raw = f.raw_pod(
        name,
        node=node,
        namespace=namespace,
        cpu=f"{cpu_milli}m",
        memory=str(memory_bytes),
        phase=phase,
        owner=None,
        labels=labels,
        annotations=annotations,
        spec=spec,
        status=status,
        deleting=deleting,
    )
    if owners:
        raw["metadata"]["ownerReferences"] = [dict(ref) for ref in owners]
    if created is None:
        del raw["metadata"]["creationTimestamp"]
    else:
        raw["metadata"]["creationTimestamp"] = created
    if started is None:
        del raw["status"]["startTime"]
    else:
        raw["status"]["startTime"] = started
    return model.pod_from_raw(raw)


def go_node(
    name: str,
    *,
    milli_cpu: int = 1000,
    memory_bytes: int = 2000,
    pods: int = 13,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
) -> model.Node:
    """``test.BuildTestNode`` (the DefaultEvictor tests' ``buildTestNode`` defaults)."""
    return f.node(name, cpu=f"{milli_cpu}m", memory=str(memory_bytes), pods=str(pods), labels=labels, taints=taints)


def evictor_in(cluster: ClusterState, **wire: Any) -> default_evictor.DefaultEvictor:
    """A DefaultEvictor built from upstream-shaped args; the args must be valid."""
    args = f.decode_args(default_evictor.Args, **wire)
    assert [p for p in default_evictor.validate(args) if not p.warning] == []
    plugin = f.harness(default_evictor.SPEC, args, cluster).plugin
    assert isinstance(plugin, default_evictor.DefaultEvictor)
    return plugin


def strategy_harness(
    spec: PluginSpec,
    args: Any,
    cluster: ClusterState,
    *,
    evictor_args: Mapping[str, Any],
    limit: limits.Limits | None = None,
) -> f.Harness:
    """Upstream's ``frameworktesting.InitFrameworkHandle``: the strategy behind a real
    DefaultEvictor, both its filter and its preEvictionFilter."""
    evictor = evictor_in(cluster, **evictor_args)
    h = f.harness(spec, args, cluster, limit=limit, evictor_filter=evictor.filter)
    h.handle.pre_eviction_filters.append(evictor.pre_eviction_filter)
    return h
