"""Plain-data builders for the extender's unit tests: lower nodes, their summary Lease, upper pods."""

from __future__ import annotations

from typing import Any

from descheduler import keys
from provider.fit import summary


def room(cpu_free: int, *, cpu: int = 4000, labels: dict[str, str] | None = None) -> summary.NodeRoom:
    allocatable = {"cpu": cpu, "memory": 8 << 30, "pods": 110}
    free = {"cpu": cpu_free, "memory": 8 << 30, "pods": 100}
    return summary.NodeRoom(labels=labels or {}, taints=(), allocatable=allocatable, free=free)


def lease(node: str, *rooms: summary.NodeRoom, version: str = "1", text: str | None = None) -> dict[str, Any]:
    body = summary.to_json(summary.summarize(rooms)) if text is None else text
    return {
        "metadata": {
            "name": f"{node}{keys.FIT_LEASE_SUFFIX}",
            "namespace": keys.NODE_LEASE_NAMESPACE,
            "resourceVersion": version,
            "labels": {keys.FIT_SUMMARY_LABEL: "true", keys.VIRTUAL_NODE_LABEL: node},
            "annotations": {keys.FIT_SUMMARY_ANNOTATION: body},
        }
    }


def virtual_node(name: str, cluster: str) -> dict[str, Any]:
    labels = {keys.VIRTUAL_NODE_TYPE_LABEL: keys.VIRTUAL_NODE_TYPE_VALUE, keys.LOWER_CLUSTER_LABEL: cluster}
    return {"metadata": {"name": name, "labels": labels}}


def upper_pod(cpu: str, *, stash: str | None = None) -> dict[str, Any]:
    annotations = {keys.STASHED_CONSTRAINTS_ANNOTATION: stash} if stash else {}
    return {
        "metadata": {"name": "web-0", "namespace": "shop", "annotations": annotations},
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}]},
    }


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now
