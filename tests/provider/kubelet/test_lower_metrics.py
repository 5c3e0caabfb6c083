"""LowerMetrics without a cluster: which lower nodes it asks, by which path, and what a failing or
silent one costs (its own pods only). The real node proxy is exercised in tests/e2e/test_kubectl_top_metrics.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from descheduler import keys
from descheduler.kube import errors
from provider.kubelet import lower_metrics
from provider.kubelet import resource_usage as usage


def page(*pods: tuple[str, float]) -> bytes:
    lines = []
    for name, cpu in pods:
        labels = f'container="app",namespace="shop",pod="{name}"'
        lines += [
            f"container_cpu_usage_seconds_total{{{labels}}} {cpu}",
            f"container_memory_working_set_bytes{{{labels}}} 64",
        ]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class FakeKube:
    """Answers node-proxy GETs from ``pages`` by path; an ApiError there is raised, ``hang`` blocks."""

    pages: dict[str, bytes | errors.ApiError]
    hang: threading.Event = field(default_factory=threading.Event)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def request(self, method: str, path: str, **options: Any) -> bytes:
        self.asked.append((path, options["accept"]))
        answer = self.pages[path]
        if answer == b"hang":
            self.hang.wait(5)
            raise errors.DeadlineExceededError.saying("too slow")
        if isinstance(answer, errors.ApiError):
            raise answer
        return answer


def mirror_pod(name: str, node: str | None) -> dict[str, Any]:
    meta = {"namespace": "shop", "name": name, "annotations": {keys.UPPER_UID_ANNOTATION: f"uid-{name}"}}
    return {"metadata": meta, "spec": {"nodeName": node} if node else {}}


def lower_node(name: str, path: str | None = None) -> dict[str, Any]:
    annotations = {usage.METRICS_PATH_ANNOTATION: path} if path else {}
    return {"metadata": {"name": name, "annotations": annotations}}


def source(kube: FakeKube, mirrors: list[dict[str, Any]], **options: Any) -> lower_metrics.LowerMetrics:
    nodes = [lower_node("l0", "/metrics/nodes/l0/metrics/resource"), lower_node("l1"), lower_node("idle")]
    return lower_metrics.LowerMetrics(
        kube, node_name="vk", mirrors=lambda: mirrors, lower_nodes=lambda: nodes, clock=lambda: 1000.0, **options
    )


def test_only_lower_nodes_with_mirrors_are_asked_by_their_metrics_path() -> None:
    kube = FakeKube(
        {
            "/api/v1/nodes/l0/proxy/metrics/nodes/l0/metrics/resource": page(("a", 1.0), ("not-ours", 9.0)),
            "/api/v1/nodes/l1/proxy/metrics/resource": page(("b", 2.0)),
        }
    )
    report = source(kube, [mirror_pod("a", "l0"), mirror_pod("b", "l1"), mirror_pod("pending", None)]).report()
    assert sorted(path for path, _ in kube.asked) == sorted(kube.pages)
    assert {accept for _, accept in kube.asked} == {"text/plain;version=0.0.4;q=1,*/*;q=0.1"}
    assert [(p.name, p.uid, p.cpu_seconds) for p in report.pods] == [("a", "uid-a", 1.0), ("b", "uid-b", 2.0)]
    assert (report.node_name, report.node.cpu_seconds, report.node.memory_bytes) == ("vk", 3.0, 128.0)
    assert report.failed_nodes == ()


def test_a_failing_lower_node_costs_only_its_pods() -> None:
    kube = FakeKube(
        {
            "/api/v1/nodes/l0/proxy/metrics/nodes/l0/metrics/resource": errors.ServerError(
                503, "ServiceUnavailable", "no"
            ),
            "/api/v1/nodes/l1/proxy/metrics/resource": page(("b", 2.0)),
        }
    )
    report = source(kube, [mirror_pod("a", "l0"), mirror_pod("b", "l1")]).report()
    assert [p.name for p in report.pods] == ["b"]
    assert report.failed_nodes == ("l0",)


def test_garbage_from_a_lower_node_is_no_pods_not_an_error() -> None:
    kube = FakeKube({"/api/v1/nodes/l1/proxy/metrics/resource": b"\xff\xfe<html>not metrics</html>\n"})
    report = source(kube, [mirror_pod("b", "l1")]).report()
    assert (report.pods, report.failed_nodes) == ((), ())


def test_a_silent_lower_node_is_given_up_after_the_timeout() -> None:
    kube = FakeKube(
        {
            "/api/v1/nodes/l0/proxy/metrics/nodes/l0/metrics/resource": b"hang",
            "/api/v1/nodes/l1/proxy/metrics/resource": page(("b", 2.0)),
        }
    )
    try:
        report = source(kube, [mirror_pod("a", "l0"), mirror_pod("b", "l1")], timeout=0.2).report()
    finally:
        kube.hang.set()
    assert [p.name for p in report.pods] == ["b"]
    assert report.failed_nodes == ("l0",)


def test_no_mirrors_asks_nobody() -> None:
    kube = FakeKube({})
    report = source(kube, []).report()
    assert (kube.asked, report.pods, report.node.cpu_seconds) == ([], (), 0.0)
