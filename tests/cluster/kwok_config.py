"""The kwok side of a test cluster: the kwokctl configuration (component flags) and the kwok resources that
make kwok answer as the lower clusters' kubelets would: logs, exec, attach, port-forward and resource metrics.

:mod:`tests.cluster.clusters` writes these documents next to each cluster it starts.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Protocol

KWOK_POD_STAGE_PARALLELISM = 16
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_VALUE = "fake"

SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
"""Every test cluster's Service range (kube-apiserver's default, 10.0.0.0/24, overlapped the pod IPs)."""
_POD_RANGES = itertools.count()


def next_pod_cidr() -> str:
    """A pod range no other cluster of this process has (10.64.0.0/16, 10.65.0.0/16, ... 10.95.0.0/16, then again).

    Each cluster's kwok hands out pod IPs from its own range, disjoint from every Service range,
    so endpoint addresses are unique across clusters as a flat pod network requires.
    """
    return f"10.{64 + next(_POD_RANGES) % 32}.0.0/16"


class NodeShape(Protocol):
    """What a node manifest is made of (tests.cluster.clusters.NodeSpec)."""

    @property
    def name(self) -> str: ...

    @property
    def cpu(self) -> str: ...

    @property
    def memory(self) -> str: ...

    @property
    def pods(self) -> str: ...

    @property
    def labels(self) -> dict[str, str]: ...


def kwok_config(
    log_file: Path,
    attach_file: Path,
    extra_args: dict[str, list[tuple[str, str]]],
    forward_port: int,
    *,
    run_commands: bool = True,
    options: dict[str, object] | None = None,
) -> str:
    """kwokctl configuration (component flags) plus kwok resources: logs, attach, port-forward and, unless
    ``run_commands`` is off, exec for every pod (resource metrics are in :func:`kwok_resource_metrics`).

    Component flags go through ``componentsPatches`` because kwokctl v0.8.0's repeated
    ``--extra-args`` flag indexes its patches wrongly and panics.
    """
    kwokctl = {
        "kind": "KwokctlConfiguration",
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        **({"options": options} if options else {}),
        "componentsPatches": [
            {"name": name, "extraArgs": [{"key": k, "value": v} for k, v in args]} for name, args in extra_args.items()
        ],
    }
    logs = {
        "kind": "ClusterLogs",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "all-pods"},
        "spec": {"selector": {}, "logs": [{"containers": [], "logsFile": str(log_file), "follow": False}]},
    }
    # kwok plays pod stages (Pending -> Running) 4 at a time by default, one status PATCH
    # each: under load that queue, not the cluster, paced the lower side. Real kubelets
    # update their pods' status independently of each other.
    kwok = {
        "kind": "KwokConfiguration",
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        # A KwokConfiguration given to kwokctl is not defaulted: kwok's own defaults are
        # spelled out (the debugging handlers serve `kubectl logs`).
        "options": {
            "podPlayStageParallelism": KWOK_POD_STAGE_PARALLELISM,
            "nodePlayStageParallelism": 4,
            "nodeLeaseParallelism": 4,
            "podsOnNodeSyncParallelism": 1,
            "enableDebuggingHandlers": True,
            "enableProfilingHandler": True,
            "enablePodsOnNodeSyncListPager": True,
        },
    }
    # `kubectl exec` in any kwok pod runs the command on this machine (in the kwok process's
    # working directory), so the exec path can be tested end to end.
    execs = {
        "kind": "ClusterExec",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "all-pods"},
        "spec": {"selector": {}, "execs": [{"containers": [], "local": {}}]},
    }
    # `kubectl attach` follows attach_file from its end (kwok ignores the session's stdin).
    attaches = {
        "kind": "ClusterAttach",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "all-pods"},
        "spec": {"selector": {}, "attaches": [{"containers": [], "logsFile": str(attach_file)}]},
    }
    # `kubectl port-forward` to any port of any kwok pod reaches 127.0.0.1:<forward_port>, where a
    # test can listen. kwok dials it per connection and never half-closes towards it.
    forwards = {
        "kind": "ClusterPortForward",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "all-pods"},
        "spec": {"selector": {}, "forwards": [{"ports": [], "target": {"address": "127.0.0.1", "port": forward_port}}]},
    }
    docs = (kwokctl, kwok, logs, attaches, forwards, *([execs] if run_commands else []))
    return "\n---\n".join(json.dumps(doc) for doc in docs)


USAGE_CPU_ANNOTATION = "kwok.x-k8s.io/usage-cpu"
USAGE_MEMORY_ANNOTATION = "kwok.x-k8s.io/usage-memory"
RESOURCE_METRICS_PATH = "/metrics/nodes/{nodeName}/metrics/resource"


def kwok_resource_metrics() -> str:
    """kwok configuration: emulate each node's kubelet resource metrics (as kwok v0.8.0's
    kustomize/metrics does), with every pod using what its usage annotations say (else 1m CPU, 1Mi memory).

    Served by kwok's server at :data:`RESOURCE_METRICS_PATH`, which the nodes' annotation
    ``metrics.k8s.io/resource-metrics-path`` names (see :func:`node_manifest`). Cumulative CPU
    grows from the first scrape of each pod on: that scrape reads 0. A file of its own, given to
    kwok as a second ``--config``: kwokctl passes a Metric on only when it also runs metrics-server.
    """
    pod_labels = [
        {"name": "namespace", "value": "pod.metadata.namespace"},
        {"name": "pod", "value": "pod.metadata.name"},
    ]
    container_labels = [{"name": "container", "value": "container.name"}, *pod_labels]
    series = [
        ("node_cpu_usage_seconds_total", "node", "counter", [], 'node.CumulativeUsage("cpu")'),
        ("node_memory_working_set_bytes", "node", "gauge", [], 'node.Usage("memory")'),
        ("pod_cpu_usage_seconds_total", "pod", "counter", pod_labels, 'pod.CumulativeUsage("cpu")'),
        ("pod_memory_working_set_bytes", "pod", "gauge", pod_labels, 'pod.Usage("memory")'),
        ("container_cpu_usage_seconds_total", "container", "counter", container_labels,
         'pod.CumulativeUsage("cpu", container.name)'),
        ("container_memory_working_set_bytes", "container", "gauge", container_labels,
         'pod.Usage("memory", container.name)'),
        # An epoch as a kubelet gives it; kwok's own example says pod.SinceSecond(), the pod's age.
        ("container_start_time_seconds", "container", "gauge", container_labels,
         "pod.metadata.creationTimestamp.UnixSecond()"),
        ("resource_scrape_error", "node", "gauge", [], "0"),
    ]  # fmt: skip
    metric = {
        "kind": "Metric",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "metrics-resource"},
        "spec": {
            "path": RESOURCE_METRICS_PATH,
            "metrics": [
                {"name": name, "dimension": dimension, "kind": kind, "help": name, "labels": labels, "value": value}
                for name, dimension, kind, labels, value in series
            ],
        },
    }

    def from_annotation(annotation: str, default: str) -> str:
        return (
            f'"{annotation}" in pod.metadata.annotations'
            f' ? Quantity(pod.metadata.annotations["{annotation}"]) : Quantity("{default}")'
        )

    usage = {
        "kind": "ClusterResourceUsage",
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": "usage-from-annotation"},
        "spec": {
            "usages": [
                {
                    "usage": {
                        "cpu": {"expression": from_annotation(USAGE_CPU_ANNOTATION, "1m")},
                        "memory": {"expression": from_annotation(USAGE_MEMORY_ANNOTATION, "1Mi")},
                    }
                }
            ]
        },
    }
    return "\n---\n".join(json.dumps(doc) for doc in (metric, usage))


def node_manifest(node: NodeShape) -> dict[str, object]:
    resources = {"cpu": node.cpu, "memory": node.memory, "pods": node.pods, "ephemeral-storage": "100Gi"}
    labels = {
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        **node.labels,
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": labels,
            "annotations": {
                KWOK_NODE_ANNOTATION: KWOK_NODE_VALUE,
                "node.alpha.kubernetes.io/ttl": "0",
                # Where kwok serves this node's resource metrics (see kwok_resource_metrics).
                "metrics.k8s.io/resource-metrics-path": RESOURCE_METRICS_PATH.format(nodeName=node.name),
            },
        },
        "spec": {},
        "status": {"capacity": resources, "allocatable": resources},
    }
