"""The lower EndpointSlices and Endpoints of a reflected Service (provider.pods.endpoint_plan), on plain dicts."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from descheduler import keys
from provider.pods import endpoint_plan
from provider.pods.endpoint_plan import Mirror

UP, VN = "up", "vk-a"
LOWER_SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "namespace": "shop",
        "name": "db",
        "uid": "lower-svc-uid",
        "labels": {keys.UPPER_CLUSTER_LABEL: UP, keys.VIRTUAL_NODE_LABEL: VN},
    },
    "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.9"},
}
PORTS = [{"name": "sql", "protocol": "TCP", "port": 5432}]
MIRRORS = {
    ("shop", "db-0"): Mirror(node_name="lower-node-1", uid="lower-db-0", upper_uid="upper-db-0"),
    ("shop", "db-1"): Mirror(node_name="", uid="lower-db-1", upper_uid="upper-db-1"),
}


def mirror_of(namespace: str, name: str) -> Mirror | None:
    return MIRRORS.get((namespace, name))


def no_mirrors(namespace: str, name: str) -> Mirror | None:
    return None


def endpoint(ip: str, *, ready: bool = True, pod: str | None = None, uid: str | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": False}}
    if pod is not None:
        body["targetRef"] = {"kind": "Pod", "namespace": "shop", "name": pod, "uid": uid or f"upper-{pod}"}
    return body | extra


def upper_slice(name: str, endpoints: list[Any], *, ports: Any = None, address_type: str = "IPv4") -> Any:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": "shop",
            "name": name,
            "uid": f"uid-{name}",
            "labels": {keys.SERVICE_NAME_LABEL: "db", keys.ENDPOINTSLICE_MANAGED_BY_LABEL: "endpointslice-controller"},
            "ownerReferences": [{"kind": "Service", "name": "db", "uid": "upper-svc-uid"}],
        },
        "addressType": address_type,
        "ports": PORTS if ports is None else ports,
        "endpoints": endpoints,
    }


def plan(*slices: Any, lookup: Any = mirror_of, **kwargs: Any) -> list[dict[str, Any]]:
    return endpoint_plan.lower_slices(LOWER_SERVICE, slices, mirror_of=lookup, **kwargs)


def only_endpoint(slices: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(slices) == 1 and len(slices[0]["endpoints"]) == 1, slices
    lowered: dict[str, Any] = slices[0]["endpoints"][0]
    return lowered


# -- endpoints -----------------------------------------------------------------------


def test_addresses_ports_and_conditions_are_copied() -> None:
    ports = [{"name": "sql", "protocol": "TCP", "port": 5432, "appProtocol": "postgresql"}]
    conditions = {"ready": False, "serving": True, "terminating": True}
    slices = plan(upper_slice("db-x", [{"addresses": ["10.1.0.5"], "conditions": conditions}], ports=ports))
    assert slices[0]["addressType"] == "IPv4"
    assert slices[0]["ports"] == ports
    assert only_endpoint(slices) == {"addresses": ["10.1.0.5"], "conditions": conditions}


def test_absent_conditions_stay_absent() -> None:
    lowered = only_endpoint(plan(upper_slice("db-x", [{"addresses": ["10.1.0.5"], "conditions": {"ready": True}}])))
    assert lowered["conditions"] == {"ready": True}


def test_the_hostname_is_kept_and_zone_hints_and_topology_dropped() -> None:
    upper = endpoint(
        "10.1.0.5",
        hostname="db-0",
        zone="zone-a",
        hints={"forZones": [{"name": "zone-a"}]},
        deprecatedTopology={"kubernetes.io/hostname": "upper-node"},
        nodeName="upper-node",
    )
    lowered = only_endpoint(plan(upper_slice("db-x", [upper]), lookup=no_mirrors))
    assert lowered == {"addresses": ["10.1.0.5"], "conditions": upper["conditions"], "hostname": "db-0"}


def test_a_mirrored_pod_points_at_its_mirror_and_its_lower_node() -> None:
    lowered = only_endpoint(plan(upper_slice("db-x", [endpoint("10.1.0.5", pod="db-0", nodeName="virtual")])))
    assert lowered["targetRef"] == {"kind": "Pod", "namespace": "shop", "name": "db-0", "uid": "lower-db-0"}
    assert lowered["nodeName"] == "lower-node-1"


def test_a_mirror_not_yet_scheduled_has_a_target_but_no_node() -> None:
    lowered = only_endpoint(plan(upper_slice("db-x", [endpoint("10.1.0.6", pod="db-1", nodeName="virtual")])))
    assert lowered["targetRef"]["uid"] == "lower-db-1"
    assert "nodeName" not in lowered


def test_a_pod_without_a_mirror_here_has_neither_target_nor_node() -> None:
    lowered = only_endpoint(plan(upper_slice("db-x", [endpoint("10.2.0.7", pod="db-9", nodeName="elsewhere")])))
    assert "targetRef" not in lowered and "nodeName" not in lowered
    assert lowered["addresses"] == ["10.2.0.7"]


def test_a_mirror_of_an_older_pod_of_that_name_is_not_the_pods_mirror() -> None:
    stale = endpoint("10.1.0.5", pod="db-0", uid="upper-db-0-recreated", nodeName="virtual")
    lowered = only_endpoint(plan(upper_slice("db-x", [stale])))
    assert "targetRef" not in lowered and "nodeName" not in lowered


def test_a_target_without_uid_is_taken_as_the_mirrored_pod() -> None:
    upper = endpoint("10.1.0.5", pod="db-0")
    del upper["targetRef"]["uid"]
    assert only_endpoint(plan(upper_slice("db-x", [upper])))["targetRef"]["uid"] == "lower-db-0"


def test_the_mirror_is_looked_up_in_the_targets_namespace() -> None:
    asked: list[tuple[str, str]] = []

    def lookup(namespace: str, name: str) -> Mirror | None:
        asked.append((namespace, name))
        return None

    upper = endpoint("10.1.0.5", pod="db-0")
    upper["targetRef"]["namespace"] = "other"
    foreign = endpoint("10.1.0.6")
    foreign["targetRef"] = {"kind": "Node", "name": "n"}
    plan(upper_slice("db-x", [upper, foreign]), lookup=lookup)
    assert asked == [("other", "db-0")], "only pods are looked up, where they live"


def test_an_endpoint_without_addresses_is_left_out() -> None:
    assert plan(upper_slice("db-x", [{"addresses": [], "conditions": {"ready": True}}])) == []


def test_no_endpoints_is_no_slices() -> None:
    assert plan() == []
    assert plan(upper_slice("db-x", [])) == []


# -- slices --------------------------------------------------------------------------


def test_a_lower_slice_is_owned_by_the_lower_service_and_labelled_for_it() -> None:
    (lowered,) = plan(upper_slice("db-x", [endpoint("10.1.0.5")]))
    meta = lowered["metadata"]
    assert (lowered["apiVersion"], lowered["kind"]) == ("discovery.k8s.io/v1", "EndpointSlice")
    assert (meta["namespace"], meta["name"]) == ("shop", "db-tensile-0")
    assert meta["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "db", "uid": "lower-svc-uid", "controller": True}
    ]
    assert meta["labels"] == {
        keys.SERVICE_NAME_LABEL: "db",
        keys.ENDPOINTSLICE_MANAGED_BY_LABEL: "tensile.io",
        keys.UPPER_CLUSTER_LABEL: UP,
        keys.VIRTUAL_NODE_LABEL: VN,
    }
    assert meta["annotations"][keys.SOURCE_HASH_ANNOTATION]


def test_endpoints_are_grouped_by_address_type_and_ports() -> None:
    other_ports = [{"name": "admin", "protocol": "TCP", "port": 9000}]
    slices = plan(
        upper_slice("db-a", [endpoint("10.1.0.1")]),
        upper_slice("db-b", [endpoint("10.1.0.2")]),
        upper_slice("db-c", [endpoint("10.1.0.3")], ports=other_ports),
        upper_slice("db-d", [endpoint("fd00::1")], address_type="IPv6"),
    )
    groups = {(s["addressType"], s["ports"][0]["port"]): [e["addresses"][0] for e in s["endpoints"]] for s in slices}
    assert groups == {
        ("IPv4", 5432): ["10.1.0.1", "10.1.0.2"],
        ("IPv4", 9000): ["10.1.0.3"],
        ("IPv6", 5432): ["fd00::1"],
    }
    assert [s["metadata"]["name"] for s in slices] == ["db-tensile-0", "db-tensile-1", "db-tensile-2"]


def test_the_same_ports_in_another_order_are_one_group() -> None:
    two = [{"name": "a", "protocol": "TCP", "port": 1}, {"name": "b", "protocol": "UDP", "port": 2}]
    slices = plan(
        upper_slice("db-a", [endpoint("10.1.0.1")], ports=two),
        upper_slice("db-b", [endpoint("10.1.0.2")], ports=list(reversed(two))),
    )
    assert len(slices) == 1 and len(slices[0]["endpoints"]) == 2
    assert slices[0]["ports"] == two


def many(count: int) -> list[Any]:
    return [endpoint(f"10.1.{i // 250}.{i % 250}") for i in range(count)]


def test_250_endpoints_are_slices_of_100_100_and_50_under_stable_names() -> None:
    everything = many(250)
    slices = plan(upper_slice("db-a", everything[:120]), upper_slice("db-b", everything[120:]))
    assert [len(s["endpoints"]) for s in slices] == [100, 100, 50]
    assert [s["metadata"]["name"] for s in slices] == ["db-tensile-0", "db-tensile-1", "db-tensile-2"]
    seen = [e["addresses"][0] for s in slices for e in s["endpoints"]]
    assert sorted(seen) == sorted(e["addresses"][0] for e in everything) and len(set(seen)) == 250


def test_the_slice_size_is_a_parameter() -> None:
    slices = plan(upper_slice("db-a", many(5)), max_endpoints=2)
    assert [len(s["endpoints"]) for s in slices] == [2, 2, 1]


def test_the_same_endpoints_in_another_order_give_the_same_slices() -> None:
    everything = [*many(230), endpoint("10.9.0.1", pod="db-0"), endpoint("10.9.0.2", pod="db-1", ready=False)]
    ipv6 = upper_slice("db-v6", [endpoint(f"fd00::{i:x}") for i in range(1, 20)], address_type="IPv6")
    expected = plan(upper_slice("db-a", everything[:100]), upper_slice("db-b", everything[100:]), ipv6)
    shuffler = random.Random(14)
    for _ in range(5):
        shuffled = list(everything)
        shuffler.shuffle(shuffled)
        cut = shuffler.randrange(1, len(shuffled))
        upper = [upper_slice("db-c", shuffled[:cut]), upper_slice("db-d", shuffled[cut:]), copy.deepcopy(ipv6)]
        shuffler.shuffle(upper[2]["endpoints"])
        shuffler.shuffle(upper)
        assert plan(*upper) == expected


def test_the_digest_follows_the_content() -> None:
    (one,) = plan(upper_slice("db-a", [endpoint("10.1.0.1")]))
    (same,) = plan(upper_slice("db-b", [endpoint("10.1.0.1")]))
    (unready,) = plan(upper_slice("db-a", [endpoint("10.1.0.1", ready=False)]))
    (moved,) = plan(upper_slice("db-a", [endpoint("10.1.0.1")], ports=[{"name": "sql", "port": 5433}]))
    digest = one["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION]
    assert same["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION] == digest
    assert unready["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION] != digest
    assert moved["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION] != digest


def test_the_digest_changes_with_the_lower_service_uid() -> None:
    (one,) = plan(upper_slice("db-a", [endpoint("10.1.0.1")]))
    recreated = copy.deepcopy(LOWER_SERVICE)
    recreated["metadata"]["uid"] = "lower-svc-uid-2"
    (two,) = endpoint_plan.lower_slices(recreated, [upper_slice("db-a", [endpoint("10.1.0.1")])], mirror_of=mirror_of)
    assert two["metadata"]["ownerReferences"][0]["uid"] == "lower-svc-uid-2"
    assert (
        one["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION]
        != two["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION]
    )


# -- duplicates ----------------------------------------------------------------------


@pytest.mark.parametrize("ready_first", [True, False], ids=["ready first", "ready second"])
def test_an_endpoint_in_two_upper_slices_is_kept_once_preferring_the_ready_one(ready_first: bool) -> None:
    ready, unready = endpoint("10.1.0.5", ready=True), endpoint("10.1.0.5", ready=False)
    first, second = (ready, unready) if ready_first else (unready, ready)
    lowered = only_endpoint(plan(upper_slice("db-a", [first]), upper_slice("db-b", [second])))
    assert lowered["conditions"]["ready"] is True


def test_duplicates_that_differ_otherwise_do_not_depend_on_the_order() -> None:
    # Both not ready, one still serving while it terminates: which one is kept must not depend on the
    # order the informer lists the upper slices in, or the lower slice flips (and is rewritten) with it.
    serving = {"addresses": ["10.1.0.5"], "conditions": {"ready": False, "serving": True, "terminating": True}}
    gone = {"addresses": ["10.1.0.5"], "conditions": {"ready": False, "serving": False, "terminating": True}}
    one_way = plan(upper_slice("db-a", [serving]), upper_slice("db-b", [gone]))
    other_way = plan(upper_slice("db-a", [gone]), upper_slice("db-b", [serving]))
    assert one_way == other_way


def test_a_duplicate_without_a_ready_condition_counts_as_ready() -> None:
    # EndpointConditions.ready: "nil should be interpreted as true" (lower_endpoints reads it so too).
    unready = {"addresses": ["10.1.0.5"], "conditions": {"ready": False}}
    unknown = {"addresses": ["10.1.0.5"], "conditions": {}}
    lowered = only_endpoint(plan(upper_slice("db-a", [unready]), upper_slice("db-b", [unknown])))
    assert lowered["conditions"] == {}


# -- legacy Endpoints ----------------------------------------------------------------


def endpoints_of(*slices: Any) -> dict[str, Any]:
    return endpoint_plan.lower_endpoints(LOWER_SERVICE, plan(*slices))


def test_ready_endpoints_are_addresses_and_the_others_not_ready_addresses() -> None:
    body = endpoints_of(
        upper_slice("db-a", [endpoint("10.1.0.5", pod="db-0", hostname="db-0"), endpoint("10.1.0.6", ready=False)])
    )
    assert (body["apiVersion"], body["kind"]) == ("v1", "Endpoints")
    assert (body["metadata"]["namespace"], body["metadata"]["name"]) == ("shop", "db")
    (subset,) = body["subsets"]
    assert subset["ports"] == PORTS
    assert subset["addresses"] == [
        {
            "ip": "10.1.0.5",
            "hostname": "db-0",
            "nodeName": "lower-node-1",
            "targetRef": {"kind": "Pod", "namespace": "shop", "name": "db-0", "uid": "lower-db-0"},
        }
    ]
    assert subset["notReadyAddresses"] == [{"ip": "10.1.0.6"}]


def test_a_subset_of_only_unready_endpoints_has_no_addresses() -> None:
    (subset,) = endpoints_of(upper_slice("db-a", [endpoint("10.1.0.6", ready=False)]))["subsets"]
    assert "addresses" not in subset and subset["notReadyAddresses"] == [{"ip": "10.1.0.6"}]


def test_fqdn_slices_have_no_endpoints_form() -> None:
    body = endpoints_of(
        upper_slice("db-a", [endpoint("10.1.0.5")]),
        upper_slice("db-f", [endpoint("db.example.com")], address_type="FQDN"),
    )
    assert [a["ip"] for s in body["subsets"] for a in s.get("addresses", ())] == ["10.1.0.5"]


def test_each_port_group_is_a_subset() -> None:
    body = endpoints_of(
        upper_slice("db-a", [endpoint("10.1.0.5")]),
        upper_slice("db-b", [endpoint("10.1.0.6")], ports=[{"name": "admin", "protocol": "TCP", "port": 9000}]),
    )
    assert sorted((s["ports"][0]["port"], s["addresses"][0]["ip"]) for s in body["subsets"]) == [
        (5432, "10.1.0.5"),
        (9000, "10.1.0.6"),
    ]


def test_endpoints_are_labelled_so_the_lower_cluster_does_not_mirror_them_into_slices() -> None:
    body = endpoints_of(upper_slice("db-a", [endpoint("10.1.0.5")]))
    assert body["metadata"]["labels"] == {
        keys.ENDPOINTS_SKIP_MIRROR_LABEL: "true",
        keys.UPPER_CLUSTER_LABEL: UP,
        keys.VIRTUAL_NODE_LABEL: VN,
    }
    assert body["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION]


def test_endpoints_are_owned_by_the_lower_service_so_its_deletion_takes_them() -> None:
    (owner,) = endpoints_of(upper_slice("db-a", [endpoint("10.1.0.5")]))["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Service", "db", LOWER_SERVICE["metadata"]["uid"])


def test_no_endpoints_is_an_endpoints_object_without_subsets() -> None:
    assert endpoints_of()["subsets"] == []


def test_the_endpoints_digest_follows_readiness() -> None:
    ready = endpoints_of(upper_slice("db-a", [endpoint("10.1.0.5")]))
    unready = endpoints_of(upper_slice("db-a", [endpoint("10.1.0.5", ready=False)]))
    again = endpoints_of(upper_slice("db-b", [endpoint("10.1.0.5")]))
    digest = ready["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION]
    assert again["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION] == digest
    assert unready["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION] != digest


def test_update_body_keeps_the_resource_version_and_changes_no_input() -> None:
    (desired,) = plan(upper_slice("db-a", [endpoint("10.1.0.5")]))
    existing = copy.deepcopy(desired)
    existing["metadata"]["resourceVersion"] = "77"
    snapshot = copy.deepcopy(desired)
    body = endpoint_plan.update_body(desired, existing)
    assert body["metadata"]["resourceVersion"] == "77"
    body["endpoints"][0]["addresses"][0] = "10.9.9.9"
    assert desired == snapshot
