"""Upstream's test builders (``test/test_utils.go``) and ``InitFrameworkHandle`` rebuilt for tensile,
shared by the node affinity and node taints parity modules.

Pods and nodes come out as upstream's tests build them: a node with 2000m CPU, 3000 bytes and
10 pods and no labels; a pod in ``default`` requesting 100m CPU and 0 memory, with no phase and
the owner reference ``test.GetNormalPodOwnerRefList()`` gives (kind Pod, no name, no uid, not a
controller). The plugin runs behind tensile's real DefaultEvictor, as upstream's does.
"""

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

NORMAL_OWNER = {"kind": "Pod", "apiVersion": "v1", "name": "", "uid": ""}
"""test.GetNormalPodOwnerRefList()."""
DAEMONSET_OWNER = {"kind": "DaemonSet", "apiVersion": "v1", "name": "", "uid": ""}
"""test.GetDaemonSetOwnerRefList()."""
MIRROR_ANNOTATIONS = {
    "kubernetes.io/created-by": '{"kind":"SerializedReference","apiVersion":"v1","reference":{"kind":"Pod"}}',
    "kubernetes.io/config.source": "api",
    "kubernetes.io/config.mirror": "mirror",
}
"""test.GetMirrorPodAnnotation()."""
HOST_PATH_EMPTY_DIR = [{"name": "sample", "hostPath": {"path": "somePath"}, "emptyDir": {"sizeLimit": "10"}}]
"""test.SetHostPathEmptyDirVolumeSource()."""
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
"""utils.SystemCriticalPriority."""


def build_node(
    name: str,
    *,
    millicpu: int = 2000,
    memory: int = 3000,
    pods: int = 10,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    unschedulable: bool = False,
) -> model.Node:
    """test.BuildTestNode(name, millicpu, mem, pods, apply); the defaults are the plugins' buildTestNode."""
    raw = f.raw_node(
        name, cpu=f"{millicpu}m", memory=str(memory), pods=str(pods), taints=taints, unschedulable=unschedulable
    )
    raw["metadata"]["labels"] = dict(labels or {})  # upstream's nodes carry no hostname label
    return model.node_from_raw(raw)


def build_pod(
    name: str,
    node: str,
    *,
    owners: Sequence[Mapping[str, str]] = (NORMAL_OWNER,),
    namespace: str = "default",
    annotations: Mapping[str, str] | None = None,
    priority: int | None = None,
    spec: Mapping[str, Any] | None = None,
    terminating: bool = False,
) -> model.Pod:
    """test.BuildTestPod(name, 100, 0, node, apply), with the apply's effects as keywords."""
    raw = f.raw_pod(
        name,
        node=node,
        namespace=namespace,
        cpu="100m",
        memory="0",
        owner=None,
        annotations=annotations,
        priority=priority,
        spec=spec,
        deleting=terminating,
    )
    raw["metadata"]["ownerReferences"] = [dict(o) for o in owners]
    del raw["status"]["phase"]  # upstream's test pods have no phase
    return model.pod_from_raw(raw)


def run_upstream_case(
    spec: PluginSpec,
    args: Any,
    nodes: Sequence[model.Node],
    pods: Sequence[model.Pod],
    *,
    max_per_node: int | None = None,
    max_per_namespace: int | None = None,
    max_total: int | None = None,
    **evictor_wire: Any,
) -> list[str]:
    """Upstream's table loop: InitFrameworkHandle with these limits and DefaultEvictorArgs, then
    Deschedule(ctx, tc.nodes); the names of the pods evicted, in order."""
    cluster = f.state(nodes, pods)
    limit = limits.Limits(per_node=max_per_node, per_namespace=max_per_namespace, total=max_total)
    h = f.harness(spec, args, cluster, limit=limit)
    evictor_args = f.decode_args(default_evictor.Args, **evictor_wire)
    assert default_evictor.validate(evictor_args) == []
    evictor = default_evictor.SPEC.factory(evictor_args, h.handle)
    h.handle.filters.append(evictor.filter)
    h.handle.pre_eviction_filters.append(evictor.pre_eviction_filter)
    return h.run(list(nodes))


def problems_for(args_type: type, validate: Any, wire: Mapping[str, Any]) -> list[Problem]:
    """Every problem a policy's args get, decoding first and then validate(), as the loader does."""
    decoded, problems = argspec.decode(args_type, dict(wire), "")
    if decoded is None:
        return problems
    return [*problems, *validate(decoded)]


def errors(problems: Sequence[Problem]) -> list[str]:
    """The paths of the problems that refuse the policy (warnings left out)."""
    return [p.path for p in problems if not p.warning]
