"""LabelIndex and NamespaceIndex, kept from an informer's events: which objects carry which label
value, and which namespaces hold any object."""

from __future__ import annotations

from typing import Any

from descheduler import keys
from provider.kube.index import LabelIndex, NamespaceIndex
from provider.kube.objects import ObjectKey


def slice_of(service: str | None, name: str = "db-abc", namespace: str = "shop") -> dict[str, Any]:
    labels = {} if service is None else {keys.SERVICE_NAME_LABEL: service}
    return {"metadata": {"namespace": namespace, "name": name, "labels": labels}}


def test_an_added_object_is_found_under_its_label_value() -> None:
    index = LabelIndex(keys.SERVICE_NAME_LABEL)
    assert index.on_event("ADDED", slice_of("db")) == [("shop", "db")]
    assert index.on_event("ADDED", slice_of("db", "db-def")) == [("shop", "db")]
    assert index.keys("shop", "db") == [ObjectKey("shop", "db-abc"), ObjectKey("shop", "db-def")]
    assert index.keys("other", "db") == []
    assert index.keys("shop", "web") == []


def test_the_namespace_is_part_of_the_key() -> None:
    index = LabelIndex(keys.SERVICE_NAME_LABEL)
    index.on_event("ADDED", slice_of("db", namespace="a"))
    index.on_event("ADDED", slice_of("db", namespace="b"))
    assert index.keys("a", "db") == [ObjectKey("a", "db-abc")]
    assert index.keys("b", "db") == [ObjectKey("b", "db-abc")]


def test_an_object_without_the_label_is_not_indexed() -> None:
    index = LabelIndex(keys.SERVICE_NAME_LABEL)
    assert index.on_event("ADDED", slice_of(None)) == []
    assert index.on_event("ADDED", slice_of("")) == []
    assert index.value_of(slice_of("")) is None
    assert index.value_of({"metadata": {}}) is None
    assert index.keys("shop", "") == []


def test_a_modified_object_moves_to_its_new_value_and_both_groups_are_told() -> None:
    index = LabelIndex(keys.SERVICE_NAME_LABEL)
    index.on_event("ADDED", slice_of("db"))
    assert index.on_event("MODIFIED", slice_of("db")) == [("shop", "db")]
    assert index.keys("shop", "db") == [ObjectKey("shop", "db-abc")]
    assert index.on_event("MODIFIED", slice_of("web")) == [("shop", "db"), ("shop", "web")]
    assert index.keys("shop", "db") == []
    assert index.keys("shop", "web") == [ObjectKey("shop", "db-abc")]


def test_losing_the_label_returns_the_value_it_had() -> None:
    index = LabelIndex(keys.SERVICE_NAME_LABEL)
    index.on_event("ADDED", slice_of("db"))
    assert index.on_event("MODIFIED", slice_of(None)) == [("shop", "db")]
    assert index.keys("shop", "db") == []
    assert index.on_event("MODIFIED", slice_of(None)) == [], "no longer anywhere"


def test_a_deleted_object_is_forgotten_and_its_value_returned() -> None:
    index = LabelIndex(keys.SERVICE_NAME_LABEL)
    index.on_event("ADDED", slice_of("db"))
    index.on_event("ADDED", slice_of("db", "db-def"))
    assert index.on_event("DELETED", slice_of("db")) == [("shop", "db")]
    assert index.keys("shop", "db") == [ObjectKey("shop", "db-def")]
    assert index.on_event("DELETED", slice_of("db", "db-def")) == [("shop", "db")]
    assert index.keys("shop", "db") == []


def test_deleting_an_unknown_object_returns_nothing() -> None:
    index = LabelIndex(keys.SERVICE_NAME_LABEL)
    assert index.on_event("DELETED", slice_of("db")) == []
    assert index.keys("shop", "db") == []


def test_a_modified_object_first_seen_is_added() -> None:
    # An informer's relist may report an object as MODIFIED the index has not seen.
    index = LabelIndex(keys.SERVICE_NAME_LABEL)
    assert index.on_event("MODIFIED", slice_of("db")) == [("shop", "db")]
    assert index.keys("shop", "db") == [ObjectKey("shop", "db-abc")]


def test_keys_is_a_copy() -> None:
    index = LabelIndex(keys.SERVICE_NAME_LABEL)
    index.on_event("ADDED", slice_of("db"))
    found = index.keys("shop", "db")
    found.clear()
    assert index.keys("shop", "db") == [ObjectKey("shop", "db-abc")]


def pod(name: str, namespace: str = "shop") -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}}


def test_a_namespace_flips_only_with_its_first_and_last_object() -> None:
    index = NamespaceIndex()
    assert index.on_event("ADDED", pod("a")) is True, "first pod in shop"
    assert index.on_event("ADDED", pod("b")) is False
    assert index.on_event("MODIFIED", pod("a")) is False
    assert "shop" in index
    assert index.on_event("DELETED", pod("a")) is False
    assert index.on_event("DELETED", pod("b")) is True, "last pod gone"
    assert "shop" not in index
    assert index.namespaces() == set()


def test_namespaces_are_counted_apart_and_unknown_deletes_change_nothing() -> None:
    index = NamespaceIndex()
    index.on_event("ADDED", pod("a", "one"))
    index.on_event("MODIFIED", pod("a", "two"))  # a relist may report an unseen object as MODIFIED
    assert index.namespaces() == {"one", "two"}
    assert index.on_event("DELETED", pod("zz", "three")) is False
    assert index.namespaces() == {"one", "two"}
    assert index.on_event("DELETED", pod("a", "one")) is True
    assert index.namespaces() == {"two"}
