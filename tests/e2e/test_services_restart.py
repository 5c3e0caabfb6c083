"""Reflected Services survive a provider killed in the middle of churn, and another upper cluster's copies
in the same lower cluster are never collected.

vk-ra (upper cluster "upper") and vk-rb (a second upper cluster, id "upper2") both reflect into lower A.
vk-ra is SIGKILLed while 20 Services are created, changed and deleted upstairs, and restarted: its first
sweep must leave lower A with exactly the expected copies (no orphan, nothing missing), while the copy
made for upper2 stays as it was.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from descheduler import keys
from tests.cluster import clusters
from tests.e2e.support.providers import ProviderProcess, pods, running, virtual_deployment, wait_for

NS = "churn"
OTHER_NS = "other"
SERVICES = 20


@pytest.fixture(scope="module")
def upper2(control_plane_binaries: object, clusters_root: Path) -> Iterator[clusters.Cluster]:
    started = clusters.start_clusters([clusters.ClusterSpec("upper2")], root=clusters_root / "services-upper2")
    try:
        yield started["upper2"]
    finally:
        clusters.stop_clusters(started.values())


def service(name: str, namespace: str, port: int) -> dict[str, Any]:
    spec = {"selector": {"app": "backend"}, "ports": [{"name": "p", "port": port}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def items(cluster: clusters.Cluster, kind: str, namespace: str, selector: str = "") -> list[dict[str, Any]]:
    args = ["get", kind, "-n", namespace, "-o", "json", *(["-l", selector] if selector else [])]
    found: list[dict[str, Any]] = json.loads(cluster.kubectl(*args))["items"]
    return found


def state(cluster: clusters.Cluster, namespace: str, selector: str = "") -> dict[str, tuple[int, frozenset[str]]]:
    """Per Service: its port and its endpoint addresses."""
    addresses: dict[str, set[str]] = {}
    for s in items(cluster, "endpointslices", namespace, selector):
        name = s["metadata"]["labels"].get(keys.SERVICE_NAME_LABEL, "")
        addresses.setdefault(name, set()).update(a for e in s.get("endpoints") or () for a in e["addresses"])
    return {
        s["metadata"]["name"]: (s["spec"]["ports"][0]["port"], frozenset(addresses.get(s["metadata"]["name"], ())))
        for s in items(cluster, "services", namespace, selector)
    }


def churn(upper: clusters.Cluster, stop: threading.Event) -> None:
    chance = random.Random(14)
    while not stop.is_set():
        name = f"svc-{chance.randrange(SERVICES)}"
        if chance.random() < 0.3:
            upper.kubectl("delete", "service", name, "-n", NS, "--ignore-not-found", "--wait=false")
        else:
            upper.apply([service(name, NS, 8000 + chance.randrange(50))])


def test_killed_during_churn_the_restarted_provider_converges_and_spares_other_upper_clusters(
    upper: clusters.Cluster, upper2: clusters.Cluster, lower_a: clusters.Cluster, tmp_path: Path
) -> None:
    ours = ProviderProcess(upper, lower_a, "vk-ra", tmp_path)
    theirs = ProviderProcess(upper2, lower_a, "vk-rb", tmp_path, upper_cluster_id="upper2")
    try:
        for provider in (ours, theirs):
            provider.start()
        for provider in (ours, theirs):
            provider.wait_ready()
        upper.kubectl("create", "namespace", NS)
        upper2.kubectl("create", "namespace", OTHER_NS)
        upper.apply([virtual_deployment("backend", NS, 3, "vk-ra")])
        upper2.apply([virtual_deployment("backend", OTHER_NS, 2, "vk-rb"), service("kept", OTHER_NS, 9000)])
        upper.apply([service(f"svc-{i}", NS, 8000) for i in range(SERVICES)])
        wait_for(lambda: len(running(pods(upper, NS))) == 3, timeout=90, what="backend Running upstairs")
        wait_for(
            lambda: len(state(lower_a, OTHER_NS).get("kept", (0, frozenset()))[1]) == 2,
            timeout=60,
            what="upper2's Service reflected with its 2 endpoints",
        )
        kept_before = items(lower_a, "services", OTHER_NS)
        wait_for(lambda: len(state(lower_a, NS)) == SERVICES, timeout=60, what="20 Services reflected")

        stop = threading.Event()
        churner = threading.Thread(target=churn, args=(upper, stop), daemon=True)
        churner.start()
        time.sleep(3)
        ours.kill()
        time.sleep(3)
        stop.set()
        churner.join(60)
        ours.start()
        ours.wait_ready()

        def converged() -> bool:
            expected = state(upper, NS)
            return state(lower_a, NS, f"{keys.UPPER_CLUSTER_LABEL}=upper") == expected

        wait_for(converged, timeout=60, what="lower A's copies equal the upper Services after the restart")
        mine = f"{keys.UPPER_CLUSTER_LABEL}=upper"
        expected_names = {s["metadata"]["name"] for s in items(upper, "services", NS)}
        slice_owners = {
            s["metadata"]["labels"][keys.SERVICE_NAME_LABEL] for s in items(lower_a, "endpointslices", NS, mine)
        }
        assert slice_owners <= expected_names, f"orphan slices of {sorted(slice_owners - expected_names)}"
        assert {s["metadata"]["name"] for s in items(lower_a, "services", NS)} == expected_names
        kept_after = items(lower_a, "services", OTHER_NS)
        assert [s["metadata"]["uid"] for s in kept_after] == [s["metadata"]["uid"] for s in kept_before]
        assert kept_after[0]["metadata"]["labels"][keys.UPPER_CLUSTER_LABEL] == "upper2"
        assert len(state(lower_a, OTHER_NS)["kept"][1]) == 2
    finally:
        for provider in (ours, theirs):
            provider.terminate()
