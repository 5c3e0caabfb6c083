"""Resource usage of the pods a virtual node mirrors, as read from the lower kubelets' resource
metrics: the figures (:class:`PodUsage`, :class:`NodeUsage`, a :class:`Report`), reading them from
a lower page's samples (:func:`read_page`), keeping the mirrored pods under their upper names
(:func:`select`), and what a scrape needs from the ones before it (:class:`History`).

Pure: :mod:`provider.kubelet.lower_metrics` fetches the pages and feeds them through here;
:mod:`provider.kubelet.usage_rendering` writes a :class:`Report` as the kubelet would. Values a
lower kubelet gets wrong (negative, NaN, labels missing) are left out, never raised.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from descheduler import keys
from provider.kubelet import prometheus_text

CONTAINER_CPU = "container_cpu_usage_seconds_total"
CONTAINER_MEMORY = "container_memory_working_set_bytes"
CONTAINER_START = "container_start_time_seconds"
POD_CPU = "pod_cpu_usage_seconds_total"
POD_MEMORY = "pod_memory_working_set_bytes"
NODE_CPU = "node_cpu_usage_seconds_total"
NODE_MEMORY = "node_memory_working_set_bytes"
SCRAPE_ERROR = "resource_scrape_error"

METRICS_PATH_ANNOTATION = "metrics.k8s.io/resource-metrics-path"
"""Where a node serves its resource metrics when not at :data:`DEFAULT_METRICS_PATH` (metrics-server honours it too)."""
DEFAULT_METRICS_PATH = "/metrics/resource"


class PodRef(NamedTuple):
    """A pod by namespace and name (a mirror has the same ones as its upper pod)."""

    namespace: str
    name: str


class UsageKey(NamedTuple):
    """Whose CPU rate: a container (all three set), a pod (``container`` empty), the node (all empty)."""

    namespace: str = ""
    pod: str = ""
    container: str = ""


NODE_KEY = UsageKey()


@dataclass(frozen=True)
class Mirror:
    """A pod this virtual node mirrors: its upper namespace, name and uid, and the lower node running the mirror."""

    namespace: str
    name: str
    uid: str
    lower_node: str


@dataclass(frozen=True)
class ContainerUsage:
    """One container's figures: cumulative CPU (core-seconds), working set (bytes), start (epoch seconds)."""

    name: str
    cpu_seconds: float | None = None
    memory_bytes: float | None = None
    start_time: float | None = None
    timestamp_ms: int = 0


@dataclass(frozen=True)
class PodUsage:
    """One pod's figures and its containers' (sorted by name); ``uid`` is the upper pod's once selected."""

    namespace: str
    name: str
    uid: str = ""
    containers: tuple[ContainerUsage, ...] = ()
    cpu_seconds: float | None = None
    memory_bytes: float | None = None
    timestamp_ms: int = 0

    @property
    def ref(self) -> PodRef:
        return PodRef(self.namespace, self.name)


@dataclass(frozen=True)
class NodeUsage:
    """The virtual node's figures: sums over its pods (see :class:`History` for the CPU counter)."""

    cpu_seconds: float
    memory_bytes: float
    timestamp_ms: int


@dataclass(frozen=True)
class Report:
    """One scrape of the virtual node: its pods, their sum, the lower nodes that failed, CPU rates."""

    node_name: str
    node: NodeUsage
    pods: tuple[PodUsage, ...] = ()
    failed_nodes: tuple[str, ...] = ()
    nano_cores: Mapping[UsageKey, int] = field(default_factory=dict)
    """usageNanoCores by container, pod and node, where two scrapes gave a rate."""


def mirror_of(pod: Mapping[str, Any]) -> Mirror | None:
    """A lower mirror pod as a :class:`Mirror`, or None while it has no lower node (nothing to scrape)."""
    meta = pod.get("metadata") or {}
    node = (pod.get("spec") or {}).get("nodeName")
    namespace, name = meta.get("namespace"), meta.get("name")
    if not (isinstance(node, str) and node and isinstance(namespace, str) and isinstance(name, str)):
        return None
    uid = (meta.get("annotations") or {}).get(keys.UPPER_UID_ANNOTATION)
    return Mirror(namespace, name, uid if isinstance(uid, str) else "", node)


def metrics_path(node: Mapping[str, Any]) -> str:
    """The path of a lower node's resource metrics below its kubelet: its annotation's if that is a plain
    absolute path, else the default (a query, a fragment or a ``..`` would reach elsewhere through the proxy)."""
    value = ((node.get("metadata") or {}).get("annotations") or {}).get(METRICS_PATH_ANNOTATION)
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "?#%\\ "):
        return DEFAULT_METRICS_PATH
    if any(segment in (".", "..") for segment in value.split("/")):
        return DEFAULT_METRICS_PATH
    return value


# -- reading a lower page ---------------------------------------------------------------------


def _figure(value: float) -> float | None:
    """A usable reading: finite and not negative."""
    return value if math.isfinite(value) and value >= 0 else None


def _stamp(sample: prometheus_text.Sample, fetched_ms: int) -> int:
    # A kubelet stamps each sample; kwok does not: then the time the page was fetched.
    stamp = sample.timestamp_ms
    return stamp if stamp is not None and stamp > 0 else fetched_ms


@dataclass
class _PodDraft:
    containers: dict[str, ContainerUsage] = field(default_factory=dict)
    cpu_seconds: float | None = None
    memory_bytes: float | None = None
    timestamp_ms: int = 0


_CONTAINER_FIELDS = {CONTAINER_CPU: "cpu_seconds", CONTAINER_MEMORY: "memory_bytes", CONTAINER_START: "start_time"}
_POD_FIELDS = {POD_CPU: "cpu_seconds", POD_MEMORY: "memory_bytes"}


def read_page(samples: Iterable[prometheus_text.Sample], *, fetched_ms: int) -> dict[PodRef, PodUsage]:
    """The pods of one lower kubelet's resource metrics page, by namespace and name.

    A pod's figures are the sums of its containers', as metrics-server (which ignores ``pod_*``)
    reckons them; its ``pod_*`` series only when the page has no container series for it. kwok's
    ``pod_cpu_usage_seconds_total`` lags its containers' (it reads 0 while they count).
    """
    drafts: dict[PodRef, _PodDraft] = {}
    for sample in samples:
        container_field = _CONTAINER_FIELDS.get(sample.name)
        pod_field = _POD_FIELDS.get(sample.name)
        if container_field is None and pod_field is None:
            continue
        namespace, pod = sample.labels.get("namespace", ""), sample.labels.get("pod", "")
        value = _figure(sample.value)
        if not namespace or not pod or value is None:
            continue
        draft = drafts.setdefault(PodRef(namespace, pod), _PodDraft())
        stamp = _stamp(sample, fetched_ms)
        draft.timestamp_ms = max(draft.timestamp_ms, stamp)
        if pod_field is not None:
            setattr(draft, pod_field, value)
            continue
        name = sample.labels.get("container", "")
        if not name or container_field is None:
            continue
        known = draft.containers.get(name, ContainerUsage(name))
        draft.containers[name] = _with(known, container_field, value, stamp)
    return {ref: _finish(ref, draft) for ref, draft in drafts.items()}


def _with(known: ContainerUsage, field_name: str, value: float, stamp: int) -> ContainerUsage:
    stamp = max(known.timestamp_ms, stamp)
    if field_name == "cpu_seconds":
        return replace(known, cpu_seconds=value, timestamp_ms=stamp)
    if field_name == "memory_bytes":
        return replace(known, memory_bytes=value, timestamp_ms=stamp)
    return replace(known, start_time=value, timestamp_ms=stamp)


def _finish(ref: PodRef, draft: _PodDraft) -> PodUsage:
    containers = tuple(draft.containers[name] for name in sorted(draft.containers))
    cpu, memory = _sum(c.cpu_seconds for c in containers), _sum(c.memory_bytes for c in containers)
    return PodUsage(
        ref.namespace,
        ref.name,
        containers=containers,
        cpu_seconds=cpu if cpu is not None else draft.cpu_seconds,
        memory_bytes=memory if memory is not None else draft.memory_bytes,
        timestamp_ms=draft.timestamp_ms,
    )


def _sum(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def select(page: Mapping[PodRef, PodUsage], mirrors: Iterable[Mirror]) -> list[PodUsage]:
    """The pods of ``page`` this virtual node mirrors, named and identified as upstairs; others are dropped."""
    selected = []
    for mirror in mirrors:
        found = page.get(PodRef(mirror.namespace, mirror.name))
        if found is not None:
            selected.append(replace(found, namespace=mirror.namespace, name=mirror.name, uid=mirror.uid))
    return selected


# -- across scrapes ----------------------------------------------------------------------------


class _Point(NamedTuple):
    cpu_seconds: float
    timestamp_ms: int


class History:
    """What a scrape needs from earlier ones: a node CPU counter that never goes down, and CPU rates.

    metrics-server rejects a cumulative CPU figure lower than the one before it, but a plain sum
    over the pods goes down whenever a pod leaves or a lower node fails to answer. So the node's
    counter is the sum of the last figure seen for every pod still mirrored (a pod on a failed
    node keeps its last one), plus the last figures of the pods that are gone, and never less
    than it was. Rates (usageNanoCores for ``/stats/summary``) are the CPU growth between the
    last two scrapes that saw a figure. Not thread-safe: the caller holds a lock.
    """

    def __init__(self) -> None:
        self._last_cpu: dict[tuple[str, str, str], float] = {}  # (namespace, name, uid) -> core-seconds
        self._retired = 0.0
        self._node_cpu = 0.0
        self._points: dict[UsageKey, _Point] = {}
        self._rates: dict[UsageKey, int] = {}

    def observe(self, pods: Iterable[PodUsage], *, mirrored: Iterable[Mirror], now_ms: int) -> NodeUsage:
        """Take this scrape's pods (``mirrored`` being every pod the node mirrors now) and give the node's figures."""
        pods, mirrored = list(pods), list(mirrored)
        for pod in pods:
            if pod.cpu_seconds is not None:
                self._last_cpu[(pod.namespace, pod.name, pod.uid)] = pod.cpu_seconds
        still = {(m.namespace, m.name, m.uid) for m in mirrored}
        for gone in [key for key in self._last_cpu if key not in still]:
            self._retired += self._last_cpu.pop(gone)
        self._node_cpu = max(self._node_cpu, self._retired + sum(self._last_cpu.values()))
        node = NodeUsage(self._node_cpu, sum(p.memory_bytes or 0.0 for p in pods), now_ms)
        self._rate(NODE_KEY, node.cpu_seconds, now_ms)
        for pod in pods:
            self._rate(UsageKey(pod.namespace, pod.name), pod.cpu_seconds, pod.timestamp_ms)
            for container in pod.containers:
                key = UsageKey(pod.namespace, pod.name, container.name)
                self._rate(key, container.cpu_seconds, container.timestamp_ms)
        names = {PodRef(m.namespace, m.name) for m in mirrored} | {PodRef("", "")}
        for key in [key for key in self._points if PodRef(key.namespace, key.pod) not in names]:
            self._points.pop(key)
            self._rates.pop(key, None)
        return node

    def nano_cores(self) -> dict[UsageKey, int]:
        """The rates known after the last :meth:`observe`."""
        return dict(self._rates)

    def _rate(self, key: UsageKey, cpu_seconds: float | None, timestamp_ms: int) -> None:
        if cpu_seconds is None:
            return
        before = self._points.get(key)
        if before is not None and timestamp_ms <= before.timestamp_ms:
            return  # the same reading again (a lower kubelet's cached page): the last rate stands
        self._points[key] = _Point(cpu_seconds, timestamp_ms)
        if before is None or cpu_seconds < before.cpu_seconds:
            self._rates.pop(key, None)  # first reading, or the counter restarted: no rate yet
            return
        seconds = (timestamp_ms - before.timestamp_ms) / 1000.0
        self._rates[key] = round((cpu_seconds - before.cpu_seconds) / seconds * 1e9)
