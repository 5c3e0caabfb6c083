"""/metrics/resource and /stats/summary: what the virtual node's kubelet API serves, read the way
metrics-server reads it (tests/provider/kubelet/metrics_server_rules.py) and as the Summary API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from provider.kubelet import prometheus_text, usage_rendering
from provider.kubelet import resource_usage as usage
from provider.kubelet import server as kubelet_server
from tests.provider.kubelet import fakes, metrics_server_rules

NOW = 1_767_225_600_123


def container(name: str, cpu: float | None, memory: float | None, start: float | None = 1767225000.0):
    return usage.ContainerUsage(name, cpu, memory, start, NOW - 500)


def pod(name: str, *containers: usage.ContainerUsage, namespace: str = "shop") -> usage.PodUsage:
    cpu = sum(c.cpu_seconds or 0 for c in containers)
    memory = sum(c.memory_bytes or 0 for c in containers)
    return usage.PodUsage(namespace, name, f"uid-{name}", tuple(containers), cpu, memory, NOW - 500)


REPORT = usage.Report(
    "vk-top",
    usage.NodeUsage(20.5, 3 * 1048576.0, NOW),
    (
        pod("web-0", container("app", 12.5, 1048576.0), container("side", 0.5, 1048576.0)),
        pod("web-1", container("app", 7.5, 1048576.0)),
    ),
    nano_cores={usage.NODE_KEY: 750_000_000, usage.UsageKey("shop", "web-0", "app"): 250_000_000},
)


def test_metrics_server_keeps_every_mirrored_pod_with_its_figures() -> None:
    decoded = metrics_server_rules.decode(usage_rendering.metrics_text(REPORT), request_ms=NOW + 9)
    assert sorted(decoded.pods) == [("shop", "web-0"), ("shop", "web-1")]
    app = decoded.pods[("shop", "web-0")]["app"]
    assert (app.cpu_nanoseconds, app.memory_bytes, app.start_time, app.timestamp_ms) == (
        12_500_000_000,
        1048576,
        1767225000.0,
        NOW - 500,
    )


def test_metrics_server_keeps_the_node_as_the_sum() -> None:
    decoded = metrics_server_rules.decode(usage_rendering.metrics_text(REPORT), request_ms=NOW + 9)
    assert decoded.node == metrics_server_rules.Point(20_500_000_000, 3 * 1048576, 0.0, NOW)


def test_a_pod_whose_container_has_no_cpu_yet_is_dropped_by_metrics_server() -> None:
    # kwok's first reading of a pod is 0 core-seconds: metrics-server waits for the next scrape.
    report = usage.Report(
        "vk", usage.NodeUsage(1.0, 1.0, NOW), (pod("new", container("app", 0.0, 5.0)), pod("old", container("a", 1, 1)))
    )
    decoded = metrics_server_rules.decode(usage_rendering.metrics_text(report), request_ms=NOW)
    assert list(decoded.pods) == [("shop", "old")]


def test_an_idle_virtual_node_is_not_reported_by_metrics_server() -> None:
    empty = usage.Report("vk", usage.NodeUsage(0.0, 0.0, NOW))
    text = usage_rendering.metrics_text(empty)
    assert metrics_server_rules.decode(text, request_ms=NOW) == metrics_server_rules.Decoded(None, {})


def test_the_page_has_help_and_type_for_each_family_and_the_scrape_error_last() -> None:
    text = usage_rendering.metrics_text(REPORT)
    lines = text.splitlines()
    assert lines[:3] == [
        "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds",
        "# TYPE node_cpu_usage_seconds_total counter",
        f"node_cpu_usage_seconds_total 20.5 {NOW}",
    ]
    assert (
        f'container_cpu_usage_seconds_total{{container="app",namespace="shop",pod="web-0"}} 12.5 {NOW - 500}' in lines
    )
    assert f'pod_memory_working_set_bytes{{namespace="shop",pod="web-0"}} 2097152 {NOW - 500}' in lines
    assert lines[-3:] == [
        "# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise",
        "# TYPE resource_scrape_error gauge",
        "resource_scrape_error 0",
    ]
    types = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(types) == len(set(types)) == 8


def test_a_failed_lower_node_sets_the_scrape_error() -> None:
    failed = usage.Report("vk", REPORT.node, REPORT.pods[:1], failed_nodes=("lower-1",))
    assert usage_rendering.metrics_text(failed).endswith("resource_scrape_error 1\n")


def test_figures_left_out_below_are_left_out_here() -> None:
    report = usage.Report("vk", REPORT.node, (pod("p", container("app", 1.0, None, None)),))
    text = usage_rendering.metrics_text(report)
    assert "container_memory_working_set_bytes{" not in text
    assert "container_start_time_seconds{" not in text
    assert metrics_server_rules.decode(text, request_ms=NOW).pods == {}  # memory 0 drops the pod


def test_the_page_is_what_our_own_parser_reads_back() -> None:
    parsed = prometheus_text.parse(usage_rendering.metrics_text(REPORT))
    assert parsed.skipped == 0
    again = usage.read_page(parsed.samples, fetched_ms=0)
    assert again[usage.PodRef("shop", "web-0")].containers == tuple(
        container(name, cpu, memory, start)
        for name, cpu, memory, start in (("app", 12.5, 1048576.0, 1767225000.0), ("side", 0.5, 1048576.0, 1767225000.0))
    )


def test_the_summary_has_the_node_and_pods_with_cpu_and_memory() -> None:
    summary = usage_rendering.summary(REPORT)
    assert summary["node"] == {
        "nodeName": "vk-top",
        "cpu": {"time": "2026-01-01T00:00:00Z", "usageCoreNanoSeconds": 20_500_000_000, "usageNanoCores": 750_000_000},
        "memory": {"time": "2026-01-01T00:00:00Z", "workingSetBytes": 3145728, "usageBytes": 3145728},
    }
    web0 = summary["pods"][0]
    assert web0["podRef"] == {"name": "web-0", "namespace": "shop", "uid": "uid-web-0"}
    assert web0["startTime"] == "2025-12-31T23:50:00Z"
    assert web0["cpu"] == {"time": "2025-12-31T23:59:59Z", "usageCoreNanoSeconds": 13_000_000_000}
    assert [c["name"] for c in web0["containers"]] == ["app", "side"]
    assert web0["containers"][0]["cpu"]["usageNanoCores"] == 250_000_000
    assert "usageNanoCores" not in web0["containers"][1]["cpu"], "no rate known: left out"


# -- through the server -----------------------------------------------------------------------


@dataclass
class FakeMetrics:
    """A MetricsSource answering with a fixed report, or raising."""

    report_to_give: usage.Report | None = REPORT

    def report(self) -> usage.Report:
        if self.report_to_give is None:
            raise RuntimeError("lower cluster on fire")
        return self.report_to_give


@pytest.fixture
def metrics() -> FakeMetrics:
    return FakeMetrics()


@pytest.fixture
def metrics_server(
    tls: fakes.Tls, logs: fakes.FakeLogs, metrics: FakeMetrics
) -> Iterator[kubelet_server.KubeletServer]:
    srv = kubelet_server.KubeletServer(
        address="127.0.0.1", port=0, cert_file=tls.cert, key_file=tls.key, logs=logs, metrics=metrics
    )
    srv.start()
    yield srv
    srv.stop()


def test_metrics_resource_is_served_as_prometheus_text(
    metrics_server: kubelet_server.KubeletServer, tls: fakes.Tls
) -> None:
    status, body, response = fakes.get(metrics_server, tls, "/metrics/resource")
    assert status == 200
    assert response.getheader("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    assert sorted(metrics_server_rules.decode(body.decode(), request_ms=NOW).pods) == [
        ("shop", "web-0"),
        ("shop", "web-1"),
    ]


def test_stats_summary_is_served_as_json(metrics_server: kubelet_server.KubeletServer, tls: fakes.Tls) -> None:
    status, body, response = fakes.get(metrics_server, tls, "/stats/summary")
    assert (status, response.getheader("Content-Type")) == (200, "application/json")
    assert [p["podRef"]["name"] for p in json.loads(body)["pods"]] == ["web-0", "web-1"]


def test_a_failing_source_is_a_failed_scrape_not_a_500(
    metrics_server: kubelet_server.KubeletServer, tls: fakes.Tls, metrics: FakeMetrics
) -> None:
    metrics.report_to_give = None
    status, body, _ = fakes.get(metrics_server, tls, "/metrics/resource")
    assert status == 200
    assert body.decode().endswith("resource_scrape_error 1\n")
    assert metrics_server_rules.decode(body.decode(), request_ms=NOW) == metrics_server_rules.Decoded(None, {})


def test_without_a_source_the_endpoints_are_not_implemented(
    server: kubelet_server.KubeletServer, tls: fakes.Tls
) -> None:
    assert fakes.get(server, tls, "/metrics/resource")[0] == 501
    assert fakes.get(server, tls, "/stats/summary")[0] == 501
