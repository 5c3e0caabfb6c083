"""The lower leg of ``/metrics/resource`` and ``/stats/summary``: the resource metrics of the lower
kubelets that run this virtual node's mirrors, through the lower API server's node proxy.

:class:`LowerMetrics` is the production
:class:`~provider.kubelet.resource_metrics.MetricsSource`: each :meth:`~LowerMetrics.report`
asks only the lower nodes that hold mirrors, all at once and each within a timeout, reads their
pages (:mod:`provider.kubelet.prometheus_text`, :mod:`provider.kubelet.resource_usage`) and keeps
the mirrored pods. A lower node that fails is named in the report and its pods are missing;
the others still count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from typing import Any

from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider.kubelet import prometheus_text
from provider.kubelet import resource_usage as usage

logger = logging.getLogger(__name__)

Lister = Callable[[], Iterable[Mapping[str, Any]]]
"""Raw objects from an informer's cache."""

TIMEOUT = 5.0
"""Seconds one lower node may take to answer: metrics-server gives a whole scrape 10 s by default."""
WORKERS = 8


class LowerMetrics:
    """Resource usage of the mirrored pods, read from the lower kubelets on every call.

    ``mirrors`` lists this virtual node's mirror pods (lower pods, already filtered to ours);
    ``lower_nodes`` the lower nodes, for their metrics-path annotation. Both come from the
    provider's informers, so a scrape costs one proxied GET per lower node with mirrors and
    nothing else.
    """

    def __init__(
        self,
        kube: Kube,
        *,
        node_name: str,
        mirrors: Lister,
        lower_nodes: Lister,
        timeout: float = TIMEOUT,
        workers: int = WORKERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._kube = kube
        self._node_name = node_name
        self._mirrors = mirrors
        self._lower_nodes = lower_nodes
        self._timeout = timeout
        self._workers = workers
        self._clock = clock
        self._lock = threading.Lock()
        self._history = usage.History()

    def report(self) -> usage.Report:
        mirrors = [m for m in map(usage.mirror_of, self._mirrors()) if m is not None]
        by_node: dict[str, list[usage.Mirror]] = {}
        for mirror in mirrors:
            by_node.setdefault(mirror.lower_node, []).append(mirror)
        node_paths = {
            str((node.get("metadata") or {}).get("name")): usage.metrics_path(node) for node in self._lower_nodes()
        }
        pods, failed = self._fetch_all(by_node, node_paths)
        with self._lock:
            now_ms = int(self._clock() * 1000)
            node = self._history.observe(pods, mirrored=mirrors, now_ms=now_ms)
            rates = self._history.nano_cores()
        pods.sort(key=lambda pod: pod.ref)
        return usage.Report(self._node_name, node, tuple(pods), tuple(sorted(failed)), rates)

    def _fetch_all(
        self, by_node: Mapping[str, list[usage.Mirror]], node_paths: Mapping[str, str]
    ) -> tuple[list[usage.PodUsage], list[str]]:
        if not by_node:
            return [], []
        pods: list[usage.PodUsage] = []
        failed: list[str] = []
        pool = futures.ThreadPoolExecutor(max_workers=min(self._workers, len(by_node)), thread_name_prefix="metrics")
        try:
            jobs = {
                pool.submit(self._fetch, node, node_paths.get(node, usage.DEFAULT_METRICS_PATH), mirrors): node
                for node, mirrors in by_node.items()
            }
            # Each request is bounded by the timeout already; the wait only guards against a stuck thread.
            done, late = futures.wait(jobs, timeout=self._timeout + 1.0)
            for job in done:
                found = job.result()
                if found is None:
                    failed.append(jobs[job])
                else:
                    pods.extend(found)
            for job in late:
                logger.warning("resource metrics of lower node %s: no answer in %.0fs", jobs[job], self._timeout)
                failed.append(jobs[job])
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return pods, failed

    def _fetch(self, node: str, path: str, mirrors: list[usage.Mirror]) -> list[usage.PodUsage] | None:
        """The mirrored pods on ``node``, or None when its page could not be had."""
        try:
            body = self._kube.request(
                "GET", paths.node(node, "proxy") + path, timeout=self._timeout, accept=prometheus_text.ACCEPT
            )
            fetched_ms = int(self._clock() * 1000)
            parsed = prometheus_text.parse(body.decode("utf-8", errors="replace"))
            if parsed.skipped:
                logger.debug("resource metrics of lower node %s: %d malformed lines skipped", node, parsed.skipped)
            return usage.select(usage.read_page(parsed.samples, fetched_ms=fetched_ms), mirrors)
        except errors.ApiError as exc:
            logger.warning("resource metrics of lower node %s: %s", node, exc)
        except Exception:  # one lower node's odd answer must not fail the scrape
            logger.exception("resource metrics of lower node %s: unusable answer", node)
        return None
