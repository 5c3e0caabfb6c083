"""Plain-data builders for unit tests: raw API bodies in, model records and a ready
plugin harness out. Tests describe pods the way `kubectl get -o yaml` would show them,
and plugin args the way a policy file does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from descheduler import model
from descheduler.cluster.state import ClusterState
from descheduler.errors import Problem
from descheduler.evictor import limits
from descheduler.evictor.evictor import Evictor
from descheduler.evictor.writers import DryRunRecorder
from descheduler.framework.profile import PluginHandle
from descheduler.framework.registry import PluginSpec
from descheduler.policy import argspec
from descheduler.policy.types import Limits
from descheduler.report import Decision

T = TypeVar("T")

NOW = 1_700_000_000.0  # fixed clock for every unit test
T0 = "2023-11-14T22:13:20Z"  # == NOW as RFC 3339


def ts(seconds_before_now: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(NOW - seconds_before_now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def raw_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    unschedulable: bool = False,
    ready: bool = True,
    extra_allocatable: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, **(extra_allocatable or {})}
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": list(taints), "unschedulable": unschedulable},
        "status": {
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def raw_pod(
    name: str,
    *,
    node: str = "",
    namespace: str = "default",
    cpu: str | None = "100m",
    memory: str | None = "128Mi",
    phase: str = "Running",
    owner: tuple[str, str] | None = ("ReplicaSet", "rs-1"),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    priority: int | None = None,
    priority_class: str = "",
    age_seconds: float = 3600,
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    images: Sequence[str] = ("nginx:1",),
    deleting: bool = False,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{namespace}-{name}",
        "labels": dict(labels or {}),
        "annotations": dict(annotations or {}),
        "creationTimestamp": ts(age_seconds),
    }
    if owner is not None:
        kind, owner_name = owner
        meta["ownerReferences"] = [
            {
                "kind": kind,
                "name": owner_name,
                "uid": f"uid-{kind}-{owner_name}",
                "controller": True,
                "apiVersion": "apps/v1",
            }
        ]
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    pod_spec: dict[str, Any] = {
        "containers": [
            {"name": f"c{i}", "image": image, "resources": {"requests": requests} if requests else {}}
            for i, image in enumerate(images)
        ],
    }
    if node:
        pod_spec["nodeName"] = node
    if priority is not None:
        pod_spec["priority"] = priority
    if priority_class:
        pod_spec["priorityClassName"] = priority_class
    pod_spec.update(spec or {})
    pod_status: dict[str, Any] = {"phase": phase, "startTime": ts(age_seconds)}
    pod_status.update(status or {})
    return {"metadata": meta, "spec": pod_spec, "status": pod_status}


def node(name: str, **kwargs: Any) -> model.Node:
    return model.node_from_raw(raw_node(name, **kwargs))


def pod(name: str, **kwargs: Any) -> model.Pod:
    return model.pod_from_raw(raw_pod(name, **kwargs))


def state(
    nodes: Iterable[model.Node],
    pods: Iterable[model.Pod],
    *,
    pdbs: Iterable[model.PodDisruptionBudget] = (),
    namespaces: Iterable[model.Namespace] = (),
    priority_classes: Iterable[model.PriorityClass] = (),
    pvcs: Iterable[model.PersistentVolumeClaim] = (),
    now: float = NOW,
) -> ClusterState:
    return ClusterState(
        nodes={n.name: n for n in nodes},
        pods=list(pods),
        namespaces={n.name: n for n in namespaces},
        pdbs=list(pdbs),
        priority_classes={p.name: p for p in priority_classes},
        pvcs={f"{p.namespace}/{p.name}": p for p in pvcs},
        now=now,
    )


def decode_args(args_type: type[T], /, **wire: Any) -> T:
    """Decode upstream (camelCase) plugin args as a policy gives them; any decoding problem fails the test."""
    decoded, problems = argspec.decode(args_type, wire, "args")
    assert not problems, problems
    assert decoded is not None
    return decoded


def args_problems(spec: PluginSpec, /, **wire: Any) -> list[Problem]:
    """Every problem a policy loader would report for these args: decoding first, then the plugin's validate."""
    decoded, problems = argspec.decode(spec.args_type, wire, "")
    if problems or decoded is None:
        return problems
    return spec.validate(decoded)


class RecordingWriter(DryRunRecorder):
    """The dry-run recorder, remembering the avoidance records it was asked for: (pod, node, until)."""

    def __init__(self) -> None:
        self.avoidances: list[tuple[str, str, float]] = []

    def record_avoidance(self, pod: model.Pod, *, node: str, until: float) -> None:
        self.avoidances.append((pod.name, node, until))


@dataclass
class Harness:
    """One plugin wired to a real Evictor with the dry-run recorder."""

    state: ClusterState
    evictor: Evictor
    handle: PluginHandle
    plugin: Any = None
    decisions: list[Decision] = field(default_factory=list)

    def evicted(self) -> list[str]:
        return [d.pod for d in self.evictor.decisions if d.result.succeeded]

    def run(self, nodes: Sequence[model.Node] | None = None) -> list[str]:
        chosen = list(self.state.nodes.values()) if nodes is None else list(nodes)
        if hasattr(self.plugin, "deschedule"):
            self.plugin.deschedule(chosen)
        else:
            self.plugin.balance(chosen)
        return self.evicted()


def harness(
    spec: PluginSpec,
    args: Any,
    cluster: ClusterState,
    *,
    limit: Limits | None = None,
    evictor_filter: Any = None,
) -> Harness:
    """``evictor_filter`` (a Pod -> bool) stands in for DefaultEvictor; default allows all."""
    evictor = Evictor(cluster, DryRunRecorder(), limits.LimitCounter(limit or Limits()))
    handle = PluginHandle(cluster, evictor, spec.name, "test-profile")
    if evictor_filter is not None:
        handle.filters.append(evictor_filter)
    h = Harness(cluster, evictor, handle)
    h.plugin = spec.factory(args, handle)
    return h


def run_plugin(spec: PluginSpec, args: Any, pods: Sequence[model.Pod], **kw: Any) -> list[str]:
    """Run one plugin over a plain node for each nodeName of ``pods`` (n1 when none); the evicted pods.

    ``kw`` goes to :func:`harness` (``limit``, ``evictor_filter``).
    """
    names = sorted({p.node_name for p in pods}) or ["n1"]
    return harness(spec, args, state([node(n) for n in names], pods), **kw).run()
