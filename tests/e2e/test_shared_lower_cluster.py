"""Two virtual nodes of one upper cluster in one lower cluster: a ConfigMap both use is copied once,
kept current by either, and removed only when neither needs it any more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from descheduler import keys
from provider.pods import deps
from tests.cluster import clusters
from tests.e2e.support.providers import ProviderProcess, pods, running, virtual_deployment, wait_for

NS = "team"
NODES = ("vk-x", "vk-y")


@pytest.fixture(scope="module")
def shared(
    control_plane_binaries: object, clusters_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[clusters.Cluster, clusters.Cluster, list[ProviderProcess]]]:
    specs = [
        clusters.ClusterSpec("shared-upper"),
        clusters.ClusterSpec("shared-lower", clusters.default_lower_nodes("s", 2)),
    ]
    started = clusters.start_clusters(specs, root=clusters_root / "shared")
    upper, lower = started["shared-upper"], started["shared-lower"]
    logs = tmp_path_factory.mktemp("shared-logs")
    providers = [ProviderProcess(upper, lower, node, logs) for node in NODES]
    try:
        for provider in providers:
            provider.start()
        for provider in providers:
            provider.wait_ready()
        yield upper, lower, providers
    finally:
        for provider in providers:
            provider.terminate()
        clusters.stop_clusters(started.values())


def copy_in(lower: clusters.Cluster) -> dict[str, Any] | None:
    out = lower.kubectl("get", "configmap", "shared", "-n", NS, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


def users(lower: clusters.Cluster) -> set[str]:
    found = copy_in(lower)
    return set(deps.users(found)) if found else set()


def set_data(upper: clusters.Cluster, value: str) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "shared", "namespace": NS},
        "data": {"a": value},
    }
    upper.apply([cm])


def app(node: str) -> dict[str, Any]:
    volume = {"volumes": [{"name": "cfg", "configMap": {"name": "shared"}}]}
    return virtual_deployment(f"app-{node}", NS, 2, node, extra_spec=volume)


def test_one_copy_serves_both_virtual_nodes_until_neither_needs_it(
    shared: tuple[clusters.Cluster, clusters.Cluster, list[ProviderProcess]],
) -> None:
    upper, lower, _providers = shared
    for cluster in (upper, lower):
        cluster.kubectl("create", "namespace", NS)
    set_data(upper, "1")
    upper.apply([app(node) for node in NODES])
    wait_for(lambda: len(running(pods(upper, NS))) == 4, timeout=90, what="four pods Running upstairs")
    wait_for(lambda: users(lower) == set(NODES), what="the copy used by both virtual nodes")
    copy = copy_in(lower)
    assert copy is not None and copy["data"] == {"a": "1"}
    assert copy["metadata"]["labels"][keys.UPPER_CLUSTER_LABEL] == "upper"

    set_data(upper, "2")
    wait_for(lambda: (copy_in(lower) or {}).get("data") == {"a": "2"}, what="the update reaching the shared copy")

    # vk-x's pods go: it lets go of the copy, which stays for vk-y and is still kept current.
    upper.kubectl("delete", "deployment", "app-vk-x", "-n", NS)
    wait_for(lambda: users(lower) == {"vk-y"}, timeout=60, what="vk-x letting go of the copy")
    set_data(upper, "3")
    wait_for(lambda: (copy_in(lower) or {}).get("data") == {"a": "3"}, what="vk-y keeping the copy current")
    assert len(running(pods(upper, NS, "app=app-vk-y"))) == 2

    # The last user deletes it.
    upper.kubectl("delete", "deployment", "app-vk-y", "-n", NS)
    wait_for(lambda: copy_in(lower) is None, timeout=60, what="the copy deleted once unused")


def test_an_immutable_configmap_replaced_upstairs_is_replaced_below(
    shared: tuple[clusters.Cluster, clusters.Cluster, list[ProviderProcess]],
) -> None:
    upper, lower, _providers = shared
    ns = "frozen"
    for cluster in (upper, lower):
        cluster.kubectl("create", "namespace", ns)

    def frozen(value: str) -> dict[str, Any]:
        meta = {"name": "frozen", "namespace": ns}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": value}, "immutable": True}

    def lower_data() -> dict[str, str] | None:
        out = lower.kubectl("get", "configmap", "frozen", "-n", ns, "-o", "json", "--ignore-not-found")
        return json.loads(out).get("data") if out.strip() else None

    upper.apply([frozen("1")])
    deployment = virtual_deployment(
        "reader", ns, 1, "vk-x", extra_spec={"volumes": [{"name": "cfg", "configMap": {"name": "frozen"}}]}
    )
    upper.apply([deployment])
    wait_for(lambda: lower_data() == {"a": "1"}, timeout=60, what="the immutable copy below")
    # The only way to change an immutable ConfigMap: delete it and create it again.
    upper.kubectl("delete", "configmap", "frozen", "-n", ns)
    upper.kubectl("create", "-f", "-", input_text=json.dumps(frozen("2")))
    wait_for(lambda: lower_data() == {"a": "2"}, timeout=60, what="the replaced copy below")


def test_a_service_both_virtual_nodes_need_stays_until_neither_has_a_pod_in_its_namespace(
    shared: tuple[clusters.Cluster, clusters.Cluster, list[ProviderProcess]],
) -> None:
    upper, lower, _providers = shared
    ns = "both"
    upper.kubectl("create", "namespace", ns)
    upper.apply([virtual_deployment(f"app-{node}", ns, 1, node) for node in NODES])
    spec = {"selector": {"app": "app-vk-x"}, "ports": [{"port": 80}]}
    upper.apply([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": ns}, "spec": spec}])

    def lower_service() -> dict[str, Any] | None:
        out = lower.kubectl("get", "service", "api", "-n", ns, "-o", "json", "--ignore-not-found")
        return json.loads(out) if out.strip() else None

    def service_users() -> set[str]:
        found = lower_service()
        return set(deps.users(found)) if found else set()

    def lower_addresses() -> set[str]:
        out = lower.kubectl("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=api", "-o", "json")
        return {a for s in json.loads(out)["items"] for e in s.get("endpoints") or () for a in e["addresses"]}

    wait_for(lambda: service_users() == set(NODES), timeout=60, what="one copy of api used by both virtual nodes")
    wait_for(lambda: len(lower_addresses()) == 1, timeout=60, what="api's endpoint below")
    # vk-x's last pod in the namespace goes: vk-y still needs api, so it stays (with no endpoint now).
    upper.kubectl("delete", "deployment", "app-vk-x", "-n", ns)
    wait_for(lambda: service_users() == {"vk-y"}, timeout=60, what="vk-x letting go of api")
    wait_for(lambda: lower_addresses() == set(), timeout=30, what="api's endpoint gone with its pod")
    assert lower_service() is not None
    upper.kubectl("delete", "deployment", "app-vk-y", "-n", ns)
    wait_for(lambda: lower_service() is None, timeout=60, what="api deleted once neither virtual node needs it")
