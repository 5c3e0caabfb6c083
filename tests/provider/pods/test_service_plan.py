"""The lower copy of an upper Service (provider.pods.service_plan), on plain dicts."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from descheduler import keys
from provider.pods import service_plan

UP, VN = "up", "vk-a"


def service(
    name: str = "db", namespace: str = "shop", *, annotations: dict[str, str] | None = None, **spec: Any
) -> Any:
    meta: dict[str, Any] = {"namespace": namespace, "name": name, "uid": "upper-uid-1", "resourceVersion": "7"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def lower(upper: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return service_plan.lower_service(upper, upper_cluster=UP, virtual_node=VN, **kwargs)


PORT = {"name": "sql", "protocol": "TCP", "port": 5432, "targetPort": 5432}


# -- which Services are copied --------------------------------------------------------


@pytest.mark.parametrize(
    "upper",
    [
        service("dns", "kube-system", type="ClusterIP"),
        service("kubernetes", "default", type="ClusterIP"),
        service(annotations={keys.REFLECT_ANNOTATION: "false"}),
        service(annotations={keys.REFLECT_ANNOTATION: "False"}),
        service(annotations={keys.REFLECT_ANNOTATION: " FALSE "}),
    ],
    ids=["kube-system", "default/kubernetes", "opt-out false", "opt-out False", "opt-out FALSE with spaces"],
)
def test_cluster_services_and_opted_out_services_are_never_copied(upper: dict[str, Any]) -> None:
    reason = service_plan.skip_reason(upper)
    assert reason is not None and reason.strip()


@pytest.mark.parametrize(
    "upper",
    [
        service(),
        service("kubernetes", "shop"),
        service("db", "default"),
        service(annotations={keys.REFLECT_ANNOTATION: "true"}),
        service(annotations={keys.REFLECT_ANNOTATION: "no"}),
        service(annotations={keys.REFLECT_ANNOTATION: "0"}),
        service(annotations={keys.REFLECT_ANNOTATION: ""}),
        service(annotations={"other.io/reflect": "false"}),
    ],
    ids=[
        "plain",
        "kubernetes in another namespace",
        "another name in default",
        "annotated true",
        "annotated no",
        "annotated 0",
        "annotated empty",
        "another key false",
    ],
)
def test_other_services_are_copied(upper: dict[str, Any]) -> None:
    assert service_plan.skip_reason(upper) is None


def test_a_service_without_namespace_is_in_default() -> None:
    upper = service("kubernetes")
    del upper["metadata"]["namespace"]
    assert service_plan.skip_reason(upper) is not None
    assert lower({"metadata": {"name": "db"}, "spec": {}})["metadata"]["namespace"] == "default"


# -- the lower copy -------------------------------------------------------------------


def test_a_clusterip_service_becomes_a_selectorless_clusterip_with_the_selector_recorded() -> None:
    upper = service(type="ClusterIP", selector={"b": "2", "app": "db"}, ports=[PORT])
    body = lower(upper)
    assert (body["apiVersion"], body["kind"]) == ("v1", "Service")
    assert (body["metadata"]["namespace"], body["metadata"]["name"]) == ("shop", "db")
    assert body["spec"] == {"type": "ClusterIP", "ports": [PORT]}
    recorded = body["metadata"]["annotations"][keys.SERVICE_SELECTOR_ANNOTATION]
    assert recorded == '{"app": "db", "b": "2"}' and json.loads(recorded) == {"app": "db", "b": "2"}
    assert keys.SERVICE_TYPE_ANNOTATION not in body["metadata"]["annotations"]


def test_a_service_without_selector_or_type_is_a_clusterip_without_selector_annotation() -> None:
    body = lower(service(ports=[PORT]))
    assert body["spec"]["type"] == "ClusterIP"
    assert "selector" not in body["spec"]
    assert keys.SERVICE_SELECTOR_ANNOTATION not in body["metadata"]["annotations"]


@pytest.mark.parametrize("upper_type", ["NodePort", "LoadBalancer"])
def test_nodeport_and_loadbalancer_become_clusterip_with_the_type_recorded(upper_type: str) -> None:
    port = {**PORT, "nodePort": 30432}
    upper = service(
        type=upper_type,
        selector={"app": "db"},
        ports=[port],
        externalTrafficPolicy="Local",
        loadBalancerIP="1.2.3.4",
        allocateLoadBalancerNodePorts=True,
    )
    body = lower(upper)
    assert body["spec"] == {"type": "ClusterIP", "ports": [PORT]}
    assert body["metadata"]["annotations"][keys.SERVICE_TYPE_ANNOTATION] == upper_type
    assert upper["spec"]["ports"][0]["nodePort"] == 30432, "the upper body is not changed"


def test_every_port_field_but_nodeport_is_kept() -> None:
    ports = [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "web", "appProtocol": "http", "nodePort": 30080},
        {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 5353},
    ]
    body = lower(service(type="NodePort", ports=ports))
    assert body["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "web", "appProtocol": "http"},
        {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 5353},
    ]


def test_a_headless_service_stays_headless() -> None:
    body = lower(service(clusterIP="None", clusterIPs=["None"], selector={"app": "db"}, ports=[PORT]))
    assert body["spec"]["clusterIP"] == "None"
    assert "clusterIPs" not in body["spec"]
    assert service_plan.is_headless(body)


def test_an_externalname_service_is_copied_as_it_is() -> None:
    upper = service(type="ExternalName", externalName="db.example.com", ports=[PORT], sessionAffinity="None")
    body = lower(upper)
    assert body["spec"] == {"type": "ExternalName", "externalName": "db.example.com", "ports": [PORT]}
    assert keys.SERVICE_TYPE_ANNOTATION not in body["metadata"]["annotations"]
    assert service_plan.is_external_name(body)


def test_an_externalname_service_without_ports_has_none() -> None:
    body = lower(service(type="ExternalName", externalName="db.example.com"))
    assert body["spec"] == {"type": "ExternalName", "externalName": "db.example.com"}


def test_session_affinity_and_friends_are_copied() -> None:
    fields: dict[str, Any] = {
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 300}},
        "publishNotReadyAddresses": True,
        "ipFamilyPolicy": "SingleStack",
    }
    upper = service(type="ClusterIP", ports=[PORT], **fields)
    body = lower(upper)
    assert {f: body["spec"][f] for f in fields} == fields
    body["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] = 1
    assert upper["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 300, "copied, not shared"


def test_the_upper_cluster_ip_and_families_are_not_copied() -> None:
    upper = service(
        type="ClusterIP", clusterIP="10.96.0.12", clusterIPs=["10.96.0.12"], ipFamilies=["IPv4"], ports=[PORT]
    )
    spec = lower(upper)["spec"]
    assert not {"clusterIP", "clusterIPs", "ipFamilies"} & set(spec)


def test_ownership_labels_are_set_and_upper_ones_replaced() -> None:
    upper = service(ports=[PORT])
    upper["metadata"]["labels"] = {
        "app": "db",
        keys.UPPER_CLUSTER_LABEL: "someone-else",
        keys.VIRTUAL_NODE_LABEL: "vk-other",
    }
    labels = lower(upper)["metadata"]["labels"]
    assert labels == {"app": "db", keys.UPPER_CLUSTER_LABEL: UP, keys.VIRTUAL_NODE_LABEL: VN}
    assert upper["metadata"]["labels"][keys.VIRTUAL_NODE_LABEL] == "vk-other", "the upper body is not changed"


def test_the_upper_uid_is_recorded() -> None:
    assert lower(service())["metadata"]["annotations"][keys.UPPER_UID_ANNOTATION] == "upper-uid-1"


def test_the_users_default_to_the_creator() -> None:
    assert json.loads(lower(service())["metadata"]["annotations"][keys.COPY_USERS_ANNOTATION]) == [VN]


def test_the_users_are_sorted_and_unique() -> None:
    annotations = lower(service(), users=["vk-c", "vk-a", "vk-c", "vk-b"])["metadata"]["annotations"]
    assert json.loads(annotations[keys.COPY_USERS_ANNOTATION]) == ["vk-a", "vk-b", "vk-c"]


def test_nothing_of_the_upper_metadata_but_labels_name_and_uid_is_copied() -> None:
    upper = service(annotations={"note": "hi"})
    upper["metadata"].update({"resourceVersion": "99", "finalizers": ["x"], "ownerReferences": [{"uid": "o"}]})
    meta = lower(upper)["metadata"]
    assert set(meta) == {"name", "namespace", "labels", "annotations"}
    assert "note" not in meta["annotations"]


# -- the source digest ----------------------------------------------------------------


def test_the_digest_does_not_depend_on_key_order() -> None:
    upper = service(
        type="NodePort",
        selector={"app": "db", "tier": "data"},
        ports=[{**PORT, "nodePort": 30000}],
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}},
    )
    upper["metadata"]["labels"] = {"a": "1", "b": "2"}
    reordered = json.loads(json.dumps(upper), object_pairs_hook=lambda pairs: dict(reversed(pairs)))
    assert list(reordered["spec"]) == list(reversed(list(upper["spec"])))
    assert service_plan.source_hash(lower(upper)) == service_plan.source_hash(lower(reordered))
    assert service_plan.source_hash(lower(upper))


def test_the_digest_does_not_depend_on_the_users() -> None:
    upper = service(ports=[PORT])
    alone, shared = lower(upper), lower(upper, users=["vk-a", "vk-b"])
    assert (
        alone["metadata"]["annotations"][keys.COPY_USERS_ANNOTATION]
        != (shared["metadata"]["annotations"][keys.COPY_USERS_ANNOTATION])
    )
    assert service_plan.source_hash(alone) == service_plan.source_hash(shared)
    assert not service_plan.service_differs(alone, shared)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["spec"]["ports"][0].update(port=5433),
        lambda s: s["spec"]["ports"][0].update(targetPort=6000),
        lambda s: s["spec"]["ports"].append({"name": "admin", "port": 9000}),
        lambda s: s["spec"].update(selector={"app": "other"}),
        lambda s: s["spec"].update(type="NodePort"),
        lambda s: s["spec"].update(sessionAffinity="ClientIP"),
        lambda s: s["metadata"].update(labels={"app": "db"}),
        lambda s: s["metadata"].update(uid="upper-uid-2"),
    ],
    ids=["port", "targetPort", "another port", "selector", "type", "sessionAffinity", "labels", "recreated upper"],
)
def test_the_digest_changes_with_what_is_copied(change: Any) -> None:
    upper = service(type="ClusterIP", selector={"app": "db"}, ports=[dict(PORT)])
    before = lower(upper)
    changed = copy.deepcopy(upper)
    change(changed)
    after = lower(changed)
    assert service_plan.source_hash(before) != service_plan.source_hash(after)
    assert service_plan.service_differs(after, before)


def test_the_digest_ignores_what_is_not_copied() -> None:
    upper = service(type="NodePort", ports=[{**PORT, "nodePort": 30000}], clusterIP="10.96.0.1")
    moved = copy.deepcopy(upper)
    moved["spec"]["ports"][0]["nodePort"] = 30001
    moved["spec"]["clusterIP"] = "10.96.0.2"
    moved["metadata"]["resourceVersion"] = "8"
    assert not service_plan.service_differs(lower(upper), lower(moved))


def test_a_copy_without_a_digest_differs() -> None:
    desired = lower(service(ports=[PORT]))
    existing = copy.deepcopy(desired)
    del existing["metadata"]["annotations"][keys.SOURCE_HASH_ANNOTATION]
    assert service_plan.source_hash(existing) == ""
    assert service_plan.service_differs(desired, existing)


def test_digest_is_stable_and_short() -> None:
    assert service_plan.digest({"b": [1, {"y": 2, "x": 1}], "a": None}) == service_plan.digest(
        {"a": None, "b": [1, {"x": 1, "y": 2}]}
    )
    assert len(service_plan.digest({})) == 20
    assert service_plan.digest([1, 2]) != service_plan.digest([2, 1]), "list order matters"


# -- rewriting a copy -----------------------------------------------------------------


CLUSTER_IP = service(type="ClusterIP", ports=[PORT])
HEADLESS = service(clusterIP="None", ports=[PORT])
EXTERNAL = service(type="ExternalName", externalName="db.example.com")
NODE_PORT = service(type="NodePort", ports=[{**PORT, "nodePort": 30000}])


@pytest.mark.parametrize(
    ("desired", "existing", "replace"),
    [
        (CLUSTER_IP, CLUSTER_IP, False),
        (NODE_PORT, CLUSTER_IP, False),
        (HEADLESS, HEADLESS, False),
        (EXTERNAL, EXTERNAL, False),
        (HEADLESS, CLUSTER_IP, True),
        (CLUSTER_IP, HEADLESS, True),
        (EXTERNAL, CLUSTER_IP, True),
        (CLUSTER_IP, EXTERNAL, True),
        (EXTERNAL, HEADLESS, True),
        (HEADLESS, EXTERNAL, True),
    ],
    ids=[
        "clusterIP -> clusterIP",
        "nodePort -> clusterIP copy",
        "headless -> headless",
        "externalName -> externalName",
        "clusterIP copy turns headless",
        "headless copy turns clusterIP",
        "clusterIP copy turns externalName",
        "externalName copy turns clusterIP",
        "headless copy turns externalName",
        "externalName copy turns headless",
    ],
)
def test_only_a_change_of_cluster_ip_kind_needs_a_replace(
    desired: dict[str, Any], existing: dict[str, Any], replace: bool
) -> None:
    assert service_plan.needs_replace(lower(desired), lower(existing)) is replace


def allocated(body: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """``body`` as the lower API server returns it: its IP allocation and a resourceVersion."""
    found = copy.deepcopy(body)
    found["metadata"].update(resourceVersion="42", uid="lower-uid")
    found["spec"].update(spec)
    return found


def test_an_update_keeps_the_lower_ip_allocation_and_resource_version() -> None:
    existing = allocated(
        lower(CLUSTER_IP),
        clusterIP="10.0.0.9",
        clusterIPs=["10.0.0.9"],
        ipFamilies=["IPv4"],
        ipFamilyPolicy="SingleStack",
    )
    changed = copy.deepcopy(CLUSTER_IP)
    changed["spec"]["ports"][0] = {**PORT, "port": 5433}
    desired = lower(changed)
    snapshot = (copy.deepcopy(desired), copy.deepcopy(existing))
    body = service_plan.update_body(desired, existing)
    assert body["metadata"]["resourceVersion"] == "42"
    assert body["spec"]["clusterIP"] == "10.0.0.9"
    assert body["spec"]["clusterIPs"] == ["10.0.0.9"]
    assert body["spec"]["ipFamilies"] == ["IPv4"]
    assert body["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert body["spec"]["ports"][0]["port"] == 5433
    assert body["metadata"]["annotations"] == desired["metadata"]["annotations"]
    assert (desired, existing) == snapshot, "the inputs are not changed"
    body["metadata"]["labels"]["x"] = "y"
    body["spec"]["ports"][0]["port"] = 1
    assert (desired, existing) == snapshot, "the body shares nothing with the inputs"


def test_an_update_takes_the_desired_ip_family_policy_over_the_existing_one() -> None:
    desired = lower(service(type="ClusterIP", ports=[PORT], ipFamilyPolicy="PreferDualStack"))
    existing = allocated(lower(CLUSTER_IP), clusterIP="10.0.0.9", ipFamilyPolicy="SingleStack")
    assert service_plan.update_body(desired, existing)["spec"]["ipFamilyPolicy"] == "PreferDualStack"


def test_an_update_of_a_headless_copy_keeps_it_headless() -> None:
    existing = allocated(lower(HEADLESS), clusterIPs=["None"])
    body = service_plan.update_body(lower(HEADLESS), existing)
    assert (body["spec"]["clusterIP"], body["spec"]["clusterIPs"]) == ("None", ["None"])


def test_an_update_of_an_externalname_copy_takes_no_ip_fields() -> None:
    existing = allocated(lower(EXTERNAL), clusterIP="10.0.0.9", ipFamilies=["IPv4"])
    body = service_plan.update_body(lower(EXTERNAL), existing)
    assert body["metadata"]["resourceVersion"] == "42"
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(body["spec"])
