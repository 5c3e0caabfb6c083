"""What ``kubectl top`` needs from the virtual node, on real clusters: ``/metrics/resource`` and
``/stats/summary`` read through the upper API server's node proxy, as metrics-server would read them.

The lower cluster is private to this module: its kwok nodes listen on this machine's global address,
because the API server's node proxy (the provider's way to the lower kubelets, and ours to the
provider) refuses loopback. kwok emulates the lower kubelets' resource metrics from the pods'
usage annotations (tests/cluster/clusters.py), which the mirrors carry from the upper pods.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import clusters, ports
from tests.e2e.support.providers import ProviderProcess, pods, ready_provider, running, virtual_deployment, wait_for
from tests.provider.kubelet import metrics_server_rules

NODE = "vk-top"
CPU_CORES = 0.25
MEMORY_BYTES = 64 * 1024 * 1024
USAGE = {clusters.USAGE_CPU_ANNOTATION: "250m", clusters.USAGE_MEMORY_ANNOTATION: "64Mi"}


@pytest.fixture(scope="module")
def address() -> str:
    return ports.global_address()


@pytest.fixture(scope="module")
def lower_top(control_plane_binaries: object, clusters_root: Path, address: str) -> Iterator[clusters.Cluster]:
    spec = clusters.ClusterSpec("lower-top", clusters.default_lower_nodes("t", 2), kwok_address=address)
    with clusters.running(spec, root=clusters_root / "lower-top") as started:
        yield started


@pytest.fixture(scope="module")
def provider(
    upper: clusters.Cluster, lower_top: clusters.Cluster, address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderProcess]:
    # The upper API server of the test environment has no kubelet client certificate, so the
    # kubelet API cannot require one here; it listens on the global address only.
    options = {"extra_args": ["--kubelet-address", address, "--kubelet-api-insecure"]}
    try:
        with ready_provider(upper, lower_top, NODE, tmp_path_factory.mktemp("top-logs"), **options) as proc:
            yield proc
    finally:
        upper.kubectl("delete", "node", NODE, "--ignore-not-found")


@pytest.fixture(scope="module")
def mirrored(provider: ProviderProcess, upper: clusters.Cluster, lower_top: clusters.Cluster) -> dict[str, str]:
    """Two mirrored pods using what kwok is told, by upper name -> upper uid; plus a lower pod of
    the same namespace (the provider made it) that is not a mirror."""
    namespace = f"top-{uuid.uuid4().hex[:6]}"
    upper.kubectl("create", "namespace", namespace)
    upper.apply([virtual_deployment("busy", namespace, 2, NODE, annotations=USAGE)])
    wait_for(lambda: len(running(pods(upper, namespace))) == 2, timeout=90, what="the mirrored pods running")
    stranger = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "stranger", "namespace": namespace, "annotations": USAGE},
        "spec": {"nodeName": "t-node-0", "containers": [{"name": "app", "image": "nginx"}]},
    }
    lower_top.apply([stranger])
    return {p["metadata"]["name"]: p["metadata"]["uid"] for p in running(pods(upper, namespace))}


def through_upper(upper: clusters.Cluster, path: str) -> str:
    return upper.kubectl("get", "--raw", f"/api/v1/nodes/{NODE}/proxy{path}")


def scrape(upper: clusters.Cluster) -> tuple[metrics_server_rules.Decoded, str]:
    page = through_upper(upper, "/metrics/resource")
    return metrics_server_rules.decode(page, request_ms=int(time.time() * 1000)), page


def scrape_with_all(upper: clusters.Cluster, names: set[str]) -> tuple[metrics_server_rules.Decoded, str]:
    """A scrape in which metrics-server keeps every one of ``names`` (kwok's first reading of a pod is 0 CPU)."""
    found: list[tuple[metrics_server_rules.Decoded, str]] = []

    def complete() -> bool:
        found[:] = [scrape(upper)]
        return {name for _namespace, name in found[0][0].pods} >= names

    wait_for(complete, timeout=60, every=1.0, what=f"{sorted(names)} in /metrics/resource")
    return found[0]


def test_metrics_server_sees_the_mirrored_pods_by_their_upper_names(
    upper: clusters.Cluster, mirrored: dict[str, str]
) -> None:
    decoded, page = scrape_with_all(upper, set(mirrored))
    assert {name for _namespace, name in decoded.pods} == set(mirrored), page
    for containers in decoded.pods.values():
        assert list(containers) == ["app"]
        assert containers["app"].memory_bytes == MEMORY_BYTES
        assert containers["app"].cpu_nanoseconds > 0
        assert containers["app"].start_time > 1_600_000_000, "an epoch, as a kubelet gives it"
    assert "resource_scrape_error 0" in page


def test_the_node_line_is_the_sum_of_the_pods(upper: clusters.Cluster, mirrored: dict[str, str]) -> None:
    decoded, page = scrape_with_all(upper, set(mirrored))
    assert decoded.node is not None, page
    containers = [c for pod in decoded.pods.values() for c in pod.values()]
    assert decoded.node.memory_bytes == sum(c.memory_bytes for c in containers) == 2 * MEMORY_BYTES
    assert decoded.node.cpu_nanoseconds == pytest.approx(sum(c.cpu_nanoseconds for c in containers), abs=2)


def test_cpu_grows_at_the_rate_kwok_emulates(upper: clusters.Cluster, mirrored: dict[str, str]) -> None:
    before, _ = scrape_with_all(upper, set(mirrored))
    time.sleep(4)
    after, page = scrape_with_all(upper, set(mirrored))
    for key, containers in after.pods.items():
        old, new = before.pods[key]["app"], containers["app"]
        rate = (new.cpu_nanoseconds - old.cpu_nanoseconds) / 1e9 / ((new.timestamp_ms - old.timestamp_ms) / 1000)
        assert rate == pytest.approx(CPU_CORES, rel=0.2), page


def test_the_summary_names_the_node_and_the_pods_with_their_upper_uids(
    upper: clusters.Cluster, mirrored: dict[str, str]
) -> None:
    scrape_with_all(upper, set(mirrored))  # a reading before, so that rates are known
    time.sleep(2)
    summary: dict[str, Any] = json.loads(through_upper(upper, "/stats/summary"))
    assert summary["node"]["nodeName"] == NODE
    assert summary["node"]["memory"]["workingSetBytes"] == 2 * MEMORY_BYTES
    assert summary["node"]["cpu"]["usageNanoCores"] == pytest.approx(2 * CPU_CORES * 1e9, rel=0.2)
    refs = {p["podRef"]["name"]: p["podRef"]["uid"] for p in summary["pods"]}
    assert refs == mirrored
    for pod in summary["pods"]:
        assert pod["memory"]["workingSetBytes"] == MEMORY_BYTES
        assert pod["cpu"]["usageNanoCores"] == pytest.approx(CPU_CORES * 1e9, rel=0.2)
        assert [c["name"] for c in pod["containers"]] == ["app"]


def test_a_lower_pod_that_is_not_a_mirror_never_shows(
    upper: clusters.Cluster, lower_top: clusters.Cluster, mirrored: dict[str, str]
) -> None:
    lower_page = lower_top.kubectl(
        "get", "--raw", "/api/v1/nodes/t-node-0/proxy/metrics/nodes/t-node-0/metrics/resource"
    )
    assert 'pod="stranger"' in lower_page, "the lower kubelet reports it"
    _decoded, page = scrape_with_all(upper, set(mirrored))
    assert 'pod="stranger"' not in page
    assert "stranger" not in through_upper(upper, "/stats/summary")
