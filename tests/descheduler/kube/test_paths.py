"""API paths quote every segment once, wherever they are built."""

from __future__ import annotations

from descheduler.kube import paths


def test_namespaced_and_cluster_paths() -> None:
    assert paths.pod("shop", "web-1", "eviction") == "/api/v1/namespaces/shop/pods/web-1/eviction"
    assert paths.pod("shop") == "/api/v1/namespaces/shop/pods"
    assert paths.node("vk-a") == "/api/v1/nodes/vk-a"
    assert (
        paths.lease("kube-node-lease", "vk-a") == "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/vk-a"
    )
    assert paths.events("shop") == "/apis/events.k8s.io/v1/namespaces/shop/events"


def test_segments_are_quoted_once() -> None:
    assert paths.pod("a/b", "c d?") == "/api/v1/namespaces/a%2Fb/pods/c%20d%3F"


def test_owner_kinds_with_avoidance_records() -> None:
    assert paths.owner("ReplicaSet", "shop", "web-7d9") == "/apis/apps/v1/namespaces/shop/replicasets/web-7d9"
    assert paths.owner("Job", "batch", "report") == "/apis/batch/v1/namespaces/batch/jobs/report"
    assert paths.owner("DaemonSet", "kube-system", "agent") is None
