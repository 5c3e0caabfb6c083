"""Typed views of raw API bodies: metadata of any object, also when it has none."""

from __future__ import annotations

from descheduler import bodies


def test_metadata_of_an_object_is_its_metadata() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop", "resourceVersion": "7"}}
    meta = bodies.metadata_of(pod)
    assert (meta.get("name"), meta.get("namespace"), meta.get("resourceVersion")) == ("web-1", "shop", "7")


def test_an_object_without_metadata_has_empty_metadata() -> None:
    assert bodies.metadata_of({"kind": "Status"}) == {}
    assert bodies.metadata_of({"metadata": None}) == {}
