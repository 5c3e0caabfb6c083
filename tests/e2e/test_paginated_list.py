"""Paginated LISTs against the real kube-apiserver, with the next page requested while this one is decoded.

``Kube.list_objects`` asks for page N+1 as soon as page N's continue token is read: every
object must still arrive exactly once, in the server's order, and the cycle's deadline must
bound the requests the page-ahead worker sends.
"""

from __future__ import annotations

import threading
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


def _names(kube: Kube, namespace: str, page_size: int) -> tuple[list[str], list[str]]:
    """The listed ConfigMaps' names, and the threads that decoded them."""
    threads: list[str] = []

    def convert(raw: memoryview) -> str:
        threads.append(threading.current_thread().name)
        return str(_NAMED.decode(raw).metadata["name"])

    names, resource_version = kube.list_objects(
        f"/api/v1/namespaces/{namespace}/configmaps", convert, page_size=page_size
    )
    assert resource_version.isdigit()
    return names, threads


@pytest.mark.parametrize("page_size", [1, 4, CONFIGMAPS, 500])
def test_every_object_arrives_once_in_the_servers_order(
    upper: clusters.Cluster, namespace: str, page_size: int
) -> None:
    kube = Kube.from_kubeconfig(str(upper.kubeconfig))
    names, threads = _names(kube, namespace, page_size)
    # kube-controller-manager adds kube-root-ca.crt to every namespace, sooner or later.
    assert [n for n in names if n != "kube-root-ca.crt"] == [f"cm-{i:02d}" for i in range(CONFIGMAPS)]
    # Items are converted by the caller; only the requests run ahead on the worker.
    assert set(threads) == {threading.current_thread().name}


def test_the_page_ahead_worker_leaves_no_thread_behind(upper: clusters.Cluster, namespace: str) -> None:
    kube = Kube.from_kubeconfig(str(upper.kubeconfig))
    before = {t.ident for t in threading.enumerate()}
    _names(kube, namespace, 2)
    left = [t.name for t in threading.enumerate() if t.ident not in before and t.name.startswith("list-next-page")]
    assert left == []


def test_the_cycles_deadline_bounds_the_page_ahead_requests(upper: clusters.Cluster, namespace: str) -> None:
    kube = Kube.from_kubeconfig(str(upper.kubeconfig))
    started = time.monotonic()
    # One page: its request is the worker's first, sent before any continue token is read.
    with pytest.raises(errors.DeadlineExceededError), retry.deadline(0.0):
        _names(kube, namespace, 500)
    assert time.monotonic() - started < 5
