"""Services across clusters: upper Services and their endpoints reflected into the lower clusters.

The shared upper cluster and lower clusters A and B, with two providers: vk-sa (lower A) and vk-sb
(lower B). ``db`` pods run on vk-sb, ``web`` on vk-sa: lower A must get a selectorless Service
``db`` whose EndpointSlices hold the upper ``db`` pods' IPs (which are lower B's pod IPs: the test
clusters have disjoint pod ranges, as a flat network needs), and follow every change upstairs.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from descheduler import keys
from tests.cluster import clusters, kwok_config
from tests.e2e.support.providers import ProviderProcess, pods, running, virtual_deployment, wait_for

NS = "shop"
PROPAGATION = 2.0
"""Seconds the lower cluster may take to follow the upper one (the issue's goal; polled by kubectl here,
which adds its own latency; tests/bench/bench_services.py measures the provider's lag under churn)."""


@pytest.fixture(scope="module")
def providers(
    upper: clusters.Cluster,
    lower_a: clusters.Cluster,
    lower_b: clusters.Cluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ProviderProcess, ProviderProcess]]:
    logs = tmp_path_factory.mktemp("services-logs")
    started = (ProviderProcess(upper, lower_a, "vk-sa", logs), ProviderProcess(upper, lower_b, "vk-sb", logs))
    try:
        for provider in started:
            provider.start()
        for provider in started:
            provider.wait_ready()
        upper.kubectl("create", "namespace", NS)
        upper.apply([virtual_deployment("db", NS, 3, "vk-sb"), virtual_deployment("web", NS, 1, "vk-sa")])
        wait_for(lambda: len(running(pods(upper, NS))) == 4, timeout=90, what="db and web Running upstairs")
        yield started
    finally:
        for provider in started:
            provider.terminate()


def service(name: str, namespace: str = NS, *, port: int = 5432, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"app": "db"}, "ports": [{"name": "sql", "port": port}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": body}


def get(cluster: clusters.Cluster, kind: str, name: str, namespace: str = NS) -> dict[str, Any] | None:
    out = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


def slices(cluster: clusters.Cluster, name: str, namespace: str = NS) -> list[dict[str, Any]]:
    out = cluster.kubectl(
        "get", "endpointslices", "-n", namespace, "-l", f"kubernetes.io/service-name={name}", "-o", "json"
    )
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def endpoints(cluster: clusters.Cluster, name: str, namespace: str = NS) -> set[tuple[str, bool]]:
    """(address, ready) of every endpoint of Service ``name``, over all its slices."""
    return {
        (address, bool((e.get("conditions") or {}).get("ready")))
        for s in slices(cluster, name, namespace)
        for e in s.get("endpoints") or ()
        for address in e["addresses"]
    }


def ports(cluster: clusters.Cluster, name: str) -> set[tuple[str, int]]:
    return {(p.get("name", ""), p["port"]) for s in slices(cluster, name) for p in s.get("ports") or ()}


def db_ips(upper: clusters.Cluster) -> set[str]:
    return {p["status"]["podIP"] for p in running(pods(upper, NS, "app=db")) if p["status"].get("podIP")}


def follows(upper: clusters.Cluster, lower: clusters.Cluster, name: str, expected: int, what: str) -> None:
    """Upper endpoints of ``name`` settle at ``expected`` ready db pods; the lower ones follow within PROPAGATION."""
    wait_for(
        lambda: {a for a, ready in endpoints(upper, name) if ready} == db_ips(upper) and len(db_ips(upper)) == expected,
        timeout=90,
        what=f"{what}: {expected} ready db endpoints upstairs",
    )
    settled = endpoints(upper, name)
    start = time.monotonic()
    wait_for(lambda: endpoints(lower, name) == settled, timeout=PROPAGATION, every=0.1, what=f"{what}: lower follows")
    print(f"{what}: lower endpoints equal the upper ones {time.monotonic() - start:.2f}s after they settled")


def scale(upper: clusters.Cluster, replicas: int) -> None:
    upper.kubectl("scale", "deployment", "db", "-n", NS, f"--replicas={replicas}")


def test_lower_a_gets_a_selectorless_db_service_with_the_upper_endpoints(
    providers: tuple[ProviderProcess, ProviderProcess],
    upper: clusters.Cluster,
    lower_a: clusters.Cluster,
    lower_b: clusters.Cluster,
) -> None:
    upper.apply([service("db")])
    wait_for(lambda: get(lower_a, "service", "db") is not None, timeout=10, what="Service db in lower A")
    follows(upper, lower_a, "db", 3, "created")
    copy = get(lower_a, "service", "db")
    assert copy is not None
    assert "selector" not in copy["spec"], "a lower selector would let lower controllers fill in lower pods"
    assert json.loads(copy["metadata"]["annotations"][keys.SERVICE_SELECTOR_ANNOTATION]) == {"app": "db"}
    assert copy["spec"]["clusterIP"].startswith("10.96."), "the lower cluster allocates the cluster IP"
    assert copy["metadata"]["labels"][keys.VIRTUAL_NODE_LABEL] == "vk-sa"
    (lower_slice,) = slices(lower_a, "db")
    assert lower_slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "tensile.io"
    # db runs in lower B: no node of lower A is named for it.
    assert all("nodeName" not in e for e in lower_slice["endpoints"])
    # Lower B mirrors the db pods: its copy names the lower nodes they run on.
    wait_for(lambda: endpoints(lower_b, "db") == endpoints(upper, "db"), timeout=PROPAGATION, what="lower B copy")
    lower_nodes = {n["metadata"]["name"] for n in json.loads(lower_b.kubectl("get", "nodes", "-o", "json"))["items"]}
    named = {e.get("nodeName") for s in slices(lower_b, "db") for e in s["endpoints"]}
    assert named and named <= lower_nodes


def test_each_cluster_hands_out_its_own_pod_addresses_outside_the_service_range(
    providers: tuple[ProviderProcess, ProviderProcess], lower_a: clusters.Cluster, lower_b: clusters.Cluster
) -> None:
    """What a flat network needs and the reflected endpoints rely on: no pod IP seen twice across clusters."""

    def pod_networks(cluster: clusters.Cluster) -> set[ipaddress.IPv4Network]:
        ips = {p["status"]["podIP"] for p in running(pods(cluster, NS)) if p["status"].get("podIP")}
        return {ipaddress.IPv4Network(f"{ip}/16", strict=False) for ip in ips}

    in_a, in_b = pod_networks(lower_a), pod_networks(lower_b)
    assert len(in_a) == len(in_b) == 1 and in_a != in_b, (in_a, in_b)
    service_range = ipaddress.IPv4Network(kwok_config.SERVICE_CLUSTER_IP_RANGE)
    assert not any(network.overlaps(service_range) for network in in_a | in_b)
    kubernetes = get(lower_a, "service", "kubernetes", "default")
    assert kubernetes is not None and ipaddress.IPv4Address(kubernetes["spec"]["clusterIP"]) in service_range


def test_the_lower_slices_follow_scaling_to_five_to_zero_and_back(
    providers: tuple[ProviderProcess, ProviderProcess], upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    for replicas in (5, 0, 3):
        scale(upper, replicas)
        follows(upper, lower_a, "db", replicas, f"scaled to {replicas}")


def test_a_port_change_follows(
    providers: tuple[ProviderProcess, ProviderProcess], upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    upper.apply([service("db", port=6543)])
    wait_for(lambda: ports(upper, "db") == {("sql", 6543)}, timeout=30, what="the upper slices on port 6543")
    wait_for(lambda: ports(lower_a, "db") == {("sql", 6543)}, timeout=PROPAGATION, what="the lower slices on 6543")
    copy = get(lower_a, "service", "db")
    assert copy is not None and [p["port"] for p in copy["spec"]["ports"]] == [6543]


def test_headless_stays_headless_and_external_name_is_copied(
    providers: tuple[ProviderProcess, ProviderProcess], upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    external = {"type": "ExternalName", "externalName": "db.example.com", "selector": None}
    upper.apply([service("db-headless", clusterIP="None"), service("db-external", **external)])
    wait_for(lambda: get(lower_a, "service", "db-external") is not None, timeout=10, what="db-external below")
    copy = get(lower_a, "service", "db-external")
    assert copy is not None and copy["spec"]["type"] == "ExternalName"
    assert copy["spec"]["externalName"] == "db.example.com"
    assert slices(lower_a, "db-external") == []
    wait_for(lambda: get(lower_a, "service", "db-headless") is not None, timeout=10, what="db-headless below")
    headless = get(lower_a, "service", "db-headless")
    assert headless is not None and headless["spec"]["clusterIP"] == "None"
    follows(upper, lower_a, "db-headless", 3, "headless")


def test_deleting_the_service_upstairs_removes_it_and_its_slices_below(
    providers: tuple[ProviderProcess, ProviderProcess], upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    upper.apply([service("db-gone")])
    wait_for(lambda: len(endpoints(lower_a, "db-gone")) == 3, timeout=30, what="db-gone reflected")
    upper.kubectl("delete", "service", "db-gone", "-n", NS)
    wait_for(
        lambda: get(lower_a, "service", "db-gone") is None and slices(lower_a, "db-gone") == [],
        timeout=PROPAGATION,
        what="db-gone and its slices deleted below",
    )


def test_a_lower_service_tensile_did_not_create_is_left_alone_and_named_in_a_warning(
    providers: tuple[ProviderProcess, ProviderProcess], upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    theirs = service("legacy", port=80)
    lower_a.apply([theirs])
    before = get(lower_a, "service", "legacy")
    upper.apply([service("legacy", port=8080)])

    def warning() -> list[dict[str, Any]]:
        out = upper.kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.name=legacy", "-o", "json")
        return [e for e in json.loads(out)["items"] if e["reason"] == "LowerServiceExists"]

    wait_for(lambda: bool(warning()), timeout=10, what="a Warning Event on the upper Service")
    (event,) = warning()
    assert event["type"] == "Warning" and event["involvedObject"]["kind"] == "Service"
    assert f"{NS}/legacy" in event["message"] and "lower cluster vk-sa" in event["message"]
    after = get(lower_a, "service", "legacy")
    assert before is not None and after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], "left untouched"
    assert keys.UPPER_CLUSTER_LABEL not in (after["metadata"].get("labels") or {})
    # The lower endpoints controller still owns its slices: ours are not written next to them.
    assert all(
        s["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by") != "tensile.io"
        for s in slices(lower_a, "legacy")
    )


def test_kube_system_services_and_default_kubernetes_are_never_copied(
    providers: tuple[ProviderProcess, ProviderProcess], upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    # vk-sa mirrors pods in kube-system and default too, so only the rule keeps these Services out.
    upper.apply(
        [
            virtual_deployment("sys", "kube-system", 1, "vk-sa"),
            virtual_deployment("plain", "default", 1, "vk-sa"),
            service("sys-db", "kube-system"),
            service("plain-db", "default"),
        ]
    )
    wait_for(
        lambda: get(lower_a, "service", "plain-db", "default") is not None, timeout=60, what="default/plain-db below"
    )
    time.sleep(2)  # the same resync pass had every chance to copy the other two
    ours = lower_a.kubectl(
        "get", "services", "-A", "-l", keys.UPPER_CLUSTER_LABEL, "-o", "jsonpath={.items[*].metadata.namespace}"
    )
    assert "kube-system" not in ours.split()
    kubernetes = get(lower_a, "service", "kubernetes", "default")
    assert kubernetes is not None and keys.UPPER_CLUSTER_LABEL not in (kubernetes["metadata"].get("labels") or {})
    assert slices(lower_a, "kubernetes", "default") and all(
        s["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by") != "tensile.io"
        for s in slices(lower_a, "kubernetes", "default")
    )
    for name, namespace in (("sys", "kube-system"), ("plain", "default")):
        upper.kubectl("delete", "deployment", name, "-n", namespace)
    upper.kubectl("delete", "service", "sys-db", "-n", "kube-system")


def test_the_last_mirrored_pod_of_the_namespace_gone_takes_the_copies_with_it(
    providers: tuple[ProviderProcess, ProviderProcess], upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    wait_for(
        lambda: get(lower_a, "service", "plain-db", "default") is None, timeout=30, what="default/plain-db collected"
    )
    assert get(lower_a, "service", "db") is not None
    upper.kubectl("scale", "deployment", "web", "-n", NS, "--replicas=0")
    wait_for(
        lambda: get(lower_a, "service", "db") is None and slices(lower_a, "db") == [],
        timeout=30,
        what="lower A's db copy collected once vk-sa has no pod in the namespace",
    )
    upper.kubectl("scale", "deployment", "web", "-n", NS, "--replicas=1")
    wait_for(lambda: len(endpoints(lower_a, "db")) == 3, timeout=60, what="db reflected again with web back")


def test_metrics_count_reflected_objects_and_writes(
    providers: tuple[ProviderProcess, ProviderProcess],
) -> None:
    page = providers[0].metrics()
    assert 'tensile_provider_reflected_objects{kind="Service"}' in page
    assert 'tensile_provider_reflection_writes_total{kind="EndpointSlice",verb="create"}' in page
    assert 'tensile_provider_reflection_lag_seconds_count{kind="EndpointSlice"}' in page


def legacy_endpoints(cluster: clusters.Cluster, name: str) -> set[tuple[str, bool]]:
    body = get(cluster, "endpoints", name)
    found: set[tuple[str, bool]] = set()
    for subset in (body or {}).get("subsets") or ():
        found |= {(a["ip"], True) for a in subset.get("addresses") or ()}
        found |= {(a["ip"], False) for a in subset.get("notReadyAddresses") or ()}
    return found


def restart_with(provider: ProviderProcess, *flags: str) -> None:
    provider.terminate()
    provider.extra_args = list(flags)
    provider.start()
    provider.wait_ready()


def test_reflect_endpoints_writes_legacy_endpoints_and_no_reflect_services_copies_nothing(
    providers: tuple[ProviderProcess, ProviderProcess],
    upper: clusters.Cluster,
    lower_a: clusters.Cluster,
    lower_b: clusters.Cluster,
) -> None:
    vk_sa = providers[0]
    try:
        restart_with(vk_sa, "--reflect", "endpoints")
        wait_for(
            lambda: legacy_endpoints(lower_a, "db") == endpoints(upper, "db") != set(),
            timeout=30,
            what="lower A's Endpoints db holding the upper endpoints",
        )
        body, copy = get(lower_a, "endpoints", "db"), get(lower_a, "service", "db")
        assert body is not None and copy is not None
        assert body["metadata"]["labels"][keys.ENDPOINTS_SKIP_MIRROR_LABEL] == "true"
        assert [ref["uid"] for ref in body["metadata"]["ownerReferences"]] == [copy["metadata"]["uid"]]
        time.sleep(1.0)  # the lower endpointslice mirroring controller would have acted by now
        managers = {s["metadata"]["labels"].get(keys.ENDPOINTSLICE_MANAGED_BY_LABEL) for s in slices(lower_a, "db")}
        assert managers == {"tensile.io"}, "the skip-mirror label keeps the lower cluster from slicing it again"

        restart_with(vk_sa, "--no-reflect", "services")
        upper.apply([service("db-later")])
        wait_for(lambda: endpoints(lower_b, "db-later") != set(), timeout=30, what="vk-sb reflects db-later")
        time.sleep(PROPAGATION)
        assert get(lower_a, "service", "db-later") is None, "--no-reflect services: vk-sa copies no new Service"
    finally:
        restart_with(vk_sa)
    wait_for(lambda: get(lower_a, "service", "db-later") is not None, timeout=30, what="db-later once reflecting again")
    upper.kubectl("delete", "service", "db-later", "-n", NS)
