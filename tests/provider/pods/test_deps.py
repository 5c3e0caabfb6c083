from __future__ import annotations

import json
from typing import Any

import pytest

from descheduler import keys
from provider.pods import deps

UP, VN = "up", "vk-a"
OWNED = {keys.UPPER_CLUSTER_LABEL: UP, keys.VIRTUAL_NODE_LABEL: VN}


def pod_with(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "shop", "name": "web"}, "spec": {"containers": [], **spec}}


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "web:1", **fields}


# -- references ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "configmaps", "secrets"),
    [
        ({"volumes": [{"name": "v", "configMap": {"name": "cm"}}]}, {"cm"}, set()),
        ({"volumes": [{"name": "v", "secret": {"secretName": "s"}}]}, set(), {"s"}),
        (
            {
                "volumes": [
                    {"name": "v", "projected": {"sources": [{"configMap": {"name": "cm"}}, {"secret": {"name": "s"}}]}}
                ]
            },
            {"cm"},
            {"s"},
        ),
        (
            {
                "containers": [
                    container(
                        env=[
                            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "a"}}},
                            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "b", "optional": True}}},
                            {"name": "C", "value": "plain"},
                            {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        ]
                    )
                ]
            },
            {"cm"},
            {"s"},
        ),
        (
            {"initContainers": [container(envFrom=[{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s"}}])]},
            {"cm"},
            {"s"},
        ),
        ({"imagePullSecrets": [{"name": "registry"}]}, set(), {"registry"}),
        (
            {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "p", "persistentVolumeClaim": {"claimName": "c"}}]},
            set(),
            set(),
        ),
    ],
    ids=[
        "configMap volume -> configmap",
        "secret volume -> secret",
        "projected sources -> both",
        "env valueFrom refs -> both, plain and field refs ignored",
        "init container envFrom -> both",
        "imagePullSecrets -> secret",
        "other volumes -> nothing",
    ],
)
def test_references_are_found_everywhere_a_pod_names_them(
    spec: dict[str, Any], configmaps: set[str], secrets: set[str]
) -> None:
    refs = deps.references(pod_with(**spec))
    assert refs == deps.Refs(configmaps=frozenset(configmaps), secrets=frozenset(secrets))


def test_service_account_token_secrets_are_never_referenced() -> None:
    spec = {
        "serviceAccountName": "app",
        "volumes": [
            {"name": "default-token-abcde", "secret": {"secretName": "default-token-abcde"}},
            {"name": "token", "secret": {"secretName": "app-token-q8z"}},
            {"name": "kube-api-access-x7k2p", "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}}]}},
            {"name": "creds", "secret": {"secretName": "db"}},
        ],
        "containers": [
            container(env=[{"name": "T", "valueFrom": {"secretKeyRef": {"name": "app-token-q8z", "key": "t"}}}])
        ],
    }
    assert deps.references(pod_with(**spec)) == deps.Refs(configmaps=frozenset(), secrets=frozenset({"db"}))


def test_lower_clusters_own_root_ca_is_not_copied() -> None:
    spec = {"volumes": [{"name": "ca", "configMap": {"name": "kube-root-ca.crt"}}]}
    assert deps.references(pod_with(**spec)).configmaps == frozenset()


def test_names_are_deduplicated_and_nameless_refs_dropped() -> None:
    spec = {
        "volumes": [{"name": "a", "configMap": {"name": "cm"}}, {"name": "b", "configMap": {}}],
        "containers": [container(envFrom=[{"configMapRef": {"name": "cm"}}])],
    }
    assert deps.references(pod_with(**spec)).configmaps == frozenset({"cm"})


# -- lower_copy ---------------------------------------------------------------------


def upper_object(kind: str = "ConfigMap", **content: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "namespace": "shop",
            "name": "app-config",
            "uid": "c1",
            "resourceVersion": "9",
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d1"}],
            "managedFields": [{"manager": "kubectl"}],
        },
        **content,
    }


def test_configmap_copy_keeps_content_under_our_labels() -> None:
    source = upper_object(data={"a": "1"}, binaryData={"b": "AA=="}, immutable=True)
    copy = deps.lower_copy(source, kind="ConfigMap", upper_cluster=UP, virtual_node=VN)
    assert copy == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "app-config",
            "namespace": "shop",
            "labels": {"app": "web", **OWNED},
            "annotations": {keys.COPY_USERS_ANNOTATION: json.dumps([VN])},
        },
        "data": {"a": "1"},
        "binaryData": {"b": "AA=="},
        "immutable": True,
    }


def test_secret_copy_keeps_type_and_data() -> None:
    source = upper_object("Secret", type="kubernetes.io/dockerconfigjson", data={".dockerconfigjson": "e30="})
    copy = deps.lower_copy(source, kind="Secret", upper_cluster=UP, virtual_node=VN)
    assert (copy["kind"], copy["type"], copy["data"]) == (
        "Secret",
        "kubernetes.io/dockerconfigjson",
        {".dockerconfigjson": "e30="},
    )
    assert set(copy["metadata"]) == {"name", "namespace", "labels", "annotations"}


def test_service_account_token_secret_is_never_copied() -> None:
    source = upper_object("Secret", type="kubernetes.io/service-account-token", data={"token": "c2VjcmV0"})
    with pytest.raises(ValueError, match="service-account token"):
        deps.lower_copy(source, kind="Secret", upper_cluster=UP, virtual_node=VN)


def test_only_configmaps_and_secrets_are_copied() -> None:
    with pytest.raises(ValueError, match="ConfigMap, Secret"):
        deps.lower_copy(upper_object("ServiceAccount"), kind="ServiceAccount", upper_cluster=UP, virtual_node=VN)


# -- copy_differs -------------------------------------------------------------------


def stored_copy(source: dict[str, Any]) -> dict[str, Any]:
    copy = deps.lower_copy(source, kind=source["kind"], upper_cluster=UP, virtual_node=VN)
    copy["metadata"].update({"uid": "l1", "resourceVersion": "3"})
    return copy


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        (lambda o: None, False),
        (lambda o: o["data"].update(a="2"), True),
        (lambda o: o["data"].update(new="x"), True),
        (lambda o: o.update(binaryData={"b": "AA=="}), True),
        (lambda o: o.update(type="kubernetes.io/tls"), True),
        (lambda o: o["metadata"]["labels"].update(app="shop"), True),
        (lambda o: o["metadata"]["annotations"].update(note="x"), False),
        (lambda o: o["metadata"].update(resourceVersion="10"), False),
    ],
    ids=[
        "unchanged -> same",
        "value changed -> differs",
        "key added -> differs",
        "binaryData added -> differs",
        "type changed -> differs",
        "label changed -> differs",
        "annotation changed -> same (not copied)",
        "server fields only -> same",
    ],
)
def test_copy_differs_on_content_and_labels_only(change: Any, differs: bool) -> None:
    source = upper_object("Secret", type="Opaque", data={"a": "1"})
    copy = stored_copy(source)
    change(source)
    assert deps.copy_differs(source, copy) is differs


def test_missing_and_empty_data_are_the_same() -> None:
    source = upper_object(data={})
    copy = stored_copy(upper_object())
    assert deps.copy_differs(source, copy) is False


# -- users and released_copies ------------------------------------------------------


def lower_copy_item(
    name: str,
    *,
    kind: str | None = "ConfigMap",
    labels: dict[str, str] | None = None,
    users: list[str] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    annotations = {} if users is None else {keys.COPY_USERS_ANNOTATION: json.dumps(users)}
    item: dict[str, Any] = {
        "metadata": {
            "namespace": "shop",
            "name": name,
            "labels": OWNED if labels is None else labels,
            "annotations": annotations,
            **meta,
        }
    }
    if kind:
        item["kind"] = kind
    return item


def released(
    copies: list[dict[str, Any]], referenced: set[deps.ObjectKey], me: str = VN
) -> list[tuple[str, list[str]]]:
    found = deps.released_copies(copies, referenced, upper_cluster=UP, virtual_node=me)
    return [(o["metadata"]["name"], sorted(left)) for o, left in found]


def test_the_copy_lists_its_users_and_defaults_to_its_creator() -> None:
    source = upper_object(data={"a": "1"})
    assert deps.users(deps.lower_copy(source, kind="ConfigMap", upper_cluster=UP, virtual_node=VN)) == {VN}
    shared = deps.lower_copy(source, kind="ConfigMap", upper_cluster=UP, virtual_node=VN, users=["vk-b", VN])
    assert deps.users(shared) == {VN, "vk-b"}
    assert shared["metadata"]["labels"][keys.VIRTUAL_NODE_LABEL] == VN  # the creator


@pytest.mark.parametrize("annotation", [None, "not json", '{"a": 1}', '["ok", 3]', '[""]'])
def test_a_copy_without_a_readable_list_belongs_to_its_creator(annotation: str | None) -> None:
    item = lower_copy_item("cfg")
    if annotation is not None:
        item["metadata"]["annotations"][keys.COPY_USERS_ANNOTATION] = annotation
    assert deps.users(item) == {VN}


def test_with_users_replaces_only_the_list() -> None:
    item = lower_copy_item("cfg", users=[VN], resourceVersion="7")
    updated = deps.with_users(item, {"vk-b"})
    assert deps.users(updated) == {"vk-b"}
    assert updated["metadata"]["resourceVersion"] == "7"
    assert deps.users(item) == {VN}


def test_unreferenced_copies_are_released_and_the_last_user_deletes() -> None:
    copies = [lower_copy_item("used", users=[VN]), lower_copy_item("stale", users=[VN])]
    assert released(copies, {("ConfigMap", "shop", "used")}) == [("stale", [])]


def test_a_shared_copy_is_handed_over_to_the_other_users() -> None:
    copies = [lower_copy_item("shared", users=["vk-b", VN])]
    assert released(copies, set()) == [("shared", ["vk-b"])]
    assert released(copies, set(), me="vk-b") == [("shared", [VN])]


def test_copies_this_virtual_node_does_not_use_are_not_its_to_release() -> None:
    copies = [lower_copy_item("theirs", users=["vk-b"])]
    assert released(copies, set()) == []


def test_same_name_in_another_namespace_or_kind_is_not_a_reference() -> None:
    copies = [lower_copy_item("cfg"), lower_copy_item("cfg", kind="Secret")]
    referenced = {("ConfigMap", "other", "cfg"), ("Secret", "shop", "cfg")}
    found = deps.released_copies(copies, referenced, upper_cluster=UP, virtual_node=VN)
    assert [(o["kind"], o["metadata"]["name"]) for o, _left in found] == [("ConfigMap", "cfg")]


@pytest.mark.parametrize(
    "labels",
    [{}, {keys.UPPER_CLUSTER_LABEL: UP}, {keys.VIRTUAL_NODE_LABEL: VN}, {**OWNED, keys.UPPER_CLUSTER_LABEL: "other"}],
    ids=[
        "no labels -> never released",
        "virtual node label missing -> never released",
        "cluster label missing -> never released",
        "another upper cluster's copy -> never released",
    ],
)
def test_objects_not_copied_for_this_upper_cluster_are_never_returned(labels: dict[str, str]) -> None:
    assert released([lower_copy_item("stale", labels=labels, users=[VN])], set()) == []


def test_copies_already_being_deleted_are_skipped() -> None:
    item = lower_copy_item("stale", deletionTimestamp="2024-05-01T10:00:00Z")
    assert released([item], set()) == []


def test_list_items_without_kind_are_kept_when_any_kind_references_the_name() -> None:
    copies = [lower_copy_item("cfg", kind=None), lower_copy_item("stale", kind=None)]
    assert released(copies, {("Secret", "shop", "cfg")}) == [("stale", [])]


def test_copy_shares_nothing_with_the_cached_source() -> None:
    source = upper_object(data={"a": "1"})
    copy = deps.lower_copy(source, kind="ConfigMap", upper_cluster=UP, virtual_node=VN)
    copy["data"]["a"] = "changed"
    copy["metadata"]["labels"]["x"] = "y"
    assert source["data"] == {"a": "1"}
    assert "x" not in source["metadata"]["labels"]
