"""Paginated LISTs against the real kube-apiserver: ``Kube.list_objects`` follows continue tokens.

Every object must arrive exactly once, in the server's order, whatever the page size, and the
cycle's deadline must bound the LIST's requests.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec
import pytest

from descheduler.kube import errors, retry
from descheduler.kube.client import Kube
from tests.cluster import clusters

CONFIGMAPS = 23


class _Named(msgspec.Struct):
    metadata: dict[str, Any]


_NAMED = msgspec.json.Decoder(_Named)


@pytest.fixture(scope="module")
def namespace(upper: clusters.Cluster) -> str:
    name = f"pages-{uuid.uuid4().hex[:6]}"
    upper.kubectl("create", "namespace", name)
    for i in range(CONFIGMAPS):
        upper.kubectl("create", "configmap", f"cm-{i:02d}", "-n", name, f"--from-literal=i={i}")
    return name


def _names(kube: Kube, namespace: str, page_size: int) -> list[str]:
    """The listed ConfigMaps' names."""

    def convert(raw: memoryview) -> str:
        return str(_NAMED.decode(raw).metadata["name"])

    names, resource_version = kube.list_objects(
        f"/api/v1/namespaces/{namespace}/configmaps", convert, page_size=page_size
    )
    assert resource_version.isdigit()
    return names


@pytest.mark.parametrize("page_size", [1, 4, CONFIGMAPS, 500])
def test_every_object_arrives_once_in_the_servers_order(
    upper: clusters.Cluster, namespace: str, page_size: int
) -> None:
    kube = Kube.from_kubeconfig(str(upper.kubeconfig))
    names = _names(kube, namespace, page_size)
    # kube-controller-manager adds kube-root-ca.crt to every namespace, sooner or later.
    assert [n for n in names if n != "kube-root-ca.crt"] == [f"cm-{i:02d}" for i in range(CONFIGMAPS)]


def test_the_cycles_deadline_bounds_the_lists_requests(upper: clusters.Cluster, namespace: str) -> None:
    kube = Kube.from_kubeconfig(str(upper.kubeconfig))
    started = time.monotonic()
    with pytest.raises(errors.DeadlineExceededError), retry.deadline(0.0):
        _names(kube, namespace, 500)
    assert time.monotonic() - started < 5
