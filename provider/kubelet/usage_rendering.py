"""A :class:`~provider.kubelet.resource_usage.Report` as a kubelet serves it: the Prometheus text of
``/metrics/resource`` (:func:`metrics_text`, what metrics-server scrapes) and the JSON of
``/stats/summary`` (:func:`summary`, the ``stats/v1alpha1`` Summary).

Pure; called by :mod:`provider.kubelet.resource_metrics`.
"""

from __future__ import annotations

import datetime
from typing import Any

from provider.kubelet import prometheus_text as text
from provider.kubelet import resource_usage as usage

_HELP = {
    usage.NODE_CPU: ("counter", "[STABLE] Cumulative cpu time consumed by the node in core-seconds"),
    usage.NODE_MEMORY: ("gauge", "[STABLE] Current working set of the node in bytes"),
    usage.POD_CPU: ("counter", "[STABLE] Cumulative cpu time consumed by the pod in core-seconds"),
    usage.POD_MEMORY: ("gauge", "[STABLE] Current working set of the pod in bytes"),
    usage.CONTAINER_CPU: ("counter", "[STABLE] Cumulative cpu time consumed by the container in core-seconds"),
    usage.CONTAINER_MEMORY: ("gauge", "[STABLE] Current working set of the container in bytes"),
    usage.CONTAINER_START: ("gauge", "[STABLE] Start time of the container since unix epoch in seconds"),
    usage.SCRAPE_ERROR: ("gauge", "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise"),
}


def metrics_text(report: usage.Report) -> str:
    """``/metrics/resource``: node, pod and container families in the kubelet's order, each with
    HELP and TYPE, every sample with its millisecond timestamp, then ``resource_scrape_error``."""
    node = report.node
    families: dict[str, list[str]] = {name: [] for name in _HELP}
    families[usage.NODE_CPU].append(text.series(usage.NODE_CPU, (), node.cpu_seconds, node.timestamp_ms))
    families[usage.NODE_MEMORY].append(text.series(usage.NODE_MEMORY, (), node.memory_bytes, node.timestamp_ms))
    for pod in report.pods:
        pod_labels = (("namespace", pod.namespace), ("pod", pod.name))
        for name, value in ((usage.POD_CPU, pod.cpu_seconds), (usage.POD_MEMORY, pod.memory_bytes)):
            if value is not None:
                families[name].append(text.series(name, pod_labels, value, pod.timestamp_ms))
        for container in pod.containers:
            labels = (("container", container.name), *pod_labels)
            for name, value in (
                (usage.CONTAINER_CPU, container.cpu_seconds),
                (usage.CONTAINER_MEMORY, container.memory_bytes),
                (usage.CONTAINER_START, container.start_time),
            ):
                if value is not None:
                    families[name].append(text.series(name, labels, value, container.timestamp_ms))
    families[usage.SCRAPE_ERROR].append(text.series(usage.SCRAPE_ERROR, (), 1.0 if report.failed_nodes else 0.0))
    out = []
    for name, lines in families.items():
        if lines:
            kind, help_text = _HELP[name]
            out.append(text.header(name, kind=kind, help_text=help_text))
            out.extend(lines)
    return "".join(out)


def summary(report: usage.Report) -> dict[str, Any]:
    """``/stats/summary``: the node and its pods with CPU and memory only.

    ``usageNanoCores`` appears where two scrapes gave a rate (:class:`~provider.kubelet.resource_usage.History`),
    and is left out otherwise; ``usageBytes`` is the working set, the only memory figure the
    lower resource metrics carry (a kubelet's usageBytes also counts reclaimable cache).
    """
    node = report.node
    return {
        "node": {
            "nodeName": report.node_name,
            "cpu": _cpu(node.cpu_seconds, node.timestamp_ms, report.nano_cores.get(usage.NODE_KEY)),
            "memory": _memory(node.memory_bytes, node.timestamp_ms),
        },
        "pods": [_pod(pod, report) for pod in report.pods],
    }


def _pod(pod: usage.PodUsage, report: usage.Report) -> dict[str, Any]:
    starts = [c.start_time for c in pod.containers if c.start_time]
    body: dict[str, Any] = {
        "podRef": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
        "containers": [_container(pod, container, report) for container in pod.containers],
    }
    if starts:
        body["startTime"] = _seconds_time(min(starts))
    if pod.cpu_seconds is not None:
        body["cpu"] = _cpu(pod.cpu_seconds, pod.timestamp_ms, report.nano_cores.get(usage.UsageKey(*pod.ref)))
    if pod.memory_bytes is not None:
        body["memory"] = _memory(pod.memory_bytes, pod.timestamp_ms)
    return body


def _container(pod: usage.PodUsage, container: usage.ContainerUsage, report: usage.Report) -> dict[str, Any]:
    body: dict[str, Any] = {"name": container.name}
    if container.start_time:
        body["startTime"] = _seconds_time(container.start_time)
    if container.cpu_seconds is not None:
        rate = report.nano_cores.get(usage.UsageKey(pod.namespace, pod.name, container.name))
        body["cpu"] = _cpu(container.cpu_seconds, container.timestamp_ms, rate)
    if container.memory_bytes is not None:
        body["memory"] = _memory(container.memory_bytes, container.timestamp_ms)
    return body


def _cpu(seconds: float, timestamp_ms: int, nano_cores: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"time": _ms_time(timestamp_ms), "usageCoreNanoSeconds": round(seconds * 1e9)}
    if nano_cores is not None:
        body["usageNanoCores"] = nano_cores
    return body


def _memory(working_set: float, timestamp_ms: int) -> dict[str, Any]:
    figure = round(working_set)
    return {"time": _ms_time(timestamp_ms), "workingSetBytes": figure, "usageBytes": figure}


def _ms_time(timestamp_ms: int) -> str:
    return _seconds_time(timestamp_ms / 1000.0)


def _seconds_time(seconds: float) -> str:
    """RFC 3339 in UTC to the second, as metav1.Time writes it; an absurd value gives the epoch."""
    try:
        moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        moment = datetime.datetime.fromtimestamp(0, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
