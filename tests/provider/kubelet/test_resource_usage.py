"""Reading lower resource metrics into pods, keeping the mirrored ones, and the node's figures across scrapes."""

from __future__ import annotations

from typing import Any

import pytest

from descheduler import keys
from provider.kubelet import prometheus_text
from provider.kubelet import resource_usage as usage

FETCHED = 1_767_225_600_000


def page(text: str) -> dict[usage.PodRef, usage.PodUsage]:
    return usage.read_page(prometheus_text.parse(text).samples, fetched_ms=FETCHED)


LOWER_PAGE = """\
container_cpu_usage_seconds_total{container="app",namespace="shop",pod="web-0"} 12.5 1767225600123
container_cpu_usage_seconds_total{container="side",namespace="shop",pod="web-0"} 0.5 1767225600123
container_memory_working_set_bytes{container="app",namespace="shop",pod="web-0"} 1048576 1767225600123
container_memory_working_set_bytes{container="side",namespace="shop",pod="web-0"} 2048 1767225600123
container_start_time_seconds{container="app",namespace="shop",pod="web-0"} 1767225000 1767225600123
pod_cpu_usage_seconds_total{namespace="shop",pod="web-0"} 13.5 1767225600123
pod_memory_working_set_bytes{namespace="shop",pod="web-0"} 1050624 1767225600123
container_cpu_usage_seconds_total{container="app",namespace="other",pod="theirs"} 99
node_cpu_usage_seconds_total 500 1767225600123
"""


def test_a_page_gives_each_pod_with_its_containers_sorted() -> None:
    pods = page(LOWER_PAGE)
    web = pods[usage.PodRef("shop", "web-0")]
    assert [c.name for c in web.containers] == ["app", "side"]
    app = web.containers[0]
    assert (app.cpu_seconds, app.memory_bytes, app.start_time, app.timestamp_ms) == (
        12.5,
        1048576,
        1767225000,
        1767225600123,
    )
    assert web.containers[1].start_time is None
    assert (web.cpu_seconds, web.memory_bytes) == (13.0, 1050624)


def test_a_pod_counts_its_containers_even_when_its_own_series_lags() -> None:
    # kwok's pod_cpu_usage_seconds_total reads 0 while its containers count, and metrics-server
    # sums the containers anyway.
    pods = page(
        'container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} 2\n'
        'pod_cpu_usage_seconds_total{namespace="n",pod="p"} 0\n'
    )
    assert pods[usage.PodRef("n", "p")].cpu_seconds == 2.0


def test_a_pod_without_container_series_keeps_its_own() -> None:
    pods = page(
        'pod_cpu_usage_seconds_total{namespace="n",pod="p"} 3\npod_memory_working_set_bytes{namespace="n",pod="p"} 7\n'
    )
    pod = pods[usage.PodRef("n", "p")]
    assert (pod.containers, pod.cpu_seconds, pod.memory_bytes) == ((), 3.0, 7.0)


def test_samples_without_a_timestamp_get_the_fetch_time() -> None:
    pods = page('container_cpu_usage_seconds_total{container="app",namespace="other",pod="theirs"} 99\n')
    assert pods[usage.PodRef("other", "theirs")].containers[0].timestamp_ms == FETCHED


@pytest.mark.parametrize(
    "line",
    [
        'container_cpu_usage_seconds_total{container="a",pod="p"} 1',
        'container_cpu_usage_seconds_total{container="a",namespace="n"} 1',
        'container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} -1',
        'container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} NaN',
        'container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} +Inf',
        'container_cpu_usage_seconds_total{namespace="n",pod="p"} 1',
        'scrape_error{namespace="n",pod="p"} 1',
    ],
    ids=["no namespace", "no pod", "negative", "NaN", "infinite", "no container", "unrelated"],
)
def test_unusable_samples_are_left_out(line: str) -> None:
    pods = page(line + "\n")
    assert all(not pod.containers for pod in pods.values())


def mirror(name: str, *, uid: str = "", node: str = "lower-0", namespace: str = "shop") -> usage.Mirror:
    return usage.Mirror(namespace, name, uid or f"uid-{name}", node)


def test_only_mirrored_pods_are_kept_with_their_upper_uid() -> None:
    selected = usage.select(page(LOWER_PAGE), [mirror("web-0"), mirror("gone")])
    assert [(p.namespace, p.name, p.uid) for p in selected] == [("shop", "web-0", "uid-web-0")]


def raw_pod(**overrides: Any) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "metadata": {"namespace": "shop", "name": "web-0", "annotations": {keys.UPPER_UID_ANNOTATION: "u-1"}},
        "spec": {"nodeName": "lower-0"},
    }
    pod.update(overrides)
    return pod


def test_a_lower_mirror_pod_names_its_upper_uid_and_lower_node() -> None:
    assert usage.mirror_of(raw_pod()) == usage.Mirror("shop", "web-0", "u-1", "lower-0")


@pytest.mark.parametrize(
    "pod",
    [raw_pod(spec={}), raw_pod(spec={"nodeName": ""}), raw_pod(metadata={"name": "x"}), {}],
    ids=["not scheduled", "empty node", "no namespace", "empty"],
)
def test_a_mirror_with_nothing_to_scrape_is_none(pod: dict[str, Any]) -> None:
    assert usage.mirror_of(pod) is None


def test_a_mirror_without_the_uid_annotation_has_an_empty_uid() -> None:
    assert usage.mirror_of(raw_pod(metadata={"namespace": "n", "name": "p"})) == usage.Mirror("n", "p", "", "lower-0")


def node(annotation: object = None) -> dict[str, Any]:
    annotations = {} if annotation is None else {usage.METRICS_PATH_ANNOTATION: annotation}
    return {"metadata": {"name": "lower-0", "annotations": annotations}}


@pytest.mark.parametrize(
    ("annotation", "path"),
    [
        (None, "/metrics/resource"),
        ("/metrics/nodes/lower-0/metrics/resource", "/metrics/nodes/lower-0/metrics/resource"),
        ("metrics/resource", "/metrics/resource"),
        ("/metrics/../../api", "/metrics/resource"),
        ("/metrics?x=1", "/metrics/resource"),
        ("/metrics%2F..", "/metrics/resource"),
        (7, "/metrics/resource"),
    ],
    ids=["default", "kwok's", "relative", "dot-dot", "query", "escaped", "not a string"],
)
def test_a_lower_nodes_metrics_path_is_its_annotation_when_plain(annotation: object, path: str) -> None:
    assert usage.metrics_path(node(annotation)) == path


def pod(name: str, cpu: float | None, memory: float | None = 100.0, *, uid: str = "", at: int = 1000) -> usage.PodUsage:
    container = usage.ContainerUsage("app", cpu, memory, timestamp_ms=at)
    return usage.PodUsage("shop", name, uid or f"uid-{name}", (container,), cpu, memory, at)


def test_the_node_is_the_sum_of_its_pods() -> None:
    history = usage.History()
    node = history.observe([pod("a", 1.5, 100), pod("b", 2.0, 50)], mirrored=[mirror("a"), mirror("b")], now_ms=5)
    assert node == usage.NodeUsage(3.5, 150.0, 5)


def test_the_node_cpu_counter_keeps_a_pod_that_left() -> None:
    history = usage.History()
    history.observe([pod("a", 1.0), pod("b", 2.0)], mirrored=[mirror("a"), mirror("b")], now_ms=1)
    node = history.observe([pod("a", 1.5)], mirrored=[mirror("a")], now_ms=2)
    assert (node.cpu_seconds, node.memory_bytes) == (3.5, 100.0)


def test_a_pod_on_a_failed_lower_node_keeps_its_last_cpu_in_the_counter() -> None:
    history = usage.History()
    history.observe([pod("a", 1.0), pod("b", 2.0)], mirrored=[mirror("a"), mirror("b", node="lower-1")], now_ms=1)
    node = history.observe([pod("a", 1.5)], mirrored=[mirror("a"), mirror("b", node="lower-1")], now_ms=2)
    assert node.cpu_seconds == 3.5
    node = history.observe([pod("a", 1.5), pod("b", 2.5)], mirrored=[mirror("a"), mirror("b")], now_ms=3)
    assert node.cpu_seconds == 4.0


def test_the_node_cpu_counter_never_goes_down() -> None:
    history = usage.History()
    history.observe([pod("a", 5.0)], mirrored=[mirror("a")], now_ms=1)
    node = history.observe([pod("a", 1.0)], mirrored=[mirror("a")], now_ms=2)  # the container restarted
    assert node.cpu_seconds == 5.0


def test_a_recreated_pod_of_the_same_name_is_a_new_pod() -> None:
    history = usage.History()
    history.observe([pod("a", 5.0, uid="old")], mirrored=[mirror("a", uid="old")], now_ms=1)
    node = history.observe([pod("a", 1.0, uid="new")], mirrored=[mirror("a", uid="new")], now_ms=2)
    assert node.cpu_seconds == 6.0


def test_rates_need_two_readings_and_are_nano_cores() -> None:
    history = usage.History()
    history.observe([pod("a", 1.0, at=1000)], mirrored=[mirror("a")], now_ms=1000)
    assert history.nano_cores() == {}
    history.observe([pod("a", 1.5, at=3000)], mirrored=[mirror("a")], now_ms=3000)
    assert history.nano_cores() == {
        usage.NODE_KEY: 250_000_000,
        usage.UsageKey("shop", "a"): 250_000_000,
        usage.UsageKey("shop", "a", "app"): 250_000_000,
    }


def test_the_same_reading_again_keeps_the_last_rate() -> None:
    history = usage.History()
    history.observe([pod("a", 1.0, at=1000)], mirrored=[mirror("a")], now_ms=1000)
    history.observe([pod("a", 2.0, at=2000)], mirrored=[mirror("a")], now_ms=2000)
    history.observe([pod("a", 2.0, at=2000)], mirrored=[mirror("a")], now_ms=2500)
    assert history.nano_cores()[usage.UsageKey("shop", "a", "app")] == 1_000_000_000


def test_a_counter_that_restarted_has_no_rate() -> None:
    history = usage.History()
    history.observe([pod("a", 5.0, at=1000)], mirrored=[mirror("a")], now_ms=1000)
    history.observe([pod("a", 1.0, at=2000)], mirrored=[mirror("a")], now_ms=2000)
    assert usage.UsageKey("shop", "a", "app") not in history.nano_cores()


def test_rates_of_pods_no_longer_mirrored_are_forgotten() -> None:
    history = usage.History()
    history.observe([pod("a", 1.0, at=1000)], mirrored=[mirror("a")], now_ms=1000)
    history.observe([pod("a", 2.0, at=2000)], mirrored=[mirror("a")], now_ms=2000)
    history.observe([], mirrored=[], now_ms=3000)
    assert set(history.nano_cores()) <= {usage.NODE_KEY}


def test_a_pod_without_cpu_counts_only_its_memory() -> None:
    history = usage.History()
    node = history.observe([pod("a", None, 64.0)], mirrored=[mirror("a")], now_ms=1)
    assert (node.cpu_seconds, node.memory_bytes) == (0.0, 64.0)
